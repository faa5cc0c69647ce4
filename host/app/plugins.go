package app

import (
	"context"

	"github.com/sluice-gw/sluice/host/balance"
	"github.com/sluice-gw/sluice/host/plugin"
)

// routeOrderer wraps a plugin's route hook as the balance package's Orderer. meta is the
// *plugin.Meta the gateway built for the request.
func routeOrderer(p *plugin.Plugin) balance.Orderer {
	return func(ctx context.Context, meta any, cands []balance.CandidateStats) ([]string, error) {
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
