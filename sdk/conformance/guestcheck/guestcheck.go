// Package guestcheck is the guest side of the conformance kit: what a plugin author checks
// their own plugin against. Where conformance.Run checks a host with hand-made guests,
// CheckGuest checks one loaded guest's hook with inputs derived from a sample input: edge
// cases (empty, huge, deep, unicode edge cases, duplicate keys, wrong types), seeded fuzzing,
// memory growth across many calls, state leaking between calls, and latency. It needs no
// testing.T (and does not import testing), so `sluice plugin test` runs it too.
package guestcheck

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// Guest is one loaded plugin.
type Guest interface {
	Hooks() []string
	// Call runs hook. A guest error payload (the error bit) is reported in Result with
	// IsError; err is for failures of the call itself (trap, ABI violation).
	Call(ctx context.Context, hook string, input []byte) (Result, error)
	Close() error
}

// Result is a hook call's outcome.
type Result struct {
	Out     []byte
	IsError bool
	Status  int
	Code    string
	Message string
}

// GuestOptions configures CheckGuest. Zero values take the defaults.
type GuestOptions struct {
	Hook   string
	Sample []byte // a valid input for Hook; the derived inputs start from it
	Fuzz   int    // fuzzed inputs (default 300)
	Calls  int    // sample calls timed for latency (default 2000)
	// MemCalls are the calls the memory-growth check makes (default 60000), alternating the
	// sample and the small edge cases; memory after all of them is compared with memory after
	// half. A Go guest's heap takes some 30000 small calls to reach its high-water mark
	// (measured on the scaffolds, MiB every 5000 calls: 3.5 4.5 5.0 5.5 6.0 7.5 7.5 ... 7.5;
	// with a 100-byte leak per call: 6.5 7.5 8.8 10.5 12.5 15 18 18 21.5 ... 27).
	MemCalls int
	// MaxGrowth is how much the memory may grow over the second half of the calls: this many
	// bytes (default 1 MiB) or a quarter of the memory at half-way, whichever is more.
	MaxGrowth uint64
	// P50 and P99 are the latency budgets of one sample call. P50 defaults to 2ms, which only
	// a plugin doing far too much per call misses; P99 is checked only when set, since one
	// busy moment of the machine decides it (set both to the hook's real budget in CI). A
	// missed budget is measured once more and the better round counts.
	P50, P99 time.Duration
	// Stateful skips the state-leak check, for plugins whose output depends on earlier calls
	// on purpose (counters, rotation).
	Stateful bool
	// Memory, when set, runs the memory-growth check on this guest (it must also be a
	// MemoryReporter); otherwise the check runs on the checked guest if it is one.
	Memory Guest
	Seed   uint64
}

// MemoryReporter is a Guest that can tell the size of its linear memory.
type MemoryReporter interface {
	MemoryBytes() uint64
}

// Finding is one failed check: which hook, which input, and what was wrong.
type Finding struct {
	Check   string // edge, fuzz, state, memory, latency, sample
	Hook    string
	Input   string // a name and a short quote of the input
	Problem string
}

func (f Finding) String() string {
	return fmt.Sprintf("%s: hook %s, input %s: %s", f.Check, f.Hook, f.Input, f.Problem)
}

// Report is what CheckGuest found and measured.
type Report struct {
	Findings         []Finding
	Inputs           int // edge-case and fuzzed inputs run
	Calls            int // timed sample calls (one round, or two when the first missed a budget)
	P50, P99         time.Duration
	MemFirst, MemEnd uint64 // memory after half of the calls and after all (0: not measured)
}

// OK reports whether every check passed.
func (r *Report) OK() bool { return len(r.Findings) == 0 }

