package openai

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// chatAnswer is a realistic non-streamed chat answer of about size bytes, in the order
// OpenAI writes its members: usage comes after the choices, then a few short members.
func chatAnswer(size int) []byte {
	head := `{"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion","created":1741570283,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"`
	tail := `","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":1117,"completion_tokens":46,"total_tokens":1163,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":"fp_fc9f1d7035"}`
	n := max(size-len(head)-len(tail), 0)
	word := `lorem \"ipsum\" dolor, sit amet; `
	content := strings.Repeat(word, n/len(word)+1)[:n]
	// Do not end inside an escape.
	content = strings.TrimRight(content, `\`)
	return []byte(head + content + tail)
}

func BenchmarkSummarizeSizes(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10, 256 << 10} {
		body := chatAnswer(size)
		b.Run(strconv.Itoa(size>>10)+"KB", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				s := Summarize(body, true)
				if s.Usage == nil || s.FinishReason != "stop" || s.Model == "" {
					b.Fatalf("%+v", s)
				}
			}
		})
	}
}

func TestSummarizeTail(t *testing.T) {
	for _, tc := range []struct {
		in     string
		total  int64
		finish string
	}{
		{`{"model":"m","choices":[{"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2}}`, 3, "stop"},
		{`{"model":"m","choices":[{"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2},"system_fingerprint":"fp"} `, 3, "stop"},
		// A usage key nested in the choices, or in a last member, is not the answer's.
		{`{"model":"m","choices":[{"finish_reason":"stop","usage":{"prompt_tokens":9}}]}`, 0, "stop"},
		{`{"model":"m","choices":[{"finish_reason":"stop"}],"usage":{"prompt_tokens":1},"x":{"usage":{"prompt_tokens":9}}}`, 1, "stop"},
		{`{"model":"m","choices":[{"finish_reason":"length"}],"x":{"usage":{"prompt_tokens":9}}}`, 0, "length"},
		// Text that spells a usage member is escaped, so it is not one.
		{`{"model":"m","choices":[{"message":{"content":"\"usage\":{\"prompt_tokens\":9}}"},"finish_reason":"stop"}]}`, 0, "stop"},
		{`{"model":"m","choices":[],"usage":null}`, 0, ""},
	} {
		s := Summarize([]byte(tc.in), true)
		var total int64
		if s.Usage != nil {
			total = s.Usage.TotalTokens
		}
		if s.Model != "m" || total != tc.total || s.FinishReason != tc.finish {
			t.Errorf("%s: got %+v total %d", tc.in, s, total)
		}
	}
	for _, size := range []int{1 << 10, 16 << 10, 256 << 10} {
		body := chatAnswer(size)
		if got, want := Summarize(body, true), summarize(body, true, false); got.Model != want.Model || got.FinishReason != want.FinishReason || *got.Usage != *want.Usage {
			t.Errorf("%d bytes: tail %+v, scan %+v", size, got, want)
		}
	}
}

// FuzzSummarizeTail: on valid JSON, reading usage from the tail gives what the full scan gives.
func FuzzSummarizeTail(f *testing.F) {
	f.Add([]byte(`{"model":"m","choices":[{"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2},"service_tier":"default"}`))
	f.Add([]byte(`{"model":"m","choices":[{"x":{"usage":{"prompt_tokens":9}}}],"usage":{"total_tokens":4}}`))
	f.Add(chatAnswer(1 << 10))
	f.Fuzz(func(t *testing.T, in []byte) {
		if !json.Valid(in) {
			return
		}
		got, want := summarize(in, true, true), summarize(in, true, false)
		if got.Model != want.Model || got.FinishReason != want.FinishReason || (got.Usage == nil) != (want.Usage == nil) || (got.Usage != nil && *got.Usage != *want.Usage) {
			t.Fatalf("%q: tail %+v %+v, scan %+v %+v", in, got, got.Usage, want, want.Usage)
		}
	})
}

// FuzzTailMember: when the tail read answers, it is the member encoding/json reads (the last
// of that name at the top level).
func FuzzTailMember(f *testing.F) {
	f.Add([]byte(`{"content":[{"input":{"usage":{"a":1}}}],"stop_reason":"end_turn","usage":{"input_tokens":1}}`))
	f.Add([]byte(`{"usage":{"a":1},"x":{"usage":2}}`))
	f.Add([]byte(` {"a":1, "usage" : [1,2] } `))
	f.Add([]byte(`{"usage":1,"us\u0061ge":2}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		v, ok := TailMember(in, "usage")
		if !ok || !json.Valid(in) {
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(in, &m); err != nil {
			t.Fatalf("%q: tail read an answer from a non-object: %v", in, err)
		}
		if want, found := m["usage"]; !found || string(want) != string(v) {
			t.Fatalf("%q: tail %q, encoding/json %q (found %v)", in, v, want, found)
		}
	})
}
