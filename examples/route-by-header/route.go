// Command route-by-header is an example route plugin: it sends a request to the target
// configured for the value of one request header (a tenant, a tier), ahead of the router's
// other candidates.
package main

import "github.com/sluice-gw/sluice/sdk"

// Rules is the plugin config: the header to read and header value -> "provider/model".
type Rules struct {
	Header  string
	Targets map[string]string
}

// RulesFrom reads the config table: header = "x-tenant", [targets] acme = "anthropic/...".
func RulesFrom(c sdk.Config) Rules {
	return Rules{Header: c.String("header", "x-tenant"), Targets: c.StringMap("targets")}
}

// Route puts the candidates matching the header's target first, keeping the host's order
// otherwise. Without a match it returns an empty order (keep the host's order).
func Route(r Rules, in sdk.RouteInput) sdk.RouteOutput {
	target, ok := r.Targets[in.Meta.Header(r.Header)]
	if !ok {
		return sdk.RouteOutput{}
	}
	first := make([]string, 0, len(in.Candidates))
	rest := make([]string, 0, len(in.Candidates))
	for _, c := range in.Candidates {
		if c.Provider+"/"+c.Model == target {
			first = append(first, c.ID)
		} else {
			rest = append(rest, c.ID)
		}
	}
	if len(first) == 0 {
		return sdk.RouteOutput{}
	}
	return sdk.RouteOutput{Order: append(first, rest...)}
}
