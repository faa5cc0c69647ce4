package main

import (
	"testing"

	"github.com/sluice-gw/sluice/sdk"
)

func TestCheck(t *testing.T) {
	body := []byte(`{"model":"m","max_tokens":10000,"messages":[],"max_completion_tokens":50}`)
	d, err := Check(Limit{Max: 1000}, sdk.RequestInput{Body: body})
	if err != nil || d.Action != sdk.ActionRewrite || string(d.Body) != `{"model":"m","max_tokens":1000,"messages":[],"max_completion_tokens":50}` {
		t.Fatalf("%+v %s %v", d, d.Body, err)
	}
	d, _ = Check(Limit{Max: 1000, Reject: true}, sdk.RequestInput{Body: body})
	if d.Action != sdk.ActionReject || d.Status != 400 || d.Code != "max_tokens_exceeded" || d.Message != "max_tokens 10000 exceeds the limit of 1000" {
		t.Fatalf("%+v", d)
	}
	d, _ = Check(Limit{Max: 1000}, sdk.RequestInput{Body: []byte(`{"model":"m"}`)})
	if d.Action != sdk.ActionAllow {
		t.Fatalf("%+v", d)
	}
}

func TestInvoke(t *testing.T) {
	sdk.Reset()
	var limit Limit
	sdk.OnInit(func(c sdk.Config) error { limit = LimitFrom(c); return nil })
	sdk.HandleRequest(func(in sdk.RequestInput) (sdk.Decision, error) { return Check(limit, in) })
	if _, err := sdk.Invoke(sdk.HookInit, []byte(`{"name":"mt","config":{"max":5}}`)); err != nil {
		t.Fatal(err)
	}
	out, err := sdk.Invoke(sdk.HookOnRequest, []byte(`{"meta":{"model":"m"},"body":{"max_completion_tokens":9}}`))
	if err != nil || string(out) != `{"action":"rewrite","body":{"max_completion_tokens":5}}` {
		t.Fatalf("%s %v", out, err)
	}
}
