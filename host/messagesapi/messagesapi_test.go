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
		req, model, stream, err := ToOpenAI(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("error does not wrap ErrInvalidRequest: %v", err)
			}
			return map[string]any{"error": err.Error()}
		}
		return map[string]any{"model": model, "stream": stream, "request": json.RawMessage(req)}
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
	out, _, _, err := ToOpenAI(req)
	if err != nil {
		t.Fatal(err)
	}
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
		if out, _, _, err := ToOpenAI(in); err == nil && !json.Valid(out) {
			t.Fatalf("ToOpenAI produced invalid JSON %q", out)
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
		_, _, _, err := ToOpenAI([]byte(in))
		if err == nil || !errors.Is(err, ErrInvalidRequest) || !strings.Contains(err.Error(), `"model"`) {
			t.Errorf("%s: %v", in, err)
		}
	}
	if _, _, _, err := ToOpenAI([]byte(`{"model":"a/b","max_tokens":5,"messages":[],"metadata":{"x":1,"x":2}}`)); err != nil {
		t.Errorf("nested duplicate refused: %v", err)
	}
}

func TestToOpenAIDepth(t *testing.T) {
	deep := func(n int) []byte {
		return []byte(`{"model":"a/b","max_tokens":5,"messages":[],"metadata":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + `}`)
	}
	if _, _, _, err := ToOpenAI(deep(jsonx.MaxDepth)); err != nil {
		t.Errorf("%d levels refused: %v", jsonx.MaxDepth, err)
	}
	if _, _, _, err := ToOpenAI(deep(jsonx.MaxDepth + 1)); err == nil {
		t.Errorf("%d levels accepted", jsonx.MaxDepth+1)
	}
}
