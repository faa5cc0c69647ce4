package plugintool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/sluice-gw/sluice/sdk/abi"
	"github.com/sluice-gw/sluice/sdk/conformance/guestcheck"
)

// memProbe runs a plugin in one instance it keeps for good, so that the memory-growth check
// sees the memory of every call: the engine recycles instances whose memory grows, which
// hides a leak. Host functions are answered with zeros; the probe is for measuring memory,
// the engine is for behaviour.
type memProbe struct {
	rt    wazero.Runtime
	mod   api.Module
	alloc api.Function
	fns   map[string]api.Function
	inPtr uint32 // the input buffer, reused while it is big enough (as the engine does)
	inCap uint32
}

func newMemProbe(ctx context.Context, wasm []byte, name string, cfg map[string]any, pages uint32) (*memProbe, error) {
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithMemoryLimitPages(pages))
	p := &memProbe{rt: rt, fns: map[string]api.Function{}}
	fail := func(err error) (*memProbe, error) {
		rt.Close(ctx)
		return nil, fmt.Errorf("memory probe: %w", err)
	}
	cm, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		return fail(err)
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		return fail(err)
	}
	// Stub every import of the host module with a function of the same type returning zeros.
	hb := rt.NewHostModuleBuilder(abi.HostModule)
	for _, f := range cm.ImportedFunctions() {
		mod, fname, _ := f.Import()
		if mod != abi.HostModule {
			continue
		}
		results := f.ResultTypes()
		hb.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(func(_ context.Context, _ api.Module, stack []uint64) {
			for i := range results {
				stack[i] = 0
			}
		}), f.ParamTypes(), results).Export(fname)
	}
	if _, err := hb.Instantiate(ctx); err != nil {
		return fail(err)
	}
	p.mod, err = rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		return fail(err)
	}
	if f := p.mod.ExportedFunction(abi.ExportInitialize); f != nil {
		if _, err := f.Call(ctx); err != nil {
			return fail(err)
		}
	}
	p.alloc = p.mod.ExportedFunction(abi.ExportAlloc)
	if p.alloc == nil {
		return fail(errors.New("no " + abi.ExportAlloc))
	}
	for _, h := range abi.Hooks {
		if f := p.mod.ExportedFunction(abi.ExportName(h)); f != nil {
			p.fns[h] = f
		}
	}
	if p.fns[abi.HookInit] != nil {
		if cfg == nil {
			cfg = map[string]any{}
		}
		in, _ := json.Marshal(map[string]any{"name": name, "config": cfg})
		if r, err := p.Call(ctx, abi.HookInit, in); err != nil || r.IsError {
			return fail(fmt.Errorf("init: %v %s", err, r.Message))
		}
	}
	return p, nil
}

func (p *memProbe) Hooks() []string { return nil }

func (p *memProbe) Close() error { return p.rt.Close(context.Background()) }

// MemoryBytes is the instance's linear memory size.
func (p *memProbe) MemoryBytes() uint64 { return uint64(p.mod.Memory().Size()) }

// Call writes the input into the sluice_alloc buffer and runs the hook.
func (p *memProbe) Call(ctx context.Context, hook string, in []byte) (guestcheck.Result, error) {
	fn := p.fns[hook]
	if fn == nil {
		return guestcheck.Result{}, fmt.Errorf("hook %s is not exported", hook)
	}
	if uint32(len(in)) > p.inCap || p.inPtr == 0 {
		want := uint32(1024)
		for want < uint32(len(in)) {
			want *= 2
		}
		res, err := p.alloc.Call(ctx, uint64(want))
		if err != nil {
			return guestcheck.Result{}, fmt.Errorf("%s: %w", abi.ExportAlloc, err)
		}
		p.inPtr, p.inCap = uint32(res[0]), want
	}
	ptr := p.inPtr
	if !p.mod.Memory().Write(ptr, in) {
		return guestcheck.Result{}, fmt.Errorf("%s buffer %d+%d is outside memory", abi.ExportAlloc, ptr, len(in))
	}
	res, err := fn.Call(ctx, uint64(ptr), uint64(len(in)))
	if err != nil {
		return guestcheck.Result{}, err
	}
	rp, rn, isErr := abi.Unpack(res[0])
	out, ok := p.mod.Memory().Read(rp, rn)
	if !ok {
		return guestcheck.Result{}, fmt.Errorf("result %d+%d is outside memory", rp, rn)
	}
	out = append([]byte(nil), out...)
	if isErr {
		var e struct {
			Status        int
			Code, Message string
		}
		json.Unmarshal(out, &e)
		return guestcheck.Result{IsError: true, Status: e.Status, Code: e.Code, Message: e.Message}, nil
	}
	return guestcheck.Result{Out: out}, nil
}
