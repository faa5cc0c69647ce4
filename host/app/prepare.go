package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/sluice-gw/sluice/host/balance"
	"github.com/sluice-gw/sluice/host/clientconn"
	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/host/plugin"
)

// prepare is everything serve does before it opens a listener: load the configuration, make
// the loggers, telemetry and plugin engine, and build the state (plugins compiled and their
// hooks checked, providers and translators, routers, limits, caches, auth, the stores and the
// gateway). Run and Check both go through it, so what one accepts the other accepts. done
// releases what it made, in reverse order. With check set, nothing is logged and no log file
// is opened.
func prepare(ctx context.Context, opts Options, loaded **config.Config, check bool) (_ *App, _ *state, _ func(), err error) {
	var undo []func()
	done := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	defer func() {
		if err != nil {
			done()
		}
	}()
	cfg, err := loadConfig(opts.ConfigPath)
	if err != nil {
		return nil, nil, nil, err
	}
	*loaded = cfg
	if opts.Listen != "" {
		cfg.Server.Listen = opts.Listen
	}
	log, access := slog.New(slog.DiscardHandler), (*slog.Logger)(nil)
	if !check {
		var closeLogs func()
		log, access, closeLogs, err = newLoggers(cfg, opts.Stdout, opts.Stderr)
		if err != nil {
			return nil, nil, nil, err
		}
		undo = append(undo, closeLogs)
	}
	tel, err := newTelemetry(ctx, cfg, opts.Version, opts.SpanRecorder)
	if err != nil {
		return nil, nil, nil, err
	}
	undo = append(undo, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tel.Shutdown(sctx)
	})
	otlpAccess := tel.AccessLogHandler()
	if cfg.Log.AccessOTLP && otlpAccess == nil {
		log.Warn("log: access_otlp is on but OTEL_SDK_DISABLED is true; access records are not exported")
	}
	access = accessLogger(access, otlpAccess)
	a := &App{opts: opts, log: log, access: access, registry: balance.NewRegistry(), started: time.Now(), tel: tel,
		streams: clientconn.NewSlots(cfg.Server.MaxStreams)}
	a.engine, err = plugin.NewEngine(plugin.EngineOptions{CacheDir: opts.PluginCacheDir, Logger: log})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("serve: plugins: %w", err)
	}
	undo = append(undo, func() { a.engine.Close() })
	a.plugins = plugin.NewRegistry(a.engine)
	undo = append(undo, func() { a.plugins.Close() }, a.closeStores)
	st, err := a.build(ctx, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	return a, st, done, nil
}

// Check builds everything Run would build from opts (see prepare) and tears it down, without
// opening a listener or logging. It returns the loaded configuration, and the error Run
// would return before serving (secrets scrubbed), so whatever Check accepts Run builds, and
// the other way round.
//
// What Check cannot verify: that the listen addresses are free, that Redis and the OTLP
// endpoint answer (their clients connect on first use, as they do when serving), and that the
// access log file can be opened (Check creates no file).
func Check(ctx context.Context, opts Options) (*config.Config, error) {
	var cfg *config.Config
	_, st, done, err := prepare(ctx, opts, &cfg, true)
	if err != nil {
		return cfg, scrubbed(cfg, err)
	}
	st.plugins.Abort() // the staged plugin versions are built and checked, never served
	st.close()
	done()
	return cfg, nil
}
