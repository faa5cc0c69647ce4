package fakeprovider

import (
	"strings"
	"testing"
)

var antHeaders = map[string]string{"x-api-key": "sk-ant", "anthropic-version": "2023-06-01"}

const antBody = `{"model":"claude-haiku-4-5","max_tokens":100,"system":[{"type":"text","text":"be brief"}],
"messages":[{"role":"user","content":"hello there"}]}`

func TestAnthropicNonStream(t *testing.T) {
	up := NewAnthropic(t, WithKey("sk-ant"))
	up.Enqueue(Reply{}, Reply{Thinking: "let me think", ToolCalls: []ToolCall{{Name: "lookup", Arguments: `{"q":"x"}`}},
		Usage: Usage{CacheRead: 7, CacheWrite: 3}})
	resp := post(t, up.URL+"/v1/messages", antHeaders, antBody)
	m := decodeBody(t, resp)
	if resp.StatusCode != 200 || dig(m, "content", 0, "text") != "hello there" || dig(m, "stop_reason") != "end_turn" ||
		dig(m, "type") != "message" || !strings.HasPrefix(dig(m, "id").(string), "msg_") ||
		dig(m, "usage", "input_tokens") != 4.0 || dig(m, "usage", "output_tokens") != 2.0 {
		t.Errorf("status %d reply %v", resp.StatusCode, m)
	}
	if resp.Header.Get("Request-Id") == "" {
		t.Error("no request-id header")
	}
	m = decodeBody(t, post(t, up.URL+"/v1/messages", map[string]string{"Authorization": "Bearer sk-ant", "anthropic-version": "2023-06-01"}, antBody))
	if dig(m, "content", 0, "type") != "thinking" || dig(m, "content", 1, "type") != "tool_use" ||
		dig(m, "content", 1, "input", "q") != "x" || dig(m, "stop_reason") != "tool_use" ||
		dig(m, "usage", "cache_read_input_tokens") != 7.0 || dig(m, "usage", "cache_creation_input_tokens") != 3.0 {
		t.Errorf("tool reply %v", m)
	}
}

