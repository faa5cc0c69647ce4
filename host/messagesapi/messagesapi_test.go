package messagesapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/sdk/jsonx"
)

var update = flag.Bool("update", false, "rewrite golden .out.json files")

// convert runs the function a golden case's name selects and returns a JSON result.
func convert(t *testing.T, name string, in []byte) any {
	t.Helper()
	switch {
	case strings.HasPrefix(name, "to_openai_"):
		c, err := ToOpenAI(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("error does not wrap ErrInvalidRequest: %v", err)
			}
			return map[string]any{"error": err.Error()}
		}
		out := map[string]any{"model": c.Model, "stream": c.Stream, "request": json.RawMessage(c.Body)}
		if c.Ignored != nil {
			out["ignored"] = c.Ignored
		}
		if c.Refusal != nil {
			if !errors.Is(c.Refusal, ErrInvalidRequest) {
				t.Fatalf("refusal does not wrap ErrInvalidRequest: %v", c.Refusal)
			}
			out["refusal"] = c.Refusal.Error()
		}
		if n, err := CountTokens(in); err != nil && c.Refusal == nil {
			t.Errorf("CountTokens fails where ToOpenAI does not: %v", err)
		} else if err == nil {
			out["count_tokens_estimate"] = n
		}
		return out
	case strings.HasPrefix(name, "from_openai_"):
		out, err := FromOpenAI(in)
		if err != nil {
			return map[string]any{"error": err.Error()}
		}
		return json.RawMessage(out)
	case strings.HasPrefix(name, "stream_"):
		var chunks []json.RawMessage
		if err := json.Unmarshal(in, &chunks); err != nil {
			t.Fatal(err)
		}
		c := NewStreamConverter("claude-compatible")
		var evs []map[string]any
		add := func(list [][2]string) {
			for _, e := range list {
				if !json.Valid([]byte(e[1])) {
					t.Fatalf("event %s has invalid data %s", e[0], e[1])
				}
				var typ struct{ Type string }
				_ = json.Unmarshal([]byte(e[1]), &typ)
				if typ.Type != e[0] {
					t.Errorf("event name %q but data type %q", e[0], typ.Type)
				}
				evs = append(evs, map[string]any{"event": e[0], "data": json.RawMessage(e[1])})
			}
		}
		for _, ch := range chunks {
			list, err := c.Chunk(ch)
			if err != nil {
				evs = append(evs, map[string]any{"error": err.Error()})
				return evs
			}
			add(list)
		}
		add(c.Finish())
		if again := c.Finish(); again != nil {
			t.Errorf("second Finish returned %v", again)
		}
		return evs
	}
	t.Fatalf("unknown case kind %s", name)
	return nil
}

func TestGolden(t *testing.T) {
	ins, _ := filepath.Glob("testdata/*.in.json")
	if len(ins) == 0 {
		t.Fatal("no golden cases")
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in.json")
		t.Run(name, func(t *testing.T) {
			input, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := json.Marshal(convert(t, name, input))
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := json.Indent(&buf, raw, "", "  "); err != nil {
				t.Fatal(err)
			}
			buf.WriteByte('\n')
			want := strings.TrimSuffix(in, ".in.json") + ".out.json"
			if *update {
				if err := os.WriteFile(want, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			exp, err := os.ReadFile(want)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), exp) {
				t.Errorf("differs from %s:\n got: %s\nwant: %s", want, buf.Bytes(), exp)
			}
		})
	}
}

func TestErrorBody(t *testing.T) {
	for _, c := range []struct {
		status   int
		typ, out string
	}{
		{529, "", `{"type":"error","error":{"type":"overloaded_error","message":"m \"q\""}}`},
		{404, "", `{"type":"error","error":{"type":"not_found_error","message":"m \"q\""}}`},
		{400, "custom", `{"type":"error","error":{"type":"custom","message":"m \"q\""}}`},
		{500, "", `{"type":"error","error":{"type":"api_error","message":"m \"q\""}}`},
	} {
		if got := string(ErrorBody(c.status, c.typ, `m "q"`)); got != c.out {
			t.Errorf("ErrorBody(%d, %q) = %s", c.status, c.typ, got)
		}
	}
}

