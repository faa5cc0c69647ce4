package app

import (
	"context"
	"errors"
	"time"

	"github.com/sluice-gw/sluice/host/balance"
	"github.com/sluice-gw/sluice/host/plugin"
	"github.com/sluice-gw/sluice/host/telemetry"
	"github.com/sluice-gw/sluice/sdk/abi"
)

// routeOrderer wraps a plugin's route hook as the balance package's Orderer. meta is the
// *plugin.Meta the gateway built for the request. Each call is counted in the plugin metrics
// like the gateway's hooks (no span: routing is on every request's critical path).
func routeOrderer(p *plugin.Plugin, tel *telemetry.Telemetry) balance.Orderer {
	return func(ctx context.Context, meta any, cands []balance.CandidateStats) (_ []string, err error) {
		start := time.Now()
		defer func() {
			var pe *plugin.Error
			trap := err != nil && errors.As(err, &pe) && pe.Trap
			tel.RecordPlugin(telemetry.PluginRecord{Plugin: p.Name(), Hook: abi.HookRoute, Duration: time.Since(start), Err: err != nil, Trap: trap})
		}()
		m, _ := meta.(*plugin.Meta)
		pc := make([]plugin.Candidate, len(cands))
		for i, c := range cands {
			pc[i] = plugin.Candidate{ID: c.ID, Provider: c.Provider, Model: c.Model, Weight: c.Weight,
				Priority: c.Priority, Healthy: c.Healthy, EWMAms: c.EWMAms, InFlight: c.InFlight,
				ErrorRate: c.ErrorRate, PriceIn: c.PriceIn, PriceOut: c.PriceOut}
		}
		return p.Route(ctx, m, pc)
	}
}
