package plugin

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/sdk/conformance"
	w "github.com/sluice-gw/sluice/sdk/conformance/wasmbin"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

var (
	ti32 = []w.ValType{w.I32}
	ti64 = []w.ValType{w.I64}
)

// instantiateMetered meters bin and instantiates it in a bare runtime.
func instantiateMetered(t *testing.T, bin []byte, pages uint32) (api.Module, api.MutableGlobal, api.MutableGlobal) {
	t.Helper()
	ctx := context.Background()
	mb, err := meterModule(bin, pages, 1_000_000, 1000)
	if err != nil {
		t.Fatal(err)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithMemoryLimitPages(pages))
	t.Cleanup(func() { rt.Close(ctx) })
	mod, err := rt.Instantiate(ctx, mb)
	if err != nil {
		t.Fatalf("metered module does not instantiate: %v", err)
	}
	return mod, mod.ExportedGlobal(meterFuelExport).(api.MutableGlobal), mod.ExportedGlobal(meterDepthExport).(api.MutableGlobal)
}

func call(t *testing.T, mod api.Module, name string, args ...uint64) ([]uint64, error) {
	t.Helper()
	return mod.ExportedFunction(name).Call(context.Background(), args...)
}

// TestMeterBehaviour: the rewritten control flow computes what the original does: returns from
// nested blocks and loops, if/else, br_table, multi-value results, calls; and its depth is
// given back on every exit.
func TestMeterBehaviour(t *testing.T) {
	m := &w.Module{}
	m.Memory(1, 0)
	// early(x): block { loop { if x > 10 return 100 ; x++ ; br 0 } } ; 0  -> returns from 2 deep
	m.ExportFunc("early", m.Func(ti32, ti32, nil, w.Cat(
		[]byte{w.OpBlock, w.BlockVoid, w.OpLoop, w.BlockVoid},
		w.LocalGet(0), w.I32Const(10), []byte{0x4a, 0x04, w.BlockVoid}, // i32.gt_s, if
		w.I32Const(100), []byte{0x0f, w.OpEnd}, // return
		w.LocalGet(0), w.I32Const(1), []byte{0x6a, w.OpLocalSet, 0, w.OpBr, 0, w.OpEnd, w.OpEnd},
		w.I32Const(0))...))
	// sel(x): br_table over x: 0 -> 7, 1 -> 8, default -> 9; then if/else on the result
	m.ExportFunc("sel", m.Func(ti32, ti32, nil, w.Cat(
		[]byte{w.OpBlock, w.BlockVoid, w.OpBlock, w.BlockVoid, w.OpBlock, w.BlockVoid},
		w.LocalGet(0), []byte{0x0e, 2, 0, 1, 2, w.OpEnd},
		w.I32Const(7), []byte{0x0f, w.OpEnd},
		w.I32Const(8), []byte{0x0f, w.OpEnd},
		w.I32Const(1), []byte{0x04, 0x7f}, w.I32Const(9), []byte{0x05}, w.I32Const(-1), []byte{w.OpEnd})...))
	// pair(): multi-value (i32, i64) with an explicit return
	pair := m.Func(nil, []w.ValType{w.I32, w.I64}, nil, w.Cat(w.I32Const(3), w.I64Const(4), []byte{0x0f})...)
	m.ExportFunc("pair", pair)
	// sum(): pair's values added, through a call
	m.ExportFunc("sum", m.Func(nil, ti64, ti64, w.Cat(w.Call(pair), []byte{w.OpLocalSet, 0}, []byte{0xac}, w.LocalGet(0), []byte{0x7c})...))
	mod, fuel, depth := instantiateMetered(t, m.Bytes(), 16)
	for _, c := range []struct {
		fn   string
		args []uint64
		want []uint64
	}{
		{"early", []uint64{0}, []uint64{100}},
		{"early", []uint64{50}, []uint64{100}},
		{"sel", []uint64{0}, []uint64{7}},
		{"sel", []uint64{1}, []uint64{8}},
		{"sel", []uint64{5}, []uint64{9}},
		{"pair", nil, []uint64{3, 4}},
		{"sum", nil, []uint64{7}},
	} {
		fuel.Set(1_000_000)
		depth.Set(1000)
		got, err := call(t, mod, c.fn, c.args...)
		if err != nil || len(got) != len(c.want) {
			t.Fatalf("%s%v: %v %v", c.fn, c.args, got, err)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Fatalf("%s%v = %v, want %v", c.fn, c.args, got, c.want)
			}
		}
		if d := depth.Get(); d != 1000 {
			t.Fatalf("%s: depth %d after the call, want it given back (1000)", c.fn, d)
		}
		if f := int64(fuel.Get()); f >= 1_000_000 || f <= 0 {
			t.Fatalf("%s: fuel %d after the call", c.fn, f)
		}
	}
}

