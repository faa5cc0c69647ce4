package telemetry

import "testing"

// BenchmarkRedactBody redacts a chat request with nested objects, arrays and a secret in text.
func BenchmarkRedactBody(b *testing.B) {
	r := NewRedactor(RedactConfig{Fields: []string{"ssn", "credentials"}})
	in := []byte(`{"model":"gpt-4o-mini","api_key":"sk-abc","user":{"SSN":"123-45-6789","name":"Ann"},` +
		`"credentials":{"aws":{"secret":"x"}},"messages":[{"role":"user","content":"my key is sk-proj-ABCDEFGHIJKLMNOPQRSTUV ok"},` +
		`{"role":"assistant","content":"plain text with \"escapes\" and \u00e9"}],` +
		`"n":1.50,"stream":true,"stop":null,"tags":["a",2]}`)
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Body(in)
	}
}
