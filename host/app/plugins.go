package app

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sluice-gw/sluice/host/balance"
	"github.com/sluice-gw/sluice/host/plugin"
)

type routeOut struct {
	Order []string `json:"order"`
}

// routeOrderer wraps a plugin's route hook as the balance package's Orderer. meta is the JSON
// the gateway built for the request.
func routeOrderer(p *plugin.Plugin) balance.Orderer {
	return func(ctx context.Context, meta any, cands []balance.CandidateStats) ([]string, error) {
		mb, _ := meta.([]byte)
		if len(mb) == 0 {
			mb = []byte("{}")
		}
		cb, err := json.Marshal(cands)
		if err != nil {
			return nil, err
		}
		in := make([]byte, 0, len(mb)+len(cb)+32)
		in = append(in, `{"meta":`...)
		in = append(in, mb...)
		in = append(in, `,"candidates":`...)
		in = append(in, cb...)
		in = append(in, '}')
		out, err := p.Call(ctx, "route", in)
		if err != nil {
			return nil, err
		}
		var r routeOut
		if err := json.Unmarshal(out, &r); err != nil {
			return nil, fmt.Errorf("plugin %s: route returned invalid JSON: %w", p.Name(), err)
		}
		return r.Order, nil
	}
}
