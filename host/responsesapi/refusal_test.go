package responsesapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRefusals: every client mistake (Parse) and every field the bridge cannot serve (ToChat)
// is an *Error with its status and the param it names.
func TestRefusals(t *testing.T) {
	for _, c := range []struct {
		body   string
		stage  string // "parse" or "chat"
		status int
		param  string
		code   string
	}{
		{`not json`, "parse", 400, "", "invalid_json"},
		{`[1]`, "parse", 400, "", "invalid_json"},
		{`{"input":"x"}`, "parse", 400, "model", "missing_required_parameter"},
		{`{"model":3}`, "parse", 400, "model", "invalid_type"},
		{`{"model":"m","input":3}`, "parse", 400, "input", "invalid_type"},
		{`{"model":"m","input":[1]}`, "parse", 400, "input[0]", "invalid_type"},
		{`{"model":"m","input":[{"content":"x"}]}`, "parse", 400, "input[0].type", "missing_required_parameter"},
		{`{"model":"m","input":[{"type":7}]}`, "parse", 400, "input[0].type", "invalid_type"},
		{`{"model":"m","input":[{"role":"robot","content":"x"}]}`, "parse", 400, "input[0].role", "invalid_value"},
		{`{"model":"m","input":[{"role":"user","content":5}]}`, "parse", 400, "input[0].content", "invalid_type"},
		{`{"model":"m","input":[{"role":"user","content":[{"text":"x"}]}]}`, "parse", 400, "input[0].content[0].type", "invalid_type"},
		{`{"model":"m","stream":"yes"}`, "parse", 400, "stream", "invalid_type"},
		{`{"model":"m","store":1}`, "parse", 400, "store", "invalid_type"},
		{`{"model":"m","background":"no"}`, "parse", 400, "background", "invalid_type"},
		{`{"model":"m","instructions":["x"]}`, "parse", 400, "instructions", "invalid_type"},
		{`{"model":"m","previous_response_id":1}`, "parse", 400, "previous_response_id", "invalid_type"},
		{`{"model":"m","metadata":[]}`, "parse", 400, "metadata", "invalid_type"},
		{`{"model":"m","metadata":{"k":1}}`, "parse", 400, "metadata.k", "invalid_type"},
		{`{"model":"m","tools":{}}`, "parse", 400, "tools", "invalid_type"},
		{`{"model":"m","tools":[{"name":"f"}]}`, "parse", 400, "tools[0].type", "invalid_type"},
		{`{"model":"m","tools":[{"type":"function"}]}`, "parse", 400, "tools[0].name", "missing_required_parameter"},
		{`{"model":"m","input":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`, "parse", 400, "", "invalid_json"},

		{`{"model":"m","conversation":"conv_1"}`, "chat", 400, "conversation", "unsupported_parameter"},
		{`{"model":"m","prompt":{"id":"pmpt_1"}}`, "chat", 400, "prompt", "unsupported_parameter"},
		{`{"model":"m","frobnicate":true}`, "chat", 400, "frobnicate", "unknown_parameter"},
		{`{"model":"m","tools":[{"type":"function","name":"f"},{"type":"code_interpreter"}]}`, "chat", 400, "tools[1].type", "unsupported_parameter"},
		{`{"model":"m","tools":[{"type":"function","name":"f","defer_loading":true}]}`, "chat", 400, "tools[0].defer_loading", "unsupported_parameter"},
		{`{"model":"m","tools":[{"type":"function","name":"f","parameters":"x"}]}`, "chat", 400, "tools[0].parameters", "invalid_type"},
		{`{"model":"m","tools":[{"type":"function","name":"f","strict":"x"}]}`, "chat", 400, "tools[0].strict", "invalid_type"},
		{`{"model":"m","tool_choice":{"type":"web_search_preview"}}`, "chat", 400, "tool_choice", "unsupported_parameter"},
		{`{"model":"m","tool_choice":"sometimes"}`, "chat", 400, "tool_choice", "invalid_value"},
		{`{"model":"m","tool_choice":{"type":"function"}}`, "chat", 400, "tool_choice.name", "missing_required_parameter"},
		{`{"model":"m","tool_choice":{"type":"allowed_tools","mode":"auto","tools":[{"type":"mcp","server_label":"x"}]}}`, "chat", 400, "tool_choice.tools[0]", "unsupported_parameter"},
		{`{"model":"m","tool_choice":{"type":"allowed_tools","mode":"maybe","tools":[]}}`, "chat", 400, "tool_choice.mode", "invalid_value"},
		{`{"model":"m","parallel_tool_calls":"yes"}`, "chat", 400, "parallel_tool_calls", "invalid_type"},
		{`{"model":"m","text":{"format":{"type":"grammar"}}}`, "chat", 400, "text.format.type", "invalid_value"},
		{`{"model":"m","text":{"format":{"type":"json_schema","schema":{}}}}`, "chat", 400, "text.format.name", "missing_required_parameter"},
		{`{"model":"m","text":{"format":{"type":"json_schema","name":"n"}}}`, "chat", 400, "text.format.schema", "missing_required_parameter"},
		{`{"model":"m","text":{"format":{"type":"json_schema","name":"n","schema":{},"extra":1}}}`, "chat", 400, "text.format.extra", "unknown_parameter"},
		{`{"model":"m","text":{"verbosity":"loud"}}`, "chat", 400, "text.verbosity", "invalid_value"},
		{`{"model":"m","text":{"colour":"red"}}`, "chat", 400, "text.colour", "unknown_parameter"},
		{`{"model":"m","text":"plain"}`, "chat", 400, "text", "invalid_type"},
		{`{"model":"m","reasoning":{"effort":3}}`, "chat", 400, "reasoning.effort", "invalid_type"},
		{`{"model":"m","reasoning":{"budget":3}}`, "chat", 400, "reasoning.budget", "unknown_parameter"},
		{`{"model":"m","max_output_tokens":"10"}`, "chat", 400, "max_output_tokens", "invalid_type"},
		{`{"model":"m","max_output_tokens":0}`, "chat", 400, "max_output_tokens", "invalid_value"},
		{`{"model":"m","max_tool_calls":1.5}`, "chat", 400, "max_tool_calls", "invalid_type"},
		{`{"model":"m","temperature":"hot"}`, "chat", 400, "temperature", "invalid_type"},
		{`{"model":"m","top_p":true}`, "chat", 400, "top_p", "invalid_type"},
		{`{"model":"m","top_logprobs":"2"}`, "chat", 400, "top_logprobs", "invalid_type"},
		{`{"model":"m","user":5}`, "chat", 400, "user", "invalid_type"},
		{`{"model":"m","service_tier":5}`, "chat", 400, "service_tier", "invalid_type"},
		{`{"model":"m","include":["reasoning.encrypted_content","everything"]}`, "chat", 400, "include[1]", "invalid_value"},
		{`{"model":"m","include":"all"}`, "chat", 400, "include", "invalid_type"},
		{`{"model":"m","truncation":"middle"}`, "chat", 400, "truncation", "invalid_value"},
		{`{"model":"m","stream_options":{"include_usage":true}}`, "chat", 400, "stream_options.include_usage", "unknown_parameter"},
		{`{"model":"m","stream_options":true}`, "chat", 400, "stream_options", "invalid_type"},
		{`{"model":"m","input":[{"type":"item_reference","id":"msg_1"}]}`, "chat", 400, "input[0].type", "unsupported_value"},
		{`{"model":"m","input":[{"type":"web_search_call","id":"ws_1"}]}`, "chat", 400, "input[0].type", "unsupported_value"},
		{`{"model":"m","input":[{"type":"custom_tool_call_output","call_id":"c"}]}`, "chat", 400, "input[0].type", "unsupported_value"},
		{`{"model":"m","input":[{"role":"user","content":"a"},{"role":"user","content":[{"type":"input_text","text":"x"},{"type":"input_image","file_id":"file-1"}]}]}`, "chat", 400, "input[1].content[1].file_id", "unsupported_parameter"},
		{`{"model":"m","input":[{"role":"user","content":[{"type":"input_image","detail":"low"}]}]}`, "chat", 400, "input[0].content[0].image_url", "missing_required_parameter"},
		{`{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_id":"file-1"}]}]}`, "chat", 400, "input[0].content[0].file_id", "unsupported_parameter"},
		{`{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_url":"https://x/a.pdf"}]}]}`, "chat", 400, "input[0].content[0].file_url", "unsupported_parameter"},
		{`{"model":"m","input":[{"role":"user","content":[{"type":"input_file","filename":"a.pdf"}]}]}`, "chat", 400, "input[0].content[0].file_data", "missing_required_parameter"},
		{`{"model":"m","input":[{"role":"user","content":[{"type":"input_video","url":"x"}]}]}`, "chat", 400, "input[0].content[0].type", "unsupported_value"},
		{`{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":1},{"type":"input_text","text":"x"}]}]}`, "chat", 400, "input[0].content[0].text", "invalid_type"},
		{`{"model":"m","input":[{"role":"system","content":[{"type":"input_image","image_url":"x"}]}]}`, "chat", 400, "input[0].content[0].type", "unsupported_value"},
		{`{"model":"m","input":[{"role":"assistant","content":[{"type":"input_image","image_url":"x"}]}]}`, "chat", 400, "input[0].content[0].type", "unsupported_value"},
		{`{"model":"m","input":[{"type":"function_call","name":"f","arguments":"{}"}]}`, "chat", 400, "input[0].call_id", "missing_required_parameter"},
		{`{"model":"m","input":[{"type":"function_call","call_id":"c","arguments":"{}"}]}`, "chat", 400, "input[0].name", "missing_required_parameter"},
		{`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":{}}]}`, "chat", 400, "input[0].arguments", "missing_required_parameter"},
		{`{"model":"m","input":[{"type":"function_call_output","output":"x"}]}`, "chat", 400, "input[0].call_id", "missing_required_parameter"},
		{`{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":5}]}`, "chat", 400, "input[0].output", "invalid_type"},
		{`{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":[{"type":"input_image","file_id":"f"}]}]}`, "chat", 400, "input[0].output[0].file_id", "unsupported_parameter"},
		{`{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":[{"type":"input_text"}]}]}`, "chat", 400, "input[0].output[0].text", "invalid_type"},
		{`{"model":"m","input":[{"type":"reasoning","summary":"x"}]}`, "chat", 400, "input[0].summary", "invalid_type"},
		{`{"model":"m","input":[{"type":"reasoning","summary":[{"type":"other","text":"x"}]}]}`, "chat", 400, "input[0].summary[0]", "invalid_value"},
		{`{"model":"m","input":[{"type":"reasoning","summary":[],"encrypted_content":5}]}`, "chat", 400, "input[0].encrypted_content", "invalid_type"},
	} {
		r, err := Parse([]byte(c.body))
		if c.stage == "chat" {
			if err != nil {
				t.Errorf("%s: Parse refused what only the bridge should: %v", c.body, err)
				continue
			}
			_, err = r.ToChat(nil)
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%s: got %v, want an *Error", c.body, err)
			continue
		}
		if e.Status != c.status || e.Param != c.param || e.Code != c.code {
			t.Errorf("%s: got %d %q %q (%s), want %d %q %q", c.body, e.Status, e.Param, e.Code, e.Message, c.status, c.param, c.code)
		}
		if e.Message == "" || !strings.HasPrefix(e.Error(), "responsesapi: ") {
			t.Errorf("%s: bad message %q", c.body, e.Error())
		}
	}
}