// TestMeterFuelAndDepth: a loop stops when its budget is spent, recursion at its depth cap,
// each leaving the global that says which.
func TestMeterFuelAndDepth(t *testing.T) {
	m := &w.Module{}
	m.Memory(1, 0)
	// spin(n): loop n times
	m.ExportFunc("spin", m.Func(ti32, nil, nil, w.Cat(
		[]byte{w.OpLoop, w.BlockVoid},
		w.LocalGet(0), w.I32Const(1), []byte{0x6b, 0x22, 0}, // i32.sub, local.tee 0
		[]byte{w.OpBrIf, 0, w.OpEnd})...))
	self := m.NextFunc()
	// rec(n): n == 0 ? 0 : rec(n-1)
	m.ExportFunc("rec", m.Func(ti32, ti32, nil, w.Cat(
		w.LocalGet(0), []byte{0x45, 0x04, 0x7f}, w.I32Const(0), []byte{0x05},
		w.LocalGet(0), w.I32Const(1), []byte{0x6b}, w.Call(self), []byte{w.OpEnd})...))
	mod, fuel, depth := instantiateMetered(t, m.Bytes(), 16)

	fuel.Set(100_000)
	depth.Set(1000)
	if _, err := call(t, mod, "spin", 1000); err != nil {
		t.Fatal(err)
	}
	used := 100_000 - int64(fuel.Get())
	if used < 1000*6 || used > 1000*6+20 {
		t.Fatalf("1000 iterations of a 6-instruction loop used %d units", used)
	}
	fuel.Set(100_000)
	if _, err := call(t, mod, "spin", 1_000_000); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("runaway loop: %v", err)
	}
	if int64(fuel.Get()) >= 0 {
		t.Fatalf("fuel %d after the budget trap, want < 0", int64(fuel.Get()))
	}

	fuel.Set(1_000_000)
	depth.Set(1000)
	if got, err := call(t, mod, "rec", 900); err != nil || got[0] != 0 || depth.Get() != 1000 {
		t.Fatalf("rec(900): %v %v depth %d", got, err, depth.Get())
	}
	fuel.Set(1_000_000)
	if _, err := call(t, mod, "rec", 5000); err == nil {
		t.Fatal("rec(5000) passed a depth cap of 1000")
	}
	if depth.Get() != 0 || int64(fuel.Get()) < 0 {
		t.Fatalf("after the depth trap: depth %d fuel %d", depth.Get(), int64(fuel.Get()))
	}
}

// TestMeterMemoryCap: a module without a memory maximum, or with one above the host's limit,
// gets the limit: it loads, and grows no further.
func TestMeterMemoryCap(t *testing.T) {
	for _, max := range []uint32{0, 65536} {
		m := &w.Module{}
		m.Memory(1, max)
		m.ExportFunc("grow", m.Func(ti32, ti32, nil, w.Cat(w.LocalGet(0), []byte{w.OpMemoryGrow, 0})...))
		mod, fuel, _ := instantiateMetered(t, m.Bytes(), 16)
		fuel.Set(1000)
		if got, err := call(t, mod, "grow", 15); err != nil || int32(got[0]) != 1 {
			t.Fatalf("max %d: grow(15) = %v %v", max, got, err)
		}
		fuel.Set(1000)
		if got, err := call(t, mod, "grow", 1); err != nil || int32(got[0]) != -1 {
			t.Fatalf("max %d: grow past the 16-page cap = %v %v, want -1", max, got, err)
		}
	}
}

