package gemini

import (
	"testing"

	"github.com/sluice-gw/sluice/plugins/internal/xlatetest"
)

var benchResponse = []byte(`{"endpoint":"chat.completions","model":"gemini-2.5-flash","request_id":"req-bench","now":1700000000,"status":200,
"body":{"candidates":[{"content":{"role":"model","parts":[{"text":"` + xlatetest.LongText + `"},{"functionCall":{"name":"get_weather","args":{"city":"Rome","unit":"c"}}}]},"finishReason":"STOP","index":0}],
"usageMetadata":{"promptTokenCount":420,"candidatesTokenCount":380,"thoughtsTokenCount":50,"totalTokenCount":850},"modelVersion":"gemini-2.5-flash","responseId":"resp-bench"}}`)

var benchEvent = []byte(`{"model":"gemini-2.5-flash","request_id":"req-bench","now":1700000000,
"state":{"id":"resp-bench","model":"gemini-2.5-flash","created":1700000000,"started":true,"tools":0,"finish":"","usage":{"p":420,"c":0}},
"events":[{"event":"","data":{"candidates":[{"content":{"role":"model","parts":[{"text":"Paris will be cloudy "}]},"index":0}],"usageMetadata":{"promptTokenCount":420,"candidatesTokenCount":4},"modelVersion":"gemini-2.5-flash","responseId":"resp-bench"}}]}`)

func BenchmarkTranslateRequest(b *testing.B) {
	xlatetest.Bench(b, TranslateRequest, xlatetest.BenchRequest())
}
func BenchmarkTranslateResponse(b *testing.B) { xlatetest.Bench(b, TranslateResponse, benchResponse) }
func BenchmarkTranslateChunk(b *testing.B)    { xlatetest.Bench(b, TranslateChunk, benchEvent) }
