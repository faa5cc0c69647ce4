package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/sluice-gw/sluice/host/auth"
	"github.com/sluice-gw/sluice/host/balance"
	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/host/openai"
)

// authz is what authorization decided for one request: which targets the plan may hold and
// where a client's own provider key may go.
type authz struct {
	// allow filters the router's targets (nil: all of them).
	allow func(balance.Target) bool
	// filtered is true when allow removed some of the router's targets, so the answer may
	// differ from an unfiltered caller's: the cache key names the allowed targets.
	filtered bool
	allowed  []string // sorted ids of the allowed targets, when filtered
	// byok is the provider a client key (x-sluice-provider-key) was given for, "" without
	// one; byokKey is that key. The plan holds only that provider's targets, so the key never
	// reaches another provider on failover.
	byok, byokKey string
}

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

// authorize checks the caller may use the resolved router and the targets it will be served
// by, and the override headers; it decides the plan's target filter (c.az). Permissions are
// checked on what will be served, never on the name the client asked for: a model allow-list
// is matched against every target of the resolved router, and targets it refuses are
// dropped from the plan (none left: 403).
func (g *Gateway) authorize(c *call, targets []balance.Target, model string) *openai.Error {
	byokKey := c.r.Header.Get("X-Sluice-Provider-Key")
	keyed := g.auth != nil && !c.ident.Anonymous
	if g.auth != nil {
		if c.router != "" {
			if err := c.ident.CheckRouter(c.router); err != nil {
				return authError(err)
			}
		}
		// A provider's byok flag says it accepts client credentials; a virtual key must also be
		// allowed to bring them, so a key holder cannot bypass the gateway's provider accounts.
		if byokKey != "" && keyed && !c.ident.BYOK {
			return openai.Errorf(403, openai.CodeBYOKNotAllowed, fmt.Sprintf("key %q may not send its own provider key (x-sluice-provider-key); set byok = true on the key", c.ident.KeyID))
		}
		// Pinning and excluding steer a keyed caller's traffic: they need the key's permission
		// whether or not keys are required. A request bringing its own provider key may name
		// the provider that key is for: it pays for the answer, and the plan stays within the
		// targets the key may use.
		pinned := c.r.Header.Get("X-Sluice-Provider") != "" && byokKey == ""
		if (pinned || c.r.Header.Get("X-Sluice-Exclude") != "") && (keyed || g.cfg.Auth.Required) && !g.overrides[c.ident.KeyID] {
			return openai.Errorf(403, openai.CodeOverridesNotAllowed, "this key may not pin or exclude providers (x-sluice-provider, x-sluice-exclude); set overrides = true on the key")
		}
	}
	restrict := keyed && c.ident.RestrictsModels()
	if !restrict && byokKey == "" {
		return nil
	}
	pin := c.r.Header.Get("X-Sluice-Provider")
	if pin == "" {
		pin = g.aliasPin(c.router, model)
	}
	modelOK := func(t balance.Target) bool { return !restrict || c.ident.AllowsModel(t.Provider+"/"+t.Model) }
	var ok []balance.Target
	for _, t := range targets {
		if modelOK(t) && (pin == "" || targetMatches(t, pin)) {
			ok = append(ok, t)
		}
	}
	if len(ok) == 0 {
		return modelRefused(c, targets, pin)
	}
	if byokKey != "" {
		prov, e := g.byokProvider(c, ok, pin)
		if e != nil {
			return e
		}
		c.az.byok, c.az.byokKey = prov, byokKey
	}
	c.az.allow = func(t balance.Target) bool {
		return modelOK(t) && (c.az.byok == "" || t.Provider == c.az.byok)
	}
	for _, t := range targets {
		if c.az.allow(t) {
			c.az.allowed = append(c.az.allowed, t.ID)
		}
	}
	c.az.filtered = len(c.az.allowed) < len(targets)
	sort.Strings(c.az.allowed)
	return nil
}

// byokProvider names the provider a client key is for: the pinned one, else the only
// BYOK-capable provider among the allowed targets. A key is never guessed onto one of
// several providers.
func (g *Gateway) byokProvider(c *call, ok []balance.Target, pin string) (string, *openai.Error) {
	if pin != "" {
		prov, _, _ := strings.Cut(pin, "/")
		for _, t := range ok {
			if strings.EqualFold(t.Provider, prov) {
				prov = t.Provider
				break
			}
		}
		if p := g.providers[prov]; p == nil || !p.BYOK {
			return "", openai.Errorf(400, openai.CodeBYOKNotSupported, fmt.Sprintf("provider %q does not accept client provider keys (x-sluice-provider-key); set byok = true on the provider", prov))
		}
		return prov, nil
	}
	var provs []string
	for _, t := range ok {
		if p := g.providers[t.Provider]; p != nil && p.BYOK && !contains(provs, t.Provider) {
			provs = append(provs, t.Provider)
		}
	}
	switch len(provs) {
	case 0:
		return "", openai.Errorf(400, openai.CodeBYOKNotSupported, fmt.Sprintf("no target of %s accepts client provider keys (x-sluice-provider-key); send the request without one or to a provider with byok = true", routerLabel(c)))
	case 1:
		return provs[0], nil
	}
	sort.Strings(provs)
	return "", openai.Errorf(400, openai.CodeBYOKAmbiguous, fmt.Sprintf("router %s has several providers that accept client keys (%s): name the one x-sluice-provider-key is for with x-sluice-provider", routerLabel(c), strings.Join(provs, ", ")))
}

// byokNamespace is the cache namespace part of a client provider key: answers paid with one
// client's own account are never served to a request carrying another key (or none).
func (c *call) byokNamespace() string {
	if c.az.byokKey == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(c.az.byok + "\x00" + c.az.byokKey))
	return "\x00byok:" + hex.EncodeToString(sum[:16])
}

func modelRefused(c *call, targets []balance.Target, pin string) *openai.Error {
	name := routerLabel(c)
	msg := fmt.Sprintf("key %q may not use any target of router %q", c.ident.KeyID, name)
	switch {
	case len(targets) == 1:
		msg = fmt.Sprintf("key %q may not use model %q", c.ident.KeyID, targets[0].Provider+"/"+targets[0].Model)
	case pin != "":
		msg = fmt.Sprintf("key %q may not use %q (router %q)", c.ident.KeyID, pin, name)
	}
	return authError(&auth.Error{Status: 403, Type: openai.TypePermission, Code: openai.CodeModelNotAllowed, Message: msg})
}

// targetMatches is balance's pin rule: a provider ("openai") or provider/model pair.
func targetMatches(t balance.Target, sel string) bool {
	if p, m, ok := strings.Cut(sel, "/"); ok {
		return strings.EqualFold(p, t.Provider) && strings.EqualFold(m, t.Model)
	}
	return strings.EqualFold(sel, t.Provider)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// scrubbed removes credentials and URL passwords from an error's message before a client sees
// it (provider and plugin errors may quote a URL or a header).
func (g *Gateway) scrubbed(e *openai.Error) *openai.Error {
	e.Message = config.ScrubWith(e.Message, g.creds)
	return e
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
	return openai.Errorf(401, openai.CodeInvalidAPIKey, err.Error())
}
