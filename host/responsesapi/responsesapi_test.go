package responsesapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden .out.json files")

// testMeta gives reproducible ids and times.
func testMeta(req *Request) Meta {
	n := 0
	return Meta{ID: "resp_test", CreatedAt: 1700000000, Model: "test-model", Req: req,
		NewID: func(prefix string) string { n++; return fmt.Sprintf("%s_%03d", prefix, n) },
		Now:   func() time.Time { return time.Unix(1700000042, 0) }}
}

type goldenIn struct {
	Request json.RawMessage   `json:"request"`
	History []json.RawMessage `json:"history"`
	Chat    json.RawMessage   `json:"chat"`
	Chunks  []json.RawMessage `json:"chunks"`
	Fail    *struct{ Code, Message string }
}

func errJSON(err error) any {
	var e *Error
	if errors.As(err, &e) {
		return map[string]any{"error": map[string]any{"status": e.Status, "param": e.Param, "code": e.Code, "message": e.Message}}
	}
	return map[string]any{"error": err.Error()}
}

func parseReq(t *testing.T, raw json.RawMessage) *Request {
	t.Helper()
	if raw == nil {
		return nil
	}
	r, err := Parse(raw)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return r
}

// convert runs the conversion a golden case's name selects and returns a JSON result.
func convert(t *testing.T, name string, in goldenIn) any {
	t.Helper()
	switch {
	case strings.HasPrefix(name, "to_chat_"):
		r, err := Parse(in.Request)
		if err != nil {
			return errJSON(err)
		}
		hist := make([][]byte, len(in.History))
		for i, h := range in.History {
			hist[i] = h
		}
		chat, err := r.ToChat(hist)
		out := map[string]any{"model": r.Model, "stream": r.Stream, "store": r.Store,
			"previous_response_id": r.PreviousResponseID, "background": r.Background,
			"builtin_tools": r.BuiltinTools, "input_items": len(r.Input)}
		if len(r.Input) > 0 {
			out["input_0"] = json.RawMessage(r.Input[0])
		}
		if err != nil {
			out["to_chat"] = errJSON(err)
		} else {
			if !json.Valid(chat) {
				t.Fatalf("ToChat produced invalid JSON: %s", chat)
			}
			out["chat"] = json.RawMessage(chat)
		}
		return out
	case strings.HasPrefix(name, "from_chat_"):
		resp, output, err := FromChat(in.Chat, testMeta(parseReq(t, in.Request)))
		if err != nil {
			return errJSON(err)
		}
		checkOutput(t, resp, output)
		return json.RawMessage(resp)
	case strings.HasPrefix(name, "stream_"):
		req := parseReq(t, in.Request)
		s := NewStreamConverter(testMeta(req))
		var evs []Event
		for _, ch := range in.Chunks {
			e, err := s.Chunk(ch)
			evs = append(evs, e...)
			if err != nil {
				evs = append(evs, s.Fail("upstream_error", err.Error())...)
				break
			}
		}
		if in.Fail != nil {
			evs = append(evs, s.Fail(in.Fail.Code, in.Fail.Message)...)
		} else {
			evs = append(evs, s.Finish()...)
		}
		if again := append(s.Finish(), s.Fail("x", "y")...); len(again) != 0 {
			t.Errorf("events after the end: %v", again)
		}
		checkEvents(t, evs)
		checkOutput(t, s.Response(), s.Output())
		if in.Fail == nil {
			// The final response equals FromChat's for the same answer.
			chat := accumulate(t, in.Chunks)
			want, wantOut, err := FromChat(chat, testMeta(req))
			if err != nil {
				t.Fatalf("FromChat of the accumulated stream: %v", err)
			}
			if !bytes.Equal(s.Response(), want) {
				t.Errorf("stream response differs from FromChat's:\nstream %s\n  chat %s", s.Response(), want)
			}
			if !reflect.DeepEqual(s.Output(), wantOut) {
				t.Errorf("stream output differs from FromChat's")
			}
		}
		var out []map[string]any
		for _, e := range evs {
			out = append(out, map[string]any{"type": e.Type, "data": json.RawMessage(e.Data)})
		}
		return out
	}
	t.Fatalf("unknown case kind %s", name)
	return nil
}

