package provider

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Probe checks that the provider answers at all, with the cheapest request its API has: a GET of
// the model list with the provider's credentials (Anthropic's /v1/models, Azure's with its
// api-version). Providers without such a list (Bedrock) get a GET of the base URL, which proves
// reachability only. Any status below 500 counts as healthy: a 401 or 404 says the upstream is
// up, and the request path, not the probe, judges the credentials.
func (p *Provider) Probe(ctx context.Context) error {
	if p.Kind == "demo" {
		return nil
	}
	if p.unavailable != "" {
		return fmt.Errorf("provider %s: probe: %s", p.Name, p.unavailable)
	}
	u := p.probeURL()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("provider %s: probe: %w", p.Name, err)
	}
	req.Header.Set("Accept", "application/json")
	if p.auth != "sigv4" {
		// SigV4 signs one operation; an unsigned GET still proves the endpoint answers.
		p.Authorize(req)
	} else {
		for k, v := range p.headers {
			req.Header.Set(k, v)
		}
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return fmt.Errorf("provider %s: probe: %w", p.Name, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 500 {
		return fmt.Errorf("provider %s: probe: GET %s answered %d", p.Name, redactURL(u), resp.StatusCode)
	}
	return nil
}

func (p *Provider) probeURL() string {
	base := strings.TrimRight(p.BaseURL, "/")
	switch {
	case p.Kind == "azure":
		return base + "/models?api-version=" + url.QueryEscape(p.apiVersion)
	case p.Kind == "anthropic":
		return base + "/v1/models"
	case p.auth == "sigv4":
		return base + "/"
	default:
		return base + "/models"
	}
}

// redactURL drops a query string, which may carry a key, from an error message.
func redactURL(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}
