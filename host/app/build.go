package app

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/sluice-gw/sluice/host/balance"
	"github.com/sluice-gw/sluice/host/builtin"
	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/host/gateway"
	"github.com/sluice-gw/sluice/host/plugin"
	"github.com/sluice-gw/sluice/host/pricing"
	"github.com/sluice-gw/sluice/host/provider"
	"github.com/sluice-gw/sluice/host/provider/demo"
	"github.com/sluice-gw/sluice/host/telemetry"
	"github.com/sluice-gw/sluice/sdk/abi"
)

// state is everything built from one configuration; a reload builds a new one and swaps.
type state struct {
	cfg       *config.Config
	gw        *gateway.Gateway
	providers map[string]*provider.Provider
	routers   map[string]*balance.Router
	stages    *stages
	// plugins is the staged plugin update this state was built against; committed when the
	// state is published, aborted when building it failed.
	plugins *plugin.Update
}

func (s *state) close() {
	s.gw.Close()
	s.stages.close()
	for _, r := range s.routers {
		r.Close()
	}
	for _, p := range s.providers {
		p.CloseIdle()
	}
}

// build makes a state from cfg. Nothing is published until all of it succeeds.
func (a *App) build(ctx context.Context, cfg *config.Config) (_ *state, err error) {
	prev := a.stores
	defer func() { a.settleStores(prev, err == nil, cfg.Server.ShutdownTimeout.D()) }()
	st := &state{cfg: cfg, providers: map[string]*provider.Provider{}, routers: map[string]*balance.Router{}}
	upd, err := a.plugins.Stage(ctx, pluginSpecs(cfg))
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	st.plugins = upd
	defer func() {
		if err != nil {
			upd.Abort()
		}
	}()
	for name, pc := range cfg.Providers {
		var opts provider.Options
		if pc.Kind == "demo" {
			opts.Transport = &demo.Transport{ChunkDelay: pc.ChunkDelay.D()}
		}
		p, err := provider.New(pc, a.translatorLoader(ctx, cfg), opts)
		if err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
		st.providers[name] = p
	}
	prices := a.priceTable(cfg)
	for name, rc := range cfg.Routers {
		r, err := a.newRouter(rc, st.providers, prices)
		if err != nil {
			st.closeRouters()
			return nil, fmt.Errorf("serve: router %s: %w", name, err)
		}
		st.routers[name] = r
	}
	stg, err := a.buildStages(cfg, prices)
	if err != nil {
		st.closeRouters()
		return nil, err
	}
	st.stages = stg
	rs, err := a.responseStore(cfg)
	if err != nil {
		st.closeRouters()
		stg.close()
		return nil, err
	}
	gw, err := gateway.New(gateway.Deps{
		Config: cfg, Providers: st.providers, Routers: st.routers, Registry: a.registry,
		Log: a.log, Access: a.access, Plugins: a.plugins,
		Auth: stg.auth, Overrides: stg.overrides, Limiter: stg.limiter, Prices: stg.prices, Caches: stg.caches,
		Telemetry: a.tel, Responses: rs, Streams: a.streams,
	})
	if err != nil {
		st.closeRouters()
		stg.close()
		return nil, err
	}
	st.gw = gw
	pinLabels(a.tel, cfg, st.routers)
	return st, nil
}

func (s *state) closeRouters() {
	for _, r := range s.routers {
		r.Close()
	}
}

// pluginSpecs lists the plugins cfg declares.
func pluginSpecs(cfg *config.Config) []plugin.Spec {
	specs := make([]plugin.Spec, 0, len(cfg.Plugins))
	for name, pc := range cfg.Plugins {
		specs = append(specs, plugin.Spec{
			Name: name, Path: pc.Path, Config: pc.Config, Timeout: pc.Timeout.D(),
			MemoryPages: uint32(int64(pc.Memory) / 65536), Pool: pc.Pool, Sandbox: plugin.Sandbox(pc.Sandbox),
			MaxDepth: uint32(pc.MaxDepth),
		})
	}
	return specs
}

// translatorLoader loads a translator: a declared plugin by name, else the embedded one.
func (a *App) translatorLoader(ctx context.Context, cfg *config.Config) provider.LoadTranslator {
	return func(name string) (provider.Translator, error) {
		if _, declared := cfg.Plugins[name]; !declared {
			if _, ok := a.plugins.Get(name); !ok {
				bin, err := builtin.Plugin(name)
				if err != nil {
					return nil, err
				}
				if _, err := a.plugins.Load(ctx, plugin.Spec{Name: name, Bytes: bin, Config: builtin.Config(name), FirstParty: true}); err != nil {
					return nil, fmt.Errorf("plugin %s: %w", name, err)
				}
			}
		}
		p, ok := a.plugins.Get(name)
		if !ok {
			return nil, fmt.Errorf("plugin %q is not loaded", name)
		}
		// translate_chunk is optional: without it the provider serves only non-streamed calls
		// (a streamed call gets a clear error naming the missing hook).
		for _, h := range []string{abi.HookTranslateRequest, abi.HookTranslateResponse} {
			if !p.HasNext(h) {
				return nil, fmt.Errorf("plugin %q has no %s hook, so it cannot translate", name, h)
			}
		}
		return pluginTranslator{p: p, tel: a.tel}, nil
	}
}

