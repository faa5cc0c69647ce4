package pricing

import (
	"math"
	"sync"
	"testing"
	"time"
)

// TestSnapshotParses checks the shipped snapshot: it parses (every match rule compiles under
// Go's regexp), it is dated, and it covers the providers sluice routes to.
func TestSnapshotParses(t *testing.T) {
	s, err := parseSnapshot(snapshotJSON, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if s.info.Source != "@pydantic/genai-prices" || s.info.Version == "" || s.info.Date == "" {
		t.Fatalf("snapshot info %+v", s.info)
	}
	for _, id := range []string{"openai", "azure", "anthropic", "google", "aws", "mistral", "groq", "x-ai", "deepseek"} {
		if p := s.byID[id]; p == nil || len(p.models) < 3 {
			t.Errorf("provider %s missing or nearly empty", id)
		}
	}
}

// TestEveryListedModelIsItsOwnPrice: each model the list names resolves, by its own id, to the
// entry that names it and not to another model's price. Where two entries of the list claim
// the same id, the list's first rule wins, as in the package the snapshot comes from; those
// cases must carry the same price or be named here.
func TestEveryListedModelIsItsOwnPrice(t *testing.T) {
	s := shipped()
	for _, p := range s.providers {
		for i, m := range p.models {
			for j := range p.models[:i] {
				if p.models[j].match.matches(m.id) && !samePrice(p.models[j].price, m.price) {
					t.Errorf("%s/%s resolves to %s's price %+v instead of its own %+v", p.id, m.id, p.models[j].id, p.models[j].price, m.price)
				}
			}
			if !m.match.matches(m.id) {
				continue // an id the list's rule spells another way; the rule is what counts
			}
		}
	}
}

func samePrice(a, b Price) bool {
	if a.Input != b.Input || a.Output != b.Output || a.CachedInput != b.CachedInput || a.CacheWrite != b.CacheWrite || len(a.Tiers) != len(b.Tiers) {
		return false
	}
	for i := range a.Tiers {
		if a.Tiers[i] != b.Tiers[i] {
			return false
		}
	}
	return true
}

// TestPublishedPrices checks models against their published prices (USD per 1M tokens).
func TestPublishedPrices(t *testing.T) {
	tb := Default()
	tb.SetProviders(map[string]string{"prod-azure": "azure", "vtx": "vertex", "br": "bedrock", "gem": "gemini"})
	for _, c := range []struct {
		model                string
		in, out, read, write float64
	}{
		{"openai/o3-pro", 20, 80, 0, 0},
		{"openai/o3-pro-2025-06-10", 20, 80, 0, 0},
		{"openai/o3", 2, 8, 0.5, 0},
		{"openai/gpt-5-pro", 15, 120, 0, 0},
		{"openai/gpt-5", 1.25, 10, 0.125, 0},
		{"openai/gpt-4o", 2.5, 10, 1.25, 0},
		{"openai/gpt-4o-mini", 0.15, 0.6, 0.075, 0},
		{"openai/gpt-4o-mini-2024-07-18", 0.15, 0.6, 0.075, 0},
		{"gpt-4o", 2.5, 10, 1.25, 0},
		{"prod-azure/gpt-4o", 2.5, 10, 1.25, 0},
		{"anthropic/claude-sonnet-4-5-20250929", 3, 15, 0.3, 3.75},
		{"anthropic/claude-opus-4-5", 5, 25, 0.5, 6.25},
		{"anthropic/claude-haiku-4-5", 1, 5, 0.1, 1.25},
		// Bedrock's regional endpoints cost 10% more than its global one.
		{"br/us.anthropic.claude-sonnet-4-5-20250929-v1:0", 3.3, 16.5, 0.33, 4.125},
		{"bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0", 3.3, 16.5, 0.33, 4.125},
		{"bedrock/global.anthropic.claude-sonnet-4-5-20250929-v1:0", 3, 15, 0.3, 3.75},
		{"vtx/claude-sonnet-4-5@20250929", 3, 15, 0.3, 3.75},
		{"gem/gemini-2.5-flash", 0.3, 2.5, 0.03, 0},
		{"gemini/models/gemini-2.5-pro", 1.25, 10, 0.125, 0},
		{"vtx/gemini-2.5-pro", 1.25, 10, 0.125, 0},
	} {
		p, src := tb.Resolve(c.model)
		if src != Listed || p.Input != c.in || p.Output != c.out || p.CachedInput != c.read || p.CacheWrite != c.write {
			t.Errorf("%s = %+v (source %d), want in %v out %v read %v write %v", c.model, p, src, c.in, c.out, c.read, c.write)
		}
	}
}

// TestNoPrefixFallback: a model the list does not name is not priced as the model whose name
// is a prefix of its own (o3-pro is not o3; an unlisted dated o3 is unknown).
func TestNoPrefixFallback(t *testing.T) {
	tb := Default()
	var reported []string
	calls := 0
	tb.OnUnknown(func(m string, first bool) {
		calls++
		if first {
			reported = append(reported, m)
		}
	})
	for _, m := range []string{"openai/o3-ultra", "openai/gpt-4omni", "openai/gpt-5-pro-2099-01-01", "nosuch/model", "anthropic/claude-nonesuch"} {
		if p, src := tb.Resolve(m); src != Unknown || !samePrice(p, Price{}) {
			t.Errorf("%s = %+v (source %d), want unknown and unpriced", m, p, src)
		}
		if _, ok := tb.Lookup(m); ok {
			t.Errorf("Lookup(%s) ok without a default", m)
		}
	}
	tb.Resolve("nosuch/model") // reported once only
	if len(reported) != 5 || calls != 11 {
		t.Fatalf("reported %v in %d calls, want each unknown model once in 11 calls (each lookup counts)", reported, calls)
	}
}

func TestOverridesAndDefaults(t *testing.T) {
	tb := Default()
	tb.SetProviders(map[string]string{"local": "openai-compatible"})
	tb.Override(map[string]Price{
		"openai/gpt-4o": {Input: 1, Output: 2},
		"o3":            {Input: 3, Output: 4},
		"local/*":       {Input: 0.01, Output: 0.02},
		"*":             {Input: 50, Output: 100},
	})
	for _, c := range []struct {
		model   string
		in, out float64
		src     Source
	}{
		{"openai/gpt-4o", 1, 2, Override},
		{"OpenAI/GPT-4o", 1, 2, Override},
		{"azure/gpt-4o", 2.5, 10, Listed}, // the override names OpenAI's model only
		{"openai/o3", 3, 4, Override},     // a bare-model override applies on any provider
		{"local/llama-3-8b", 0.01, 0.02, Override},
		{"openai/gpt-4o-mini", 0.15, 0.6, Listed},
		{"openai/o3-ultra", 50, 100, Unknown},
		{"demo/anything", 0, 0, Listed},
	} {
		p, src := tb.Resolve(c.model)
		if src != c.src || p.Input != c.in || p.Output != c.out {
			t.Errorf("%s = %+v (source %d), want in %v out %v source %d", c.model, p, src, c.in, c.out, c.src)
		}
	}
	if _, ok := tb.Lookup("openai/o3-ultra"); !ok {
		t.Fatal("an unknown model with a default set is priced")
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
	// Anthropic: uncached at input, reads at 0.1x, five-minute writes at 1.25x.
	got = tb.Cost("anthropic/claude-sonnet-4-5", Usage{InputTokens: 100_000, CachedInputTokens: 20_000, CacheWriteTokens: 30_000, OutputTokens: 10_000})
	want = 0.05*3 + 0.02*0.3 + 0.03*3.75 + 0.01*15
	if math.Abs(got-want) > 1e-9 {
		t.Fatalf("anthropic cost = %v, want %v", got, want)
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

// TestLongContextTier: Gemini 2.5 Pro bills every token of a call above 200k input tokens at
// its long-context rates (2.50 in, 15 out).
func TestLongContextTier(t *testing.T) {
	tb := Default()
	p, _ := tb.Resolve("gemini/gemini-2.5-pro")
	if len(p.Tiers) == 0 || p.Tiers[0].Above != 200_000 {
		t.Fatalf("gemini-2.5-pro tiers %+v", p.Tiers)
	}
	small := tb.Cost("gemini/gemini-2.5-pro", Usage{InputTokens: 200_000, OutputTokens: 1000})
	if want := 0.2*1.25 + 0.001*10; math.Abs(small-want) > 1e-9 {
		t.Fatalf("at the threshold: %v, want %v", small, want)
	}
	big := tb.Cost("gemini/gemini-2.5-pro", Usage{InputTokens: 300_000, OutputTokens: 1000})
	if want := 0.3*2.5 + 0.001*15; math.Abs(big-want) > 1e-9 {
		t.Fatalf("above the threshold: %v, want %v", big, want)
	}
}

func TestVariantsByDate(t *testing.T) {
	// o3 was $10/$40 until 2025-06-10, then $2/$8.
	before, err := parseSnapshot(snapshotJSON, time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := before.find("openai", "openai", "o3"); p.Input != 10 || p.Output != 40 {
		t.Fatalf("o3 before the cut = %+v", p)
	}
	if p, _ := shipped().find("openai", "openai", "o3"); p.Input != 2 || p.Output != 8 {
		t.Fatalf("o3 now = %+v", p)
	}
}

func TestConcurrentOverride(t *testing.T) {
	tb := Default()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 100 {
				tb.Override(map[string]Price{"openai/x" + string(rune('a'+i)): {Input: float64(j)}})
				tb.Cost("openai/gpt-4o", Usage{InputTokens: 10})
			}
		}()
	}
	wg.Wait()
	for i := range 8 {
		if p, src := tb.Resolve("openai/x" + string(rune('a'+i))); src != Override || p.Input != 99 {
			t.Fatalf("override %d lost: %+v", i, p)
		}
	}
}

func BenchmarkResolve(b *testing.B) {
	tb := Default()
	b.ReportAllocs()
	for b.Loop() {
		tb.Resolve("anthropic/claude-sonnet-4-5-20250929")
	}
}
