// Package pricing owns the model price table: what a model costs per million input, output,
// cache-read and cache-write tokens, shipped with the binary (prices.toml) and overridable from config. It
// resolves the names clients actually send ("openai/gpt-4o-mini-2024-07-18",
// "bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0", "gpt-4o") to a listed entry and
// turns token usage into US dollars for cost limits, routing and telemetry.
package pricing

import (
	_ "embed"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/BurntSushi/toml"
)

//go:embed prices.toml
var embedded string

// Price is what a model costs, in USD per 1M tokens.
type Price struct {
	Input  float64 `toml:"input" json:"input"`
	Output float64 `toml:"output" json:"output"`
	// CachedInput is the price of prompt tokens served from the provider's prompt cache.
	// Zero means the provider gives no discount: cached tokens are billed at Input.
	CachedInput float64 `toml:"cached_input" json:"cached_input"`
	// CacheWrite is the price of prompt tokens written to the prompt cache (Anthropic bills a
	// five-minute write at 1.25 times the input price). Zero bills them at Input, as providers
	// that cache on their own (OpenAI) do.
	CacheWrite float64 `toml:"cache_write" json:"cache_write"`
}

// Usage is the token count of one call, in OpenAI's terms.
type Usage struct {
	InputTokens  int64 // prompt_tokens, including cached ones
	OutputTokens int64 // completion_tokens, including reasoning tokens
	// CachedInputTokens is the part of InputTokens read from the prompt cache
	// (prompt_tokens_details.cached_tokens).
	CachedInputTokens int64
	// CacheWriteTokens is the part of InputTokens written to the prompt cache
	// (prompt_tokens_details.cache_creation_tokens, which the Anthropic and Bedrock translators
	// report).
	CacheWriteTokens int64
}

// Cost is the price of u in USD: uncached input at Input, cache reads at CachedInput, cache
// writes at CacheWrite and output at Output.
func (p Price) Cost(u Usage) float64 {
	in := max(u.InputTokens, 0)
	cached := min(max(u.CachedInputTokens, 0), in)
	written := min(max(u.CacheWriteTokens, 0), in-cached)
	fresh := in - cached - written
	cachedPrice, writePrice := p.CachedInput, p.CacheWrite
	if cachedPrice == 0 {
		cachedPrice = p.Input
	}
	if writePrice == 0 {
		writePrice = p.Input
	}
	return (float64(fresh)*p.Input + float64(cached)*cachedPrice + float64(written)*writePrice +
		float64(max(u.OutputTokens, 0))*p.Output) / 1e6
}

// Table is a set of prices keyed "provider/model" (or a bare "model", or "provider/*" for every
// model of a provider). It is safe for concurrent use; Override swaps in a new index atomically.
type Table struct {
	idx atomic.Pointer[index]
}

// Default returns a new Table holding the prices shipped with the binary.
func Default() *Table {
	prices, err := Parse(embedded)
	if err != nil {
		// The embedded file is covered by tests; reaching this is a build defect.
		panic(err)
	}
	return New(prices)
}

// New returns a Table holding exactly prices (keys as in Table).
func New(prices map[string]Price) *Table {
	t := &Table{}
	t.idx.Store(build(prices))
	return t
}

// Parse reads a price file in the format of the embedded prices.toml: one table per provider,
// one key per model.
func Parse(text string) (map[string]Price, error) {
	var raw map[string]map[string]Price
	md, err := toml.Decode(text, &raw)
	if err != nil {
		return nil, fmt.Errorf("pricing: %w", err)
	}
	if un := md.Undecoded(); len(un) > 0 {
		return nil, fmt.Errorf("pricing: unknown key %q", un[0].String())
	}
	out := make(map[string]Price)
	for prov, models := range raw {
		for m, p := range models {
			if p.Input < 0 || p.Output < 0 || p.CachedInput < 0 || p.CacheWrite < 0 {
				return nil, fmt.Errorf("pricing: %s/%s: negative price", prov, m)
			}
			out[prov+"/"+m] = p
		}
	}
	return out, nil
}

// Override replaces or adds the given entries (keys as in Table); the rest stay.
func (t *Table) Override(prices map[string]Price) {
	for {
		old := t.idx.Load()
		merged := make(map[string]Price, len(old.src)+len(prices))
		for k, v := range old.src {
			merged[k] = v
		}
		for k, v := range prices {
			merged[normKey(k)] = v
		}
		if t.idx.CompareAndSwap(old, build(merged)) {
			return
		}
	}
}