// TestMeterRefusals: what the decoder does not know is refused by name at load.
func TestMeterRefusals(t *testing.T) {
	for _, c := range []struct {
		body []byte
		want string
	}{
		{[]byte{0x06, 0x40, w.OpEnd}, "opcode 0x06 (exception handling)"},
		{[]byte{0x12, 0x00}, "opcode 0x12 (tail call)"},
		{[]byte{0xfe, 0x00}, "opcode 0xfe (threads)"},
		{[]byte{0xfc, 0x20}, "opcode 0xfc 32"},
		{[]byte{0xfd, 0x80, 0x02}, "opcode 0xfd 256 (relaxed SIMD)"},
	} {
		m := &w.Module{}
		m.Func(nil, nil, nil, c.body...)
		_, err := meterModule(m.Bytes(), 16, 1, 1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("body % x: %v, want %q", c.body, err, c.want)
		}
	}
	// A guest must not reach the meter's own local or globals (they do not exist in its module).
	for _, body := range [][]byte{
		w.Cat(w.I64Const(1<<60), []byte{w.OpLocalSet, 0}), // the budget local of a function without locals
		w.Cat(w.I64Const(1<<60), []byte{0x24, 0}),         // global.set of the fuel global
		w.Cat(w.I32Const(1<<30), []byte{0x24, 1}),         // global.set of the depth global
		w.Cat([]byte{w.OpLocalGet, 1, w.OpDrop}),          // a read past the locals
	} {
		m := &w.Module{}
		m.Func(nil, nil, nil, body...)
		if _, err := meterModule(m.Bytes(), 16, 1, 1); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Fatalf("body % x: %v, want out of range", body, err)
		}
	}
	m := &w.Module{}
	m.ExportFunc(meterFuelExport, m.Func(nil, nil, nil))
	if _, err := meterModule(m.Bytes(), 16, 1, 1); err == nil || !strings.Contains(err.Error(), "reserves") {
		t.Fatalf("reserved export: %v", err)
	}
}

// TestMeterGoGuest: the SDK guest behaves the same metered and not: same outputs for the
// same inputs on every hook.
func TestMeterGoGuest(t *testing.T) {
	e, _ := newTestEngine(t)
	bin := goodWasm(t, "v1")
	plain := load(t, e, Spec{Name: "plain", Bytes: bin, noMeter: true, Pool: 1})
	metered := load(t, e, Spec{Name: "plain", Bytes: bin, Pool: 1})
	for _, c := range []struct{ hook, in string }{
		{"route", routeIn},
		{"cache_key", `{"meta":{},"last_user":"Hello World"}`},
		{"translate_request", `{"endpoint":"chat.completions","model":"m","body":{"x":[1,2,3]}}`},
		{"on_request", string(onRequest("error"))},
		{"on_request", string(onRequest("crunch"))},
		{"on_response", `{"meta":{},"status":200,"body":{}}`},
	} {
		a, aerr := plain.Call(context.Background(), c.hook, []byte(c.in))
		b, berr := metered.Call(context.Background(), c.hook, []byte(c.in))
		if string(a) != string(b) || (aerr == nil) != (berr == nil) || (aerr != nil && aerr.Error() != berr.Error()) {
			t.Fatalf("%s: plain %q %v, metered %q %v", c.hook, a, aerr, b, berr)
		}
	}
}

