package fakeprovider

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

const respBody = `{"model":"gpt-5","input":[{"role":"developer","content":"be brief"},{"type":"message","role":"user","content":[{"type":"input_text","text":"hello there"}]}]}`

func bearer(key string) map[string]string { return map[string]string{"Authorization": "Bearer " + key} }

func send(t *testing.T, method, url string, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// streamEvents reads a Responses stream and checks the framing every event must have.
func streamEvents(t *testing.T, resp *http.Response) []map[string]any {
	t.Helper()
	events, _ := readSSE(resp.Body)
	var out []map[string]any
	for i, e := range events {
		m := mustDecode(t, e.Data)
		if m["type"] != e.Event {
			t.Errorf("event %q carries type %v", e.Event, m["type"])
		}
		if n, _ := m["sequence_number"].(float64); int(n) != i {
			t.Errorf("event %d (%s) has sequence_number %v", i, e.Event, m["sequence_number"])
		}
		out = append(out, m)
	}
	return out
}

func types(events []map[string]any) string {
	var names []string
	for _, e := range events {
		names = append(names, strings.TrimPrefix(e["type"].(string), "response."))
	}
	return strings.Join(names, " ")
}

func TestResponsesNonStream(t *testing.T) {
	up := NewOpenAI(t, WithKey("sk"))
	up.Enqueue(Reply{Thinking: "think hard", Text: "the answer", Usage: Usage{CacheRead: 7, Reasoning: 5}})
	resp := post(t, up.URL+"/responses", bearer("sk"), strings.Replace(respBody, `"input"`, `"include":["reasoning.encrypted_content"],"input"`, 1))
	m := decodeBody(t, resp)
	if resp.StatusCode != 200 || m["object"] != "response" || m["status"] != "completed" || m["id"] != "resp_fake_1" || m["model"] != "gpt-5" {
		t.Fatalf("status %d body %v", resp.StatusCode, m)
	}
	if lookup(m, "output", 0, "type") != "reasoning" || lookup(m, "output", 0, "encrypted_content") != "enc_fake_1" ||
		lookup(m, "output", 0, "summary", 0, "text") != "think hard" ||
		lookup(m, "output", 1, "type") != "message" || lookup(m, "output", 1, "content", 0, "text") != "the answer" {
		t.Errorf("output %v", m["output"])
	}
	u := m["usage"]
	if lookup(u, "input_tokens") != 4.0 || lookup(u, "input_tokens_details", "cached_tokens") != 7.0 ||
		lookup(u, "output_tokens_details", "reasoning_tokens") != 5.0 || lookup(u, "output_tokens") != 7.0 || lookup(u, "total_tokens") != 11.0 {
		t.Errorf("usage %v", u)
	}
	// Default reply: the last user text echoed; a string input is a user message.
	m = decodeBody(t, post(t, up.URL+"/responses", bearer("sk"), `{"model":"gpt-5","input":"just this","store":false}`))
	if lookup(m, "output", 0, "content", 0, "text") != "just this" || m["store"] != false {
		t.Errorf("echo %v", m)
	}
	if resp := post(t, up.URL+"/responses", bearer("wrong"), respBody); resp.StatusCode != 401 {
		t.Errorf("wrong key: %d", resp.StatusCode)
	}
}

func TestResponsesStreamText(t *testing.T) {
	up := NewOpenAI(t)
	up.Enqueue(Reply{Text: "one two three", Thinking: "hmm"})
	resp := post(t, up.URL+"/responses", nil, strings.Replace(respBody, `"input"`, `"stream":true,"input"`, 1))
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	events := streamEvents(t, resp)
	want := "created in_progress output_item.added reasoning_summary_part.added reasoning_summary_text.delta reasoning_summary_text.done reasoning_summary_part.done output_item.done " +
		"output_item.added content_part.added output_text.delta output_text.delta output_text.delta output_text.done content_part.done output_item.done completed"
	if got := types(events); got != want {
		t.Fatalf("events\n got %s\nwant %s", got, want)
	}
	var text string
	for _, e := range events {
		if e["type"] == "response.output_text.delta" {
			text += e["delta"].(string)
			if e["item_id"] != "msg_fake_1" || e["output_index"] != 1.0 || e["content_index"] != 0.0 {
				t.Errorf("delta %v", e)
			}
		}
	}
	last := events[len(events)-1]
	if text != "one two three" || lookup(last, "response", "status") != "completed" || lookup(last, "response", "output", 1, "content", 0, "text") != text ||
		lookup(events[0], "response", "status") != "in_progress" || lookup(last, "response", "usage", "output_tokens") == nil {
		t.Errorf("text %q, last %v", text, last)
	}
}

func TestResponsesStreamFunctionCall(t *testing.T) {
	f := loadFixture(t, "codex-responses-request.json")
	up := NewOpenAI(t, WithKey("sk"))
	up.Enqueue(Reply{ToolCalls: []ToolCall{{ID: "call_1", Name: "exec_command", Arguments: `{"cmd":"echo hi"}`}}})
	resp := replay(t, up.Root, f, "sk", nil)
	events := streamEvents(t, resp)
	if got := types(events); got != "created in_progress output_item.added function_call_arguments.delta function_call_arguments.delta function_call_arguments.done output_item.done completed" {
		t.Fatalf("events %s (status %d)", got, resp.StatusCode)
	}
	if lookup(events[2], "item", "type") != "function_call" || lookup(events[2], "item", "arguments") != "" ||
		lookup(events[5], "arguments") != `{"cmd":"echo hi"}` || lookup(events[6], "item", "call_id") != "call_1" ||
		lookup(events[6], "item", "name") != "exec_command" || lookup(events[6], "item", "status") != "completed" {
		t.Errorf("events %v", events)
	}
	got := up.Requests()
	if len(got) != 1 || got[0].Invalid != "" || !got[0].Stream || got[0].Header.Get("Originator") != "codex_exec" {
		t.Fatalf("received %+v", got)
	}
	// The second turn, with the call and its output, is accepted too.
	resp = replay(t, up.Root, loadFixture(t, "codex-responses-tool-output-request.json"), "sk", nil)
	if events := streamEvents(t, resp); lookup(events[len(events)-1], "type") != "response.completed" {
		t.Errorf("second turn: %s", types(events))
	}
	// store:false: nothing is kept.
	if resp := send(t, "GET", up.URL+"/responses/resp_fake_1", bearer("sk")); resp.StatusCode != 404 {
		t.Errorf("GET of a store:false response: %d", resp.StatusCode)
	}
}

func TestResponsesStore(t *testing.T) {
	up := NewOpenAI(t)
	up.Enqueue(Reply{ToolCalls: []ToolCall{{Name: "lookup", Arguments: `{"q":"x"}`}}})
	tools := `"tools":[{"type":"function","name":"lookup","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}]`
	m := decodeBody(t, post(t, up.URL+"/responses", nil, `{"model":"gpt-5","input":"look it up",`+tools+`}`))
	id, _ := m["id"].(string)
	call, _ := lookup(m, "output", 0, "call_id").(string)
	if id == "" || call == "" || m["store"] != true {
		t.Fatalf("first %v", m)
	}
	got := decodeBody(t, send(t, "GET", up.URL+"/responses/"+id, nil))
	if got["id"] != id || lookup(got, "output", 0, "call_id") != call {
		t.Errorf("GET %v", got)
	}
	items := decodeBody(t, send(t, "GET", up.URL+"/responses/"+id+"/input_items", nil))
	if items["object"] != "list" || lookup(items, "data", 0, "content") != "look it up" || lookup(items, "data", 0, "id") == nil {
		t.Errorf("input_items %v", items)
	}
	// The output answers the call stored with the previous response.
	second := `{"model":"gpt-5","previous_response_id":"` + id + `",` + tools + `,"input":[{"type":"function_call_output","call_id":"` + call + `","output":"found"}]}`
	resp := post(t, up.URL+"/responses", nil, second)
	m = decodeBody(t, resp)
	if resp.StatusCode != 200 || m["previous_response_id"] != id || lookup(m, "output", 0, "content", 0, "text") != "look it up" {
		t.Errorf("continuation %d %v", resp.StatusCode, m)
	}
	next, _ := m["id"].(string)
	// Without previous_response_id the same output answers nothing.
	resp = post(t, up.URL+"/responses", nil, strings.Replace(second, `"previous_response_id":"`+id+`",`, "", 1))
	if m := decodeBody(t, resp); resp.StatusCode != 400 || !strings.Contains(lookup(m, "error", "message").(string), "No tool call found") {
		t.Errorf("orphan output %d %v", resp.StatusCode, m)
	}
	resp = post(t, up.URL+"/responses", nil, `{"model":"gpt-5","previous_response_id":"resp_nope","input":"x"}`)
	if m := decodeBody(t, resp); resp.StatusCode != 404 || lookup(m, "error", "code") != "previous_response_not_found" || lookup(m, "error", "param") != "previous_response_id" {
		t.Errorf("unknown previous %d %v", resp.StatusCode, m)
	}
	if m := decodeBody(t, send(t, "DELETE", up.URL+"/responses/"+id, nil)); m["deleted"] != true || m["object"] != "response.deleted" {
		t.Errorf("DELETE %v", m)
	}
	if resp := send(t, "GET", up.URL+"/responses/"+id, nil); resp.StatusCode != 404 {
		t.Errorf("GET after DELETE: %d", resp.StatusCode)
	}
	if resp := send(t, "POST", up.URL+"/responses/"+next+"/cancel", nil); resp.StatusCode != 400 {
		t.Errorf("cancel of a foreground response: %d", resp.StatusCode)
	}
	m = decodeBody(t, post(t, up.URL+"/responses", nil, `{"model":"gpt-5","input":"later","background":true}`))
	if m["status"] != "queued" {
		t.Errorf("background %v", m)
	}
	if c := decodeBody(t, send(t, "POST", up.URL+"/responses/"+m["id"].(string)+"/cancel", nil)); c["status"] != "cancelled" {
		t.Errorf("cancel %v", c)
	}
}

func TestResponsesValidation(t *testing.T) {
	up := NewOpenAI(t)
	cases := []struct{ body, param, code string }{
		{`{"model":"m","input":"x","temprature":1}`, "temprature", "unknown_parameter"},
		{`{"model":"m","input":"x","messages":[]}`, "messages", "unknown_parameter"},
		{`{"input":"x"}`, "model", "missing_required_parameter"},
		{`{"model":"m"}`, "input", "missing_required_parameter"},
		{`{"model":"m","input":5}`, "input", "invalid_type"},
		{`{"model":"m","input":"x","store":"yes"}`, "store", "invalid_type"},
		{`{"model":"m","input":"x","include":["reasoning.secret"]}`, "include[0]", "invalid_value"},
		{`{"model":"m","input":"x","reasoning":{"effort":"extreme"}}`, "reasoning.effort", "invalid_value"},
		{`{"model":"m","input":"x","max_output_tokens":8}`, "max_output_tokens", "invalid_value"},
		{`{"model":"m","input":"x","stream_options":{"include_obfuscation":false}}`, "stream_options", "invalid_value"},
		{`{"model":"m","input":[{"type":"chat","role":"user","content":"x"}]}`, "input[0].type", "invalid_value"},
		{`{"model":"m","input":[{"role":"tool","content":"x"}]}`, "input[0].role", "invalid_value"},
		{`{"model":"m","input":[{"role":"assistant","content":[{"type":"input_text","text":"x"}]}]}`, "input[0].content[0].type", "invalid_value"},
		{`{"model":"m","input":[{"role":"user","content":[{"type":"text","text":"x"}]}]}`, "input[0].content[0].type", "invalid_value"},
		{`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":{}}]}`, "input[0].arguments", "invalid_type"},
		{`{"model":"m","input":[{"type":"function_call_output","output":"x"}]}`, "input[0].call_id", "missing_required_parameter"},
		{`{"model":"m","input":"x","tools":[{"type":"function","function":{"name":"f"}}]}`, "tools[0].name", "missing_required_parameter"},
		{`{"model":"m","input":"x","tools":[{"type":"function","name":"f","params":{}}]}`, "tools[0].params", "unknown_parameter"},
		{`{"model":"m","input":"x","tools":[{"type":"browser"}]}`, "tools[0].type", "invalid_value"},
		{`{"model":"m","input":"x","tools":[{"type":"namespace","name":"n","tools":[{"type":"web_search"}]}]}`, "tools[0].tools[0].type", "invalid_value"},
		{`{"model":"m","input":"x","tool_choice":{"type":"function","name":"g"}}`, "tool_choice", "invalid_value"},
		{`{"model":"m","input":"x","text":{"format":{"type":"json_schema","schema":{}}}}`, "text.format.name", "missing_required_parameter"},
	}
	for _, c := range cases {
		resp := post(t, up.URL+"/responses", nil, c.body)
		m := decodeBody(t, resp)
		if resp.StatusCode != 400 || lookup(m, "error", "param") != c.param || lookup(m, "error", "code") != c.code ||
			lookup(m, "error", "type") != "invalid_request_error" {
			t.Errorf("%s: %d %v; want param %s code %s", c.body, resp.StatusCode, m, c.param, c.code)
		}
	}
	if n := up.Stats().Rejected; n != int64(len(cases)) {
		t.Errorf("rejected %d of %d", n, len(cases))
	}
	for _, r := range up.Requests() {
		if r.Invalid == "" {
			t.Errorf("%s recorded as valid", r.Body)
		}
	}
	if resp := send(t, "PUT", up.URL+"/responses", nil); resp.StatusCode != 405 {
		t.Errorf("PUT: %d", resp.StatusCode)
	}
}

func TestResponsesFaults(t *testing.T) {
	up := NewOpenAI(t)
	stream := strings.Replace(respBody, `"input"`, `"stream":true,"input"`, 1)
	up.Enqueue(RetryAfter(2*time.Second), Reply{Status: 503, Message: "overloaded"}, Reply{Fault: CutAfter(4)},
		Reply{Chunks: []string{`{"type":"response.created","sequence_number":0,"response":{"id":"r","status":"in_progress"}}`, ResponsesFailedEvent("r", "server_error", "boom", 1)}})
	resp := post(t, up.URL+"/responses", nil, stream)
	if m := decodeBody(t, resp); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" || lookup(m, "error", "code") != "rate_limit_exceeded" {
		t.Errorf("429: %d %v", resp.StatusCode, m)
	}
	resp = post(t, up.URL+"/responses", nil, stream)
	if m := decodeBody(t, resp); resp.StatusCode != 503 || lookup(m, "error", "message") != "overloaded" {
		t.Errorf("503: %d %v", resp.StatusCode, m)
	}
	resp = post(t, up.URL+"/responses", nil, stream)
	b, _ := io.ReadAll(resp.Body)
	if n := strings.Count(string(b), "\nevent: ") + 1; n != 4 || strings.Contains(string(b), "response.completed") {
		t.Errorf("cut stream: %d events:\n%s", n, b)
	}
	events := streamEvents(t, post(t, up.URL+"/responses", nil, stream))
	if types(events) != "created failed" || lookup(events[1], "response", "error", "code") != "server_error" {
		t.Errorf("failed: %v", events)
	}
}

func TestResponsesChatOnly(t *testing.T) {
	up := NewOpenAI(t, WithoutResponses())
	resp := post(t, up.URL+"/responses", nil, respBody)
	m := decodeBody(t, resp)
	if resp.StatusCode != 404 || !strings.HasPrefix(lookup(m, "error", "message").(string), "Invalid URL") {
		t.Errorf("%d %v", resp.StatusCode, m)
	}
	if resp := post(t, up.URL+"/chat/completions", nil, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`); resp.StatusCode != 200 {
		t.Errorf("chat: %d", resp.StatusCode)
	}
}
