package bedrock

import (
	"testing"

	"github.com/sluice-gw/sluice/plugins/internal/xlatetest"
)

var bench = xlatetest.Provider["bedrock"]

func BenchmarkTranslateRequest(b *testing.B) {
	xlatetest.Bench(b, TranslateRequest, xlatetest.BenchRequest())
}
func BenchmarkTranslateResponse(b *testing.B) { xlatetest.Bench(b, TranslateResponse, bench.Response) }
func BenchmarkTranslateChunk(b *testing.B)    { xlatetest.Bench(b, TranslateChunk, bench.Events(1)) }
func BenchmarkTranslateChunk16(b *testing.B)  { xlatetest.Bench(b, TranslateChunk, bench.Events(16)) }

func BenchmarkEncodingJSONRequestBaseline(b *testing.B) {
	xlatetest.BenchEncodingJSON(b, xlatetest.BenchRequest())
}
func BenchmarkEncodingJSONResponseBaseline(b *testing.B) {
	xlatetest.BenchEncodingJSON(b, bench.Response)
}
