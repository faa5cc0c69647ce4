// Package app owns the running `sluice serve` process: it builds every stage from a
// configuration, serves the client and admin listeners, swaps in a new configuration on
// SIGHUP or from the admin API (a bad one is refused whole and the old keeps serving), and
// drains in-flight requests and streams on shutdown.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluice-gw/sluice/host/balance"
	"github.com/sluice-gw/sluice/host/clientconn"
	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/host/plugin"
	"github.com/sluice-gw/sluice/host/telemetry"
)

// Options start a server.
type Options struct {
	// ConfigPath is the TOML file; empty serves the embedded default.
	ConfigPath string
	// Listen overrides server.listen (the --listen flag).
	Listen string
	Stdout io.Writer
	Stderr io.Writer
	// Ready, when set, is called with the client and admin addresses once both listen.
	Ready func(addr, admin string)
	// PluginCacheDir overrides the compiled-plugin cache directory.
	PluginCacheDir string
	// Version is reported in telemetry resources.
	Version string
	// SpanRecorder, when set, receives every span in memory (tests).
	SpanRecorder *telemetry.Recorder
	// MemoryLimit is the Go runtime's soft memory limit in bytes set at process start (0: none)
	// and MemoryLimitSource where it came from; both are logged at start, with MemoryLimitErr
	// when the cgroup could not be read.
	MemoryLimit       int64
	MemoryLimitSource string
	MemoryLimitErr    error
}

// App is a running server.
type App struct {
	opts     Options
	log      *slog.Logger
	access   *slog.Logger
	engine   *plugin.Engine
	plugins  *plugin.Registry
	registry *balance.Registry
	state    atomic.Pointer[state]
	// draining is set once shutdown starts: a configuration swapped in later stays unready.
	draining atomic.Bool
	reloadMu sync.Mutex
	reloads  reloadQueue
	started  time.Time
	tel      *telemetry.Telemetry
	stores   stores
	guard    atomic.Pointer[adminGuard]
	// adminBound is the admin listener's address, "" when off.
	adminBound string
	// streams bounds the streams relayed at once, across reloads (server.max_streams is
	// read at start, like the listener's settings).
	streams *clientconn.Slots
}

// scrubbedError is an error whose message has had secrets removed; it still unwraps.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

func scrubbed(cfg *config.Config, err error) error {
	if err == nil {
		return nil
	}
	if msg := cfg.Scrub(err.Error()); msg != err.Error() {
		return &scrubbedError{msg: msg, err: err}
	}
	return err
}

// Run serves until ctx is cancelled, then drains and returns. Its error never holds a
// secret of the configuration or a URL password.
func Run(ctx context.Context, opts Options) error {
	var cfg *config.Config
	err := run(ctx, opts, &cfg)
	return scrubbed(cfg, err)
}

func run(ctx context.Context, opts Options, loaded **config.Config) error {
	started := time.Now()
	a, st, done, err := prepare(ctx, opts, loaded, false)
	if err != nil {
		return err
	}
	defer done()
	a.started = started
	cfg, log := st.cfg, a.log
	st.plugins.Commit(0)
	a.state.Store(st)
	for _, w := range cfg.Warnings {
		log.Warn(w.String())
	}

	ls, err := a.listen(cfg)
	if err != nil {
		return err
	}

	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go a.watchTargets(watchCtx, 2*time.Second)
	if opts.ConfigPath != "" {
		go a.watchConfig(watchCtx, opts.ConfigPath)
	}
	go func() {
		if err := a.plugins.Watch(watchCtx); err != nil && !errors.Is(err, context.Canceled) {
			log.Warn("plugin file watch stopped", "err", err)
		}
	}()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	log.Info("sluice listening", "addr", "http://"+ls.addr, "admin", ls.adminAddr, "metrics", ls.metricsAddr, "config", cfg.Source,
		"providers", len(st.providers), "routers", len(cfg.Routers), "plugins", len(cfg.Plugins),
		"startup_ms", time.Since(started).Milliseconds())
	if opts.MemoryLimitErr != nil {
		log.Warn("memory limit from the cgroup unknown; set GOMEMLIMIT", "err", opts.MemoryLimitErr)
	} else if opts.MemoryLimitSource != "" {
		log.Info("memory limit", "gomemlimit_bytes", opts.MemoryLimit, "source", opts.MemoryLimitSource)
	}
	if opts.Ready != nil {
		opts.Ready(ls.addr, ls.adminAddr)
	}

	for {
		select {
		case <-hup:
			if err := a.Reload(ctx); err != nil {
				log.Error("reload refused; the running configuration keeps serving", "err", a.scrub(err))
			}
		case err := <-ls.errc:
			return fmt.Errorf("serve: %w", err)
		case <-ctx.Done():
			if ls.metrics != nil {
				defer ls.metrics.Close()
			}
			return a.shutdown(ls.client, ls.admin)
		}
	}
}