func TestAnthropicStream(t *testing.T) {
	up := NewAnthropic(t)
	up.Enqueue(Reply{Thinking: "hmm ok", ToolCalls: []ToolCall{{Name: "f", Arguments: `{"a":1}`}}, Text: "one two"})
	resp := post(t, up.URL+"/v1/messages", antHeaders, strings.Replace(antBody, `"max_tokens"`, `"stream":true,"max_tokens"`, 1))
	events, err := readSSE(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var text, thinking, args, stop string
	for _, e := range events {
		m := mustDecode(t, e.Data)
		if m["type"] != e.Event {
			t.Errorf("event %q carries type %v", e.Event, m["type"])
		}
		names = append(names, e.Event)
		switch dig(m, "delta", "type") {
		case "text_delta":
			text += dig(m, "delta", "text").(string)
		case "thinking_delta":
			thinking += dig(m, "delta", "thinking").(string)
		case "input_json_delta":
			args += dig(m, "delta", "partial_json").(string)
		}
		if s, ok := dig(m, "delta", "stop_reason").(string); ok {
			stop = s
		}
	}
	if names[0] != "message_start" || names[1] != "ping" || names[len(names)-1] != "message_stop" || names[len(names)-2] != "message_delta" {
		t.Errorf("event order %v", names)
	}
	if text != "one two" || thinking != "hmm ok" || args != `{"a":1}` || stop != "tool_use" {
		t.Errorf("text %q thinking %q args %q stop %q", text, thinking, args, stop)
	}
}

func TestAnthropicScriptedErrorEvent(t *testing.T) {
	up := NewAnthropic(t)
	up.Enqueue(Reply{Chunks: []string{`{"type":"ping"}`, AnthropicErrorEvent("overloaded_error", "Overloaded")}})
	resp := post(t, up.URL+"/v1/messages", antHeaders, strings.Replace(antBody, `"max_tokens"`, `"stream":true,"max_tokens"`, 1))
	events, _ := readSSE(resp.Body)
	if len(events) != 2 || events[1].Event != "error" || dig(mustDecode(t, events[1].Data), "error", "type") != "overloaded_error" {
		t.Errorf("events %v", events)
	}
}

func TestAnthropicRejections(t *testing.T) {
	up := NewAnthropic(t, WithKey("sk-ant"))
	strict := map[string]string{"x-api-key": "sk-ant", "anthropic-version": AnthropicStrictVersion}
	msgs := func(m string) string {
		return `{"model":"c","max_tokens":10,"messages":` + m + `}`
	}
	cases := []struct {
		name    string
		headers map[string]string
		body    string
		status  int
		want    string
	}{
		{"no key", map[string]string{"anthropic-version": "2023-06-01"}, antBody, 401, "x-api-key"},
		{"wrong key", map[string]string{"x-api-key": "nope", "anthropic-version": "2023-06-01"}, antBody, 401, "invalid x-api-key"},
		{"no version", map[string]string{"x-api-key": "sk-ant"}, antBody, 400, "anthropic-version"},
		{"no model", antHeaders, `{"max_tokens":1,"messages":[{"role":"user","content":"x"}]}`, 400, "model: Field required"},
		{"no max_tokens", antHeaders, `{"model":"c","messages":[{"role":"user","content":"x"}]}`, 400, "max_tokens: Field required"},
		{"extra field", antHeaders, `{"model":"c","max_tokens":1,"n":2,"messages":[{"role":"user","content":"x"}]}`, 400, "n: Extra inputs are not permitted"},
		{"temperature under strict version", strict, `{"model":"c","max_tokens":1,"temperature":0.5,"messages":[{"role":"user","content":"x"}]}`, 400, "temperature: Extra inputs are not permitted"},
		{"top_k under strict version", strict, `{"model":"c","max_tokens":1,"top_k":5,"messages":[{"role":"user","content":"x"}]}`, 400, "top_k: Extra inputs are not permitted"},
		{"same role twice", antHeaders, msgs(`[{"role":"user","content":"a"},{"role":"user","content":"b"}]`), 400, "alternate"},
		{"assistant first", antHeaders, msgs(`[{"role":"assistant","content":"a"}]`), 400, "first message"},
		{"system role", antHeaders, msgs(`[{"role":"system","content":"a"}]`), 400, "role"},
		{"unknown block", antHeaders, msgs(`[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]`), 400, "does not match"},
		{"bad image type", antHeaders, msgs(`[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/bmp","data":"AA=="}}]}]`), 400, "media_type"},
		{"orphan tool_result", antHeaders, msgs(`[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"r"}]}]`), 400, "tool_use_id"},
		{"tool_use without result", antHeaders, msgs(`[{"role":"user","content":"a"},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{}}]},{"role":"user","content":"b"}]`), 400, "without `tool_result`"},
		{"tool without schema", antHeaders, `{"model":"c","max_tokens":1,"tools":[{"name":"f"}],"messages":[{"role":"user","content":"x"}]}`, 400, "input_schema"},
		{"system as object", antHeaders, `{"model":"c","max_tokens":1,"system":{"text":"x"},"messages":[{"role":"user","content":"x"}]}`, 400, "system"},
	}
	for _, c := range cases {
		resp := post(t, up.URL+"/v1/messages", c.headers, c.body)
		m := decodeBody(t, resp)
		msg, _ := dig(m, "error", "message").(string)
		if resp.StatusCode != c.status || m["type"] != "error" || !strings.Contains(msg, c.want) {
			t.Errorf("%s: status %d body %v", c.name, resp.StatusCode, m)
		}
	}
	for _, r := range up.Requests() {
		if r.Invalid == "" {
			t.Errorf("request %d recorded as valid", r.Seq)
		}
	}
}

func TestAnthropicAcceptsFullConversation(t *testing.T) {
	up := NewAnthropic(t)
	up.Enqueue(Reply{Thinking: "t"})
	sig, _ := dig(decodeBody(t, post(t, up.URL+"/v1/messages", antHeaders, antBody)), "content", 0, "signature").(string)
	body := `{"model":"c","max_tokens":0,"temperature":0.2,"top_k":3,"stop_sequences":["x"],
"tools":[{"name":"get_weather","description":"d","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}],
"tool_choice":{"type":"tool","name":"get_weather"},
"messages":[
 {"role":"user","content":[{"type":"text","text":"hi"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}},{"type":"image","source":{"type":"url","url":"https://example.com/a.png"}}]},
 {"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"` + sig + `"},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]},
 {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"sunny"}],"is_error":false}]},
 {"role":"assistant","content":""}]}`
	resp := post(t, up.URL+"/v1/messages", antHeaders, body)
	if m := decodeBody(t, resp); resp.StatusCode != 200 {
		t.Fatalf("status %d body %v", resp.StatusCode, m)
	}
}

func TestAnthropicFaultStatus(t *testing.T) {
	up := NewAnthropic(t)
	up.Enqueue(Reply{Status: 529}, RetryAfter(3e9))
	resp := post(t, up.URL+"/v1/messages", antHeaders, antBody)
	if m := decodeBody(t, resp); resp.StatusCode != 529 || dig(m, "error", "type") != "overloaded_error" {
		t.Errorf("status %d body %v", resp.StatusCode, m)
	}
	resp = post(t, up.URL+"/v1/messages", antHeaders, antBody)
	if m := decodeBody(t, resp); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" || dig(m, "error", "type") != "rate_limit_error" {
		t.Errorf("status %d body %v", resp.StatusCode, m)
	}
}

