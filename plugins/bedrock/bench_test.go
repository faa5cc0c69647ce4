package bedrock

import (
	"testing"

	"github.com/sluice-gw/sluice/plugins/internal/xlatetest"
)

var benchResponse = []byte(`{"endpoint":"chat.completions","model":"anthropic.claude-3-5-haiku-20241022-v1:0","request_id":"req-bench","now":1700000000,"status":200,
"body":{"output":{"message":{"role":"assistant","content":[{"text":"` + xlatetest.LongText + `"},{"toolUse":{"toolUseId":"tooluse_1","name":"get_weather","input":{"city":"Rome","unit":"c"}}}]}},
"stopReason":"tool_use","usage":{"inputTokens":420,"outputTokens":380,"totalTokens":800},"metrics":{"latencyMs":900}}}`)

var benchEvent = []byte(`{"model":"anthropic.claude-3-5-haiku-20241022-v1:0","request_id":"req-bench","now":1700000000,
"state":{"created":1700000000,"blocks":[],"finish":""},
"events":[{"event":"contentBlockDelta","data":{"contentBlockIndex":0,"delta":{"text":"Paris will be cloudy "}}}]}`)

func BenchmarkTranslateRequest(b *testing.B) {
	xlatetest.Bench(b, TranslateRequest, xlatetest.BenchRequest())
}
func BenchmarkTranslateResponse(b *testing.B) { xlatetest.Bench(b, TranslateResponse, benchResponse) }
func BenchmarkTranslateChunk(b *testing.B)    { xlatetest.Bench(b, TranslateChunk, benchEvent) }
