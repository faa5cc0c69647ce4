package plugin

import (
	"context"
	"testing"
	"time"

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

// TestFuelRate prints the meter units a tight loop burns per millisecond here (the basis of
// FuelPerMillisecond) when run with -v.
func TestFuelRate(t *testing.T) {
	e, _ := newTestEngine(t)
	p := load(t, e, Spec{Name: "loop", Bytes: loopGuest(20_000_000), Pool: 1, Timeout: time.Minute})
	v := p.cur.Load()
	inst, err := v.get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer v.put(inst)
	start := time.Now()
	if _, _, err := inst.call(context.Background(), "route", []byte("{}"), v.fuel, v.maxDepth); err != nil {
		t.Fatal(err)
	}
	used := v.fuel - int64(inst.fuel.Get())
	el := time.Since(start)
	t.Logf("tight loop: %d units in %s = %.0f units/ms", used, el, float64(used)/float64(el.Microseconds())*1000)
	if used < 20_000_000 {
		t.Fatalf("used %d units for 20e6 iterations", used)
	}
}
