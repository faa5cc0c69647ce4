package anthropic

import (
	"testing"

	"github.com/sluice-gw/sluice/plugins/internal/xlatetest"
)

var benchResponse = []byte(`{"endpoint":"chat.completions","model":"claude-sonnet-4-5","request_id":"req-bench","now":1700000000,"status":200,
"body":{"id":"msg_bench","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"` +
	xlatetest.LongText + `"},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Rome","unit":"c"}}],
"stop_reason":"tool_use","usage":{"input_tokens":420,"cache_read_input_tokens":100,"output_tokens":380}}}`)

var benchEvent = []byte(`{"model":"claude-sonnet-4-5","request_id":"req-bench","now":1700000000,
"state":{"id":"msg_bench","model":"claude-sonnet-4-5","created":1700000000,"prompt":520,"completion":0,"blocks":[],"finish":"","started":true},
"events":[{"event":"content_block_delta","data":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Paris will be cloudy "}}}]}`)

func BenchmarkTranslateRequest(b *testing.B) {
	xlatetest.Bench(b, TranslateRequest, xlatetest.BenchRequest())
}
func BenchmarkTranslateResponse(b *testing.B) { xlatetest.Bench(b, TranslateResponse, benchResponse) }
func BenchmarkTranslateChunk(b *testing.B)    { xlatetest.Bench(b, TranslateChunk, benchEvent) }

func BenchmarkEncodingJSONRequestBaseline(b *testing.B) {
	xlatetest.BenchEncodingJSON(b, xlatetest.BenchRequest())
}
func BenchmarkEncodingJSONResponseBaseline(b *testing.B) {
	xlatetest.BenchEncodingJSON(b, benchResponse)
}
