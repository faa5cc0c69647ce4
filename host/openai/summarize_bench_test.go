package openai

import (
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