// TestRoundTripThroughOpenAI converts an Anthropic-shaped conversation to OpenAI and checks the
// pieces an Anthropic client relies on survive: text, tool ids and tool inputs.
func TestRoundTripThroughOpenAI(t *testing.T) {
	req := []byte(`{"model":"m","max_tokens":10,"messages":[{"role":"user","content":"q"},
		{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{"a":[1,2]}}]},
		{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"r"}]}]}`)
	c, err := ToOpenAI(req)
	if err != nil {
		t.Fatal(err)
	}
	out := c.Body
	var o struct {
		Messages []struct {
			Role       string
			ToolCallID string `json:"tool_call_id"`
			Content    any
			ToolCalls  []struct {
				ID       string
				Function struct{ Name, Arguments string }
			} `json:"tool_calls"`
		}
	}
	if err := json.Unmarshal(out, &o); err != nil {
		t.Fatal(err)
	}
	if len(o.Messages) != 3 || o.Messages[1].ToolCalls[0].ID != "toolu_1" ||
		o.Messages[1].ToolCalls[0].Function.Arguments != `{"a":[1,2]}` || o.Messages[2].Role != "tool" ||
		o.Messages[2].ToolCallID != "toolu_1" || o.Messages[2].Content != "r" {
		t.Errorf("unexpected conversion: %s", out)
	}
}

func FuzzConverters(f *testing.F) {
	ins, _ := filepath.Glob("testdata/*.in.json")
	for _, in := range ins {
		if b, err := os.ReadFile(in); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if c, err := ToOpenAI(in); err == nil && !json.Valid(c.Body) {
			t.Fatalf("ToOpenAI produced invalid JSON %q", c.Body)
		}
		if out, err := FromOpenAI(in); err == nil && !json.Valid(out) {
			t.Fatalf("FromOpenAI produced invalid JSON %q", out)
		}
		c := NewStreamConverter("m")
		evs, _ := c.Chunk(in)
		evs = append(evs, c.Finish()...)
		for _, e := range evs {
			if !json.Valid([]byte(e[1])) {
				t.Fatalf("event %s invalid: %q", e[0], e[1])
			}
		}
	})
}

func TestToOpenAIRefusesDuplicateKeys(t *testing.T) {
	for _, in := range []string{
		`{"model":"a/b","max_tokens":5,"messages":[],"model":"c/d"}`,
		`{"model":"a/b","max_tokens":5,"messages":[],"m\u006fdel":"c/d"}`,
	} {
		_, err := ToOpenAI([]byte(in))
		if err == nil || !errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), `"model"`) {
			t.Errorf("%s: %v", in, err)
		}
	}
	if _, err := ToOpenAI([]byte(`{"model":"a/b","max_tokens":5,"messages":[],"metadata":{"x":1,"x":2}}`)); err != nil {
		t.Errorf("nested duplicate refused: %v", err)
	}
}