// checkOutput checks that the response's output array is exactly output.
func checkOutput(t *testing.T, resp []byte, output [][]byte) {
	t.Helper()
	var r struct{ Output []json.RawMessage }
	if err := json.Unmarshal(resp, &r); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, resp)
	}
	if len(r.Output) != len(output) {
		t.Fatalf("response has %d output items, Output() %d", len(r.Output), len(output))
	}
	for i := range output {
		if !bytes.Equal(r.Output[i], output[i]) {
			t.Fatalf("output %d: %s vs %s", i, r.Output[i], output[i])
		}
	}
}

// accumulate folds chat chunks into the chat.completion they stand for, as a client would.
func accumulate(t *testing.T, chunks []json.RawMessage) []byte {
	t.Helper()
	type call struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	}
	var content, refusal, reasoning, sig strings.Builder
	hasSig := false
	var calls []*call
	byIndex := map[int]*call{}
	var finish any
	var usage, tier json.RawMessage
	var logprobs []json.RawMessage
	for _, raw := range chunks {
		var ch struct {
			Choices []struct {
				Index int
				Delta struct {
					ToolCalls []struct {
						Index    int
						ID       string
						Function struct{ Name, Arguments string }
					} `json:"tool_calls"`
				}
				FinishReason any `json:"finish_reason"`
				Logprobs     *struct{ Content []json.RawMessage }
			}
			Usage       json.RawMessage
			ServiceTier json.RawMessage `json:"service_tier"`
		}
		if err := json.Unmarshal(raw, &ch); err != nil {
			t.Fatalf("chunk: %v", err)
		}
		// The string members of a delta are read by name.
		var generic struct {
			Choices []struct {
				Delta map[string]json.RawMessage
			}
		}
		_ = json.Unmarshal(raw, &generic)
		if len(ch.Usage) > 0 && string(ch.Usage) != "null" {
			usage = ch.Usage
		}
		if len(ch.ServiceTier) > 0 {
			tier = ch.ServiceTier
		}
		for ci, c := range ch.Choices {
			if c.Index != 0 {
				continue
			}
			d := generic.Choices[ci].Delta
			str := func(k string) string {
				var s string
				_ = json.Unmarshal(d[k], &s)
				return s
			}
			content.WriteString(str("content"))
			refusal.WriteString(str("refusal"))
			reasoning.WriteString(str("reasoning_content"))
			if v, ok := d["reasoning_signature"]; ok && string(v) != "null" {
				hasSig = true
				sig.WriteString(str("reasoning_signature"))
			}
			for _, tc := range c.Delta.ToolCalls {
				cl := byIndex[tc.Index]
				if cl == nil {
					cl = &call{ID: tc.ID, Type: "function"}
					cl.Function.Name = tc.Function.Name
					byIndex[tc.Index] = cl
					calls = append(calls, cl)
				}
				cl.Function.Arguments += tc.Function.Arguments
			}
			if c.FinishReason != nil {
				finish = c.FinishReason
			}
			if c.Logprobs != nil {
				logprobs = append(logprobs, c.Logprobs.Content...)
			}
		}
	}
	msg := map[string]any{"role": "assistant", "content": content.String()}
	if refusal.Len() > 0 {
		msg["refusal"] = refusal.String()
	}
	if reasoning.Len() > 0 {
		msg["reasoning_content"] = reasoning.String()
	}
	if hasSig {
		msg["reasoning_signature"] = sig.String()
	}
	if len(calls) > 0 {
		msg["tool_calls"] = calls
	}
	choice := map[string]any{"index": 0, "message": msg, "finish_reason": finish}
	if logprobs != nil {
		choice["logprobs"] = map[string]any{"content": logprobs}
	}
	out := map[string]any{"id": "chatcmpl-x", "object": "chat.completion", "choices": []any{choice}}
	if usage != nil {
		out["usage"] = usage
	}
	if tier != nil {
		out["service_tier"] = tier
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
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
			var g goldenIn
			if err := json.Unmarshal(input, &g); err != nil {
				t.Fatal(err)
			}
			raw, err := json.Marshal(convert(t, name, g))
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
				t.Errorf("differs from %s:\n got: %s", want, buf.Bytes())
			}
		})
	}
}
