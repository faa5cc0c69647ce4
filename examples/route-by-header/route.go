// Command route-by-header is an example route plugin: it sends a request to the target
// configured for the value of one request header (a tenant, a tier), ahead of the router's
// other candidates.
package main

import (
	"strings"

	"github.com/sluice-gw/sluice/sdk"
)

// Rules is the plugin config: the header to read and header value -> "provider/model".
type Rules struct {
	Header  string
	Targets map[string]string
}

// RulesFrom reads the config table: header = "x-tenant" and targets, either a table
// (acme = "anthropic/...") or a list of "value=provider/model" strings. The list form exists
// because the config loader currently refuses tables nested inside a plugin's config.
func RulesFrom(c sdk.Config) Rules {
	r := Rules{Header: c.String("header", "x-tenant"), Targets: c.StringMap("targets")}
	for _, kv := range c.Strings("targets") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			r.Targets[k] = v
		}
	}
	return r
}

// Route puts the candidates matching the header's target first, keeping the host's order
// otherwise. Without a match it returns an empty order (keep the host's order). It allocates
// only the order it returns: targets are compared without building "provider/model" strings.
func Route(r Rules, in sdk.RouteInput) sdk.RouteOutput {
	target, ok := r.Targets[in.Meta.Header(r.Header)]
	if !ok {
		return sdk.RouteOutput{}
	}
	hit := -1
	for i := range in.Candidates {
		if IsTarget(&in.Candidates[i], target) {
			hit = i
			break
		}
	}
	if hit < 0 {
		return sdk.RouteOutput{}
	}
	order := make([]string, 0, len(in.Candidates))
	for i := hit; i < len(in.Candidates); i++ {
		if IsTarget(&in.Candidates[i], target) {
			order = append(order, in.Candidates[i].ID)
		}
	}
	for i := range in.Candidates {
		if !IsTarget(&in.Candidates[i], target) {
			order = append(order, in.Candidates[i].ID)
		}
	}
	return sdk.RouteOutput{Order: order}
}

// IsTarget reports whether c is the target "provider/model".
func IsTarget(c *sdk.Candidate, target string) bool {
	p := len(c.Provider)
	return len(target) == p+1+len(c.Model) && target[p] == '/' && target[:p] == c.Provider && target[p+1:] == c.Model
}
