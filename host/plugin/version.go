package plugin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-gw/sluice/sdk/abi"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// supportedVersions are the guest ABI versions this host runs.
var supportedVersions = []int32{abi.Version}

// version is one loaded .wasm of a plugin: its own runtime (so mutually untrusted plugins never
// share a module namespace), its compiled module and its instance pool. Calls hold a reference;
// the plugin's pointer holds one too until the version is retired.
type version struct {
	p        *Plugin
	rt       wazero.Runtime
	cm       wazero.CompiledModule
	sum      string
	hooks    map[string]bool
	hookList []string
	initIn   []byte
	timeout  time.Duration
	trusted  bool
	recycle  uint32 // discard an instance whose memory grew past this many bytes

	slots chan struct{} // pool capacity
	mu    sync.Mutex
	idle  []*instance
	live  atomic.Int32

	refs      atomic.Int64
	closeOnce sync.Once
}

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
}

// newVersion compiles, validates and handshakes bin off the serving path. The returned version
// holds one reference and one warm instance that has passed init.
func newVersion(ctx context.Context, p *Plugin, bin []byte) (_ *version, err error) {
	spec := &p.spec
	sum := sha256.Sum256(bin)
	v := &version{
		p:       p,
		sum:     hex.EncodeToString(sum[:6]),
		timeout: spec.Timeout,
		trusted: spec.sandbox() == SandboxTrusted,
		slots:   make(chan struct{}, spec.Pool),
	}
	v.refs.Store(1)
	v.recycle = uint32(uint64(spec.MemoryPages) * 65536 * 3 / 4)

	cfg := wazero.NewRuntimeConfig().
		WithCompilationCache(p.e.cache).
		WithMemoryLimitPages(spec.MemoryPages).
		WithCloseOnContextDone(!v.trusted)
	// Runtime.Close is the cleanup for every failure below.
	v.rt = wazero.NewRuntimeWithConfig(ctx, cfg)
	defer func() {
		if err != nil {
			v.destroy()
		}
	}()
	v.cm, err = v.rt.CompileModule(ctx, bin)
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	if err := validate(v.cm); err != nil {
		return nil, err
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, v.rt); err != nil {
		return nil, fmt.Errorf("wasi: %w", err)
	}
	if err := v.instantiateHost(ctx); err != nil {
		return nil, err
	}
	v.initIn, err = json.Marshal(struct {
		Name   string         `json:"name"`
		Config map[string]any `json:"config"`
	}{p.name, nonNil(spec.Config)})
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	v.slots <- struct{}{}
	inst, err := v.newInstance(ctx, true)
	if err != nil {
		<-v.slots
		return nil, err
	}
	v.put(inst)
	return v, nil
}

func nonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

var (
	sigVoid   = sig{}
	sigI32    = sig{results: []api.ValueType{api.ValueTypeI32}}
	sigI64    = sig{results: []api.ValueType{api.ValueTypeI64}}
	sigAlloc  = sig{params: []api.ValueType{api.ValueTypeI32}, results: []api.ValueType{api.ValueTypeI32}}
	sigHook   = sig{params: []api.ValueType{api.ValueTypeI32, api.ValueTypeI32}, results: []api.ValueType{api.ValueTypeI64}}
	sigHostLg = sig{params: []api.ValueType{api.ValueTypeI32, api.ValueTypeI32, api.ValueTypeI32}}
)

type sig struct{ params, results []api.ValueType }

func (s sig) String() string { return typesString(s.params) + " -> " + typesString(s.results) }

func typesString(ts []api.ValueType) string {
	out := "["
	for i, t := range ts {
		if i > 0 {
			out += " "
		}
		out += api.ValueTypeName(t)
	}
	return out + "]"
}

func (s sig) matches(d api.FunctionDefinition) bool {
	return slices.Equal(s.params, d.ParamTypes()) && slices.Equal(s.results, d.ResultTypes())
}

func checkSig(kind, name string, d api.FunctionDefinition, want sig) error {
	if want.matches(d) {
		return nil
	}
	got := sig{params: d.ParamTypes(), results: d.ResultTypes()}
	return fmt.Errorf("guest %s %q has signature %s, want %s", kind, name, got, want)
}

// validate checks exports, signatures and the import allow-list before any guest code runs.
func validate(cm wazero.CompiledModule) error {
	for _, d := range cm.ImportedFunctions() {
		mod, name, _ := d.Import()
		switch mod {
		case abi.WASIModule:
			// wazero's WASI host module provides these; an unknown name fails instantiation.
		case abi.HostModule:
			if name != abi.HostLog {
				return fmt.Errorf("guest imports %s.%s: not provided by this host (ABI v%d)", mod, name, abi.Version)
			}
			if err := checkSig("import", mod+"."+name, d, sigHostLg); err != nil {
				return err
			}
		default:
			return fmt.Errorf("guest imports %s.%s: host module %q is not in the allow-list", mod, name, mod)
		}
	}
	for _, m := range cm.ImportedMemories() {
		mod, name, _ := m.Import()
		return fmt.Errorf("guest imports memory %s.%s: memory imports are not allowed", mod, name)
	}
	if _, ok := cm.ExportedMemories()[abi.ExportMemory]; !ok {
		return fmt.Errorf("guest does not export %q", abi.ExportMemory)
	}
	ex := cm.ExportedFunctions()
	need := []struct {
		name string
		sig  sig
	}{{abi.ExportVersion, sigI32}, {abi.ExportAlloc, sigAlloc}}
	for _, n := range need {
		d, ok := ex[n.name]
		if !ok {
			return fmt.Errorf("guest does not export %s: not a sluice ABI v%d plugin", n.name, abi.Version)
		}
		if err := checkSig("export", n.name, d, n.sig); err != nil {
			return err
		}
	}
	if d, ok := ex[abi.ExportHooks]; ok {
		if err := checkSig("export", abi.ExportHooks, d, sigI64); err != nil {
			return err
		}
	}
	if d, ok := ex[abi.ExportInitialize]; ok {
		if err := checkSig("export", abi.ExportInitialize, d, sigVoid); err != nil {
			return err
		}
	}
	for _, h := range abi.Hooks {
		if d, ok := ex[abi.ExportName(h)]; ok {
			if err := checkSig("export", abi.ExportName(h), d, sigHook); err != nil {
				return err
			}
		}
	}
	return nil
}

