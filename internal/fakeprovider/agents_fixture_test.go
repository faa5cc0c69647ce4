package fakeprovider

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture is a request a real client sent, recorded with its key replaced.
type fixture struct {
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	Query   string              `json:"query"`
	Headers map[string][]string `json:"headers"`
	Body    json.RawMessage     `json:"body"`
}

func loadFixture(t *testing.T, name string) fixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var f fixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return f
}

// replay sends the fixture to base with its own headers (the key set to key), the body
// changed by edit when it is not nil.
func replay(t *testing.T, base string, f fixture, key string, edit func(h http.Header, body map[string]any)) *http.Response {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(f.Body, &body); err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	for k, v := range f.Headers {
		switch http.CanonicalHeaderKey(k) {
		case "Content-Length", "Accept-Encoding", "Connection":
			continue
		case "Authorization":
			v = []string{"Bearer " + key}
		case "X-Api-Key":
			v = []string{key}
		}
		h[http.CanonicalHeaderKey(k)] = v
	}
	if edit != nil {
		edit(h, body)
	}
	url := base + f.Path
	if f.Query != "" {
		url += "?" + f.Query
	}
	req, err := http.NewRequest(f.Method, url, strings.NewReader(string(mustJSON(body))))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestAnthropicAcceptsClaudeCode(t *testing.T) {
	for _, name := range []string{"claude-code-messages-request.json", "claude-code-messages-request-known-model.json"} {
		t.Run(name, func(t *testing.T) {
			f := loadFixture(t, name)
			up := NewAnthropic(t, WithKey("sk-ant"))
			up.Enqueue(Reply{ToolCalls: []ToolCall{{Name: "Bash", Arguments: `{"command":"echo hi","description":"say hi"}`}}})
			resp := replay(t, up.Root, f, "sk-ant", nil)
			events, err := readSSE(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			got := up.Requests()
			if resp.StatusCode != 200 || len(got) != 1 || got[0].Invalid != "" {
				t.Fatalf("status %d, received %+v", resp.StatusCode, got)
			}
			var input string
			for _, e := range events {
				m := mustDecode(t, e.Data)
				if s, ok := dig(m, "delta", "partial_json").(string); ok {
					input += s
				}
			}
			if input != `{"command":"echo hi","description":"say hi"}` {
				t.Errorf("tool_use input %q", input)
			}
			// The whole request is recorded.
			if string(got[0].Body) != string(mustJSON(mustDecode(t, string(f.Body)))) {
				t.Error("the recorded body differs from the one sent")
			}
		})
	}
}

func TestAnthropicRejectsWhatTheAPIRejects(t *testing.T) {
	f := loadFixture(t, "claude-code-messages-request.json")
	up := NewAnthropic(t)
	cases := []struct {
		name string
		edit func(http.Header, map[string]any)
		want string
	}{
		{"system role without its beta", func(h http.Header, _ map[string]any) {
			h.Set("Anthropic-Beta", "claude-code-20250219")
		}, "messages.1.role: role 'system' is not supported on this model; use the top-level `system` parameter"},
		{"unknown top-level field", func(_ http.Header, b map[string]any) { b["temprature"] = 1 }, "temprature: Extra inputs are not permitted"},
		{"five cache breakpoints", func(_ http.Header, b map[string]any) {
			for _, tl := range b["tools"].([]any)[:2] {
				tl.(map[string]any)["cache_control"] = map[string]any{"type": "ephemeral"}
			}
		}, "A maximum of 4 blocks with cache_control may be provided. Found 5."},
		{"bad cache_control", func(_ http.Header, b map[string]any) {
			b["system"].([]any)[1].(map[string]any)["cache_control"] = map[string]any{"type": "persistent"}
		}, "system.1.cache_control.type: Input should be 'ephemeral'"},
		{"unknown thinking type", func(_ http.Header, b map[string]any) { b["thinking"] = map[string]any{"type": "auto"} }, "thinking.type: Input tag"},
		{"bad effort", func(_ http.Header, b map[string]any) { b["output_config"] = map[string]any{"effort": "huge"} }, "output_config.effort"},
		{"bad context edit", func(_ http.Header, b map[string]any) {
			b["context_management"] = map[string]any{"edits": []any{map[string]any{"type": "forget_all"}}}
		}, "context_management.edits.0.type"},
		{"unknown tool field", func(_ http.Header, b map[string]any) {
			b["tools"].([]any)[0].(map[string]any)["inputSchema"] = map[string]any{}
		}, "tools.0.custom.inputSchema: Extra inputs are not permitted"},
		{"metadata extra", func(_ http.Header, b map[string]any) { b["metadata"].(map[string]any)["session"] = "x" }, "metadata.session"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := replay(t, up.Root, f, "sk-ant", c.edit)
			m := decodeBody(t, resp)
			msg, _ := dig(m, "error", "message").(string)
			if resp.StatusCode != 400 || dig(m, "error", "type") != "invalid_request_error" || !strings.HasPrefix(msg, c.want) {
				t.Errorf("status %d, body %v; want 400 %q", resp.StatusCode, m, c.want)
			}
		})
	}
}
