package fakeprovider

import (
	"strings"
	"testing"
)

// TestAnthropicThinkingSignatures: a thinking block comes back only with the signature this
// server issued for that very text; a missing, foreign or altered one is refused as Anthropic
// refuses it.
func TestAnthropicThinkingSignatures(t *testing.T) {
	up := NewAnthropic(t)
	up.Enqueue(Reply{Thinking: "weigh the options", ToolCalls: []ToolCall{{ID: "toolu_1", Name: "f", Arguments: `{}`}}})
	m := decodeBody(t, post(t, up.URL+"/v1/messages", antHeaders, antBody))
	sig, _ := dig(m, "content", 0, "signature").(string)
	if !strings.HasPrefix(sig, "sig_fake_") {
		t.Fatalf("no signature in %v", m)
	}
	turn := func(thinking, sig string) string {
		blk := `{"type":"thinking","thinking":"` + thinking + `"` + sig + `}`
		return `{"model":"m","max_tokens":2048,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[
{"role":"user","content":"q"},
{"role":"assistant","content":[` + blk + `,{"type":"tool_use","id":"toolu_1","name":"f","input":{}}]},
{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"ok"}]}]}`
	}
	if resp := post(t, up.URL+"/v1/messages", antHeaders, turn("weigh the options", `,"signature":"`+sig+`"`)); resp.StatusCode != 200 {
		t.Errorf("the issued signature was refused: %d %v", resp.StatusCode, decodeBody(t, resp))
	}
	for name, c := range map[string]struct{ body, want string }{
		"missing": {turn("weigh the options", ""), "messages.1.content.0.thinking.signature: Field required"},
		"foreign": {turn("weigh the options", `,"signature":"c2lnbmVk"`), "messages.1.content.0: Invalid `signature` in `thinking` block"},
		"altered": {turn("weigh the options", `,"signature":"`+sig+`x"`), "Invalid `signature`"},
		"edited":  {turn("weigh other options", `,"signature":"`+sig+`"`), "Invalid `signature`"},
	} {
		resp := post(t, up.URL+"/v1/messages", antHeaders, c.body)
		m := decodeBody(t, resp)
		if resp.StatusCode != 400 || dig(m, "error", "type") != "invalid_request_error" || !strings.Contains(dig(m, "error", "message").(string), c.want) {
			t.Errorf("%s: status %d %v, want 400 with %q", name, resp.StatusCode, m, c.want)
		}
	}
}

func TestAnthropicCountTokens(t *testing.T) {
	up := NewAnthropic(t, WithKey("sk-ant"))
	body := `{"model":"claude-haiku-4-5","system":"be very brief","messages":[{"role":"user","content":[{"type":"text","text":"count these four words"}]}]}`
	resp := post(t, up.URL+"/v1/messages/count_tokens", antHeaders, body)
	if m := decodeBody(t, resp); resp.StatusCode != 200 || m["input_tokens"] != 7.0 || len(m) != 1 {
		t.Errorf("status %d body %v", resp.StatusCode, m)
	}
	for _, c := range []struct{ body, want string }{
		{strings.Replace(body, `"system"`, `"max_tokens":5,"system"`, 1), "max_tokens: Extra inputs are not permitted"},
		{strings.Replace(body, `"system"`, `"stream":true,"system"`, 1), "stream: Extra inputs are not permitted"},
		{`{"model":"m","messages":[{"role":"assistant","content":"x"}]}`, "first message must use the \"user\" role"},
		{`{"messages":[{"role":"user","content":"x"}]}`, "model: Field required"},
		{`{"model":"m","messages":[{"role":"user","content":[{"type":"video"}]}]}`, "messages.0.content.0.type"},
	} {
		resp := post(t, up.URL+"/v1/messages/count_tokens", antHeaders, c.body)
		m := decodeBody(t, resp)
		if resp.StatusCode != 400 || !strings.Contains(dig(m, "error", "message").(string), c.want) {
			t.Errorf("status %d %v, want 400 with %q", resp.StatusCode, m, c.want)
		}
	}
	if resp := post(t, up.URL+"/v1/messages/count_tokens", map[string]string{"x-api-key": "nope", "anthropic-version": "2023-06-01"}, body); resp.StatusCode != 401 {
		t.Errorf("wrong key: status %d", resp.StatusCode)
	}
}

func TestAnthropicSearchResult(t *testing.T) {
	up := NewAnthropic(t)
	sr := `{"type":"search_result","source":"https://docs.example.com/a","title":"A","content":[{"type":"text","text":"alpha"}],"citations":{"enabled":true}}`
	body := `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[` + sr + `,{"type":"text","text":"cite it"}]}]}`
	if resp := post(t, up.URL+"/v1/messages", antHeaders, body); resp.StatusCode != 200 {
		t.Errorf("status %d %v", resp.StatusCode, decodeBody(t, resp))
	}
	for _, c := range []struct{ from, to, want string }{
		{`"source":"https://docs.example.com/a",`, ``, "search_result.source: Field required"},
		{`"title":"A",`, `"title":"A","url":"x",`, "search_result.url: Extra inputs"},
		{`[{"type":"text","text":"alpha"}]`, `[]`, "search_result.content: Field required"},
		{`{"enabled":true}`, `true`, "search_result.citations.enabled"},
	} {
		resp := post(t, up.URL+"/v1/messages", antHeaders, strings.Replace(body, c.from, c.to, 1))
		m := decodeBody(t, resp)
		if resp.StatusCode != 400 || !strings.Contains(dig(m, "error", "message").(string), c.want) {
			t.Errorf("status %d %v, want 400 with %q", resp.StatusCode, m, c.want)
		}
	}
}

// TestAnthropicThinkingExclusions: with thinking on, a forced tool choice and a temperature are
// refused; output_config.format must be a json_schema with a schema.
func TestAnthropicThinkingExclusions(t *testing.T) {
	up := NewAnthropic(t)
	for name, c := range map[string]struct{ extra, want string }{
		"forced tool": {`,"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"any"},"thinking":{"type":"enabled","budget_tokens":1024}`, "tool_choice forces tool use"},
		"temperature": {`,"temperature":0.3,"thinking":{"type":"enabled","budget_tokens":1024}`, "temperature"},
		"format type": {`,"output_config":{"format":{"type":"json_object"}}`, "output_config.format.type"},
		"no schema":   {`,"output_config":{"format":{"type":"json_schema"}}`, "output_config.format.schema: Field required"},
	} {
		body := `{"model":"m","max_tokens":2048,"messages":[{"role":"user","content":"q"}]` + c.extra + `}`
		resp := post(t, up.URL+"/v1/messages", antHeaders, body)
		m := decodeBody(t, resp)
		if msg, _ := dig(m, "error", "message").(string); resp.StatusCode != 400 || !strings.Contains(msg, c.want) {
			t.Errorf("%s: status %d %v, want 400 with %q", name, resp.StatusCode, m, c.want)
		}
	}
	body := `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"q"}],"output_config":{"format":{"type":"json_schema","schema":{"type":"object"}}}}`
	if resp := post(t, up.URL+"/v1/messages", antHeaders, body); resp.StatusCode != 200 {
		t.Errorf("a json_schema format was refused: %d", resp.StatusCode)
	}
}