func TestToOpenAIDepth(t *testing.T) {
	deep := func(n int) []byte {
		return []byte(`{"model":"a/b","max_tokens":5,"messages":[],"x_deep":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + `}`)
	}
	if _, err := ToOpenAI(deep(jsonx.MaxDepth)); err != nil {
		t.Errorf("%d levels refused: %v", jsonx.MaxDepth, err)
	}
	if _, err := ToOpenAI(deep(jsonx.MaxDepth + 1)); err == nil {
		t.Errorf("%d levels accepted", jsonx.MaxDepth+1)
	}
}

// TestRefusals checks every construct the bridged path cannot carry is refused, naming it:
// malformed requests as ToOpenAI's error, well-formed ones only a native target could take as
// Converted.Refusal (with a body that leaves them out), never converted into something else.
func TestRefusals(t *testing.T) {
	msg := func(content string) string {
		return `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"},{"role":"user","content":"b"},` + content + `]}`
	}
	user := func(blocks string) string {
		return msg(`{"role":"user","content":[{"type":"text","text":"x"},` + blocks + `]}`)
	}
	asst := func(blocks string) string {
		return msg(`{"role":"assistant","content":[{"type":"text","text":"x"},` + blocks + `]}`)
	}
	// hard marks the malformed requests (an error for every target, native ones included).
	cases := []struct {
		body, want string
		hard       bool
	}{
		{asst(`{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}`),
			`messages[3].content[1]: block type "server_tool_use" cannot be sent to a non-Anthropic provider`, false},
		{asst(`{"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[]}`),
			`messages[3].content[1]: block type "web_search_tool_result" cannot be sent to a non-Anthropic provider`, false},
		{asst(`{"type":"mcp_tool_use","id":"m","name":"n","server_name":"s","input":{}}`), `block type "mcp_tool_use"`, false},
		{user(`{"type":"search_result","source":"s","title":"t","content":[]}`),
			`messages[3].content[1]: block type "search_result" cannot be sent to a non-Anthropic provider`, false},
		{user(`{"type":"container_upload","file_id":"file_1"}`), `messages[3].content[1]: block type "container_upload"`, false},
		{user(`{"type":"image","source":{"type":"file","file_id":"file_1"}}`), `messages[3].content[1]: image source type "file"`, false},
		{user(`{"type":"document","source":{"type":"url","url":"https://example.com/a.pdf"}}`), `document source type "url"`, false},
		{user(`{"type":"document","source":{"type":"file","file_id":"file_1"}}`), `document source type "file"`, false},
		{user(`{"type":"document","source":{"type":"base64","media_type":"text/csv","data":"YQ=="}}`), `only application/pdf base64 documents`, false},
		{user(`{"type":"tool_result","tool_use_id":"t","content":[{"type":"search_result","source":"s","title":"t","content":[]}]}`),
			`messages[3].content[1].content[0]: block type "search_result" cannot be sent in a tool_result`, false},
		{user(`{"type":"tool_use","id":"t","name":"n","input":{}}`), `block type "tool_use" belongs in assistant messages`, true},
		{user(`{"type":"text","text":"y","cache_control":{"type":"persistent"}}`), `cache_control: only type ephemeral`, false},
		{user(`{"type":"text","text":"y","cache_control":{"type":"ephemeral","ttl":"2h"}}`), `cache_control.ttl: only 5m and 1h`, false},
		{user(`{"type":"wat"}`), `block type "wat"`, false},
		{user(`{"text":"no type"}`), `block type (none)`, false},
		{msg(`{"role":"tool","content":"x"}`), `messages[3]: role must be user, assistant or system`, true},
		{msg(`{"role":"system","content":[{"type":"image","source":{"type":"url","url":"https://x"}}]}`), `messages[3].content[0]: block type "image" cannot be used in a system prompt`, true},
		{`{"model":"m","messages":[],"mcp_servers":[{"type":"url","url":"https://mcp","name":"x"}]}`, `mcp_servers cannot be sent to a non-Anthropic provider`, false},
		{`{"model":"m","messages":[],"container":"container_1"}`, `container cannot be sent to a non-Anthropic provider`, false},
		{`{"model":"m","messages":[],"inference_geo":"us"}`, `unknown field "inference_geo"`, false},
		{`{"model":"m","messages":[],"metadata":{"user_id":"u","tier":"x"}}`, `unknown field "tier" in metadata`, false},
		{`{"model":"m","messages":[],"tools":[{"type":"web_search_20250305","name":"web_search"}]}`, `tools[0]: server tool "web_search_20250305"`, false},
		{`{"model":"m","messages":[],"tools":[{"name":"f","input_schema":{"type":"object"},"allowed_callers":["x"]}]}`, `tools[0]: unknown field "allowed_callers"`, false},
		{`{"model":"m","messages":[],"thinking":{"type":"sometimes"}}`, `thinking.type "sometimes" cannot be sent`, false},
		{`{"model":"m","messages":[],"output_config":{"effort":"huge"}}`, `output_config.effort "huge"`, false},
		{`{"model":"m","messages":[],"output_config":{"format":{"type":"xml"}}}`, `output_config.format must be`, false},
		{`{"model":"m","messages":[],"output_config":{"verbosity":"low"}}`, `unknown field "verbosity" in output_config`, false},
		{`{"model":"m","messages":[],"tool_choice":{"type":"tool"}}`, `tool_choice.name is required`, true},
		{`{"model":"m","messages":[],"max_tokens":-1}`, `max_tokens must be a non-negative integer`, true},
		{`{"model":"m","messages":[],"stop_sequences":"END"}`, `stop_sequences has the wrong type`, true},
		{`{"model":"m","messages":[],"temperature":"hot"}`, `temperature has the wrong type`, true},
		{`{"model":"m","messages":[],"stream":"yes"}`, `stream has the wrong type`, true},
	}
	for _, c := range cases {
		conv, err := ToOpenAI([]byte(c.body))
		switch {
		case c.hard && err == nil:
			t.Errorf("accepted %s", c.body)
			continue
		case !c.hard && err != nil:
			t.Errorf("error %v for a request only the bridge cannot carry: %s", err, c.body)
			continue
		case !c.hard:
			if err = conv.Refusal; err == nil {
				t.Errorf("bridged %s", c.body)
				continue
			}
			if !json.Valid(conv.Body) || bytes.Contains(conv.Body, []byte("srvtoolu")) {
				t.Errorf("body with a refusal: %s", conv.Body)
			}
		}
		if !errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %q, want one containing %q", err, c.want)
		}
		if _, cerr := CountTokens([]byte(c.body)); cerr == nil {
			t.Errorf("CountTokens accepted %s", c.body)
		}
	}
}

