package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sluice-gw/sluice/sdk/abi"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// instance is one guest module instance; it serves one call at a time.
type instance struct {
	mod   api.Module
	mem   api.Memory
	alloc api.Function
	fns   map[string]api.Function
	out   *capture
	inPtr uint32
	inCap uint32
	stack []uint64
	// fuel and depth are the metering globals (meter.go); arm sets them before each call.
	// They are nil for a module loaded unmetered (benchmarks only).
	fuel  api.MutableGlobal
	depth api.MutableGlobal
}

// arm gives the instance a fresh CPU budget and call-depth allowance for one call.
func (in *instance) arm(fuel int64, depth uint32) {
	if in.fuel != nil {
		in.fuel.Set(uint64(fuel))
		in.depth.Set(uint64(depth))
	}
}

// exhausted reports which metering limit stopped the last call, if any.
func (in *instance) exhausted() (fuel, depth bool) {
	if in.fuel == nil {
		return false, false
	}
	return int64(in.fuel.Get()) < 0, uint32(in.depth.Get()) == 0
}

// newInstance instantiates the module and runs the handshake: _initialize, the ABI version,
// (first instance only) the hooks list, then init with the plugin config.
func (v *version) newInstance(ctx context.Context, first bool) (*instance, error) {
	ctx, cancel := context.WithTimeout(ctx, v.spec.InitTimeout)
	defer cancel()
	out := &capture{}
	// A wasm start section runs inside InstantiateModule, before arm: the metering globals'
	// initial values are the init budget (meterModule), so it is bounded too.
	mod, err := v.rt.InstantiateModule(ctx, v.cm, wazero.NewModuleConfig().
		WithName("").WithStartFunctions().WithStdout(out).WithStderr(out))
	if err != nil {
		return nil, withStderr(fmt.Errorf("instantiate: %w", err), out)
	}
	inst := &instance{mod: mod, mem: mod.Memory(), out: out, stack: make([]uint64, 2),
		alloc: mod.ExportedFunction(abi.ExportAlloc), fns: map[string]api.Function{}}
	fail := func(err error) (*instance, error) {
		_ = mod.Close(context.Background())
		return nil, withStderr(err, out)
	}
	if v.metered {
		var ok1, ok2 bool
		inst.fuel, ok1 = mod.ExportedGlobal(meterFuelExport).(api.MutableGlobal)
		inst.depth, ok2 = mod.ExportedGlobal(meterDepthExport).(api.MutableGlobal)
		if !ok1 || !ok2 {
			return fail(errors.New("metering globals missing"))
		}
	}
	inst.arm(v.initFuel, v.maxDepth)
	if f := mod.ExportedFunction(abi.ExportInitialize); f != nil {
		if _, err := f.Call(ctx); err != nil {
			return fail(fmt.Errorf("%s: %w", abi.ExportInitialize, err))
		}
	}
	res, err := mod.ExportedFunction(abi.ExportVersion).Call(ctx)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", abi.ExportVersion, err))
	}
	if got := int32(res[0]); !slices.Contains(supportedVersions, got) {
		return fail(fmt.Errorf("guest ABI version %d is not supported by this host (supports %v)", got, supportedVersions))
	}
	if first {
		if err := v.readHooks(ctx, inst); err != nil {
			return fail(err)
		}
		if err := v.readFeatures(ctx, inst); err != nil {
			return fail(err)
		}
	}
	for h := range v.hooks {
		inst.fns[h] = mod.ExportedFunction(abi.ExportName(h))
	}
	if v.hooks[abi.HookInit] {
		out, gerr, err := inst.call(ctx, abi.HookInit, v.initIn, v.initFuel, v.maxDepth)
		if err != nil {
			return fail(fmt.Errorf("init: %w", err))
		}
		if gerr != nil {
			e := guestError(v.p.name, abi.HookInit, gerr)
			return fail(fmt.Errorf("init refused: %s: %s", e.Code, e.Message))
		}
		_ = out
	}
	v.live.Add(1)
	return inst, nil
}

func withStderr(err error, out *capture) error {
	if s := out.String(); s != "" {
		return fmt.Errorf("%w (guest stderr: %s)", err, truncate(s, 2048))
	}
	return err
}

