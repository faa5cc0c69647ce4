package messagesapi

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// benchRequest is a mid-sized agent turn in the Messages API: Claude Code's system blocks and
// tools, thinking, and a conversation of tool calls and their results (about 6 KB), the same
// shape and size as the Responses benchmark's request.
func benchRequest(tb testing.TB) []byte {
	b, err := os.ReadFile("testdata/to_openai_claude_code.in.json")
	if err != nil {
		tb.Fatal(err)
	}
	var req map[string]any
	if err := json.Unmarshal(b, &req); err != nil {
		tb.Fatal(err)
	}
	msgs := req["messages"].([]any)[:1] // the user turn; the trailing system-role turn is a golden case of its own
	for i := range 6 {
		id := fmt.Sprint("toolu_", i)
		msgs = append(msgs,
			map[string]any{"role": "assistant", "content": []any{
				map[string]any{"type": "thinking", "thinking": strings.Repeat("thinking about it ", 8), "signature": strings.Repeat("EqQB", 20)},
				map[string]any{"type": "tool_use", "id": id, "name": "Read", "input": map[string]any{"file_path": fmt.Sprint("/tmp/w/file", i, ".go")}},
			}},
			map[string]any{"role": "user", "content": []any{
				map[string]any{"type": "tool_result", "tool_use_id": id, "content": strings.Repeat("package main // line\n", 20)},
			}})
	}
	req["messages"] = append(msgs, map[string]any{"role": "user", "content": "Now fix the bug."})
	out, err := json.Marshal(req)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func BenchmarkToOpenAI(b *testing.B) {
	body := benchRequest(b)
	if c, err := ToOpenAI(body); err != nil || c.Refusal != nil {
		b.Fatalf("the benchmark request does not convert: %v %v", err, c.Refusal)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ToOpenAI(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkToOpenAISmall is a one-message request, the per-request floor.
func BenchmarkToOpenAISmall(b *testing.B) {
	body := []byte(`{"model":"claude-haiku-4-5","max_tokens":200,"system":"Be brief.","messages":[{"role":"user","content":"What is the capital of France?"}],"stream":true}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ToOpenAI(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFromOpenAI(b *testing.B) {
	chat := []byte(`{"id":"chatcmpl-1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant",` +
		`"content":"` + strings.Repeat("The fix is to check the error. ", 20) + `","reasoning_content":"` + strings.Repeat("hmm ", 50) + `",` +
		`"tool_calls":[{"id":"call_1","type":"function","function":{"name":"Bash","arguments":"{\"command\":\"go test ./...\"}"}}]},` +
		`"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":1200,"completion_tokens":300,"total_tokens":1500}}`)
	if _, err := FromOpenAI(chat); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FromOpenAI(chat); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamConverter converts a typical stream (40 text deltas, the finish and the usage
// chunk) and reports the cost per event sent.
func BenchmarkStreamConverter(b *testing.B) {
	var chunks [][]byte
	for i := range 40 {
		chunks = append(chunks, []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"word`+fmt.Sprint(i)+` "},"finish_reason":null}]}`))
	}
	chunks = append(chunks, []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`),
		[]byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":1200,"completion_tokens":40,"total_tokens":1240}}`))
	events := 0
	b.ReportAllocs()
	for b.Loop() {
		c := NewStreamConverter("m")
		for _, ch := range chunks {
			evs, err := c.Chunk(ch)
			if err != nil {
				b.Fatal(err)
			}
			events += len(evs)
		}
		events += len(c.Finish())
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
	b.ReportMetric(float64(events)/float64(b.N), "events/op")
}
