package balance

import (
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a manually advanced clock, safe for concurrent use.
type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func seeded() rand.Source { return rand.NewPCG(1, 2) }

func tgt(id, provider string) Target {
	return Target{ID: id, Provider: provider, Model: "m-" + id}
}

func mustRouter(t testing.TB, cfg Config) *Router {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "test"
	}
	r, err := NewRouter(cfg)
	if err != nil {
		t.Fatalf("NewRouter: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

func mustPlan(t testing.TB, r *Router, req Request) *Plan {
	t.Helper()
	p, err := r.Plan(t.Context(), req)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return p
}

func ids(ts []Target) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

func eq(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// run sends one request through p, answering each attempt with fn, and
// returns the targets tried.
func run(t testing.TB, p *Plan, fn func(Target) Outcome) []string {
	t.Helper()
	var tried []string
	for tg, ok := p.Next(); ok; tg, ok = p.Next() {
		tried = append(tried, tg.ID)
		o := fn(tg)
		o.Target = tg
		if err := p.Report(o); err != nil {
			t.Fatalf("Report: %v", err)
		}
	}
	return tried
}

func status(r *Router, id string) TargetStatus {
	for _, s := range r.Snapshot() {
		if s.Target.ID == id {
			return s
		}
	}
	panic("no target " + id)
}
