package responsesapi

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// benchRequest is a mid-sized agent turn: instructions, a few tools, a conversation with
// reasoning, function calls and their outputs (about 6 KB).
func benchRequest(tb testing.TB) []byte {
	var in struct{ Request json.RawMessage }
	b, err := os.ReadFile("testdata/to_chat_codex.in.json")
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(b, &in); err != nil {
		tb.Fatal(err)
	}
	var req map[string]any
	_ = json.Unmarshal(in.Request, &req)
	items := req["input"].([]any)
	for i := range 6 {
		items = append(items,
			map[string]any{"type": "reasoning", "summary": []any{map[string]any{"type": "summary_text", "text": strings.Repeat("thinking about it ", 8)}}, "encrypted_content": strings.Repeat("gAAAA", 20)},
			map[string]any{"type": "function_call", "name": "shell", "arguments": `{"command":["cat","file` + fmt.Sprint(i) + `.go"]}`, "call_id": fmt.Sprint("call_", i)},
			map[string]any{"type": "function_call_output", "call_id": fmt.Sprint("call_", i), "output": strings.Repeat("package main // line\n", 20)})
	}
	req["input"] = append(items, map[string]any{"role": "user", "content": "Now fix the bug."})
	out, _ := json.Marshal(req)
	return out
}

func BenchmarkToChat(b *testing.B) {
	body := benchRequest(b)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := Parse(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.ToChat(nil); err != nil {
			b.Fatal(err)
		}
		r.Release() // as the gateway does once the answer is written
	}
}

func BenchmarkFromChat(b *testing.B) {
	req, err := Parse(benchRequest(b))
	if err != nil {
		b.Fatal(err)
	}
	chat := []byte(`{"id":"chatcmpl-1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant",` +
		`"content":"` + strings.Repeat("The fix is to check the error. ", 20) + `","reasoning_content":"` + strings.Repeat("hmm ", 50) + `",` +
		`"tool_calls":[{"id":"call_1","type":"function","function":{"name":"shell","arguments":"{\"command\":[\"go\",\"test\"]}"}}]},` +
		`"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":1200,"completion_tokens":300,"total_tokens":1500}}`)
	m := Meta{ID: NewID("resp"), CreatedAt: 1700000000, Model: "m", Req: req}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := FromChat(chat, m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamChunk converts a typical stream and reports the cost per event sent.
func BenchmarkStreamChunk(b *testing.B) {
	req, err := Parse(benchRequest(b))
	if err != nil {
		b.Fatal(err)
	}
	var chunks [][]byte
	for i := range 40 {
		chunks = append(chunks, []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"word`+fmt.Sprint(i)+` "},"finish_reason":null}]}`))
	}
	chunks = append(chunks, []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`),
		[]byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":1200,"completion_tokens":40,"total_tokens":1240}}`))
	m := Meta{ID: NewID("resp"), CreatedAt: 1700000000, Model: "m", Req: req}
	events := 0
	b.ReportAllocs()
	for b.Loop() {
		s := NewStreamConverter(m)
		for _, c := range chunks {
			evs, err := s.Chunk(c)
			if err != nil {
				b.Fatal(err)
			}
			events += len(evs)
		}
		events += len(s.Finish())
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
	b.ReportMetric(float64(events)/float64(b.N), "events/op")
}

// BenchmarkToChatSmall is a one-message request, the per-request floor.
func BenchmarkToChatSmall(b *testing.B) {
	body := []byte(`{"model":"gpt-4.1-mini","instructions":"Be brief.","input":"What is the capital of France?","stream":true,"max_output_tokens":200}`)
	b.ReportAllocs()
	for b.Loop() {
		r, err := Parse(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.ToChat(nil); err != nil {
			b.Fatal(err)
		}
		r.Release() // as the gateway does once the answer is written
	}
}
