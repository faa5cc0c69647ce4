package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
)

// fidelityBody finds the one request a fake received whose body contains marker and decodes it.
func fidelityBody(t *testing.T, up *fakeprovider.Server, marker string, extra ...string) map[string]any {
	t.Helper()
	for _, r := range up.Requests() {
		b := string(r.Body)
		if !strings.Contains(b, marker) {
			continue
		}
		ok := true
		for _, e := range extra {
			ok = ok && strings.Contains(b, e)
		}
		if !ok {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(r.Body, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	t.Fatalf("no request with %q %q reached the fake", marker, extra)
	return nil
}

func jpath(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k < 0 {
				k += len(a)
			}
			if k < 0 || k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

// TestMessagesFidelityNodeSDK drives fidelity.test.mjs (the official Anthropic and OpenAI SDKs)
// and checks what reached each fake: the Messages API's role "system" message and PDF document
// on an OpenAI upstream, thinking signatures back to Anthropic, and cache_control breakpoints
// from OpenAI-shaped chat on Anthropic, with cache usage back.
func TestMessagesFidelityNodeSDK(t *testing.T) {
	f := startTranslateFakes(t)
	f.ant.Script(func(r fakeprovider.Received) fakeprovider.Reply {
		b := string(r.Body)
		switch {
		case strings.Contains(b, "marker-think-tool") && strings.Contains(b, `"tool_result"`):
			return fakeprovider.Reply{Text: "It is 18C in Paris."}
		case strings.Contains(b, "marker-think-tool"):
			return fakeprovider.Reply{Thinking: "The user wants the weather; call the tool.",
				ToolCalls: []fakeprovider.ToolCall{{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}
		}
		return fakeprovider.Reply{}
	})
	// antbridge is the Anthropic fake reached through the translator even for /v1/messages
	// (native = []), so thinking signatures cross the chat form both ways.
	s := startSluice(t, translateConfig(f)+fmt.Sprintf(`
[providers.antbridge]
kind = "anthropic"
base_url = %q
api_key = %q
native = []
`, f.ant.URL, antKey))
	out := node(t, "fidelity.test.mjs", "SLUICE_URL="+s.URL)
	if !strings.Contains(out, "pass 7") || !strings.Contains(out, "fail 0") {
		t.Fatalf("expected 7 passing node tests:\n%s", out)
	}
	checkReceived(t, "anthropic", f.ant, 5, anthropicHeaders)

	// The system message stays where the client put it.
	mid := fidelityBody(t, f.oai, "marker-midsystem")
	var roles []string
	for _, m := range jpath(mid, "messages").([]any) {
		roles = append(roles, m.(map[string]any)["role"].(string))
	}
	if got := strings.Join(roles, ","); got != "system,user,system,assistant,user" {
		t.Errorf("roles at the OpenAI upstream: %s", got)
	}
	if c := jpath(mid, "messages", 2, "content"); c != "marker-midsystem: answer in French." {
		t.Errorf("mid-conversation system message: %v", c)
	}

	// The PDF arrives as a chat file part.
	doc := fidelityBody(t, f.oai, "marker-document")
	part := jpath(doc, "messages", 0, "content", 0)
	if jpath(part, "type") != "file" || jpath(part, "file", "filename") != "report.pdf" ||
		!strings.HasPrefix(fmt.Sprint(jpath(part, "file", "file_data")), "data:application/pdf;base64,JVBERi0xLjQK") {
		t.Errorf("document part at the OpenAI upstream: %v", part)
	}

	// The signed thinking block goes back first in the assistant turn.
	again := fidelityBody(t, f.ant, "marker-think-tool", `"tool_result"`)
	th := jpath(again, "messages", 1, "content", 0)
	if jpath(th, "type") != "thinking" || !strings.HasPrefix(fmt.Sprint(jpath(th, "signature")), "sig_fake_") ||
		jpath(th, "thinking") != "The user wants the weather; call the tool." {
		t.Errorf("assistant turn sent back to Anthropic starts with %v", th)
	}
	if jpath(again, "thinking", "type") != "enabled" {
		t.Errorf("thinking config: %v", again["thinking"])
	}
	for _, r := range f.ant.Requests() {
		// The translator's own API version, not the SDK's: these went through chat.
		if strings.Contains(string(r.Body), "marker-think-tool") && r.Header.Get("Anthropic-Version") != "2023-06-01" {
			t.Errorf("a thinking turn was not bridged (anthropic-version %q)", r.Header.Get("Anthropic-Version"))
		}
	}

	// The breakpoints arrive where the OpenAI client set them, ttl kept.
	cached := fidelityBody(t, f.ant, "marker-cache", "first question")
	if cc := jpath(cached, "system", 0, "cache_control"); fmt.Sprint(cc) != "map[ttl:1h type:ephemeral]" {
		t.Errorf("system breakpoint: %v", cc)
	}
	if cc := jpath(cached, "messages", 0, "content", 0, "cache_control"); fmt.Sprint(cc) != "map[type:ephemeral]" {
		t.Errorf("user breakpoint: %v", cc)
	}
	if cc := jpath(cached, "messages", 0, "content", 1, "cache_control"); cc != nil {
		t.Errorf("unmarked part got a breakpoint: %v", cc)
	}
}

// TestAutoCacheOption: with auto_cache = true the translator places breakpoints for a client
// that sends none (tools, system, last user turn), and the answer's usage reports the write.
func TestAutoCacheOption(t *testing.T) {
	ant := fakeprovider.NewAnthropic(t, fakeprovider.WithKey(antKey))
	s := startSluice(t, baseConfig+fmt.Sprintf(`
[providers.antauto]
kind = "anthropic"
base_url = %q
api_key = %q
options = { auto_cache = true }
`, ant.URL, antKey))
	body := `{"model":"antauto/claude-haiku-4-5","max_tokens":50,"messages":[
{"role":"system","content":"You are a careful assistant with a long stable prompt."},
{"role":"user","content":"first"},{"role":"assistant","content":"ok"},{"role":"user","content":"second"}],
"tools":[{"type":"function","function":{"name":"ls","parameters":{"type":"object","properties":{}}}}]}`
	code, _, resp := post(t, s.URL+"/v1/chat/completions", body)
	if code != 200 {
		t.Fatalf("status %d: %s", code, resp)
	}
	var r struct {
		Usage struct {
			PromptTokens int64 `json:"prompt_tokens"`
			Details      struct {
				Cached   *int64 `json:"cached_tokens"`
				Creation *int64 `json:"cache_creation_tokens"`
			} `json:"prompt_tokens_details"`
		} `json:"usage"`
	}
	if err := json.Unmarshal([]byte(resp), &r); err != nil {
		t.Fatal(err)
	}
	if d := r.Usage.Details; d.Creation == nil || *d.Creation <= 0 || d.Cached == nil || *d.Cached != 0 || r.Usage.PromptTokens <= *d.Creation {
		t.Errorf("usage %s", resp)
	}
	got := fidelityBody(t, ant, "second")
	for _, at := range [][]any{{"tools", -1}, {"system", -1}, {"messages", -1, "content", -1}} {
		if cc := jpath(got, append(at, "cache_control")...); fmt.Sprint(cc) != "map[type:ephemeral]" {
			t.Errorf("no automatic breakpoint at %v: %v", at, cc)
		}
	}
	if cc := jpath(got, "messages", 0, "content", 0, "cache_control"); cc != nil {
		t.Errorf("breakpoint on an earlier turn: %v", cc)
	}
	checkReceived(t, "anthropic", ant, 1, anthropicHeaders)
}

// TestChatExtensionsToOpenAIUpstreams: the gateway's chat extensions (cache_control,
// reasoning_signature) never reach an OpenAI-compatible upstream, which would refuse unknown
// members, unless its provider keeps them (keep_extensions, for servers such as OpenRouter).
func TestChatExtensionsToOpenAIUpstreams(t *testing.T) {
	strict := fakeprovider.NewOpenAI(t)
	keep := fakeprovider.NewOpenAI(t)
	s := startSluice(t, baseConfig+fmt.Sprintf(`
[providers.strict]
kind = "openai"
base_url = %q
api_key = "k1"

[providers.keep]
kind = "openai"
base_url = %q
api_key = "k2"
options = { keep_extensions = true }
`, strict.URL, keep.URL))
	// An Anthropic SDK client's breakpoints and signed thinking, bridged to chat.
	msg := `{"model":"%s/gpt-test","max_tokens":20,
"system":[{"type":"text","text":"stable prompt","cache_control":{"type":"ephemeral"}}],
"messages":[{"role":"user","content":"q"},
 {"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"sig1"},{"type":"text","text":"a"}]},
 {"role":"user","content":[{"type":"text","text":"again","cache_control":{"type":"ephemeral"}}]}]}`
	for _, name := range []string{"strict", "keep"} {
		code, _, body := post(t, s.URL+"/v1/messages", fmt.Sprintf(msg, name))
		if code != 200 {
			t.Fatalf("%s: status %d %s", name, code, body)
		}
	}
	// Bridged reasoning never reaches a plain chat server (some refuse reasoning_content in
	// input); breakpoints reach only the one that keeps them.
	sb, kb := string(strict.Requests()[0].Body), string(keep.Requests()[0].Body)
	if strings.Contains(sb, "cache_control") || strings.Contains(sb, "reasoning_") {
		t.Errorf("strict upstream received %s", sb)
	}
	if strings.Count(kb, `"cache_control"`) != 2 || strings.Contains(kb, "reasoning_") {
		t.Errorf("keep_extensions upstream received %s", kb)
	}
	// A chat client's own extensions: stripped likewise, kept where the provider says so.
	chat := `{"model":"%s/gpt-test","messages":[{"role":"user","content":[{"type":"text","text":"x","cache_control":{"type":"ephemeral"}}]},
{"role":"assistant","content":"a","reasoning_signature":"sig2"},{"role":"user","content":"y"}]}`
	for _, name := range []string{"strict", "keep"} {
		if code, _, body := post(t, s.URL+"/v1/chat/completions", fmt.Sprintf(chat, name)); code != 200 {
			t.Fatalf("%s: status %d %s", name, code, body)
		}
	}
	sb, kb = string(strict.Requests()[1].Body), string(keep.Requests()[1].Body)
	if strings.Contains(sb, "cache_control") || strings.Contains(sb, "reasoning_signature") {
		t.Errorf("strict upstream received %s", sb)
	}
	if !strings.Contains(kb, `"cache_control"`) || !strings.Contains(kb, `"reasoning_signature":"sig2"`) {
		t.Errorf("keep_extensions upstream received %s", kb)
	}
}
