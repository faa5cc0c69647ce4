package balance

import (
	"context"
	"errors"
	"testing"
)

// TestAllowFilter: a target Allow refuses is never planned, never shown to a route plugin,
// and a filter that refuses every target leaves no plan.
func TestAllowFilter(t *testing.T) {
	targets := []Target{tgt("a", "openai"), tgt("b", "demo"), tgt("c", "groq")}
	onlyDemo := func(t Target) bool { return t.Provider == "demo" }
	r := mustRouter(t, Config{Strategy: StrategyRoundRobin, Targets: targets})
	for range 3 {
		if got := ids(mustPlan(t, r, Request{Allow: onlyDemo}).Targets()); !eq(got, []string{"b"}) {
			t.Fatalf("filtered plan %v", got)
		}
	}
	if _, err := r.Plan(t.Context(), Request{Allow: func(Target) bool { return false }}); !errors.Is(err, ErrNoTarget) {
		t.Fatalf("nothing allowed: %v", err)
	}
	var seen []string
	pr := mustRouter(t, Config{Strategy: StrategyPlugin, Targets: targets, Orderer: func(_ context.Context, _ any, cs []CandidateStats) ([]string, error) {
		seen = seen[:0]
		for _, c := range cs {
			seen = append(seen, c.ID)
		}
		return []string{"a", "c", "b"}, nil // a plugin naming refused targets gets none of them
	}})
	if got := ids(mustPlan(t, pr, Request{Allow: onlyDemo}).Targets()); !eq(got, []string{"b"}) || !eq(seen, []string{"b"}) {
		t.Fatalf("plugin plan %v, plugin saw %v", got, seen)
	}
	if got := ids(r.Targets()); !eq(got, []string{"a", "b", "c"}) {
		t.Fatalf("Targets %v", got)
	}
}
