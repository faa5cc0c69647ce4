package balance

import "sync"

// Registry shares target state between routers: routers created with the
// same Registry share the state of a provider/model pair when their health
// and latency tuning are equal (otherwise each tuning gets its own state, so
// one router's threshold never judges another's traffic). The gateway keeps
// one Registry across config reloads so learned health survives them.
type Registry struct {
	mu sync.Mutex
	m  map[stateKey]*regEntry
}

type stateKey struct {
	provider, model string
	tune            tuning
}

type regEntry struct {
	st   *state
	refs int
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	return &Registry{m: make(map[stateKey]*regEntry)}
}

func (g *Registry) acquire(k stateKey) *state {
	g.mu.Lock()
	defer g.mu.Unlock()
	e := g.m[k]
	if e == nil {
		e = &regEntry{st: newState(k.tune)}
		g.m[k] = e
	}
	e.refs++
	return e.st
}

func (g *Registry) release(k stateKey) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if e := g.m[k]; e != nil {
		if e.refs--; e.refs <= 0 {
			delete(g.m, k)
		}
	}
}

// Len reports how many distinct target states the registry holds.
func (g *Registry) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.m)
}