// Lookup resolves model to a price. Order: the exact "provider/model"; the provider's longest
// listed prefix of the model at a name boundary (so dated versions resolve to their family);
// the provider's "*" entry; then the model name alone across providers, exactly and then by
// prefix (so "azure/gpt-4o" and "gpt-4o" find OpenAI's price).
func (t *Table) Lookup(model string) (Price, bool) {
	ix := t.idx.Load()
	prov, name := ix.split(strings.ToLower(strings.TrimSpace(model)))
	if name == "" {
		return Price{}, false
	}
	if prov != "" {
		if p, ok := ix.exact[prov+"/"+name]; ok {
			return p, true
		}
		if p, ok := longestPrefix(ix.byProvider[prov], name); ok {
			return p, true
		}
		if p, ok := ix.exact[prov+"/*"]; ok {
			return p, true
		}
	}
	// "openrouter/anthropic/claude-sonnet-4-5": also try each shorter path suffix.
	names := []string{name}
	for rest := name; ; {
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			break
		}
		rest = rest[i+1:]
		names = append(names, rest)
	}
	for _, n := range names {
		if p, ok := ix.byName[n]; ok {
			return p, true
		}
	}
	for _, n := range names {
		if p, ok := longestPrefix(ix.all, n); ok {
			return p, true
		}
	}
	return Price{}, false
}

// Cost is the USD cost of u on model; 0 when the model has no price.
func (t *Table) Cost(model string, u Usage) float64 {
	p, ok := t.Lookup(model)
	if !ok {
		return 0
	}
	return p.Cost(u)
}

// CostMicros is Cost in whole micro-dollars, rounded up so that no priced call is free; it is
// the unit of cost limits in package ratelimit.
func (t *Table) CostMicros(model string, u Usage) int64 {
	return Micros(t.Cost(model, u))
}

// Micros converts USD to micro-dollars, rounding up (after forgiving float noise).
func Micros(usd float64) int64 {
	if usd <= 0 {
		return 0
	}
	return int64(math.Ceil(usd*1e6 - 1e-6))
}

// providerRank breaks ties when several providers list the same model name: the model's
// originator first.
var providerRank = map[string]int{"": 0, "openai": 1, "anthropic": 2, "gemini": 3, "xai": 4,
	"deepseek": 5, "mistral": 6, "bedrock": 7, "groq": 8}

type entry struct {
	prov, name string
	p          Price
}

type index struct {
	src        map[string]Price
	exact      map[string]Price
	byName     map[string]Price
	byProvider map[string][]entry // longest name first
	all        []entry            // longest name first, then provider rank
	providers  map[string]bool
}

func normKey(k string) string { return strings.ToLower(strings.TrimSpace(k)) }

func build(prices map[string]Price) *index {
	ix := &index{src: prices, exact: map[string]Price{}, byName: map[string]Price{},
		byProvider: map[string][]entry{}, providers: map[string]bool{}}
	for k, p := range prices {
		k = normKey(k)
		ix.exact[k] = p
		var e entry
		if i := strings.IndexByte(k, '/'); i >= 0 {
			e = entry{prov: k[:i], name: k[i+1:], p: p}
			ix.providers[e.prov] = true
		} else {
			e = entry{name: k, p: p}
		}
		if e.name == "*" {
			continue
		}
		if e.prov != "" {
			ix.byProvider[e.prov] = append(ix.byProvider[e.prov], e)
		}
		ix.all = append(ix.all, e)
	}
	less := func(es []entry) func(i, j int) bool {
		return func(i, j int) bool {
			a, b := es[i], es[j]
			if len(a.name) != len(b.name) {
				return len(a.name) > len(b.name)
			}
			ra, rb := rank(a.prov), rank(b.prov)
			if ra != rb {
				return ra < rb
			}
			if a.prov != b.prov {
				return a.prov < b.prov
			}
			return a.name < b.name
		}
	}
	for prov, es := range ix.byProvider {
		sort.Slice(es, less(es))
		ix.byProvider[prov] = es
	}
	sort.Slice(ix.all, less(ix.all))
	// byName keeps, per model name, the best-ranked provider's price.
	for i := len(ix.all) - 1; i >= 0; i-- {
		ix.byName[ix.all[i].name] = ix.all[i].p
	}
	return ix
}

func rank(prov string) int {
	if r, ok := providerRank[prov]; ok {
		return r
	}
	return len(providerRank)
}

// regionPrefixes are Bedrock cross-region inference profile prefixes.
var regionPrefixes = []string{"us.", "eu.", "apac.", "us-gov.", "global.", "jp.", "au.", "ca."}

// split separates a known provider prefix from the model name and normalises the name.
func (ix *index) split(s string) (prov, name string) {
	name = s
	if i := strings.IndexByte(s, '/'); i >= 0 && (ix.providers[s[:i]] || providerRank[s[:i]] > 0) {
		prov, name = s[:i], s[i+1:]
	}
	name = strings.TrimPrefix(name, "models/") // Gemini's resource form
	for _, rp := range regionPrefixes {
		if rest, ok := strings.CutPrefix(name, rp); ok && strings.Contains(rest, ".") {
			name = rest
			break
		}
	}
	return prov, name
}

func longestPrefix(es []entry, name string) (Price, bool) {
	for _, e := range es {
		if len(e.name) > len(name) || !strings.HasPrefix(name, e.name) {
			continue
		}
		if len(e.name) == len(name) || strings.IndexByte("-:@._/", name[len(e.name)]) >= 0 {
			return e.p, true
		}
	}
	return Price{}, false
}
