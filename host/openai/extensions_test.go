package openai

import (
	"encoding/json"
	"testing"
)

func TestStripChatExtensions(t *testing.T) {
	in := `{"model":"m","messages":[
{"role":"system","content":[{"type":"text","text":"s","cache_control":{"type":"ephemeral"}}],"cache_control":{"type":"ephemeral"}},
{"role":"assistant","content":null,"reasoning_content":"r","reasoning_signature":"sig","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"},"cache_control":{"type":"ephemeral"}}]},
{"role":"tool","tool_call_id":"c","content":[{"type":"text","text":"t","cache_control":{"type":"ephemeral","ttl":"1h"}}]}],
"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"cache_control":{"type":"string"}}}},"cache_control":{"type":"ephemeral"}}],
"stream":true}`
	want := `{"model":"m","messages":[{"role":"system","content":[{"type":"text","text":"s"}]},` +
		`{"role":"assistant","content":null,"reasoning_content":"r","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},` +
		`{"role":"tool","tool_call_id":"c","content":[{"type":"text","text":"t"}]}],` +
		`"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"cache_control":{"type":"string"}}}}}],"stream":true}`
	if got := string(StripChatExtensions([]byte(in))); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	plain := []byte(`{"model":"m", "messages":[{"role":"user","content":"what is cache_control?"}]}`)
	if got := StripChatExtensions(plain); &got[0] != &plain[0] {
		t.Error("a body without extensions was rewritten")
	}
}

func FuzzStripChatExtensions(f *testing.F) {
	f.Add([]byte(`{"messages":[{"role":"user","content":[{"type":"text","text":"x","cache_control":{}}]}]}`))
	f.Add([]byte(`{"tools":[{"cache_control":1}],"messages":[{"reasoning_signature":"s"}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out := StripChatExtensions(in)
		if json.Valid(in) && !json.Valid(out) {
			t.Fatalf("valid %q became invalid %q", in, out)
		}
	})
}
