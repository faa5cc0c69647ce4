package plugin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Plugin is a loaded plugin: the version currently serving plus its statistics. Reload swaps
// the version atomically; calls in flight finish on the version they started on.
type Plugin struct {
	e    *Engine
	name string
	spec Spec
	log  *slog.Logger

	cur      atomic.Pointer[version]
	next     atomic.Pointer[version] // staged by an uncommitted Update
	reloadMu sync.Mutex
	fileSum  [32]byte // sha256 of the bytes serving, to skip no-op file reloads
	stats    counters
	closed   atomic.Bool
}

// Load compiles, validates and initialises a plugin. Nothing of the guest runs before its
// exports, signatures and imports have been checked.
func (e *Engine) Load(ctx context.Context, spec Spec) (*Plugin, error) {
	p, err := e.build(ctx, spec)
	if err != nil {
		return nil, err
	}
	if err := e.track(p); err != nil {
		p.cur.Load().unref()
		return nil, err
	}
	return p, nil
}

// build makes a plugin with its first version, not yet tracked by the engine.
func (e *Engine) build(ctx context.Context, spec Spec) (*Plugin, error) {
	if spec.Name == "" {
		return nil, errors.New("plugin: load: empty name")
	}
	spec = e.normalize(spec)
	bin, err := spec.module()
	if err != nil {
		return nil, fmt.Errorf("plugin: load %q: %w", spec.Name, err)
	}
	spec.Bytes = nil // the serving version holds what it needs; do not pin the file bytes
	p := &Plugin{e: e, name: spec.Name, spec: spec,
		log: e.log.With("plugin", spec.Name)}
	start := time.Now()
	v, err := newVersion(ctx, p, &spec, bin)
	if err != nil {
		return nil, fmt.Errorf("plugin: load %q: %w", spec.Name, err)
	}
	p.fileSum = sha256.Sum256(bin)
	p.cur.Store(v)
	p.log.Info("plugin loaded", "version", v.sum, "hooks", v.hookList,
		"sandbox", string(spec.sandbox()), "took", time.Since(start).Round(time.Microsecond))
	return p, nil
}

// Name returns the plugin's name.
func (p *Plugin) Name() string { return p.name }

// Path returns the file the serving version was loaded from ("" for byte-loaded plugins).
func (p *Plugin) Path() string {
	if v := p.cur.Load(); v != nil {
		return v.spec.Path
	}
	return ""
}

// Has reports whether the serving version implements hook.
func (p *Plugin) Has(hook string) bool {
	v := p.cur.Load()
	return v != nil && v.hooks[hook]
}

// HasNext reports whether hook will be on once a staged configuration update is committed:
// the staged version's hooks when there is one, else the serving version's. What is built from
// a new configuration checks hooks with it.
func (p *Plugin) HasNext(hook string) bool {
	if v := p.next.Load(); v != nil {
		return v.hooks[hook]
	}
	return p.Has(hook)
}

// Hooks lists the hooks of the serving version in ABI order.
func (p *Plugin) Hooks() []string {
	v := p.cur.Load()
	if v == nil {
		return nil
	}
	return slices.Clone(v.hookList)
}

// Version returns a short hash of the serving .wasm.
func (p *Plugin) Version() string {
	if v := p.cur.Load(); v != nil {
		return v.sum
	}
	return ""
}

// acquire returns the serving version with a reference held.
func (p *Plugin) acquire() *version {
	for {
		v := p.cur.Load()
		if v == nil {
			return nil
		}
		v.ref()
		if p.cur.Load() == v {
			return v
		}
		v.unref()
	}
}

// Call runs hook with input and returns its output. Errors are *Error.
func (p *Plugin) Call(ctx context.Context, hook string, input []byte) ([]byte, error) {
	start := time.Now()
	out, err := p.call(ctx, hook, input)
	p.stats.calls.Add(1)
	p.stats.observe(time.Since(start))
	if err != nil {
		p.stats.errors.Add(1)
	}
	return out, err
}

func (p *Plugin) call(ctx context.Context, hook string, input []byte) ([]byte, error) {
	v := p.acquire()
	if v == nil {
		return nil, &Error{Plugin: p.name, Hook: hook, Status: 503, Type: typeAPIError, Code: CodeUnavailable, Message: "plugin closed"}
	}
	defer v.unref()
	if !v.hooks[hook] || hook == "init" {
		return nil, &Error{Plugin: p.name, Hook: hook, Status: 500, Type: typeAPIError, Code: CodeHookMissing, Message: "hook not exported by the plugin"}
	}
	// Waiting for a slot follows the caller: a client that is gone stops waiting.
	inst, err := v.get(ctx)
	if err != nil {
		return nil, p.busy(hook, err)
	}
	// The call itself is detached from the caller's cancellation: it is bounded by its own
	// CPU budget, and a client disconnect must not destroy a healthy instance. A wall-clock
	// deadline matters only where wazero watches the context (close-on-context-done, kept for
	// the benchmarks); elsewhere it would cost a timer per call for nothing.
	callCtx := context.WithoutCancel(ctx)
	if v.closeOnDone {
		var cancel context.CancelFunc
		callCtx, cancel = context.WithTimeout(callCtx, v.timeout)
		defer cancel()
	}
	out, gerr, err := inst.call(callCtx, hook, input, v.fuel, v.maxDepth)
	if err != nil {
		e := v.classify(hook, err, inst, v.timeout)
		v.discard(inst)
		p.stats.traps.Add(1)
		if e.Code == CodeTimeout {
			p.stats.timeouts.Add(1)
		}
		p.log.Warn("plugin call failed; instance discarded", "hook", hook, "error", e.Error(),
			"runtime_error", err.Error(), "stderr", e.Stderr)
		return nil, e
	}
	v.put(inst)
	if gerr != nil {
		return nil, guestError(p.name, hook, gerr)
	}
	return out, nil
}

