package plugin

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/sdk/conformance"

	"github.com/sluice-gw/sluice/sdk/abi"
	w "github.com/sluice-gw/sluice/sdk/conformance/wasmbin"
)

// loopGuest is a loop-heavy handmade guest: route runs iters iterations of an xorshift step
// and returns an empty output.
func loopGuest(iters int32) []byte {
	m := &w.Module{}
	m.Memory(1, 0)
	m.ExportMemory(abi.ExportMemory)
	i32, i64 := []w.ValType{w.I32}, []w.ValType{w.I64}
	m.ExportFunc(abi.ExportVersion, m.Func(nil, i32, nil, w.I32Const(abi.Version)...))
	m.ExportFunc(abi.ExportAlloc, m.Func(i32, i32, nil, w.I32Const(1024)...))
	// locals: 2 = i (i32), 3 = x (i64)
	body := w.Cat(
		w.I64Const(88172645463325252), []byte{w.OpLocalSet, 3},
		[]byte{w.OpLoop, w.BlockVoid},
		// x ^= x << 13; x ^= x >> 7; x ^= x << 17
		w.LocalGet(3), w.LocalGet(3), w.I64Const(13), []byte{w.OpI64Shl, 0x85, w.OpLocalSet, 3},
		w.LocalGet(3), w.LocalGet(3), w.I64Const(7), []byte{0x88, 0x85, w.OpLocalSet, 3},
		w.LocalGet(3), w.LocalGet(3), w.I64Const(17), []byte{w.OpI64Shl, 0x85, w.OpLocalSet, 3},
		// i++; if i != iters continue
		w.LocalGet(2), w.I32Const(1), []byte{0x6a, 0x22, 2}, // i32.add, local.tee 2
		w.I32Const(iters), []byte{0x47, w.OpBrIf, 0, w.OpEnd}, // i32.ne, br_if 0
		// return x & 0 (empty output at 0), keeping x alive
		w.LocalGet(3), w.I64Const(0), []byte{0x83}, // i64.and
	)
	m.ExportFunc(abi.ExportName(abi.HookRoute), m.Func([]w.ValType{w.I32, w.I32}, i64, []w.ValType{w.I32, w.I64}, body...))
	return m.Bytes()
}

// sandboxModes are the mechanisms compared in BENCHMARKS.md, "Plugin sandbox".
var sandboxModes = []struct {
	name string
	set  func(*Spec)
}{
	{"unprotected", func(s *Spec) { s.noMeter = true }},
	{"close-on-done", func(s *Spec) { s.noMeter, s.closeOnDone = true, true }},
	{"metered", func(s *Spec) {}},
}

// BenchmarkSandbox compares one call per mechanism on a loop-heavy handmade guest (1e6
// iterations), a loop-heavy Go guest and the Go guest's ordinary hooks.
func BenchmarkSandbox(b *testing.B) {
	e, _ := newTestEngine(b)
	good := goodWasm(b, "v1")
	translate := []byte(`{"endpoint":"chat.completions","model":"m","body":{"messages":[{"role":"user","content":"` + string(make([]byte, 0)) + `hello"}]}}`)
	for _, m := range sandboxModes {
		spec := Spec{Name: "loop", Bytes: loopGuest(1_000_000), Pool: 1, Timeout: 10 * time.Second}
		m.set(&spec)
		lp := load(b, e, spec)
		spec = Spec{Name: "good", Bytes: good, Pool: 1, Timeout: 10 * time.Second}
		m.set(&spec)
		gp := load(b, e, spec)
		b.Run(m.name+"/loop-1e6-handmade", func(b *testing.B) { benchCall(b, lp, "route", []byte("{}")) })
		b.Run(m.name+"/crunch-1e6-go", func(b *testing.B) { benchCall(b, gp, "on_request", onRequest("crunch")) })
		b.Run(m.name+"/route-meta-go", func(b *testing.B) { benchCall(b, gp, "route", []byte(routeIn)) })
		b.Run(m.name+"/translate-echo-go", func(b *testing.B) { benchCall(b, gp, "translate_request", translate) })
	}
}

