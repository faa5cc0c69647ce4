package pricing

import (
	"math"
	"strings"
	"sync"
	"testing"
)

func TestEmbeddedParsesAndCoversProviders(t *testing.T) {
	prices, err := Parse(embedded)
	if err != nil {
		t.Fatal(err)
	}
	for _, prov := range []string{"openai", "anthropic", "gemini", "bedrock", "groq", "mistral", "deepseek", "xai", "demo"} {
		n := 0
		for k := range prices {
			if strings.HasPrefix(k, prov+"/") {
				n++
			}
		}
		if n == 0 {
			t.Errorf("no prices for provider %s", prov)
		}
	}
}

func TestLookup(t *testing.T) {
	tb := Default()
	cases := []struct {
		model   string
		in, out float64
		ok      bool
	}{
		{"openai/gpt-4o-mini", 0.15, 0.60, true},
		{"openai/gpt-4o-mini-2024-07-18", 0.15, 0.60, true},
		{"openai/gpt-4o-2024-08-06", 2.50, 10, true},
		{"gpt-4o-mini", 0.15, 0.60, true},
		{"gpt-4o-mini-2024-07-18", 0.15, 0.60, true},
		{"azure/gpt-4o", 2.50, 10, true},
		{"OpenAI/GPT-4o-Mini", 0.15, 0.60, true},
		{"anthropic/claude-sonnet-4-5-20250929", 3, 15, true},
		{"anthropic/claude-opus-4-20250514", 15, 75, true},
		{"anthropic/claude-opus-4-1-20250805", 15, 75, true},
		{"anthropic/claude-opus-4-5", 5, 25, true},
		{"anthropic/claude-3-5-haiku-latest", 0.80, 4, true},
		{"bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0", 0.80, 4, true},
		{"bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0", 3, 15, true},
		{"bedrock/amazon.nova-lite-v1:0", 0.06, 0.24, true},
		{"gemini/gemini-2.5-flash-lite", 0.10, 0.40, true},
		{"gemini/gemini-2.5-flash-preview-05-20", 0.30, 2.50, true},
		{"gemini/models/gemini-2.5-pro", 1.25, 10, true},
		{"groq/openai/gpt-oss-120b", 0.15, 0.75, true},
		{"groq/llama-3.3-70b-versatile", 0.59, 0.79, true},
		{"openrouter/qwen/qwen3-32b", 0.29, 0.59, true},
		{"mistral/mistral-large-latest", 2, 6, true},
		{"mistral/mistral-small-2503", 0.10, 0.30, true},
		{"deepseek/deepseek-chat", 0.28, 0.42, true},
		{"xai/grok-4-0709", 3, 15, true},
		{"xai/grok-4-fast-reasoning", 0.20, 0.50, true},
		{"xai/grok-4-1-fast-non-reasoning", 0.20, 0.50, true},
		{"demo/anything-at-all", 0, 0, true},
		{"openai/gpt-4omni", 0, 0, false}, // not a boundary: no match
		{"nosuch/model", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, c := range cases {
		p, ok := tb.Lookup(c.model)
		if ok != c.ok || p.Input != c.in || p.Output != c.out {
			t.Errorf("Lookup(%q) = %+v, %v; want in %v out %v, %v", c.model, p, ok, c.in, c.out, c.ok)
		}
	}
}

func TestCost(t *testing.T) {
	tb := Default()
	// gpt-4o-mini: 0.15 in, 0.60 out, 0.075 cached per 1M.
	got := tb.Cost("openai/gpt-4o-mini", Usage{InputTokens: 1_000_000, CachedInputTokens: 400_000, OutputTokens: 500_000})
	want := 0.6*0.15 + 0.4*0.075 + 0.5*0.60
	if math.Abs(got-want) > 1e-12 {
		t.Fatalf("cost = %v, want %v", got, want)
	}
	// No cached price: cached tokens billed at the input price.
	got = tb.Cost("openai/gpt-4-turbo", Usage{InputTokens: 1000, CachedInputTokens: 1000})
	if math.Abs(got-0.01) > 1e-12 {
		t.Fatalf("uncached-price cost = %v, want 0.01", got)
	}
	if c := tb.Cost("nosuch/model", Usage{InputTokens: 10}); c != 0 {
		t.Fatalf("unknown model cost %v", c)
	}
	if c := tb.Cost("demo/x", Usage{InputTokens: 1e9, OutputTokens: 1e9}); c != 0 {
		t.Fatalf("demo cost %v", c)
	}
	// 100 tokens of gpt-4o-mini input = 15 micro-dollars exactly; 1 token rounds up to 1.
	if m := tb.CostMicros("gpt-4o-mini", Usage{InputTokens: 100}); m != 15 {
		t.Fatalf("CostMicros = %d, want 15", m)
	}
	if m := tb.CostMicros("gpt-4o-mini", Usage{InputTokens: 1}); m != 1 {
		t.Fatalf("CostMicros(1 token) = %d, want 1", m)
	}
}

// TestCachePrices checks the shipped cache prices against the published ones: Anthropic reads at
// 0.1x and five-minute writes at 1.25x the input price, OpenAI's cached input at its own price,
// and a call is priced as uncached*input + reads*read + writes*write + output*output.
func TestCachePrices(t *testing.T) {
	tb := Default()
	for _, c := range []struct {
		model                string
		in, read, write, out float64
	}{
		{"anthropic/claude-sonnet-4-5-20250929", 3, 0.30, 3.75, 15},
		{"anthropic/claude-opus-4-5", 5, 0.50, 6.25, 25},
		{"anthropic/claude-opus-4-1", 15, 1.50, 18.75, 75},
		{"anthropic/claude-haiku-4-5", 1, 0.10, 1.25, 5},
		{"anthropic/claude-3-5-haiku-latest", 0.80, 0.08, 1.00, 4},
		{"bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0", 3, 0.30, 3.75, 15},
		{"openai/gpt-4o", 2.50, 1.25, 0, 10},
		{"openai/gpt-4.1-mini", 0.40, 0.10, 0, 1.60},
		{"openai/gpt-5", 1.25, 0.125, 0, 10},
		{"openai/o4-mini", 1.10, 0.275, 0, 4.40},
	} {
		p, ok := tb.Lookup(c.model)
		if !ok || p.Input != c.in || p.CachedInput != c.read || p.CacheWrite != c.write || p.Output != c.out {
			t.Errorf("Lookup(%q) = %+v, want in %v read %v write %v out %v", c.model, p, c.in, c.read, c.write, c.out)
		}
		if !strings.HasPrefix(c.model, "openai/") &&
			(math.Abs(p.CachedInput-0.1*p.Input) > 1e-9 || math.Abs(p.CacheWrite-1.25*p.Input) > 1e-9) {
			t.Errorf("%s: read %v, write %v are not 0.1x and 1.25x input %v", c.model, p.CachedInput, p.CacheWrite, p.Input)
		}
	}
	// A Claude Code turn on Sonnet 4.5: 50k prompt tokens of which 40k read from the cache and
	// 8k written to it, 2k uncached; 1k output.
	u := Usage{InputTokens: 50_000, CachedInputTokens: 40_000, CacheWriteTokens: 8_000, OutputTokens: 1_000}
	got := tb.Cost("anthropic/claude-sonnet-4-5", u)
	want := (2_000*3.0 + 40_000*0.30 + 8_000*3.75 + 1_000*15.0) / 1e6
	if math.Abs(got-want) > 1e-12 {
		t.Errorf("cost = %v, want %v", got, want)
	}
	if m := tb.CostMicros("anthropic/claude-sonnet-4-5", u); m != 63_000 {
		t.Errorf("CostMicros = %d, want 63000", m)
	}
	// Without a write price (OpenAI) writes are billed as input.
	got = tb.Cost("openai/gpt-4o", Usage{InputTokens: 1000, CacheWriteTokens: 1000})
	if math.Abs(got-1000*2.5/1e6) > 1e-12 {
		t.Errorf("gpt-4o write cost = %v", got)
	}
	// Counts that overlap or exceed the prompt never price above it.
	got = tb.Cost("anthropic/claude-sonnet-4-5", Usage{InputTokens: 100, CachedInputTokens: 80, CacheWriteTokens: 80})
	if want := (80*0.30 + 20*3.75) / 1e6; math.Abs(got-want) > 1e-12 {
		t.Errorf("clamped cost = %v, want %v", got, want)
	}
}

func TestOverride(t *testing.T) {
	tb := Default()
	tb.Override(map[string]Price{
		"OpenAI/gpt-4o-mini":   {Input: 1, Output: 2},
		"local/*":              {Input: 0.5, Output: 0.5},
		"my-finetune":          {Input: 9, Output: 9},
		"openai/gpt-4o-mini-x": {Input: 3, Output: 3},
	})
	check := func(model string, in float64) {
		t.Helper()
		p, ok := tb.Lookup(model)
		if !ok || p.Input != in {
			t.Errorf("Lookup(%q) = %+v, %v; want input %v", model, p, ok, in)
		}
	}
	check("openai/gpt-4o-mini-2024-07-18", 1)
	check("openai/gpt-4o-mini-x-2025", 3)
	check("local/llama3", 0.5)
	check("my-finetune", 9)
	check("openai/gpt-4o", 2.5) // untouched entries stay
}

func TestParseErrors(t *testing.T) {
	if _, err := Parse("[openai]\n\"m\" = { input = 1, outptu = 2 }\n"); err == nil || !strings.Contains(err.Error(), "outptu") {
		t.Fatalf("unknown key not reported: %v", err)
	}
	if _, err := Parse("[openai]\n\"m\" = { input = -1 }\n"); err == nil {
		t.Fatal("negative price accepted")
	}
	if _, err := Parse("[openai\n"); err == nil || !strings.HasPrefix(err.Error(), "pricing: ") {
		t.Fatalf("syntax error not reported: %v", err)
	}
}

func TestConcurrentOverrideAndLookup(t *testing.T) {
	tb := Default()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				tb.Override(map[string]Price{"x/m": {Input: float64(j)}})
			}
		}()
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				if _, ok := tb.Lookup("openai/gpt-4o"); !ok {
					t.Error("lookup failed during override")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkLookupDated(b *testing.B) {
	tb := Default()
	b.ReportAllocs()
	for b.Loop() {
		tb.Lookup("openai/gpt-4o-mini-2024-07-18")
	}
}