func (p *Plugin) busy(hook string, err error) *Error {
	return &Error{Plugin: p.name, Hook: hook, Status: 503, Type: typeAPIError, Code: CodeBusy,
		Message: "no instance available: " + err.Error(), Err: err}
}

// Reload compiles and handshakes bin off the serving path, then swaps it in. A module that
// fails is refused and the current version keeps serving.
func (p *Plugin) Reload(ctx context.Context, bin []byte) error {
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	return p.reloadLocked(ctx, bin)
}

func (p *Plugin) reloadLocked(ctx context.Context, bin []byte) error {
	v, err := p.prepareLocked(ctx, &p.spec, bin)
	if err != nil {
		return err
	}
	p.swapLocked(v, p.spec, sha256.Sum256(bin))
	return nil
}

// prepareLocked builds and warms a new version from spec and bin without serving it. The new
// version gets as many idle instances as the serving one has live, so the swap moves traffic
// onto instances that already passed init.
func (p *Plugin) prepareLocked(ctx context.Context, spec *Spec, bin []byte) (*version, error) {
	if p.closed.Load() {
		return nil, fmt.Errorf("plugin: reload %q: plugin closed", p.name)
	}
	start := time.Now()
	v, err := newVersion(ctx, p, spec, bin)
	if err == nil {
		n := 1
		if old := p.cur.Load(); old != nil {
			n = int(old.live.Load())
		}
		if err = v.warm(ctx, n); err != nil {
			v.unref()
		}
	}
	if err != nil {
		p.stats.reloadFailures.Add(1)
		p.log.Error("plugin reload refused; previous version keeps serving", "error", err)
		return nil, fmt.Errorf("plugin: reload %q: %w", p.name, err)
	}
	p.log.Debug("plugin version prepared", "version", v.sum, "warm", v.live.Load(), "took", time.Since(start).Round(time.Microsecond))
	return v, nil
}

// swapLocked serves v from now on; calls in flight finish on the version they hold.
func (p *Plugin) swapLocked(v *version, spec Spec, sum [32]byte) {
	spec.Bytes = nil
	p.spec, p.fileSum = spec, sum
	old := p.cur.Swap(v)
	if old != nil {
		old.unref()
	}
	p.stats.reloads.Add(1)
	p.log.Info("plugin reloaded", "version", v.sum, "hooks", v.hookList, "instances", v.live.Load())
}

// ReloadFile re-reads the plugin's file and reloads it when its content changed. It reports
// whether a new version was swapped in.
func (p *Plugin) ReloadFile(ctx context.Context) (bool, error) {
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	if p.spec.Path == "" {
		return false, fmt.Errorf("plugin: reload %q: not loaded from a file", p.name)
	}
	bin, err := os.ReadFile(p.spec.Path)
	if err != nil {
		p.stats.reloadFailures.Add(1)
		return false, fmt.Errorf("plugin: reload %q: %w", p.name, err)
	}
	sum := sha256.Sum256(bin)
	if bytes.Equal(sum[:], p.fileSum[:]) {
		return false, nil
	}
	if err := p.reloadLocked(ctx, bin); err != nil {
		return false, err
	}
	return true, nil
}

// Stats returns a snapshot of the plugin's counters.
func (p *Plugin) Stats() Stats {
	s := Stats{Plugin: p.name}
	p.stats.snapshot(&s)
	if v := p.acquire(); v != nil {
		s.Version = v.sum
		s.Hooks = slices.Clone(v.hookList)
		s.Instances = int(v.live.Load())
		v.unref()
	}
	return s
}

// Close stops serving; in-flight calls finish first on their version.
func (p *Plugin) Close() error {
	p.close(false)
	return nil
}

func (p *Plugin) close(fromEngine bool) {
	if p.closed.Swap(true) {
		return
	}
	if !fromEngine {
		p.e.untrack(p)
	}
	p.reloadMu.Lock()
	old := p.cur.Swap(nil)
	p.reloadMu.Unlock()
	if old == nil {
		return
	}
	if fromEngine {
		// Engine.Close must not return before the runtimes are gone: wait for in-flight calls.
		for old.refs.Load() > 1 {
			time.Sleep(time.Millisecond)
		}
		if old.refs.Add(-1) == 0 {
			old.closeOnce.Do(old.destroy)
		}
		return
	}
	old.unref()
}
