package wasmbench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/plugins/anthropic"
	"github.com/sluice-gw/sluice/plugins/bedrock"
	"github.com/sluice-gw/sluice/plugins/gemini"
	"github.com/sluice-gw/sluice/plugins/internal/xlatetest"
)

type hooks struct{ request, response, chunk func([]byte) ([]byte, error) }

var native = map[string]hooks{
	"anthropic": {anthropic.TranslateRequest, anthropic.TranslateResponse, anthropic.TranslateChunk},
	"gemini":    {gemini.TranslateRequest, gemini.TranslateResponse, gemini.TranslateChunk},
	"bedrock":   {bedrock.TranslateRequest, bedrock.TranslateResponse, bedrock.TranslateChunk},
}

// TestWasmMatchesNative runs every golden input through the compiled module and through the
// native package: the guest must answer byte for byte the same, errors included, also when
// one instance serves many calls in a row (package-level scratch buffers must not leak state).
func TestWasmMatchesNative(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the wasm modules")
	}
	ctx := context.Background()
	for _, name := range Translators {
		t.Run(name, func(t *testing.T) {
			p := Load(t, name, 1)
			ins, _ := filepath.Glob(filepath.Join("..", "..", name, "testdata", "*.in.json"))
			if len(ins) < 5 {
				t.Fatalf("only %d golden inputs", len(ins))
			}
			for round := range 2 {
				for _, f := range ins {
					in, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					base := filepath.Base(f)
					hook, fn := "translate_request", native[name].request
					switch {
					case strings.HasPrefix(base, "response"):
						hook, fn = "translate_response", native[name].response
					case strings.HasPrefix(base, "chunk"):
						hook, fn = "translate_chunk", native[name].chunk
					}
					want, werr := fn(in)
					got, gerr := p.Call(ctx, hook, in)
					if (werr == nil) != (gerr == nil) {
						t.Fatalf("round %d %s: native err %v, wasm err %v", round, base, werr, gerr)
					}
					if werr == nil && !bytes.Equal(got, want) {
						t.Fatalf("round %d %s:\nwasm   %s\nnative %s", round, base, got, want)
					}
				}
			}
		})
	}
}

// callTimes calls hook n times in a row and returns the sorted durations.
func measure(b *testing.B, call func()) {
	call()
	b.ReportAllocs()
	var ds []time.Duration
	for b.Loop() {
		t0 := time.Now()
		call()
		ds = append(ds, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Nanoseconds())/1e3, "p50-us")
}

// BenchmarkWasm measures each translator as the gateway calls it (trusted sandbox, pool 1):
// a 2 KB OpenAI request, a 2 KB provider response, both together (the per-request budget), and
// stream events one per call and sixteen per call (the host's maximum batch).
func BenchmarkWasm(b *testing.B) {
	ctx := context.Background()
	req := xlatetest.BenchRequest()
	for _, name := range Translators {
		p := Load(b, name, 1)
		in := xlatetest.Provider[name]
		call := func(hook string, env []byte) func() {
			return func() {
				if _, err := p.Call(ctx, hook, env); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.Run(name+"/request", func(b *testing.B) { measure(b, call("translate_request", req)) })
		b.Run(name+"/response", func(b *testing.B) { measure(b, call("translate_response", in.Response)) })
		b.Run(name+"/request+response", func(b *testing.B) {
			rq, rs := call("translate_request", req), call("translate_response", in.Response)
			measure(b, func() { rq(); rs() })
		})
		b.Run(name+"/chunk1", func(b *testing.B) { measure(b, call("translate_chunk", in.Events(1))) })
		b.Run(name+"/chunk16", func(b *testing.B) {
			measure(b, call("translate_chunk", in.Events(16)))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/16/1e3, "us/event")
		})
	}
}

// BenchmarkHostDecode is the host's share of a translated call besides the guest: decoding
// the translator's answers (encoding/json into the host's envelope types), compared with the
// passthrough path, which relays the upstream bytes.
func BenchmarkHostDecode(b *testing.B) {
	var call struct {
		Method  string            `json:"method"`
		Path    string            `json:"path"`
		Query   string            `json:"query"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	}
	out, err := anthropic.TranslateRequest(xlatetest.BenchRequest())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := json.Unmarshal(out, &call); err != nil {
			b.Fatal(err)
		}
	}
}
