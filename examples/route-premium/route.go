// Command route-premium is an example route plugin: premium tenants (a request header, by
// default x-tenant-tier: premium) go to the router's strongest model first, and prompts whose
// token estimate is above a threshold go only to the long-context model. Everything else keeps
// the router's own order.
package main

import (
	"strings"

	"github.com/sluice-gw/sluice/sdk"
)

// Rules is the plugin config.
type Rules struct {
	// Header and Value select premium requests (header names are lower case in the meta).
	Header, Value string
	// Premium is the "provider/model" premium requests try first.
	Premium string
	// LongContext is the "provider/model" for prompts above LongTokens estimated tokens.
	LongContext string
	LongTokens  int
}

// RulesFrom reads the config table; premium_model and long_context_model are required.
func RulesFrom(c sdk.Config) (Rules, error) {
	r := Rules{
		Header:      strings.ToLower(c.String("header", "x-tenant-tier")),
		Value:       c.String("value", "premium"),
		Premium:     c.String("premium_model", ""),
		LongContext: c.String("long_context_model", ""),
		LongTokens:  c.Int("long_prompt_tokens", 8000),
	}
	if r.Premium == "" || r.LongContext == "" {
		return r, sdk.Errorf(400, "invalid_config", "route-premium needs premium_model and long_context_model (\"provider/model\")")
	}
	if r.LongTokens < 1 {
		return r, sdk.Errorf(400, "invalid_config", "long_prompt_tokens must be at least 1")
	}
	return r, nil
}

// Route orders the candidates. A long prompt is a hard constraint (a smaller context window
// would reject it with a 400, which no failover fixes), so it wins over the premium tier and
// keeps only the long-context candidates. A premium request puts the strongest model first and
// keeps the rest as failover. Otherwise, and when the wanted model is not among the
// candidates, the order is empty: the host keeps its own.
func Route(r Rules, in sdk.RouteInput) sdk.RouteOutput {
	if in.Meta.TokenEstimate > r.LongTokens {
		if ids := matching(in.Candidates, r.LongContext); len(ids) > 0 {
			return sdk.RouteOutput{Order: ids}
		}
		return sdk.RouteOutput{}
	}
	if in.Meta.Header(r.Header) == r.Value {
		first := matching(in.Candidates, r.Premium)
		if len(first) == 0 {
			return sdk.RouteOutput{}
		}
		for _, c := range in.Candidates {
			if c.Provider+"/"+c.Model != r.Premium {
				first = append(first, c.ID)
			}
		}
		return sdk.RouteOutput{Order: first}
	}
	return sdk.RouteOutput{}
}

func matching(cands []sdk.Candidate, model string) []string {
	var ids []string
	for _, c := range cands {
		if c.Provider+"/"+c.Model == model {
			ids = append(ids, c.ID)
		}
	}
	return ids
}
