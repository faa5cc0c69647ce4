package openai

import (
	"encoding/json"
	"strings"
	"testing"
)

// all is what a plain OpenAI-compatible provider gets stripped from a chat client's body.
var all = Strip{CacheControl: true, Signatures: true}

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
	if got := string(StripChatExtensions([]byte(in), all)); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// Found anywhere, also after many underscores (the fallback search).
	for _, b := range []string{`{"cache_control":1}`, `{"x":"` + strings.Repeat("a_b ", 500) + `","cache_control":1}`,
		`{"x":"` + strings.Repeat("a_b ", 500) + `","reasoning_signature":"s"}`, `{"reasoning_signature":"s"}`} {
		if !hasExtensions([]byte(b)) {
			t.Errorf("not found in %.40s...", b)
		}
	}
	for _, b := range []string{`{"cache_controls":1}`, `{"x":"` + strings.Repeat("a_b ", 500) + `cache_control is a word"}`, `{"reasoning_sig":1}`} {
		if hasExtensions([]byte(b)) {
			t.Errorf("found in %.40s...", b)
		}
	}
	// A bridged body also loses the bridge's reasoning text, and only on messages.
	bridged := `{"model":"m","messages":[{"role":"assistant","content":"a","reasoning_content":"r"}],"reasoning_content":"top"}`
	if got := string(StripChatExtensions([]byte(bridged), Strip{Reasoning: true})); got != `{"model":"m","messages":[{"role":"assistant","content":"a"}],"reasoning_content":"top"}` {
		t.Errorf("bridged: %s", got)
	}
	if got := string(StripChatExtensions([]byte(bridged), all)); got != bridged {
		t.Errorf("not bridged, rewritten: %s", got)
	}
	plain := []byte(`{"model":"m", "messages":[{"role":"user","content":"what is cache_control?"}]}`)
	if got := StripChatExtensions(plain, all); &got[0] != &plain[0] {
		t.Error("a body without extensions was rewritten")
	}
}

func FuzzStripChatExtensions(f *testing.F) {
	f.Add([]byte(`{"messages":[{"role":"user","content":[{"type":"text","text":"x","cache_control":{}}]}]}`))
	f.Add([]byte(`{"tools":[{"cache_control":1}],"messages":[{"reasoning_signature":"s"}]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out := StripChatExtensions(in, Strip{CacheControl: true, Signatures: true, Reasoning: true})
		if json.Valid(in) && !json.Valid(out) {
			t.Fatalf("valid %q became invalid %q", in, out)
		}
	})
}

// BenchmarkStripChatExtensions: the cost on an 80 KB body without extensions (a byte search)
// and with them (a rewrite).
func BenchmarkStripChatExtensions(b *testing.B) {
	text := strings.Repeat("lorem ipsum dolor sit amet ", 3000)
	plain := []byte(`{"model":"m","messages":[{"role":"system","content":"` + text + `"},{"role":"user","content":"q"}]}`)
	marked := []byte(`{"model":"m","messages":[{"role":"system","content":[{"type":"text","text":"` + text + `","cache_control":{"type":"ephemeral"}}]},{"role":"user","content":"q"}]}`)
	// JSON-dense: a Claude Code-sized set of tool schemas, a quote every few bytes.
	schema := `{"type":"function","function":{"name":"Bash","description":"Run it","parameters":{"type":"object","properties":{"command":{"type":"string"},"timeout":{"type":"number"}},"required":["command"]}}},`
	tools := []byte(`{"model":"m","messages":[{"role":"user","content":"q"}],"tools":[` + strings.Repeat(schema, 400) + `{}]}`)
	code := []byte(`{"model":"m","messages":[{"role":"user","content":"` +
		strings.Repeat(`def read_file(file_path):\n    with open(file_path) as f_in:\n        return f_in.read()\n`, 900) + `"}]}`)
	for _, c := range []struct {
		name string
		body []byte
	}{{"none", plain}, {"none-json-dense", tools}, {"none-snake-case", code}, {"marked", marked}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			for b.Loop() {
				StripChatExtensions(c.body, all)
			}
		})
	}
}