// serveAdmin runs the admin API behind the current guard (a reload may rotate the token).
func (a *App) serveAdmin(w http.ResponseWriter, r *http.Request) {
	a.guard.Load().ServeHTTP(w, r)
}

func (a *App) serveClient(w http.ResponseWriter, r *http.Request) {
	a.state.Load().gw.ServeHTTP(w, r)
}

// shutdown stops accepting, lets in-flight requests and streams finish within the configured
// drain time, then closes what is left.
func (a *App) shutdown(srv, admin *http.Server) error {
	a.draining.Store(true)
	st := a.state.Load()
	st.gw.SetReady(false)
	if delay := st.cfg.Server.DrainDelay.D(); delay > 0 {
		// Still serving, so a balancer polling /ready sees 503 and stops sending before
		// connections are refused.
		a.log.Info("shutting down; /ready answers 503, still accepting requests", "drain_delay", delay.String())
		time.Sleep(delay)
	}
	d := st.cfg.Server.ShutdownTimeout.D()
	a.log.Info("shutting down; draining in-flight requests", "timeout", d.String())
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := srv.Shutdown(ctx)
	if admin != nil {
		_ = admin.Shutdown(ctx)
	}
	st.close()
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("serve: drain: %w", err)
	}
	a.log.Info("stopped")
	return nil
}

// Reload re-reads the configuration and plugins and swaps them in only if everything builds.
// Concurrent requests are applied one at a time in order and none is lost (reloadQueue): each
// returns the outcome of a reload that started after it was asked for.
func (a *App) Reload(ctx context.Context) error {
	return a.reloads.do(ctx, func() error { return a.reload(context.WithoutCancel(ctx)) })
}

func (a *App) reload(ctx context.Context) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	cfg, err := loadConfig(a.opts.ConfigPath)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	old := a.state.Load()
	if a.adminBound != "" && !config.IsLoopbackAddr(a.adminBound) && cfg.Server.AdminToken == "" {
		return errors.New("reload: the admin listener is bound beyond loopback, so server.admin_token may not be removed")
	}
	if a.opts.Listen != "" {
		cfg.Server.Listen = a.opts.Listen
	}
	if cfg.Server.Listen != old.cfg.Server.Listen || cfg.Server.AdminListen != old.cfg.Server.AdminListen || cfg.Server.MetricsListen != old.cfg.Server.MetricsListen || cfg.Server.AdminPprof != old.cfg.Server.AdminPprof {
		a.log.Warn("reload: listen addresses or admin_pprof changed; they take effect at the next restart")
	}
	if cfg.Log.Access != old.cfg.Log.Access || cfg.Log.AccessOTLP != old.cfg.Log.AccessOTLP || cfg.Log.Level != old.cfg.Log.Level || cfg.Log.Format != old.cfg.Log.Format {
		a.log.Warn("reload: [log] level, format, access or access_otlp changed; they take effect at the next restart")
	}
	st, err := a.build(ctx, cfg)
	if err != nil {
		return scrubbed(cfg, fmt.Errorf("reload: %w", err))
	}
	// Changed plugins keep their identity, so the old state's routers and policies serve the
	// new versions from here on too; removed plugins close once the old state has drained.
	st.plugins.Commit(old.cfg.Server.ShutdownTimeout.D())
	a.state.Store(st)
	if g := a.guard.Load(); g != nil {
		a.guard.Store(newAdminGuard(g.next, cfg.Server, a.adminBound))
	}
	if a.draining.Load() {
		st.gw.SetReady(false)
	}
	// Requests already routed keep the old state; give them time before closing its routers.
	time.AfterFunc(old.cfg.Server.ShutdownTimeout.D(), old.close)
	a.log.Info("configuration reloaded", "config", cfg.Source)
	return nil
}

func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.LoadDefault()
	}
	return config.Load(path)
}