// instantiateHost registers sluice_host in this version's runtime.
func (v *version) instantiateHost(ctx context.Context) error {
	logger := v.p.log
	logFn := api.GoModuleFunc(func(ctx context.Context, mod api.Module, stack []uint64) {
		level, ptr, n := int32(stack[0]), uint32(stack[1]), uint32(stack[2])
		truncated := false
		if n > abi.LogLimit {
			n, truncated = abi.LogLimit, true
		}
		b, ok := mod.Memory().Read(ptr, n)
		if !ok {
			// A panic here becomes the guest call's error: the instance is discarded.
			panic(fmt.Errorf("%s.%s: out of bounds read ptr=%d len=%d", abi.HostModule, abi.HostLog, ptr, n))
		}
		lv := slog.LevelInfo
		switch level {
		case abi.LevelDebug:
			lv = slog.LevelDebug
		case abi.LevelWarn:
			lv = slog.LevelWarn
		case abi.LevelError:
			lv = slog.LevelError
		}
		logger.Log(ctx, lv, string(b), "plugin_log", true, "truncated", truncated)
	})
	_, err := v.rt.NewHostModuleBuilder(abi.HostModule).
		NewFunctionBuilder().
		WithGoModuleFunction(logFn, sigHostLg.params, sigHostLg.results).
		WithParameterNames("level", "ptr", "len").
		Export(abi.HostLog).
		Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("host module: %w", err)
	}
	return nil
}

// newInstance instantiates the module and runs the handshake: _initialize, the ABI version,
// (first instance only) the hooks list, then init with the plugin config.
func (v *version) newInstance(ctx context.Context, first bool) (*instance, error) {
	ctx, cancel := context.WithTimeout(ctx, v.p.spec.InitTimeout)
	defer cancel()
	out := &capture{}
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
	}
	for h := range v.hooks {
		inst.fns[h] = mod.ExportedFunction(abi.ExportName(h))
	}
	if v.hooks[abi.HookInit] {
		out, gerr, err := inst.call(ctx, abi.HookInit, v.initIn)
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
func (in *instance) call(ctx context.Context, hook string, input []byte) (out, guestErr []byte, err error) {
	fn := in.fns[hook]
	n := uint32(len(input))
	if uint64(len(input)) > abi.MaxResultLen {
		return nil, nil, fmt.Errorf("%w: input of %d bytes is too large", errABI, len(input))
	}
	if n > in.inCap || in.inPtr == 0 {
		want := uint32(1024)
		for want < n {
			want *= 2
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

// get takes an instance, creating one lazily when the pool is below its cap.
func (v *version) get(ctx context.Context) (*instance, error) {
	select {
	case v.slots <- struct{}{}:
	default:
		select {
		case v.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	v.mu.Lock()
	if k := len(v.idle); k > 0 {
		inst := v.idle[k-1]
		v.idle = v.idle[:k-1]
		v.mu.Unlock()
		return inst, nil
	}
	v.mu.Unlock()
	inst, err := v.newInstance(context.WithoutCancel(ctx), false)
	if err != nil {
		<-v.slots
		return nil, err
	}
	return inst, nil
}

// put returns a healthy instance to the pool.
func (v *version) put(inst *instance) {
	if inst.mem.Size() > v.recycle {
		// Go guests never shrink their heap; start over rather than pin the high-water mark.
		v.discard(inst)
		return
	}
	v.mu.Lock()
	v.idle = append(v.idle, inst)
	v.mu.Unlock()
	<-v.slots
}

// discard drops an instance after a trap or deadline.
func (v *version) discard(inst *instance) {
	v.live.Add(-1)
	<-v.slots
	go inst.mod.Close(context.Background())
}

func (v *version) ref() { v.refs.Add(1) }

// unref drops a reference; the last one closes the version in the background because closing
// a runtime takes milliseconds.
func (v *version) unref() {
	if v.refs.Add(-1) == 0 {
		v.closeOnce.Do(func() { go v.destroy() })
	}
}

// destroy closes instances, the compiled module (Runtime.Close alone leaks machine code when a
// compilation cache is shared) and the runtime.
func (v *version) destroy() {
	ctx := context.Background()
	v.mu.Lock()
	idle := v.idle
	v.idle = nil
	v.mu.Unlock()
	for _, inst := range idle {
		_ = inst.mod.Close(ctx)
		v.live.Add(-1)
	}
	if v.cm != nil {
		_ = v.cm.Close(ctx)
	}
	_ = v.rt.Close(ctx)
}

// classify turns a runtime error into a typed call error.
func (v *version) classify(hook string, err error, out *capture, timeout time.Duration) *Error {
	e := &Error{Plugin: v.p.name, Hook: hook, Status: 502, Type: typeAPIError, Trap: true, Err: err, Stderr: out.String()}
	var exit *sys.ExitError
	switch {
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