// CheckGuest runs the guest-side checks on g's hook. A guest may refuse any input with an
// error payload; what fails is a trap, a deadline, an ABI violation, an output that is not
// JSON (for a JSON input), a sample answered differently after other inputs, memory that
// keeps growing, and latency above the budget.
func CheckGuest(ctx context.Context, g Guest, o GuestOptions) Report {
	if o.Fuzz == 0 {
		o.Fuzz = 300
	}
	if o.Calls == 0 {
		o.Calls = 2000
	}
	if o.MemCalls == 0 {
		o.MemCalls = 60000
	}
	if o.P50 == 0 {
		o.P50 = 2 * time.Millisecond
	}
	if o.MaxGrowth == 0 {
		o.MaxGrowth = 1 << 20
	}
	var r Report
	add := func(check, input, problem string) {
		r.Findings = append(r.Findings, Finding{Check: check, Hook: o.Hook, Input: input, Problem: problem})
	}
	base, err := g.Call(ctx, o.Hook, o.Sample)
	if err != nil {
		add("sample", "sample "+quote(o.Sample), "call failed: "+err.Error())
		return r
	}
	if !base.IsError && !jsonx.Valid(base.Out) {
		add("sample", "sample "+quote(o.Sample), "output is not JSON: "+quote(base.Out))
	}
	// same reports whether the sample still gets the answer it got first.
	same := func(after string) bool {
		if o.Stateful {
			return true
		}
		again, err := g.Call(ctx, o.Hook, o.Sample)
		if err == nil && again.IsError == base.IsError && bytes.Equal(again.Out, base.Out) && again.Code == base.Code && again.Message == base.Message {
			return true
		}
		problem := fmt.Sprintf("the sample's answer changed after this input: first %s, now %s", describe(base, nil), describe(again, err))
		add("state", after, problem)
		return false
	}
	try := func(check, name string, in []byte) {
		r.Inputs++
		res, err := g.Call(ctx, o.Hook, in)
		label := name + " " + quote(in)
		switch {
		case err != nil:
			add(check, label, "call failed: "+err.Error())
		case !res.IsError && !jsonx.Valid(res.Out) && jsonx.Valid(in):
			// Only for JSON inputs: the host sends nothing else, so an answer to a broken
			// input need not be JSON, but the guest must still not trap on it.
			add(check, label, "output is not JSON: "+quote(res.Out))
		}
	}
	stateOK := true
	for _, e := range EdgeInputs(o.Sample) {
		try("edge", e.Name, e.Input)
		if stateOK {
			stateOK = same(e.Name + " " + quote(e.Input))
		}
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x5ee1))
	for i := range o.Fuzz {
		in := Mutate(rng, o.Sample)
		name := fmt.Sprintf("fuzz #%d (seed %d)", i, o.Seed)
		try("fuzz", name, in)
		if stateOK && (i%25 == 24 || i == o.Fuzz-1) {
			stateOK = same(name + " " + quote(in))
		}
	}

	// Latency of the sample in the guest's sandbox, after a warm-up.
	for range 50 {
		g.Call(ctx, o.Hook, o.Sample)
	}
	over := func() bool { return r.P50 > o.P50 || o.P99 > 0 && r.P99 > o.P99 }
	for round := 0; round < 2 && (round == 0 || over()); round++ {
		lat := make([]time.Duration, 0, o.Calls)
		for range o.Calls {
			t0 := time.Now()
			if _, err := g.Call(ctx, o.Hook, o.Sample); err != nil {
				add("latency", "sample", "call failed: "+err.Error())
				return r
			}
			lat = append(lat, time.Since(t0))
		}
		slices.Sort(lat)
		p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
		if round == 0 || p50 < r.P50 {
			r.P50 = p50
		}
		if round == 0 || p99 < r.P99 {
			r.P99 = p99
		}
		r.Calls += len(lat)
	}
	if over() {
		add("latency", "sample", fmt.Sprintf("p50 %v, p99 %v over the budget (p50 %v, p99 %v) in two rounds of %d calls", r.P50, r.P99, o.P50, budget(o.P99), o.Calls))
	}

	// Memory growth: the sample and the edge cases in turn, many times over.
	mg := o.Memory
	if mg == nil {
		mg = g
	}
	if mr, ok := mg.(MemoryReporter); ok {
		inputs := [][]byte{o.Sample}
		for _, e := range EdgeInputs(o.Sample) {
			if len(e.Input) < 64<<10 {
				inputs = append(inputs, e.Input)
			}
		}
		half := max(o.MemCalls/2, 1)
		for i := range o.MemCalls {
			if _, err := mg.Call(ctx, o.Hook, inputs[i%len(inputs)]); err != nil {
				add("memory", "call "+fmt.Sprint(i), "call failed: "+err.Error())
				break
			}
			switch i {
			case half - 1:
				r.MemFirst = mr.MemoryBytes()
			case o.MemCalls - 1:
				r.MemEnd = mr.MemoryBytes()
			}
		}
		if allowed := max(o.MaxGrowth, r.MemFirst/4); r.MemEnd > r.MemFirst+allowed {
			add("memory", fmt.Sprintf("the sample and edge cases, %d calls", o.MemCalls),
				fmt.Sprintf("memory grew from %d to %d bytes over the second half of the calls (allowed %d): a leak?", r.MemFirst, r.MemEnd, allowed))
		}
	}
	return r
}