// pluginTranslator adapts a plugin to provider.Translator, recording each call's latency.
type pluginTranslator struct {
	p   *plugin.Plugin
	tel *telemetry.Telemetry
}

func (t pluginTranslator) Name() string { return t.p.Name() }
func (t pluginTranslator) TranslateRequest(ctx context.Context, in []byte) ([]byte, error) {
	return t.call(ctx, abi.HookTranslateRequest, in)
}
func (t pluginTranslator) TranslateResponse(ctx context.Context, in []byte) ([]byte, error) {
	return t.call(ctx, abi.HookTranslateResponse, in)
}
func (t pluginTranslator) TranslateChunk(ctx context.Context, in []byte) ([]byte, error) {
	return t.call(ctx, abi.HookTranslateChunk, in)
}

func (t pluginTranslator) call(ctx context.Context, hook string, in []byte) ([]byte, error) {
	// The span is a child of the upstream attempt that asked for the translation.
	ctx, span := t.tel.StartStage(ctx, "plugin "+t.p.Name()+" "+hook)
	span.SetPlugin(t.p.Name(), hook)
	start := time.Now()
	out, err := t.p.Call(ctx, hook, in)
	var pe *plugin.Error
	trap := err != nil && errors.As(err, &pe) && pe.Trap
	t.tel.RecordPlugin(telemetry.PluginRecord{Plugin: t.p.Name(), Hook: hook, Duration: time.Since(start), Err: err != nil, Trap: trap})
	if err != nil {
		span.Fail(err, "plugin_error")
	}
	span.End()
	return out, err
}

func (a *App) newRouter(rc *config.Router, providers map[string]*provider.Provider, prices *pricing.Table) (*balance.Router, error) {
	targets := make([]balance.Target, len(rc.Targets))
	scale := weightScale(rc.Targets)
	for i, t := range rc.Targets {
		prov, model, _ := strings.Cut(t.Model, "/")
		pr, _ := prices.Lookup(t.Model)
		targets[i] = balance.Target{
			ID: fmt.Sprintf("%s#%d", t.Model, i), Provider: prov, Model: model,
			Weight: int(math.Round(t.Weight * scale)), Priority: t.Priority,
			PriceIn: pr.Input, PriceOut: pr.Output,
		}
	}
	bc := balance.FromConfig(rc)
	bc.Targets, bc.Registry = targets, a.registry
	if rc.Strategy == "plugin" {
		p, ok := a.plugins.Get(rc.Plugin)
		if !ok || !p.HasNext(abi.HookRoute) {
			return nil, fmt.Errorf("plugin %q has no route hook", rc.Plugin)
		}
		bc.Orderer = routeOrderer(p, a.tel)
	}
	if rc.Health.Probe > 0 {
		timeout := config.MaxProbeTimeout
		if d := rc.Health.Probe.D(); d < timeout {
			timeout = d
		}
		bc.Probe = balance.Probe{Func: probeTargets(providers), Interval: rc.Health.Probe.D(), Timeout: timeout}
	}
	return balance.NewRouter(bc)
}

// probeTargets checks a target through its provider's cheap model-list request. The check is
// per provider, not per model: it answers "is this upstream up", which is what ejection is about.
func probeTargets(providers map[string]*provider.Provider) balance.Prober {
	return func(ctx context.Context, t balance.Target) error {
		p := providers[t.Provider]
		if p == nil {
			return fmt.Errorf("probe: provider %q is not configured", t.Provider)
		}
		return p.Probe(ctx)
	}
}

// priceTable is the one price table a configuration uses (limits, the cost strategy, route
// plugins, telemetry): the shipped snapshot, each provider's kind, and the config's [pricing]
// overrides on top. A model nothing prices is logged once and counted on every call.
func (a *App) priceTable(cfg *config.Config) *pricing.Table {
	t := pricing.Default()
	kinds := make(map[string]string, len(cfg.Providers))
	for name, pc := range cfg.Providers {
		kinds[name] = pc.Kind
	}
	t.SetProviders(kinds)
	if len(cfg.Pricing) > 0 {
		over := make(map[string]pricing.Price, len(cfg.Pricing))
		for m, p := range cfg.Pricing {
			over[m] = pricing.Price{Input: p.Input, Output: p.Output, CachedInput: p.CachedInput, CacheWrite: p.CacheWrite}
		}
		t.Override(over)
	}
	_, hasDefault := cfg.Pricing["*"]
	log, tel := a.log, a.tel
	t.OnUnknown(func(model string, first bool) {
		tel.RecordUnpriced(model)
		if first && log != nil {
			if hasDefault {
				log.Warn("pricing: no price lists this model; it is costed at pricing.\"*\"", "model", model)
			} else {
				log.Warn("pricing: no price lists this model; it is costed at zero (set [pricing.\"*\"] or [pricing.\"provider/model\"])", "model", model)
			}
		}
	})
	return t
}

// weightScale turns fractional weights (0.7/0.3) into integers without losing their ratio.
func weightScale(ts []config.Target) float64 {
	for _, t := range ts {
		if t.Weight != math.Trunc(t.Weight) {
			return 1000
		}
	}
	return 1
}
