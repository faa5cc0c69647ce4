package app

import (
	"context"
	"fmt"
	"time"

	"github.com/sluice-gw/sluice/host/admin/dashboard"
	"github.com/sluice-gw/sluice/host/balance"
	"github.com/sluice-gw/sluice/host/cache"
	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/host/telemetry"
)

// newTelemetry builds traces, metrics and the access-log export once per process: a config reload keeps them, so
// counters never reset and exporters are not restarted.
func newTelemetry(ctx context.Context, cfg *config.Config, version string, rec *telemetry.Recorder) (*telemetry.Telemetry, error) {
	tc := cfg.Telemetry
	t, err := telemetry.New(ctx, telemetry.Config{
		ServiceName: tc.ServiceName,
		Version:     version,
		Traces: telemetry.Traces{
			Exporter: tc.Traces, Endpoint: tc.Endpoint, Insecure: tc.Insecure, Headers: tc.Headers,
			SampleRatio: tc.SampleRatio, Recorder: rec,
		},
		Metrics: telemetry.Metrics{OTLP: tc.OTLPMetrics, Endpoint: tc.Endpoint, Insecure: tc.Insecure, Headers: tc.Headers},
		Logs:    telemetry.Logs{OTLP: cfg.Log.AccessOTLP, Endpoint: tc.Endpoint, Insecure: tc.Insecure, Headers: tc.Headers},
	})
	if err != nil {
		return nil, fmt.Errorf("serve: telemetry: %w", err)
	}
	return t, nil
}

// watchTargets publishes router target health to metrics every interval and gives the
// dashboard a live view of it.
func (a *App) watchTargets(ctx context.Context, every time.Duration) {
	a.tel.Live().SetTargetSource(a.dashboardTargets)
	tick := time.NewTicker(every)
	defer tick.Stop()
	reloads := map[string][2]uint64{} // plugin -> reloads, failures already recorded
	var lastStore *cache.Cache
	var lastEvictions uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			for _, ps := range a.plugins.Stats() {
				seen := reloads[ps.Plugin]
				for i := seen[0]; i < ps.Reloads; i++ {
					a.tel.RecordPluginReload(ps.Plugin, true)
				}
				for i := seen[1]; i < ps.ReloadFailures; i++ {
					a.tel.RecordPluginReload(ps.Plugin, false)
				}
				reloads[ps.Plugin] = [2]uint64{ps.Reloads, ps.ReloadFailures}
			}
			// Every cache of one configuration shares one store: read it once.
			if c := a.state.Load().stages.anyCache(); c != nil {
				st := c.Stats().Store
				if c != lastStore {
					lastStore, lastEvictions = c, 0
				}
				if st.Evictions > lastEvictions {
					a.tel.RecordCacheEvictions(int(st.Evictions - lastEvictions))
					lastEvictions = st.Evictions
				}
				a.tel.SetCacheBytes(st.Bytes)
			}
			var hs []telemetry.TargetHealth
			for _, r := range a.state.Load().gw.Routers() {
				for _, ts := range r.Snapshot() {
					hs = append(hs, telemetry.TargetHealth{
						Provider: ts.Target.Provider, Target: ts.Target.ID,
						Healthy: ts.State == balance.StateHealthy, EWMA: ts.EWMA,
					})
				}
			}
			a.tel.PublishTargetHealth(hs)
		}
	}
}

func (a *App) dashboardTargets() []dashboard.Target {
	var out []dashboard.Target
	for name, r := range a.state.Load().gw.Routers() {
		for _, ts := range r.Snapshot() {
			out = append(out, dashboard.Target{
				Router: name, Target: ts.Target.ID, Provider: ts.Target.Provider,
				Healthy: ts.State == balance.StateHealthy, EWMAMs: float64(ts.EWMA) / float64(time.Millisecond),
				InFlight: ts.InFlight, ErrorRate: ts.ErrorRate,
			})
		}
	}
	return out
}

// pinLabels admits the configuration's own model and target names as metric labels ahead of
// the cap on client-chosen ones: routers, aliases, listed provider models and router targets.
func pinLabels(tel *telemetry.Telemetry, cfg *config.Config, routers map[string]*balance.Router) {
	var models, targets []string
	for name := range cfg.Routers {
		models = append(models, name)
	}
	for alias, to := range cfg.Aliases {
		models = append(models, alias, to)
	}
	for name, pc := range cfg.Providers {
		for _, m := range pc.Models {
			models = append(models, name+"/"+m)
		}
	}
	for _, r := range routers {
		for _, ts := range r.Snapshot() {
			models = append(models, ts.Target.Provider+"/"+ts.Target.Model)
			targets = append(targets, ts.Target.ID)
		}
	}
	tel.PinLabels(models, targets)
}
