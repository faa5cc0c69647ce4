package gateway

import (
	"errors"
	"fmt"

	"github.com/sluice-gw/sluice/host/auth"
	"github.com/sluice-gw/sluice/host/openai"
)

// identify resolves the caller: a virtual key, or (auth off) the user and team headers.
func (g *Gateway) identify(c *call) *openai.Error {
	if g.auth == nil {
		return nil
	}
	id, err := g.auth.Identify(c.r)
	if err != nil {
		return authError(err)
	}
	c.ident = id
	return nil
}

// authorize checks the caller may use the resolved model and router, and the override
// headers when auth is required.
func (g *Gateway) authorize(c *call, model string) *openai.Error {
	if g.auth == nil {
		return nil
	}
	if c.router != "" {
		if err := c.ident.CheckRouter(c.router); err != nil {
			return authError(err)
		}
	}
	if model != "" {
		if err := c.ident.CheckModel(model); err != nil {
			return authError(err)
		}
	}
	// A provider's byok flag says it accepts client credentials; a virtual key must also be
	// allowed to bring them, so a key holder cannot bypass the gateway's provider accounts.
	if c.r.Header.Get("X-Sluice-Provider-Key") != "" && !c.ident.Anonymous && !c.ident.BYOK {
		return openai.Errorf(403, "byok_not_allowed", fmt.Sprintf("key %q may not send its own provider key (x-sluice-provider-key); set byok = true on the key", c.ident.KeyID))
	}
	if g.cfg.Auth.Required && (c.r.Header.Get("X-Sluice-Provider") != "" || c.r.Header.Get("X-Sluice-Exclude") != "") && !g.overrides[c.ident.KeyID] {
		return openai.Errorf(403, "overrides_not_allowed", "this key may not pin or exclude providers (x-sluice-provider, x-sluice-exclude); set overrides = true on the key")
	}
	return nil
}

func authError(err error) *openai.Error {
	var ae *auth.Error
	if errors.As(err, &ae) {
		e := openai.Errorf(ae.Status, ae.Code, ae.Message)
		if ae.Type != "" {
			e.Type = ae.Type
		}
		return e
	}
	return openai.Errorf(401, "invalid_api_key", err.Error())
}