func budget(d time.Duration) string {
	if d == 0 {
		return "none"
	}
	return d.String()
}

func describe(r Result, err error) string {
	switch {
	case err != nil:
		return "failure " + err.Error()
	case r.IsError:
		return fmt.Sprintf("error %d %s %q", r.Status, r.Code, r.Message)
	}
	return quote(r.Out)
}

// quote shortens b for a report.
func quote(b []byte) string {
	const n = 96
	if len(b) > n {
		return fmt.Sprintf("%q... (%d bytes)", b[:n], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// Edge is one named edge-case input.
type Edge struct {
	Name  string
	Input []byte
}

// Edge strings, written raw between quotes: lone and reversed surrogates, a valid pair, NUL,
// invalid and overlong UTF-8, a BOM, line separators, an escaped slash and an empty string.
var edgeStrings = []struct{ name, raw string }{
	{"lone high surrogate", `\ud800`},
	{"lone low surrogate", `\udc00`},
	{"reversed surrogates", `\udc00\ud800`},
	{"surrogate pair", `\ud83d\ude00`},
	{"NUL", `a\u0000b`},
	{"invalid UTF-8", "\xff\xfe"},
	{"overlong UTF-8", "\xc0\xaf"},
	{"truncated UTF-8", "\xe2\x82"},
	{"BOM and U+2028", "\ufeff\u2028\u2029"},
	{"escapes", `\"\\\/\b\f\n\r\t`},
	{"empty", ``},
}

var edgeNumbers = []string{"-0", "1e400", "-1e400", "1e-400", "123456789012345678901234567890", "0.1", "-1", "2147483648"}

// EdgeInputs derives the edge-case inputs from sample (a JSON object).
func EdgeInputs(sample []byte) []Edge {
	root, perr := jsonx.Parse(sample)
	edges := []Edge{
		{"empty input", nil},
		{"null", []byte("null")},
		{"empty object", []byte("{}")},
		{"empty array", []byte("[]")},
		{"a string", []byte(`"x"`)},
		{"truncated sample", sample[:len(sample)/2]},
		{"unbalanced", []byte("{")},
	}
	if perr != nil || !root.IsObject() {
		return edges
	}
	rest := sample[bytes.IndexByte(sample, '{')+1:]
	prefix := func(member string) []byte {
		if len(bytes.TrimSpace(rest)) > 0 && bytes.TrimSpace(rest)[0] != '}' {
			member += ","
		}
		return append([]byte("{"+member), rest...)
	}
	const deep = 100000
	edges = append(edges,
		Edge{"huge member (8 MiB string)", prefix(`"pad":"` + strings.Repeat("x", 8<<20) + `"`)},
		Edge{"deep member (100000 nested arrays)", prefix(`"deep":` + strings.Repeat("[", deep) + strings.Repeat("]", deep))},
		Edge{"deep member (100000 nested objects, unclosed)", prefix(`"deep":` + strings.Repeat(`{"a":`, deep))},
		Edge{"many members (100000)", prefix(strings.TrimSuffix(strings.Repeat(`"k":1,`, deep), ","))},
	)
	// Duplicate keys: every member of the root object given twice, the copy first.
	for k, v := range root.Members() {
		edges = append(edges, Edge{"duplicate key " + k.String(), prefix(k.String() + ":" + swapType(v))})
	}
	for _, s := range edgeStrings {
		edges = append(edges, Edge{"every string " + s.name, rewrite(root, func(v jsonx.Value) string {
			if v.IsString() {
				return `"` + s.raw + `"`
			}
			return ""
		})})
	}
	for _, n := range edgeNumbers {
		edges = append(edges, Edge{"every number " + n, rewrite(root, func(v jsonx.Value) string {
			if v.IsNumber() {
				return n
			}
			return ""
		})})
	}
	edges = append(edges,
		Edge{"every value of another type", rewrite(root, func(v jsonx.Value) string {
			if k := v.Kind(); k != jsonx.Object && k != jsonx.Array {
				return swapType(v)
			}
			return ""
		})},
		Edge{"every value null", rewrite(root, func(v jsonx.Value) string {
			if k := v.Kind(); k != jsonx.Object {
				return "null"
			}
			return ""
		})},
	)
	return edges
}

// swapType is a JSON value of another type than v.
func swapType(v jsonx.Value) string {
	switch v.Kind() {
	case jsonx.String:
		return "12"
	case jsonx.Number:
		return `"12"`
	case jsonx.Bool, jsonx.Null:
		return `{}`
	case jsonx.Array:
		return `"x"`
	}
	return `[]`
}

// rewrite copies v, replacing every value (below the root) for which f returns JSON text.
func rewrite(v jsonx.Value, f func(jsonx.Value) string) []byte {
	var walk func(dst []byte, v jsonx.Value, root bool) []byte
	walk = func(dst []byte, v jsonx.Value, root bool) []byte {
		if !root {
			if s := f(v); s != "" {
				return append(dst, s...)
			}
		}
		switch v.Kind() {
		case jsonx.Object:
			dst = append(dst, '{')
			i := 0
			for k, m := range v.Members() {
				if i > 0 {
					dst = append(dst, ',')
				}
				i++
				dst = append(dst, k.Raw()...)
				dst = append(dst, ':')
				dst = walk(dst, m, false)
			}
			return append(dst, '}')
		case jsonx.Array:
			dst = append(dst, '[')
			for i, e := range v.Elems() {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = walk(dst, e, false)
			}
			return append(dst, ']')
		}
		return append(dst, v.Raw()...)
	}
	return walk(nil, v, true)
}

var fuzzTokens = []string{"{", "}", "[", "]", `"`, `\`, `\u`, `\ud800`, ",", ":", "null", "1e999", "-", "\x00", "\xff", `{"a":`, `""`, "0", "true"}

// Mutate returns a copy of sample with one to four random edits: a byte changed, a span
// deleted or repeated, a JSON token inserted, or the end cut off.
func Mutate(rng *rand.Rand, sample []byte) []byte {
	b := bytes.Clone(sample)
	for range 1 + rng.IntN(4) {
		if len(b) == 0 {
			b = append(b, fuzzTokens[rng.IntN(len(fuzzTokens))]...)
			continue
		}
		i := rng.IntN(len(b))
		switch rng.IntN(5) {
		case 0:
			b[i] = byte(rng.IntN(256))
		case 1:
			j := min(len(b), i+1+rng.IntN(8))
			b = append(b[:i], b[j:]...)
		case 2:
			j := min(len(b), i+1+rng.IntN(32))
			span := bytes.Clone(b[i:j])
			b = slices.Insert(b, i, span...)
		case 3:
			b = slices.Insert(b, i, []byte(fuzzTokens[rng.IntN(len(fuzzTokens))])...)
		case 4:
			b = b[:i]
		}
	}
	return b
}
