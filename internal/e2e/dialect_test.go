package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
)

// claudeCodeLike is a Messages request with the fields an agent sends that only Anthropic
// understands: cache breakpoints on system, tools and the last turn, thinking, metadata and
// context management.
const claudeCodeLike = `{"model":"anthropic/claude-sonnet-4-5","max_tokens":2048,` +
	`"system":[{"type":"text","text":"x-billing-header: demo"},{"type":"text","text":"You are a coding agent.","cache_control":{"type":"ephemeral"}}],` +
	`"messages":[{"role":"user","content":[{"type":"text","text":"list the files","cache_control":{"type":"ephemeral","ttl":"5m"}}]}],` +
	`"tools":[{"name":"Bash","description":"run a command","input_schema":{"type":"object","properties":{"command":{"type":"string"}},"required":["command"]},"cache_control":{"type":"ephemeral"}}],` +
	`"thinking":{"type":"enabled","budget_tokens":1024},` +
	`"metadata":{"user_id":"{\"device_id\":\"d1\",\"session_id\":\"s1\"}"},` +
	`"context_management":{"edits":[{"type":"clear_tool_uses_20250919"}]}%s}`

func TestMessagesNativeWhole(t *testing.T) {
	f := startTranslateFakes(t)
	s := startSluice(t, translateConfig(f))
	const beta = "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27"
	for _, stream := range []bool{false, true} {
		f.ant.ClearRequests()
		extra := ""
		if stream {
			extra = `,"stream":true`
		}
		body := []byte(strings.Replace(claudeCodeLike, "%s", extra, 1))
		req, _ := http.NewRequest("POST", s.URL+"/v1/messages", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-api-key", "client-key-not-for-upstream")
		req.Header.Set("anthropic-version", "2023-06-01")
		req.Header.Set("anthropic-beta", beta)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("stream=%v: status %d: %s", stream, resp.StatusCode, got)
		}
		rs := f.ant.Requests()
		if len(rs) != 1 {
			t.Fatalf("stream=%v: upstream got %d requests", stream, len(rs))
		}
		up := rs[0]
		want := bytes.Replace(body, []byte(`"anthropic/claude-sonnet-4-5"`), []byte(`"claude-sonnet-4-5"`), 1)
		if !bytes.Equal(up.Body, want) {
			t.Errorf("stream=%v: the upstream body differs from the client's beyond the model:\n got %s\nwant %s", stream, up.Body, want)
		}
		if up.Path != "/v1/messages" || up.Invalid != "" {
			t.Errorf("stream=%v: upstream path %s, invalid %q", stream, up.Path, up.Invalid)
		}
		if v := up.Header.Get("anthropic-beta"); v != beta {
			t.Errorf("stream=%v: anthropic-beta %q reached the upstream, want %q", stream, v, beta)
		}
		if v := up.Header.Get("anthropic-version"); v != "2023-06-01" {
			t.Errorf("stream=%v: anthropic-version %q", stream, v)
		}
		if v := up.Header.Get("x-api-key"); v != antKey {
			t.Errorf("stream=%v: upstream x-api-key %q, want the provider's", stream, v)
		}
		if !stream {
			var m map[string]any
			if err := json.Unmarshal(got, &m); err != nil || m["type"] != "message" {
				t.Errorf("answer is not an Anthropic message: %s", got)
			}
			continue
		}
		var names []string
		sc := bufio.NewScanner(bytes.NewReader(got))
		for sc.Scan() {
			if n, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				names = append(names, n)
			}
		}
		if len(names) < 3 || names[0] != "message_start" || names[len(names)-1] != "message_stop" {
			t.Errorf("stream events %v", names)
		}
	}
	// Usage of the native answers was read for the access log (written once the client has
	// its answer, so it is waited for).
	waitFor(t, func() bool {
		logs := s.Logs()
		return strings.Contains(logs, "path=/v1/messages status=200") && strings.Contains(logs, "completion_tokens=")
	}, "the access log to show the native answers' usage")
}

// TestMessagesNativeErrors: an Anthropic upstream's error reaches the client in Anthropic's own
// shape, and a retryable one fails over to a bridged target whose answer is converted.
func TestMessagesNativeErrors(t *testing.T) {
	f := startTranslateFakes(t)
	cfg := translateConfig(f) + `
[routers.claude]
strategy = "priority"
targets = [{ model = "anthropic/claude-haiku-4-5" }, { model = "up/gpt-test" }]
`
	s := startSluice(t, cfg)
	post := func(model, text string) (int, map[string]any) {
		body := `{"model":"` + model + `","max_tokens":64,"messages":[{"role":"user","content":"` + text + `"}]}`
		resp, err := http.Post(s.URL+"/v1/messages", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("not JSON: %s", b)
		}
		return resp.StatusCode, m
	}
	st, m := post("anthropic/claude-haiku-4-5", "marker-bad")
	if st != 400 || m["type"] != "error" {
		t.Errorf("native 400: status %d body %v", st, m)
	}
	if e, _ := m["error"].(map[string]any); e == nil || e["type"] != "invalid_request_error" {
		t.Errorf("native 400 error object %v", m["error"])
	}
	f.ant.Script(func(fakeprovider.Received) fakeprovider.Reply {
		return fakeprovider.Reply{Status: 529, Message: "the upstream is overloaded"}
	})
	st, m = post("claude", "hello")
	if st != 200 || m["type"] != "message" {
		t.Fatalf("failover from an overloaded native target: status %d body %v", st, m)
	}
	if n := f.oai.Count(); n != 1 {
		t.Errorf("the bridged target got %d requests, want 1", n)
	}
}

