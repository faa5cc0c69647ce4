package gateway

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sluice-gw/sluice/host/balance"
	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/host/openai"
)

// resolve picks the router for a request: a named router from the path, a router or alias
// named by the model (a global alias, or a router's own alias of one of its targets), a
// provider/model pair, or the configured defaults for a bare name. A provider/model pair is
// returned as implicit ("provider/model") with no router: the caller authorizes the request
// first and only then builds the router (implicitRouter), so a refused request builds nothing.
func (g *Gateway) resolve(pathRouter, model string) (name string, r *balance.Router, implicit string, err *openai.Error) {
	if pathRouter != "" {
		r, ok := g.routers[pathRouter]
		if !ok {
			return "", nil, "", openai.Errorf(404, openai.CodeRouterNotFound, fmt.Sprintf("router %q is not configured", pathRouter))
		}
		return pathRouter, r, "", nil
	}
	if e := modelError(model); e != nil {
		return "", nil, "", e // a policy may have rewritten the model
	}
	if model == "" {
		if g.cfg.Server.DefaultRouter != "" {
			return g.cfg.Server.DefaultRouter, g.routers[g.cfg.Server.DefaultRouter], "", nil
		}
		e := openai.Errorf(400, openai.CodeMissingModel, "the request has no model; name one as provider/model, e.g. \"openai/gpt-4o-mini\" or \"demo/echo\"")
		e.Param = "model"
		return "", nil, "", e
	}
	if r, ok := g.routers[model]; ok {
		return model, r, "", nil
	}
	if a, ok := g.cfg.Aliases[model]; ok {
		if r, ok := g.routers[a]; ok {
			return a, r, "", nil
		}
		model = a
	}
	if name := g.aliasRouter(model); name != "" {
		return name, g.routers[name], "", nil
	}
	prov, _, hasSlash := strings.Cut(model, "/")
	if !hasSlash || g.providers[prov] == nil {
		switch {
		case g.cfg.Server.DefaultRouter != "":
			return g.cfg.Server.DefaultRouter, g.routers[g.cfg.Server.DefaultRouter], "", nil
		case g.cfg.Server.DefaultProvider != "" && !hasSlash:
			model = g.cfg.Server.DefaultProvider + "/" + model
		default:
			e := openai.Errorf(404, openai.CodeModelNotFound, fmt.Sprintf("model %q does not name a configured provider, router or alias (known providers: %s)", model, strings.Join(sortedNames(g.providers), ", ")))
			e.Param = "model"
			return "", nil, "", e
		}
	}
	if e := modelError(model); e != nil {
		return "", nil, "", e // the default provider's name made it too long
	}
	return "", nil, model, nil
}

// modelError is the 400 for a model name CheckModel refuses, or nil.
func modelError(model string) *openai.Error {
	err := openai.CheckModel(model)
	if err == nil {
		return nil
	}
	e := openai.Errorf(400, openai.CodeInvalidModel, err.Error())
	e.Param = "model"
	return e
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

// routeTargets are the targets a request may be served by: the router's, or the one pair of
// an implicit router not built yet (authorization runs before anything is built).
func routeTargets(router *balance.Router, implicit string) []balance.Target {
	if router != nil {
		return router.Targets()
	}
	prov, m, _ := strings.Cut(implicit, "/")
	return []balance.Target{{ID: implicit, Provider: prov, Model: m, Weight: 1}}
}

// implicitRouter is a one-target router for a provider/model pair (resolve checked that the
// provider exists and the name is valid), so plain requests get the same health tracking,
// latency learning and same-target retry as configured routers. At most
// server.max_implicit_routers are kept: past it the least recently used one is closed, which
// releases its share of the registry, so a flood of distinct names holds a bounded set.
func (g *Gateway) implicitRouter(model string) (*balance.Router, *openai.Error) {
	var dropped []string
	g.implicitMu.Lock()
	defer func() {
		g.implicitMu.Unlock()
		// A dropped router's metric series go too (target id and served model are the
		// pair's name), outside the lock: deleting series walks them.
		for _, m := range dropped {
			g.tel.ForgetLabels(m, m)
		}
	}()
	if el, ok := g.implicit[model]; ok {
		g.implicitLRU.MoveToFront(el)
		return el.Value.(*implicitEntry).r, nil
	}
	prov, m, _ := strings.Cut(model, "/")
	p := g.providers[prov]
	if p == nil {
		e := openai.Errorf(404, openai.CodeModelNotFound, fmt.Sprintf("model %q does not name a configured provider", model))
		e.Param = "model"
		return nil, e
	}
	// The same defaults as a declared router (host/config's one table).
	bc := balance.FromConfig(config.ImplicitRouter(model, config.Duration(p.Timeout)))
	bc.Targets, bc.Registry = []balance.Target{{ID: model, Provider: prov, Model: m, Weight: 1}}, g.registry
	r, err := balance.NewRouter(bc)
	if err != nil {
		e := openai.Errorf(400, openai.CodeInvalidModel, err.Error())
		e.Param = "model"
		return nil, e
	}
	g.implicit[model] = g.implicitLRU.PushFront(&implicitEntry{model: model, r: r})
	for max := max(g.cfg.Server.MaxImplicitRouters, 1); g.implicitLRU.Len() > max; {
		old := g.implicitLRU.Remove(g.implicitLRU.Back()).(*implicitEntry)
		delete(g.implicit, old.model)
		// A request still planning on it keeps its member state; only the registry's
		// reference goes, so the state is freed once that request ends.
		old.r.Close()
		dropped = append(dropped, old.model)
	}
	return r, nil
}

// implicitEntry is one implicit router in the LRU list.
type implicitEntry struct {
	model string
	r     *balance.Router
}

// ImplicitRouters reports how many implicit single-target routers are kept.
func (g *Gateway) ImplicitRouters() int {
	g.implicitMu.Lock()
	defer g.implicitMu.Unlock()
	return g.implicitLRU.Len()
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
	for name, el := range g.implicit {
		out[name] = el.Value.(*implicitEntry).r
	}
	g.implicitMu.Unlock()
	return out
}