func TestHistoryRefusalsNamePreviousResponse(t *testing.T) {
	r, err := Parse([]byte(`{"model":"m","previous_response_id":"resp_1","input":"next"}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{`{"type":"web_search_call","id":"ws_1","status":"completed"}`, `[]`, `nope`} {
		_, err := r.ToChat([][]byte{[]byte(`{"role":"user","content":"a"}`), []byte(h)})
		var e *Error
		if !errors.As(err, &e) || e.Param != "previous_response_id" || !strings.Contains(e.Message, "item 1") {
			t.Errorf("history item %s: %v", h, err)
		}
	}
}

func TestErrorBody(t *testing.T) {
	var body struct {
		Error struct {
			Message, Type string
			Param, Code   *string
		}
	}
	e := PreviousNotFound("resp_x")
	if err := json.Unmarshal(e.Body(), &body); err != nil {
		t.Fatal(err)
	}
	if e.Status != 404 || body.Error.Type != "invalid_request_error" || *body.Error.Param != "previous_response_id" ||
		*body.Error.Code != "previous_response_not_found" || body.Error.Message != "Previous response with id 'resp_x' not found." {
		t.Errorf("PreviousNotFound: %d %s", e.Status, e.Body())
	}
	if got := string((&Error{Status: 400, Message: `m "q"`}).Body()); got != `{"error":{"message":"m \"q\"","type":"invalid_request_error","param":null,"code":null}}` {
		t.Errorf("Body = %s", got)
	}
}

func TestParseDefaults(t *testing.T) {
	r, err := Parse([]byte(`{"model":"m","store":null,"stream":true,"background":true,"instructions":"i","metadata":{"a":"b"},
		"previous_response_id":"resp_1","input":[{"role":"user","content":"x"}],"tools":[{"type":"function","name":"f"},{"type":"mcp"},{"type":"local_shell"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Store || !r.Stream || !r.Background || r.Instructions != "i" || string(r.Metadata) != `{"a":"b"}` ||
		r.PreviousResponseID != "resp_1" || len(r.Input) != 1 || strings.Join(r.BuiltinTools, ",") != "mcp,local_shell" {
		t.Errorf("parsed %+v", r)
	}
	r, _ = Parse([]byte(`{"model":"m","store":false}`))
	if r.Store || r.Input != nil {
		t.Errorf("store false / no input: %+v", r)
	}
}

func TestNewID(t *testing.T) {
	re := regexp.MustCompile(`^(resp|msg|fc|rs)_[0-9a-f]{48}$`)
	seen := map[string]bool{}
	for _, p := range []string{"resp", "msg_", "fc", "rs"} {
		for range 100 {
			id := NewID(p)
			if !re.MatchString(id) || seen[id] {
				t.Fatalf("NewID(%q) = %q", p, id)
			}
			seen[id] = true
		}
	}
}

func TestUsage(t *testing.T) {
	resp := `{"id":"resp_1","usage":{"input_tokens":10,"input_tokens_details":{"cached_tokens":4},"output_tokens":7,"output_tokens_details":{"reasoning_tokens":3},"total_tokens":17}}`
	for _, b := range []string{resp, `{"type":"response.completed","sequence_number":9,"response":` + resp + `}`} {
		in, out, cached, reasoning, ok := Usage([]byte(b))
		if !ok || in != 10 || out != 7 || cached != 4 || reasoning != 3 {
			t.Errorf("Usage(%s) = %d %d %d %d %v", b, in, out, cached, reasoning, ok)
		}
	}
	for _, b := range []string{`{"usage":null}`, `{}`, `nope`, `{"usage":{"x":1}}`} {
		if _, _, _, _, ok := Usage([]byte(b)); ok {
			t.Errorf("Usage(%s) ok", b)
		}
	}
}

// TestStreamToolDeltaAfterClose: a chat stream that goes back to a call after starting
// another cannot be streamed in order; it is an error, not silently reordered output.
func TestStreamToolDeltaAfterClose(t *testing.T) {
	s := NewStreamConverter(testMeta(nil))
	for _, ch := range []string{
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{"}}]}}]}`,
		`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"b","function":{"name":"g","arguments":"{}"}}]}}]}`,
	} {
		if _, err := s.Chunk([]byte(ch)); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.Chunk([]byte(`{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"}"}}]}}]}`))
	if err == nil {
		t.Fatal("late delta accepted")
	}
}

func seeds(f *testing.F, prefix string, key string) {
	ins, _ := filepath.Glob("testdata/" + prefix + "*.in.json")
	for _, in := range ins {
		b, err := os.ReadFile(in)
		if err != nil {
			continue
		}
		var g map[string]json.RawMessage
		if json.Unmarshal(b, &g) == nil && g[key] != nil {
			f.Add([]byte(g[key]))
		}
	}
}

func FuzzParse(f *testing.F) {
	seeds(f, "to_chat_", "request")
	f.Add([]byte(`{"model":"m","input":"x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := Parse(body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("Parse error is not a 400 *Error: %v", err)
			}
			return
		}
		for _, it := range r.Input {
			if !json.Valid(it) {
				t.Fatalf("input item is not JSON: %q", it)
			}
		}
		out, err := r.ToChat(r.Input)
		if err == nil && !json.Valid(out) {
			t.Fatalf("ToChat produced invalid JSON %q", out)
		}
		resp, items, err := FromChat([]byte(`{"choices":[{"index":0,"message":{"content":"x"},"finish_reason":"stop"}]}`), testMeta(r))
		if err != nil || !json.Valid(resp) || len(items) != 1 {
			t.Fatalf("FromChat with this request: %v %q", err, resp)
		}
	})
}

func FuzzStreamConverter(f *testing.F) {
	ins, _ := filepath.Glob("testdata/stream_*.in.json")
	for _, in := range ins {
		b, _ := os.ReadFile(in)
		var g goldenIn
		if json.Unmarshal(b, &g) != nil {
			continue
		}
		var all []byte
		for _, c := range g.Chunks {
			all = append(append(all, c...), '\n')
		}
		f.Add(all, false)
	}
	f.Fuzz(func(t *testing.T, stream []byte, fail bool) {
		s := NewStreamConverter(testMeta(nil))
		var evs []Event
		failed := false
		for _, line := range strings.Split(string(stream), "\n") {
			e, err := s.Chunk([]byte(line))
			evs = append(evs, e...)
			if err != nil && strings.Contains(err.Error(), "closed") {
				failed = true
				break
			}
		}
		if fail || failed {
			evs = append(evs, s.Fail("server_error", "cut")...)
		} else {
			evs = append(evs, s.Finish()...)
		}
		if len(evs) == 0 {
			t.Fatal("no events")
		}
		checkEvents(t, evs)
		if !json.Valid(s.Response()) {
			t.Fatalf("final response invalid: %q", s.Response())
		}
		if got, _, _, _, ok := Usage(s.Response()); ok && got < 0 {
			t.Fatal("negative usage")
		}
		_, _, _ = FromChat(stream, testMeta(nil))
	})
}

// TestOwnOutputAsHistory: the items a bridged turn stores (its input and FromChat's output)
// come back through ToChat as the same chat conversation, reasoning and call ids included.
func TestOwnOutputAsHistory(t *testing.T) {
	first, err := Parse([]byte(`{"model":"m","input":"weather in Paris and Rome?","tools":[{"type":"function","name":"weather"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	_, output, err := FromChat([]byte(`{"choices":[{"index":0,"message":{"role":"assistant","content":"Checking.",
		"reasoning_content":"two calls","reasoning_signature":"sig\"1",
		"tool_calls":[{"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"c\":\"Paris\"}"}},
		{"id":"call_2","type":"function","function":{"name":"weather","arguments":"{\"c\":\"Rome\"}"}}]},"finish_reason":"tool_calls"}]}`),
		testMeta(first))
	if err != nil {
		t.Fatal(err)
	}
	history := append(append([][]byte{}, first.Input...), output...)
	next, err := Parse([]byte(`{"model":"m","previous_response_id":"resp_test","input":[
		{"type":"function_call_output","call_id":"call_1","output":"20C"},{"type":"function_call_output","call_id":"call_2","output":"25C"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	chat, err := next.ToChat(history)
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Messages []map[string]any }
	if err := json.Unmarshal(chat, &got); err != nil {
		t.Fatal(err)
	}
	want := `[{"content":"weather in Paris and Rome?","role":"user"},` +
		`{"content":"Checking.","reasoning_content":"two calls","reasoning_signature":"sig\"1","role":"assistant","tool_calls":[` +
		`{"function":{"arguments":"{\"c\":\"Paris\"}","name":"weather"},"id":"call_1","type":"function"},` +
		`{"function":{"arguments":"{\"c\":\"Rome\"}","name":"weather"},"id":"call_2","type":"function"}]},` +
		`{"content":"20C","role":"tool","tool_call_id":"call_1"},{"content":"25C","role":"tool","tool_call_id":"call_2"}]`
	if b, _ := json.Marshal(got.Messages); string(b) != want {
		t.Errorf("messages:\n got %s\nwant %s", b, want)
	}
}

// TestPrettyRequestEchoedCompact: the request values a response echoes (tools, metadata, text
// format) come back without the client's line breaks, so a stream's events stay one data line.
func TestPrettyRequestEchoedCompact(t *testing.T) {
	req, err := Parse([]byte("{\"model\":\"m\",\"input\":\"x\",\n\"tools\":[\n  {\"type\":\"function\",\"name\":\"f\",\r\n \"parameters\":{\"type\":\"object\"}}\n],\n\"metadata\":{\n\"k\":\"v\"},\"text\":{\"format\":{\n\"type\":\"text\"}}}"))
	if err != nil {
		t.Fatal(err)
	}
	s := NewStreamConverter(testMeta(req))
	events, err := s.Chunk([]byte(`{"choices":[{"index":0,"delta":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	events = append(events, s.Finish()...)
	var completed []byte
	for _, e := range events {
		if bytes.ContainsAny(e.Data, "\r\n") {
			t.Errorf("%s event has a line break: %s", e.Type, e.Data)
		}
		if e.Type == "response.completed" {
			completed = e.Data
		}
	}
	var ev struct {
		Response struct {
			Tools    []map[string]any  `json:"tools"`
			Metadata map[string]string `json:"metadata"`
		} `json:"response"`
	}
	if err := json.Unmarshal(completed, &ev); err != nil || len(ev.Response.Tools) != 1 || ev.Response.Tools[0]["name"] != "f" || ev.Response.Metadata["k"] != "v" {
		t.Errorf("completed %s (%v)", completed, err)
	}
	resp, _, err := FromChat([]byte(`{"choices":[{"index":0,"message":{"content":"x"},"finish_reason":"stop"}]}`), testMeta(req))
	if err != nil || bytes.ContainsAny(resp, "\r\n") {
		t.Errorf("FromChat %s (%v)", resp, err)
	}
}