func TestErrorType(t *testing.T) {
	for status, want := range map[int]string{400: "invalid_request_error", 422: "invalid_request_error",
		409: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
		404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error", 500: "api_error",
		502: "api_error", 503: "overloaded_error", 529: "overloaded_error"} {
		if got := ErrorType(status); got != want {
			t.Errorf("ErrorType(%d) = %s, want %s", status, got, want)
		}
	}
}

// TestCountTokensEstimate checks the estimate's parts: text by characters, images and PDFs at
// their documented fixed costs, tools with their framing.
func TestCountTokensEstimate(t *testing.T) {
	count := func(body string) int64 {
		t.Helper()
		n, err := CountTokens([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	text := count(`{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("abcd", 100) + `"}]}`)
	if text != messageTokens+100 {
		t.Errorf("400 characters = %d tokens, want %d", text, messageTokens+100)
	}
	img := count(`{"model":"m","messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"https://x/a.png"}}]}]}`)
	if img != messageTokens+imageTokens {
		t.Errorf("one image = %d tokens, want %d", img, messageTokens+imageTokens)
	}
	pdf := count(`{"model":"m","messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"` + strings.Repeat("A", 200<<10) + `"}}]}]}`)
	if pdf < 3*pdfPageTokens || pdf > 4*pdfPageTokens+messageTokens+16 {
		t.Errorf("150 KiB PDF = %d tokens, want about 3 pages", pdf)
	}
	noTools := count(`{"model":"m","messages":[{"role":"user","content":"q"}]}`)
	tools := count(`{"model":"m","messages":[{"role":"user","content":"q"}],"tools":[{"name":"f","input_schema":{"type":"object"}}]}`)
	if d := tools - noTools; d < toolsTokens+toolTokens || d > toolsTokens+toolTokens+10 {
		t.Errorf("a tool adds %d tokens", d)
	}
	// Multibyte text counts characters, not bytes.
	if n := count(`{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("é", 40) + `"}]}`); n != messageTokens+10 {
		t.Errorf("40 accented characters = %d tokens", n)
	}
}

// FuzzToOpenAI: ToOpenAI and CountTokens never panic, and any request they accept converts to
// valid JSON.
func FuzzToOpenAI(f *testing.F) {
	ins, _ := filepath.Glob("testdata/to_openai_*.in.json")
	for _, in := range ins {
		if b, err := os.ReadFile(in); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := ToOpenAI(in)
		if err == nil && !json.Valid(c.Body) {
			t.Fatalf("ToOpenAI produced invalid JSON %q", c.Body)
		}
		if err != nil && !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("error does not wrap ErrInvalidRequest: %v", err)
		}
		if n, err := CountTokens(in); err == nil && n < 0 {
			t.Fatalf("negative estimate %d", n)
		}
	})
}
