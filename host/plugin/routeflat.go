package plugin

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sluice-gw/sluice/sdk/abi"
	"github.com/sluice-gw/sluice/sdk/routeview"
)

// readFeatures reads the guest's optional feature bits (sluice_features) once per version.
func (v *version) readFeatures(ctx context.Context, inst *instance) error {
	f := inst.mod.ExportedFunction(abi.ExportFeatures)
	if f == nil {
		return nil
	}
	res, err := f.Call(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", abi.ExportFeatures, err)
	}
	v.features = res[0]
	return nil
}

// flatRoute reports whether the serving version reads the route hook's flat view.
func (p *Plugin) flatRoute() bool {
	v := p.cur.Load()
	return v != nil && v.features&abi.FeatureRouteView != 0
}

// RouteView reports whether the serving version declared the flat route view.
func (p *Plugin) RouteView() bool { return p.flatRoute() }

// routeFlat runs the route hook with the flat view as input. The guest may answer with the
// binary order (candidate indices) or the JSON form.
func (p *Plugin) routeFlat(ctx context.Context, m *Meta, cands []Candidate) ([]string, error) {
	out, err := p.callWith(ctx, abi.HookRoute, func(b []byte) []byte { return routeview.Append(b, m, cands) })
	if err != nil {
		return nil, err
	}
	if !routeview.IsOrder(out) {
		var r struct {
			Order []string `json:"order"`
		}
		if err := json.Unmarshal(out, &r); err != nil {
			return nil, p.badOutput(abi.HookRoute, err)
		}
		return r.Order, nil
	}
	var idx [16]int
	order, err := routeview.ParseOrder(idx[:0], out, len(cands))
	if err != nil {
		return nil, &Error{Plugin: p.name, Hook: abi.HookRoute, Status: 502, Type: typeAPIError, Code: CodeBadOutput,
			Message: "returned a malformed binary order: " + err.Error(), Err: err}
	}
	ids := make([]string, len(order))
	for k, i := range order {
		ids[k] = cands[i].ID
	}
	return ids, nil
}