// FuzzMeter: the meter never panics or hangs; what it accepts, wazero accepts metered exactly
// when it accepts the original; what it refuses as unsupported, wazero accepts or refuses on
// its own. (Inputs the meter finds malformed are not handed to wazero: its decoder sizes
// vectors from their declared counts, and random counts take gigabytes.)
func FuzzMeter(f *testing.F) {
	f.Add(conformance.Misbehave())
	f.Add(conformance.Echo(false, "route", "cache_key"))
	f.Add(loopGuest(10))
	f.Add(conformance.HooksList(`["route"]`))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, bin []byte) {
		out, err := meterModule(bin, 16, 1000, 100)
		if err != nil && !strings.Contains(err.Error(), "not supported") {
			return
		}
		// Validation is the same in both engines; the interpreter's is cheap and maps no code.
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
		defer rt.Close(ctx)
		cm, cerr := rt.CompileModule(ctx, bin)
		if cerr != nil {
			if err == nil {
				if mcm, merr := rt.CompileModule(ctx, out); merr == nil {
					mcm.Close(ctx)
					t.Fatalf("an invalid module (%v) is valid once metered", cerr)
				}
			}
			return
		}
		cm.Close(ctx)
		if err != nil {
			return // valid, refused naming what the meter does not support
		}
		mcm, merr := rt.CompileModule(ctx, out)
		if merr != nil {
			t.Fatalf("valid module no longer compiles metered: %v", merr)
		}
		mcm.Close(ctx)
	})
}

// FuzzMeterBody aims at the instruction decoder: a random body in an otherwise valid module
// (two i32 params, an i64 result, an i32 and an i64 local, a memory and two globals' worth of
// room). Whatever wazero accepts stays valid metered and, when it can run, computes the same.
func FuzzMeterBody(f *testing.F) {
	for _, seed := range [][]byte{
		{w.OpLoop, w.BlockVoid, w.OpBr, 0, w.OpEnd, w.OpUnreachable},
		w.Cat(w.LocalGet(0), []byte{w.OpI64ExtendU}),
		w.Cat([]byte{w.OpBlock, 0x7e}, w.I64Const(5), []byte{0x0f, w.OpEnd}),
		w.Cat(w.I32Const(1), []byte{0x04, 0x7e}, w.I64Const(1), []byte{0x05}, w.I64Const(2), []byte{w.OpEnd}),
		w.Cat(w.LocalGet(0), []byte{0x28, 2, 0, w.OpDrop, 0xfc, 0x0b, 0}, w.I64Const(0)),
		w.Cat([]byte{0xfd, 0x0c}, make([]byte, 16), []byte{w.OpDrop}, w.I64Const(0)),
	} {
		f.Add(seed)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, body []byte) {
		m := &w.Module{}
		m.Memory(1, 1)
		m.ExportFunc("f", m.Func([]w.ValType{w.I32, w.I32}, ti64, []w.ValType{w.I32, w.I64}, body...))
		bin := m.Bytes()
		out, err := meterModule(bin, 16, 100_000, 100)
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
		defer rt.Close(ctx)
		if _, cerr := rt.CompileModule(ctx, bin); cerr != nil {
			return
		}
		if err != nil {
			if !strings.Contains(err.Error(), "not supported") {
				t.Fatalf("valid body refused: %v", err)
			}
			return
		}
		if _, merr := rt.CompileModule(ctx, out); merr != nil {
			t.Fatalf("valid body no longer compiles metered: %v\nbody % x", merr, body)
		}
		// Same result when the metered run finishes (one out of budget may differ). The
		// metered run goes first: the plain one may loop forever, so it runs only after, in a
		// runtime that can stop it.
		metered, merr := rt.Instantiate(ctx, out)
		if merr != nil {
			return
		}
		b, berr := metered.ExportedFunction("f").Call(ctx, 3, 4)
		if berr != nil {
			return
		}
		prt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter().WithCloseOnContextDone(true))
		defer prt.Close(ctx)
		plain, perr := prt.Instantiate(ctx, bin)
		if perr != nil {
			t.Fatalf("plain module does not instantiate: %v", perr)
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		a, aerr := plain.ExportedFunction("f").Call(pctx, 3, 4)
		if aerr != nil || a[0] != b[0] {
			t.Fatalf("plain %v %v, metered %v %v\nbody % x", a, aerr, b, berr, body)
		}
	})
}
