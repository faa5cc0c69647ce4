package plugin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-gw/sluice/host/plugin/envelope"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// version is one loaded .wasm of a plugin: its own runtime (so mutually untrusted plugins never
// share a module namespace), its compiled module and its instance pool. Calls hold a reference;
// the plugin's pointer holds one too until the version is retired.
type version struct {
	p        *Plugin
	spec     Spec // the settings this version was built with (a config reload builds a new one)
	rt       wazero.Runtime
	cm       wazero.CompiledModule
	sum      string
	hooks    map[string]bool
	hookList []string
	features uint64 // abi.Feature* bits the guest declared
	initIn   []byte
	timeout  time.Duration
	fuel     int64  // per-call CPU budget in meter units (meter.go), from the timeout
	initFuel int64  // budget of instantiation and each handshake call
	maxDepth uint32 // call-depth allowance per call
	metered  bool
	// closeOnDone: wazero stops the guest when the call's context ends (benchmarks only).
	closeOnDone bool
	recycle     uint32 // discard an instance whose memory grew past this many bytes

	slots chan struct{} // pool capacity
	mu    sync.Mutex
	idle  []*instance
	live  atomic.Int32

	refs      atomic.Int64
	closeOnce sync.Once
}

// newVersion compiles, validates and handshakes bin off the serving path. The returned version
// holds one reference and one warm instance that has passed init.
func newVersion(ctx context.Context, p *Plugin, spec *Spec, bin []byte) (_ *version, err error) {
	sum := sha256.Sum256(bin)
	v := &version{
		p:           p,
		spec:        *spec,
		sum:         hex.EncodeToString(sum[:6]),
		timeout:     spec.Timeout,
		fuel:        fuelFor(spec.Timeout),
		initFuel:    fuelFor(spec.InitTimeout),
		maxDepth:    spec.MaxDepth,
		metered:     !spec.noMeter,
		closeOnDone: spec.closeOnDone,
		slots:       make(chan struct{}, spec.Pool),
	}
	v.refs.Store(1)
	v.recycle = uint32(uint64(spec.MemoryPages) * 65536 * 3 / 4)

	cfg := wazero.NewRuntimeConfig().
		WithCompilationCache(p.e.cache).
		WithMemoryLimitPages(spec.MemoryPages).
		WithCloseOnContextDone(spec.closeOnDone)
	// Runtime.Close is the cleanup for every failure below.
	v.rt = wazero.NewRuntimeWithConfig(ctx, cfg)
	defer func() {
		if err != nil {
			v.destroy()
		}
	}()
	if v.metered {
		metered, merr := meterModule(bin, spec.MemoryPages, v.initFuel, v.maxDepth)
		if merr != nil {
			// A module the meter cannot read is usually not valid wasm at all: wazero's own
			// error says why more precisely (it is compiled only on this failure path).
			if _, cerr := v.rt.CompileModule(ctx, bin); cerr != nil {
				return nil, fmt.Errorf("compile: %w", cerr)
			}
			return nil, merr
		}
		bin = metered
	}
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
	cfgJSON, err := json.Marshal(nonNil(spec.Config))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	v.initIn = envelope.Init(nil, p.name, cfgJSON)
	v.slots <- struct{}{}
	inst, err := v.newInstance(ctx, true)
	if err != nil {
		<-v.slots
		return nil, err
	}
	v.put(inst)
	return v, nil
}

// warm brings the version's idle pool to n instances (at most its pool size), each through the
// full handshake and init, so that once it is swapped in no request waits for an instance to be
// created.
func (v *version) warm(ctx context.Context, n int) error {
	n = min(n, cap(v.slots))
	held := make([]*instance, 0, n)
	defer func() {
		for _, inst := range held {
			v.put(inst)
		}
	}()
	for range n {
		inst, err := v.get(ctx)
		if err != nil {
			return fmt.Errorf("warm: %w", err)
		}
		held = append(held, inst)
	}
	return nil
}

func nonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
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
