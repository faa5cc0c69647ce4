package sdk

import "testing"

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
