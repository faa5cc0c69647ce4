package gateway

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/sluice-gw/sluice/host/balance"
	"github.com/sluice-gw/sluice/host/openai"
)

// maxImplicit bounds the single-target routers kept for plain provider/model requests, so
// arbitrary model names from clients cannot grow memory without limit.
const maxImplicit = 4096

// resolve picks the router for a request: a named router from the path, a router or alias
// named by the model (a global alias, or a router's own alias of one of its targets), a
// provider/model pair, or the configured defaults for a bare name.
func (g *Gateway) resolve(pathRouter, model string) (name string, r *balance.Router, err *openai.Error) {
	if pathRouter != "" {
		r, ok := g.routers[pathRouter]
		if !ok {
			return "", nil, openai.Errorf(404, "router_not_found", fmt.Sprintf("router %q is not configured", pathRouter))
		}
		return pathRouter, r, nil
	}
	if model == "" {
		if g.cfg.Server.DefaultRouter != "" {
			return g.cfg.Server.DefaultRouter, g.routers[g.cfg.Server.DefaultRouter], nil
		}
		e := openai.Errorf(400, "missing_model", "the request has no model; name one as provider/model, e.g. \"openai/gpt-4o-mini\" or \"demo/echo\"")
		e.Param = "model"
		return "", nil, e
	}
	if r, ok := g.routers[model]; ok {
		return model, r, nil
	}
	if a, ok := g.cfg.Aliases[model]; ok {
		if r, ok := g.routers[a]; ok {
			return a, r, nil
		}
		model = a
	}
	if name := g.aliasRouter(model); name != "" {
		return name, g.routers[name], nil
	}
	prov, _, hasSlash := strings.Cut(model, "/")
	if !hasSlash || g.providers[prov] == nil {
		switch {
		case g.cfg.Server.DefaultRouter != "":
			return g.cfg.Server.DefaultRouter, g.routers[g.cfg.Server.DefaultRouter], nil
		case g.cfg.Server.DefaultProvider != "" && !hasSlash:
			model = g.cfg.Server.DefaultProvider + "/" + model
		default:
			e := openai.Errorf(404, "model_not_found", fmt.Sprintf("model %q does not name a configured provider, router or alias (known providers: %s)", model, strings.Join(sortedNames(g.providers), ", ")))
			e.Param = "model"
			return "", nil, e
		}
	}
	r, e := g.implicitRouter(model)
	if e != nil {
		return "", nil, openai.Errorf(400, "invalid_model", e.Error())
	}
	return "", r, nil
}

// aliasRouter names the router that declares model as one of its aliases, or "". Should two
// routers declare the same alias, the first by name wins, so the choice is stable.
func (g *Gateway) aliasRouter(model string) string {
	best := ""
	for name, rc := range g.cfg.Routers {
		if _, ok := rc.Aliases[model]; ok && (best == "" || name < best) && g.routers[name] != nil {
			best = name
		}
	}
	return best
}

// aliasPin is the target a router's alias names for this model ("provider/model"), or "":
// an alias pins the request to that target, so failover stays within it.
func (g *Gateway) aliasPin(router, model string) string {
	if rc, ok := g.cfg.Routers[router]; ok {
		return rc.Aliases[model]
	}
	return ""
}

// implicitRouter is a one-target router for a provider/model pair, so plain requests get the
// same health tracking, latency learning and same-target retry as configured routers.
func (g *Gateway) implicitRouter(model string) (*balance.Router, error) {
	g.implicitMu.Lock()
	defer g.implicitMu.Unlock()
	if r, ok := g.implicit[model]; ok {
		return r, nil
	}
	prov, m, _ := strings.Cut(model, "/")
	r, err := balance.NewRouter(balance.Config{
		Name:     model,
		Strategy: balance.StrategyPriority,
		Targets:  []balance.Target{{ID: model, Provider: prov, Model: m, Weight: 1}},
		Retries:  balance.Retries{Attempts: 2, Backoff: 25 * time.Millisecond, MaxBackoff: 250 * time.Millisecond, Budget: 0.2},
		Timeout:  g.providers[prov].Timeout,
		Registry: g.registry,
	})
	if err != nil {
		return nil, err
	}
	if len(g.implicit) < maxImplicit {
		g.implicit[model] = r
	}
	return r, nil
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Routers returns every router the gateway serves through: the configured ones and the
// implicit single-target routers made for plain provider/model requests (for health metrics
// and the dashboard).
func (g *Gateway) Routers() map[string]*balance.Router {
	out := make(map[string]*balance.Router, len(g.routers))
	for name, r := range g.routers {
		out[name] = r
	}
	g.implicitMu.Lock()
	for name, r := range g.implicit {
		out[name] = r
	}
	g.implicitMu.Unlock()
	return out
}
