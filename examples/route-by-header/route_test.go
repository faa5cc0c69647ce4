package main

import (
	"slices"
	"testing"

	"github.com/sluice-gw/sluice/sdk"
)

const in = `{"meta":{"model":"m","headers":{"x-tenant":"acme"}},"candidates":[
 {"id":"openai/gpt-4o-mini#0","provider":"openai","model":"gpt-4o-mini"},
 {"id":"anthropic/claude-haiku-4-5#1","provider":"anthropic","model":"claude-haiku-4-5"}]}`

func TestRoute(t *testing.T) {
	r := Rules{Header: "x-tenant", Targets: map[string]string{"acme": "anthropic/claude-haiku-4-5"}}
	v, err := sdk.DecodeRouteInput([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := Route(r, v).Order; !slices.Equal(got, []string{"anthropic/claude-haiku-4-5#1", "openai/gpt-4o-mini#0"}) {
		t.Fatalf("order %v", got)
	}
	v.Meta.Headers["x-tenant"] = "other"
	if got := Route(r, v).Order; got != nil {
		t.Fatalf("unknown tenant: order %v, want host order", got)
	}
}

func TestConfig(t *testing.T) {
	sdk.Reset()
	var rules Rules
	sdk.OnInit(func(c sdk.Config) error { rules = RulesFrom(c); return nil })
	if _, err := sdk.Invoke(sdk.HookInit, []byte(`{"name":"x","config":{"header":"x-tier","targets":{"gold":"openai/gpt-4o"}}}`)); err != nil {
		t.Fatal(err)
	}
	if rules.Header != "x-tier" || rules.Targets["gold"] != "openai/gpt-4o" {
		t.Fatalf("rules %+v", rules)
	}
}

func TestConfigList(t *testing.T) {
	sdk.Reset()
	var rules Rules
	sdk.OnInit(func(c sdk.Config) error { rules = RulesFrom(c); return nil })
	if _, err := sdk.Invoke(sdk.HookInit, []byte(`{"name":"x","config":{"targets":["gold=openai/gpt-4o","x"]}}`)); err != nil {
		t.Fatal(err)
	}
	if rules.Header != "x-tenant" || len(rules.Targets) != 1 || rules.Targets["gold"] != "openai/gpt-4o" {
		t.Fatalf("rules %+v", rules)
	}
}
