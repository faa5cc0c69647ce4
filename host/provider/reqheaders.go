package provider

import "net/http"

// Header values every request to an upstream carries, made once: http.Header.Set allocates
// a one-element slice per call, and "Bearer "+key a string. The slices are shared by all
// requests and never written to; their capacity equals their length, so an Add on a request
// copies instead of writing into them.
var (
	jsonValue   = fixed("application/json")
	streamValue = fixed("text/event-stream")
)

func fixed(v string) []string { return []string{v}[:1:1] }

// fixedHeaders are a provider's configured headers (canonical keys) and the header its own
// API key authenticates with.
type fixedHeaders struct {
	extra     []fixedHeader
	authKey   string
	authValue []string
}

type fixedHeader struct {
	key   string
	value []string
}

func (p *Provider) fixHeaders() {
	for k, v := range p.headers {
		p.fixed.extra = append(p.fixed.extra, fixedHeader{http.CanonicalHeaderKey(k), fixed(v)})
	}
	switch p.auth {
	case "bearer":
		if p.apiKey != "" {
			p.fixed.authKey, p.fixed.authValue = "Authorization", fixed("Bearer "+p.apiKey)
		}
	case "x-api-key", "api-key", "x-goog-api-key":
		p.fixed.authKey, p.fixed.authValue = http.CanonicalHeaderKey(p.auth), fixed(p.apiKey)
	}
}

// setFixed writes the precomputed content headers and the configured ones.
func (p *Provider) setFixed(h http.Header, stream bool) {
	h["Content-Type"] = jsonValue
	if stream {
		h["Accept"] = streamValue
	} else {
		h["Accept"] = jsonValue
	}
	for _, f := range p.fixed.extra {
		h[f.key] = f.value
	}
}

// setFixedAuth writes the provider's own key's header when it was precomputed, and reports
// whether it did (false for a client's own key or an auth scheme that signs per request).
func (p *Provider) setFixedAuth(h http.Header, clientKey bool) bool {
	if clientKey || p.fixed.authValue == nil {
		return false
	}
	h[p.fixed.authKey] = p.fixed.authValue
	return true
}
