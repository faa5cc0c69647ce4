package sdk

import (
	"github.com/sluice-gw/sluice/sdk/abi"
	"github.com/sluice-gw/sluice/sdk/routeview"
)

// RouteView is the route hook's input read in place from the flat route view (sdk/ABI.md,
// section 5.1): no JSON is parsed, nothing is allocated. Its strings alias the input buffer and
// are valid only during the call; strings.Clone what you keep.
type RouteView = routeview.View

// RouteCand is one candidate of a RouteView.
type RouteCand = routeview.Cand

var (
	routeViewH func(v *RouteView, order []int) ([]int, error)
	viewOrder  []int
	viewConv   []byte
	curView    RouteView // the handler's view, kept here so that passing it allocates nothing
)

// HandleRouteView registers the route hook over the flat view. The handler appends candidate
// indices (0 <= i < v.Len()), first choice first, to order (empty, reused across calls) and
// returns it; indices not listed are dropped, an empty order keeps the host's. The plugin
// declares the view through sluice_features, so a host that knows it sends the binary layout;
// an older host's JSON input is converted here, so the handler sees the same view either way.
// Use it instead of HandleRoute for routers that must cost no more than a few microseconds.
func HandleRouteView(h func(v *RouteView, order []int) ([]int, error)) {
	register(HookRoute)
	routeViewH = h
}

func runRouteView(in []byte) ([]byte, error) {
	if !routeview.IsView(in) {
		ri, err := DecodeRouteInput(in)
		if err != nil {
			return nil, Errorf(400, "invalid_hook_input", "route: %v", err)
		}
		viewConv = routeview.Append(viewConv[:0], viewMeta(&ri.Meta), viewCands(ri.Candidates))
		in = viewConv
	}
	var err error
	curView, err = routeview.Parse(in)
	if err != nil {
		return nil, Errorf(400, "invalid_hook_input", "route: %v", err)
	}
	v := &curView
	order, err := routeViewH(v, viewOrder[:0])
	if err != nil {
		return nil, err
	}
	for _, i := range order {
		if i < 0 || i >= v.Len() {
			return nil, Errorf(500, "bad_route_order", "route: candidate index %d out of range [0,%d)", i, v.Len())
		}
	}
	viewOrder = order[:0]
	return routeview.AppendOrder(outBuf[:0], order), nil
}

func viewMeta(m *Meta) *routeview.Meta {
	out := &routeview.Meta{RequestID: m.RequestID, Endpoint: m.Endpoint, Model: m.Model, Router: m.Router,
		User: m.User, Team: m.Team, KeyID: m.KeyID, Stream: m.Stream, TokenEstimate: int64(m.TokenEstimate),
		MaxTokens: int64(m.MaxTokens), Temperature: m.Temperature, NowMs: m.NowMs}
	for k, v := range m.Headers {
		out.Headers = append(out.Headers, routeview.Header{Name: k, Value: v})
	}
	return out
}

func viewCands(cs []Candidate) []routeview.Candidate {
	out := make([]routeview.Candidate, len(cs))
	for i, c := range cs {
		out[i] = routeview.Candidate{ID: c.ID, Provider: c.Provider, Model: c.Model, Weight: int(c.Weight),
			Priority: c.Priority, Healthy: c.Healthy, EWMAms: c.EwmaMs, InFlight: int64(c.InFlight),
			ErrorRate: c.ErrorRate, PriceIn: c.PriceIn, PriceOut: c.PriceOut}
	}
	return out
}

// features is the sluice_features bit set this plugin declares.
func features() uint64 {
	var f uint64
	if routeViewH != nil {
		f |= abi.FeatureRouteView
	}
	return f
}
