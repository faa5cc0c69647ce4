package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/sdk"
)

const cands = `"candidates":[
 {"id":"small/mini#0","provider":"small","model":"mini"},
 {"id":"big/strong#1","provider":"big","model":"strong"},
 {"id":"long/wide#2","provider":"long","model":"wide"}]`

var testRules = Rules{Header: "x-tenant-tier", Value: "premium", Premium: "big/strong", LongContext: "long/wide", LongTokens: 1000}

func route(t *testing.T, meta string) []string {
	t.Helper()
	in, err := sdk.DecodeRouteInput([]byte(`{"meta":` + meta + `,` + cands + `}`))
	if err != nil {
		t.Fatal(err)
	}
	return Route(testRules, in).Order
}

func TestRoute(t *testing.T) {
	cases := []struct {
		name, meta string
		want       []string
	}{
		{"plain request keeps the host order", `{"token_estimate":10,"headers":{}}`, nil},
		{"premium goes to the strongest first", `{"token_estimate":10,"headers":{"x-tenant-tier":"premium"}}`,
			[]string{"big/strong#1", "small/mini#0", "long/wide#2"}},
		{"other tiers are not premium", `{"token_estimate":10,"headers":{"x-tenant-tier":"free"}}`, nil},
		{"long prompt goes only to the long-context model", `{"token_estimate":1001,"headers":{}}`, []string{"long/wide#2"}},
		{"at the threshold is not long", `{"token_estimate":1000,"headers":{}}`, nil},
		{"a long prompt wins over the premium tier", `{"token_estimate":5000,"headers":{"x-tenant-tier":"premium"}}`, []string{"long/wide#2"}},
	}
	for _, c := range cases {
		if got := route(t, c.meta); !slices.Equal(got, c.want) {
			t.Errorf("%s: order %v, want %v", c.name, got, c.want)
		}
	}
}

func TestMissingModelKeepsHostOrder(t *testing.T) {
	r := testRules
	r.Premium, r.LongContext = "gone/x", "gone/y"
	in, err := sdk.DecodeRouteInput([]byte(`{"meta":{"token_estimate":5000,"headers":{"x-tenant-tier":"premium"}},` + cands + `}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := Route(r, in).Order; got != nil {
		t.Fatalf("order %v, want the host order", got)
	}
}

func TestConfig(t *testing.T) {
	sdk.Reset()
	var got Rules
	var initErr error
	sdk.OnInit(func(c sdk.Config) error { got, initErr = RulesFrom(c); return initErr })
	if _, err := sdk.Invoke(sdk.HookInit, []byte(`{"name":"p","config":{"premium_model":"big/strong","long_context_model":"long/wide","long_prompt_tokens":2000,"header":"X-Tier"}}`)); err != nil {
		t.Fatal(err)
	}
	if got.Premium != "big/strong" || got.LongContext != "long/wide" || got.LongTokens != 2000 || got.Header != "x-tier" || got.Value != "premium" {
		t.Fatalf("rules %+v", got)
	}
	if _, err := sdk.Invoke(sdk.HookInit, []byte(`{"name":"p","config":{"premium_model":"big/strong"}}`)); err == nil || !strings.Contains(err.Error(), "long_context_model") {
		t.Fatalf("missing long_context_model: err %v", err)
	}
}
