package gemini

import (
	"testing"

	"github.com/sluice-gw/sluice/plugins/internal/xlatetest"
)

var funcs = xlatetest.Funcs{Request: TranslateRequest, Response: TranslateResponse, Chunk: TranslateChunk}

func TestGolden(t *testing.T) { xlatetest.Run(t, "testdata", funcs) }

func TestStreamSplit(t *testing.T) { xlatetest.StreamSplitAll(t, TranslateChunk, "testdata") }

func FuzzTranslate(f *testing.F) {
	for _, s := range xlatetest.Seeds("testdata") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		xlatetest.Fuzz(t, funcs, in)
	})
}
