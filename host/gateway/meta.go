package gateway

import (
	"strings"
	"time"

	"github.com/sluice-gw/sluice/host/plugin"
)

// meta is the small pre-extracted request description route, cache-key and policy plugins
// receive (sdk/ABI.md): never the whole body, and no credential headers. host/plugin encodes
// it (as JSON or the flat route view); it is built afresh for each hook so that a rewrite by
// an earlier policy is seen.
func (g *Gateway) meta(c *call) *plugin.Meta {
	m := &plugin.Meta{
		RequestID: c.id, Endpoint: c.endpoint, Model: c.req.Model, Router: c.router,
		User: c.ident.User, Team: c.ident.Team, KeyID: c.ident.KeyID, Stream: c.stream,
		TokenEstimate: c.req.TokenEstimate, MaxTokens: c.req.MaxTokens, Temperature: c.req.Temperature,
		NowMs: time.Now().UnixMilli(),
	}
	for k, vs := range c.r.Header {
		if len(m.Headers) >= 32 {
			break
		}
		lk := strings.ToLower(k)
		if !metaHeader(lk) || len(vs) == 0 {
			continue
		}
		m.Headers = append(m.Headers, plugin.Header{Name: lk, Value: vs[0]})
	}
	return m
}

// metaHeader keeps x-* headers a plugin may route on, and never anything carrying a secret.
func metaHeader(k string) bool {
	if !strings.HasPrefix(k, "x-") {
		return false
	}
	for _, bad := range []string{"key", "auth", "token", "secret", "cookie", "signature", "amz"} {
		if strings.Contains(k, bad) {
			return false
		}
	}
	return true
}
