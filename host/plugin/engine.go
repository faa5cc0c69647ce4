// Package plugin runs sluice's WebAssembly plugins (ABI v1, sdk/ABI.md). It is the only
// importer of wazero: it owns the shared compilation cache, one runtime per loaded plugin
// version, load-time validation, bounded instance pools, per-call limits, trap containment,
// hot reload (file watch, SIGHUP, admin) and per-plugin statistics.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
)

// Defaults applied when a Spec leaves a limit at zero.
const (
	DefaultTimeout     = 500 * time.Millisecond
	DefaultInitTimeout = 10 * time.Second
	DefaultMemoryPages = 1024 // 64 MiB; Go guests need at least ~52 pages to start
	// DefaultFirstPartyMemoryPages is the built-in translators' cap: they take bodies up to
	// the gateway's 16 MiB limit, and a Go guest's peak is several times its input (the
	// anthropic translator asks for an 80 MiB block on a 16 MiB body).
	DefaultFirstPartyMemoryPages = 4096 // 256 MiB
	// DefaultMaxDepth caps a call's guest call depth. Go guests' deepest ordinary paths
	// (encoding/json on nested input, fmt) stay in the hundreds.
	DefaultMaxDepth = 10000
)

// FuelPerMillisecond converts a call's timeout into its CPU budget in meter units (one unit
// per wasm instruction of each region entered, an upper bound of what runs). Measured on the
// development machine (BENCHMARKS.md, "Plugin sandbox"): the cheapest loop (an empty one) burns
// about 9.5M units/ms, so a call stops at about its timeout at the latest on code like it;
// Go guests burn 16-60M units/ms (the meter overcharges their dispatch blocks) and stop after
// a sixth to two thirds of it. Instructions slower than a register op (memory.fill over many
// pages) can stretch a call past it; the memory cap bounds those.
const FuelPerMillisecond = 10_000_000

func fuelFor(d time.Duration) int64 {
	return d.Microseconds() * FuelPerMillisecond / 1000
}

// EngineOptions configures an Engine.
type EngineOptions struct {
	// CacheDir holds compiled machine code across restarts. Empty means
	// os.UserCacheDir()/sluice/wasm (or os.TempDir()/sluice/wasm when that is unknown).
	CacheDir string
	// NoCache disables the file-backed cache (compiles stay in memory for the process).
	NoCache bool
	// Logger receives plugin logs (sluice_host.log), traps and reloads. Default slog.Default().
	Logger *slog.Logger
	// MaxConcurrency is the share of execution slots a plugin that sets no pool gets: each
	// plugin runs on its own slots only, so a slow plugin cannot take another's. A plugin's own
	// pool setting is its share. Default GOMAXPROCS.
	MaxConcurrency int
}

// Engine compiles and runs plugins. It is safe for concurrent use.
type Engine struct {
	cache    wazero.CompilationCache
	cacheDir string
	log      *slog.Logger
	maxShare int

	mu      sync.Mutex
	plugins map[*Plugin]struct{}
	closed  bool
}

// NewEngine creates an engine and its compilation cache.
func NewEngine(opts EngineOptions) (*Engine, error) {
	e := &Engine{log: opts.Logger, plugins: map[*Plugin]struct{}{}}
	if e.log == nil {
		e.log = slog.Default()
	}
	n := opts.MaxConcurrency
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	e.maxShare = n
	if opts.NoCache {
		e.cache = wazero.NewCompilationCache()
		return e, nil
	}
	dir := opts.CacheDir
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		dir = filepath.Join(base, "sluice", "wasm")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("plugin: cache dir: %w", err)
	}
	c, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return nil, fmt.Errorf("plugin: cache dir %s: %w", dir, err)
	}
	e.cache, e.cacheDir = c, dir
	return e, nil
}

// CacheDir returns the compilation cache directory ("" when the cache is in memory).
func (e *Engine) CacheDir() string { return e.cacheDir }

func (e *Engine) track(p *Plugin) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("plugin: engine closed")
	}
	e.plugins[p] = struct{}{}
	return nil
}

func (e *Engine) untrack(p *Plugin) {
	e.mu.Lock()
	delete(e.plugins, p)
	e.mu.Unlock()
}

// Close closes every plugin loaded by this engine and the compilation cache. In-flight calls
// finish first.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	ps := make([]*Plugin, 0, len(e.plugins))
	for p := range e.plugins {
		ps = append(ps, p)
	}
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.close(true)
		}()
	}
	wg.Wait()
	return e.cache.Close(context.Background())
}