func TestResponsesNodeOpenAISDK(t *testing.T) {
	f := startTranslateFakes(t)
	// "native" is an OpenAI fake declared as serving the Responses API itself.
	nat := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123"))
	scriptByMarker(nat, fakeprovider.FormatOpenAI)
	s := startSluice(t, translateConfig(f)+fmt.Sprintf(`
[providers.native]
kind = "openai"
base_url = %q
api_key = "sk-upstream-secret-123"
native = ["responses"]
`, nat.URL))
	out := node(t, "responses.test.mjs", "SLUICE_URL="+s.URL, "RESPONSES_NATIVE=native/gpt-test")
	if !strings.Contains(out, "pass 52") || !strings.Contains(out, "fail 0") {
		t.Fatalf("expected 52 passing node tests:\n%s", out)
	}
	checkReceived(t, "anthropic", f.ant, 10, anthropicHeaders)
	checkReceived(t, "gemini", f.gem, 10, geminiHeaders)
	checkReceived(t, "bedrock", f.bed, 10, bedrockHeaders)
	checkReceived(t, "chat", f.oai, 10, func(r fakeprovider.Received) string {
		if r.Path != "/v1/chat/completions" {
			return "a chat-only upstream got " + r.Path
		}
		return ""
	})
	// previous_response_id: the second turn reached every upstream with the first one in it.
	for name, up := range map[string]*fakeprovider.Server{"chat": f.oai, "anthropic": f.ant, "gemini": f.gem, "bedrock": f.bed} {
		if !bodyHas(up, "remember the word alpha", "what was the word") {
			t.Errorf("%s: no request carried both turns of a previous_response_id conversation", name)
		}
		if !bodyHas(up, "get_weather", `{\"temp\":21}`) && !bodyHas(up, "get_weather", `"temp":21`) {
			t.Errorf("%s: the function_call_output did not reach the upstream", name)
		}
	}
	checkReceived(t, "native", nat, 10, func(r fakeprovider.Received) string {
		if !strings.HasPrefix(r.Path, "/v1/responses") {
			return "a native Responses upstream got " + r.Path
		}
		return ""
	})
	if !bodyHas(nat, "remember the word alpha") || !bodyHas(nat, `"previous_response_id"`) {
		t.Error("native: the continued conversation did not keep previous_response_id for the upstream that holds it")
	}
	if !bodyHas(f.oai, `"response_format"`, `"json_schema"`) {
		t.Error("chat: text.format did not become response_format")
	}
}

// TestDialectNativeCache: native answers are cached in their own shape and replayed as the
// upstream sent them, streamed and not, for the Responses and the Messages API.
func TestDialectNativeCache(t *testing.T) {
	f := startTranslateFakes(t)
	nat := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123"))
	s := startSluice(t, translateConfig(f)+fmt.Sprintf(`
[providers.native]
kind = "openai"
base_url = %q
api_key = "sk-upstream-secret-123"
native = ["responses"]

[cache]
enabled = true
`, nat.URL))
	cases := []struct {
		name, path, body string
		up               *fakeprovider.Server
	}{
		{"responses", "/v1/responses", `{"model":"native/gpt-test","input":"cache me natively"%s}`, nat},
		{"messages", "/v1/messages", `{"model":"anthropic/claude-haiku-4-5","max_tokens":64,"messages":[{"role":"user","content":"cache me natively"}]%s}`, f.ant},
	}
	for _, tc := range cases {
		for _, stream := range []string{"", `,"stream":true`} {
			body := fmt.Sprintf(tc.body, stream)
			before := len(tc.up.Requests())
			code1, h1, b1 := post(t, s.URL+tc.path, body, "anthropic-version", "2023-06-01")
			code2, h2, b2 := post(t, s.URL+tc.path, body, "anthropic-version", "2023-06-01")
			if code1 != 200 || code2 != 200 {
				t.Fatalf("%s stream=%q: %d %d %s %s", tc.name, stream, code1, code2, b1, b2)
			}
			if got := len(tc.up.Requests()) - before; got != 1 {
				t.Errorf("%s stream=%q: the upstream got %d requests, want 1", tc.name, stream, got)
			}
			if !strings.HasPrefix(h1.Get("X-Sluice-Cache"), "MISS") || !strings.HasPrefix(h2.Get("X-Sluice-Cache"), "HIT") {
				t.Errorf("%s stream=%q: cache %q then %q", tc.name, stream, h1.Get("X-Sluice-Cache"), h2.Get("X-Sluice-Cache"))
			}
			if b1 != b2 {
				t.Errorf("%s stream=%q: the replay differs from the answer:\n%s\n%s", tc.name, stream, b1, b2)
			}
		}
	}
}