// readHooks learns which hooks are on: the sluice_hooks list when exported (every listed hook
// must be exported; names this host does not know are ignored for forward compatibility),
// otherwise every exported sluice_<hook>.
func (v *version) readHooks(ctx context.Context, inst *instance) error {
	ex := v.cm.ExportedFunctions()
	v.hooks = map[string]bool{}
	f := inst.mod.ExportedFunction(abi.ExportHooks)
	if f == nil {
		for _, h := range abi.Hooks {
			if _, ok := ex[abi.ExportName(h)]; ok {
				v.hooks[h] = true
			}
		}
	} else {
		res, err := f.Call(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", abi.ExportHooks, err)
		}
		ptr, n, isErr := abi.Unpack(res[0])
		b, ok := inst.mem.Read(ptr, n)
		if !ok || isErr {
			return fmt.Errorf("%s: bad result ptr=%d len=%d err=%v", abi.ExportHooks, ptr, n, isErr)
		}
		var names []string
		if err := json.Unmarshal(b, &names); err != nil {
			return fmt.Errorf("%s: not a JSON array of strings: %w", abi.ExportHooks, err)
		}
		for _, h := range names {
			if !abi.IsHook(h) {
				v.p.log.Warn("plugin lists a hook this host does not know; ignored", "plugin", v.p.name, "hook", h)
				continue
			}
			if _, ok := ex[abi.ExportName(h)]; !ok {
				return fmt.Errorf("%s lists %q but the guest does not export %s", abi.ExportHooks, h, abi.ExportName(h))
			}
			v.hooks[h] = true
		}
	}
	for _, h := range abi.Hooks {
		if v.hooks[h] {
			v.hookList = append(v.hookList, h)
		}
	}
	return nil
}

// errABI marks a result the guest broke the ABI with; the instance is discarded.
var errABI = errors.New("ABI violation")

// call runs one hook on the instance. It returns the output copy, or the guest's error payload,
// or a runtime error (trap, deadline, ABI violation) after which the instance must be dropped.
func (in *instance) call(ctx context.Context, hook string, input []byte, fuel int64, depth uint32) (out, guestErr []byte, err error) {
	fn := in.fns[hook]
	in.out.reset()
	in.arm(fuel, depth)
	n := uint32(len(input))
	if uint64(len(input)) > abi.MaxResultLen {
		return nil, nil, fmt.Errorf("%w: input of %d bytes is too large", errABI, len(input))
	}
	if n > in.inCap || in.inPtr == 0 {
		// Powers of two up to 1 MiB, then whole MiBs: a 16 MiB body must not ask for 32.
		want := uint32(1024)
		for want < n && want < 1<<20 {
			want *= 2
		}
		if want < n {
			want = (n + 1<<20 - 1) &^ (1<<20 - 1)
		}
		in.stack[0] = uint64(want)
		if err := in.alloc.CallWithStack(ctx, in.stack); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", abi.ExportAlloc, err)
		}
		ptr := uint32(in.stack[0])
		if ptr == 0 {
			return nil, nil, fmt.Errorf("%w: %s(%d) returned 0", errABI, abi.ExportAlloc, want)
		}
		in.inPtr, in.inCap = ptr, want
	}
	if !in.mem.Write(in.inPtr, input) {
		return nil, nil, fmt.Errorf("%w: %s buffer %d+%d is outside memory", errABI, abi.ExportAlloc, in.inPtr, n)
	}
	in.stack[0], in.stack[1] = uint64(in.inPtr), uint64(n)
	if err := fn.CallWithStack(ctx, in.stack); err != nil {
		return nil, nil, err
	}
	ptr, rn, isErr := abi.Unpack(in.stack[0])
	b, ok := in.mem.Read(ptr, rn)
	if !ok {
		return nil, nil, fmt.Errorf("%w: result %d+%d is outside memory", errABI, ptr, rn)
	}
	// Read returns a view of guest memory that the next call overwrites.
	cp := make([]byte, len(b))
	copy(cp, b)
	if isErr {
		return nil, cp, nil
	}
	return cp, nil, nil
}

// classify turns a runtime error into a typed call error; the metering globals tell a spent
// budget and a depth cap from other traps.
func (v *version) classify(hook string, err error, inst *instance, timeout time.Duration) *Error {
	e := &Error{Plugin: v.p.name, Hook: hook, Status: 502, Type: typeAPIError, Trap: true, Err: err, Stderr: inst.out.String()}
	var exit *sys.ExitError
	fuel, depth := false, false
	if v.metered {
		fuel, depth = inst.exhausted()
	}
	switch {
	case fuel:
		e.Status, e.Code, e.Message = 504, CodeTimeout, fmt.Sprintf("CPU budget of %s exhausted", timeout)
	case depth:
		e.Code, e.Message = CodeStackExhausted, fmt.Sprintf("call depth above %d (runaway recursion)", v.maxDepth)
	case errors.As(err, &exit) && exit.ExitCode() == sys.ExitCodeDeadlineExceeded:
		e.Status, e.Code, e.Message = 504, CodeTimeout, fmt.Sprintf("deadline of %s exceeded", timeout)
	case errors.As(err, &exit) && exit.ExitCode() == sys.ExitCodeContextCanceled:
		e.Code, e.Message = CodeCanceled, "call canceled"
	case errors.Is(err, errABI):
		e.Code, e.Message = CodeABIViolation, err.Error()
	default:
		e.Code, e.Message = CodeTrapped, firstLine(err.Error())
	}
	return e
}