// TestFuelRate logs the meter units guests burn per millisecond here (the basis of
// FuelPerMillisecond) when run with -v: the fastest of several calls of each.
func TestFuelRate(t *testing.T) {
	e, _ := newTestEngine(t)
	good := goodWasm(t, "v1")
	big := []byte(`{"endpoint":"chat.completions","model":"m","body":{"messages":[` + strings.Repeat(`{"role":"user","content":"hello there, how are you?"},`, 2000) + `{"role":"user","content":"x"}]}}`)
	for _, c := range []struct {
		name, hook string
		bin, in    []byte
	}{
		{"empty-loop-handmade", "on_response", conformance.Misbehave(), []byte("{}")},
		{"xorshift-loop-handmade", "route", loopGuest(5_000_000), []byte("{}")},
		{"crunch-go", "on_request", good, onRequest("crunch")},
		{"route-go", "route", good, []byte(routeIn)},
		{"cache-key-go", "cache_key", good, []byte(`{"meta":{},"last_user":"` + strings.Repeat("AbC", 10000) + `"}`)},
		{"echo-100KB-go", "translate_request", good, big},
	} {
		timeout := time.Second
		if c.name == "empty-loop-handmade" {
			timeout = 20 * time.Millisecond // runs until the budget is spent
		}
		p := load(t, e, Spec{Name: "rate", Bytes: c.bin, Pool: 1, Timeout: timeout})
		v := p.cur.Load()
		best := 0.0
		for range 10 {
			inst, err := v.get(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, _, err = inst.call(context.Background(), c.hook, c.in, v.fuel, v.maxDepth)
			el := time.Since(start)
			used := v.fuel - int64(inst.fuel.Get())
			if err != nil {
				v.discard(inst)
			} else {
				v.put(inst)
			}
			if err != nil && c.name != "empty-loop-handmade" {
				f, d := inst.exhausted()
				t.Fatalf("%s: %v (fuel spent %v, depth %v, used %d)", c.name, err, f, d, used)
			}
			best = max(best, float64(used)/(float64(el.Nanoseconds())/1e6))
		}
		t.Logf("%-24s %8.2fM units/ms", c.name, best/1e6)
	}
}

// TestSandboxOverhead measures the sandbox mechanisms on loop-heavy guests, interleaved and
// taking each one's fastest of 30 rounds (a round is one call of a loop-heavy guest, or a batch of 200 of a short hook) (the machine is shared: the minimum is the cost, the
// rest is other load), and holds the default level to <= 2x the unprotected call.
func TestSandboxOverhead(t *testing.T) {
	if testing.Short() {
		t.Skip("measures for seconds")
	}
	e, _ := newTestEngine(t)
	good := goodWasm(t, "v1")
	type guest struct {
		name, hook string
		in         []byte
		ps         []*Plugin
		best       []time.Duration
	}
	guests := []*guest{
		{name: "loop-1e6-handmade", hook: "route", in: []byte("{}")},
		{name: "crunch-1e6-go", hook: "on_request", in: onRequest("crunch")},
		// Call-heavy rather than loop-heavy: reported, not held to the budget.
		{name: "route-meta-go", hook: "route", in: []byte(routeIn)},
		{name: "cache-key-go", hook: "cache_key", in: []byte(`{"meta":{},"last_user":"Hello World"}`)},
	}
	for _, g := range guests {
		for _, m := range sandboxModes {
			bin := good
			if g.name == "loop-1e6-handmade" {
				bin = loopGuest(1_000_000)
			}
			spec := Spec{Name: g.name, Bytes: bin, Pool: 1, Timeout: 10 * time.Second}
			m.set(&spec)
			g.ps = append(g.ps, load(t, e, spec))
			g.best = append(g.best, time.Hour)
		}
	}
	ctx := context.Background()
	for range 30 {
		for _, g := range guests {
			// Short hooks run in batches so that the per-call figure is not one cold call.
			k := 200
			if strings.Contains(g.name, "1e6") {
				k = 1
			}
			for i, p := range g.ps {
				start := time.Now()
				for range k {
					if _, err := p.Call(ctx, g.hook, g.in); err != nil {
						t.Fatal(err)
					}
				}
				g.best[i] = min(g.best[i], time.Since(start)/time.Duration(k))
			}
		}
	}
	for _, g := range guests {
		base := g.best[0]
		for i, m := range sandboxModes {
			t.Logf("%-18s %-14s %10s  %.2fx", g.name, m.name, g.best[i], float64(g.best[i])/float64(base))
		}
		if r := float64(g.best[2]) / float64(base); r > 2 && strings.Contains(g.name, "1e6") {
			t.Errorf("%s: metered call %.2fx the unprotected one, budget 2x", g.name, r)
		}
	}
}
