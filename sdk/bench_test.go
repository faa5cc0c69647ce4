package sdk

import (
	"strings"
	"testing"
)

const benchRoute = `{"meta":{"request_id":"r1","endpoint":"chat.completions","model":"gpt-4o-mini","router":"prod",` +
	`"user":"u","team":"t","key_id":"k","stream":false,"token_estimate":123,"max_tokens":0,"temperature":0.7,` +
	`"headers":{"x-tenant":"acme"},"now_ms":1700000000000},"candidates":[` +
	`{"id":"openai/gpt-4o-mini#0","provider":"openai","model":"gpt-4o-mini","weight":1,"priority":0,"healthy":true,"ewma_ms":12.5,"in_flight":3,"error_rate":0.01,"price_in":0.15,"price_out":0.6},` +
	`{"id":"anthropic/claude-haiku-4-5#1","provider":"anthropic","model":"claude-haiku-4-5","weight":1,"priority":0,"healthy":true,"ewma_ms":20,"in_flight":0,"error_rate":0,"price_in":1,"price_out":5}]}`

func BenchmarkDecodeRouteInput(b *testing.B) {
	in := []byte(benchRoute)
	b.ReportAllocs()
	var out []byte
	for b.Loop() {
		v, err := DecodeRouteInput(in)
		if err != nil {
			b.Fatal(err)
		}
		o := RouteOutput{Order: []string{v.Candidates[1].ID, v.Candidates[0].ID}}
		out = o.AppendJSON(out[:0])
	}
}

// BenchmarkRouteHook is the typed route hook as the wasm export runs it: decode into the reused
// view, a handler that reverses the candidates, and the output appended to the reused buffer.
func BenchmarkRouteHook(b *testing.B) {
	Reset()
	defer Reset()
	order := make([]string, 0, 8)
	HandleRoute(func(in RouteInput) (RouteOutput, error) {
		order = order[:0]
		for i := len(in.Candidates) - 1; i >= 0; i-- {
			order = append(order, in.Candidates[i].ID)
		}
		return RouteOutput{Order: order}, nil
	})
	in := []byte(benchRoute)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dispatchID(idRoute, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequestHook is an on_request policy reading the meta over a 1 KB body.
func BenchmarkRequestHook(b *testing.B) {
	Reset()
	defer Reset()
	HandleRequest(func(in RequestInput) (Decision, error) {
		if in.Meta.Model == "blocked" {
			return Reject(403, "model_not_allowed", "no"), nil
		}
		return Allow(), nil
	})
	in := []byte(`{"meta":{"request_id":"r1","endpoint":"chat.completions","model":"gpt-4o-mini","headers":{"x-tenant":"acme"},"now_ms":1},"body":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("hello world ", 80) + `"}],"max_tokens":100}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dispatchID(idOnRequest, in); err != nil {
			b.Fatal(err)
		}
	}
}
