package main

import (
	"testing"

	"github.com/sluice-gw/sluice/sdk"
)

func TestCheck(t *testing.T) {
	pats := []string{"gpt-4o-mini", "anthropic/*"}
	for model, ok := range map[string]bool{"gpt-4o-mini": true, "anthropic/claude-haiku-4-5": true, "gpt-4o": false, "": false} {
		d := Check(pats, sdk.RequestInput{Meta: sdk.Meta{Model: model}})
		if (d.Action == sdk.ActionAllow) != ok {
			t.Fatalf("%q: %+v", model, d)
		}
		if !ok && (d.Status != 403 || d.Code != "model_not_allowed") {
			t.Fatalf("%q: %+v", model, d)
		}
	}
	d := Check(pats, sdk.RequestInput{Meta: sdk.Meta{Model: "gpt-4o"}})
	if got := string(d.AppendJSON(nil)); got != `{"action":"reject","status":403,"code":"model_not_allowed","message":"model \"gpt-4o\" is not allowed"}` {
		t.Fatal(got)
	}
}
