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
)

// EngineOptions configures an Engine.
type EngineOptions struct {
	// CacheDir holds compiled machine code across restarts. Empty means
	// os.UserCacheDir()/sluice/wasm (or os.TempDir()/sluice/wasm when that is unknown).
	CacheDir string
	// NoCache disables the file-backed cache (compiles stay in memory for the process).
	NoCache bool
	// Logger receives plugin logs (sluice_host.log), traps and reloads. Default slog.Default().
	Logger *slog.Logger
	// MaxConcurrency bounds guest calls running at once across all plugins (guest code is not
	// preemptible, so more than the cores only adds latency). Default GOMAXPROCS.
	MaxConcurrency int
}

// Engine compiles and runs plugins. It is safe for concurrent use.
type Engine struct {
	cache    wazero.CompilationCache
	cacheDir string
	log      *slog.Logger
	sem      chan struct{}

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
	e.sem = make(chan struct{}, n)
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

// acquire takes a slot of the global execution semaphore.
func (e *Engine) acquire(ctx context.Context) error {
	select {
	case e.sem <- struct{}{}:
		return nil
	default:
	}
	select {
	case e.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (e *Engine) release() { <-e.sem }

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