// TestAnthropicPromptCache: breakpoints are validated as the Messages API does, and the prefix up
// to the last one is written to the cache on first sight and read from it afterwards.
func TestAnthropicPromptCache(t *testing.T) {
	up := NewAnthropic(t)
	body := `{"model":"claude-haiku-4-5","max_tokens":100,
"system":[{"type":"text","text":"a long and stable system prompt","cache_control":{"type":"ephemeral","ttl":"1h"}}],
"messages":[{"role":"user","content":[{"type":"text","text":"question one"}]}]}`
	first := decodeBody(t, post(t, up.URL+"/v1/messages", antHeaders, body))
	second := decodeBody(t, post(t, up.URL+"/v1/messages", antHeaders, strings.Replace(body, "question one", "question two", 1)))
	w1, r1 := dig(first, "usage", "cache_creation_input_tokens"), dig(first, "usage", "cache_read_input_tokens")
	w2, r2 := dig(second, "usage", "cache_creation_input_tokens"), dig(second, "usage", "cache_read_input_tokens")
	if w1.(float64) <= 0 || r1 != 0.0 || w2 != 0.0 || r2 != w1 {
		t.Errorf("first usage %v, second %v", first["usage"], second["usage"])
	}
	plain := decodeBody(t, post(t, up.URL+"/v1/messages", antHeaders, antBody))
	if dig(plain, "usage", "cache_creation_input_tokens") != 0.0 || dig(plain, "usage", "cache_read_input_tokens") != 0.0 {
		t.Errorf("no breakpoints, yet cache usage %v", plain["usage"])
	}
	mark := `,"cache_control":{"type":"ephemeral"}`
	five := `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[` +
		strings.Repeat(`{"type":"text","text":"x"`+mark+`},`, 4) + `{"type":"text","text":"y"` + mark + `}]}]}`
	for _, c := range []struct{ body, want string }{
		{five, "A maximum of 4 blocks with cache_control may be provided. Found 5."},
		{strings.Replace(body, `"ttl":"1h"`, `"ttl":"2h"`, 1), "system.0.cache_control.ttl: Input should be '5m' or '1h'"},
		{strings.Replace(body, `"type":"ephemeral"`, `"type":"persistent"`, 1), "cache_control.type: Input should be 'ephemeral'"},
		{strings.Replace(body, `"ttl":"1h"`, `"scope":"org"`, 1), "cache_control.scope: Extra inputs are not permitted"},
		{`{"model":"m","max_tokens":5,"tools":[{"name":"f","input_schema":{"type":"object"},"cache_control":{}}],"messages":[{"role":"user","content":"q"}]}`,
			"tools.0.cache_control.type"},
	} {
		resp := post(t, up.URL+"/v1/messages", antHeaders, c.body)
		m := decodeBody(t, resp)
		if resp.StatusCode != 400 || !strings.Contains(dig(m, "error", "message").(string), c.want) {
			t.Errorf("status %d %v, want 400 with %q", resp.StatusCode, m, c.want)
		}
	}
}
