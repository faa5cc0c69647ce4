package balance_test

import (
	"context"
	"fmt"
	"time"

	"github.com/sluice-gw/sluice/host/balance"
)

// The gateway's side of a request: plan, attempt each target in turn,
// report every outcome.
func Example() {
	r, err := balance.NewRouter(balance.Config{
		Name:     "prod",
		Strategy: balance.StrategyPriority,
		Targets: []balance.Target{
			{ID: "openai/gpt-4o-mini#0", Provider: "openai", Model: "gpt-4o-mini"},
			{ID: "anthropic/claude-haiku-4-5#1", Provider: "anthropic", Model: "claude-haiku-4-5", Priority: 1},
		},
		Retries: balance.Retries{Attempts: 3},
	})
	if err != nil {
		panic(err)
	}
	defer r.Close()

	ctx := context.Background()
	p, err := r.Plan(ctx, balance.Request{EstTokensIn: 120})
	if err != nil {
		panic(err)
	}
	defer p.Close()
	for t, ok := p.Next(); ok; t, ok = p.Next() {
		time.Sleep(p.Backoff()) // a real gateway waits on ctx too
		// send to t under context.WithTimeout(ctx, p.AttemptTimeout()) ...
		o := balance.Outcome{Target: t, Kind: balance.KindOK, Latency: 80 * time.Millisecond}
		if t.Provider == "openai" {
			o = balance.Outcome{Target: t, Kind: balance.KindStatus5xx, Latency: 5 * time.Millisecond}
		}
		fmt.Printf("attempt %s: %s\n", t.ID, o.Kind)
		if err := p.Report(o); err != nil {
			panic(err)
		}
	}
	res := p.Result()
	fmt.Printf("served by %s after %d attempts\n", res.TargetID, res.Attempts)
	// Output:
	// attempt openai/gpt-4o-mini#0: status_5xx
	// attempt anthropic/claude-haiku-4-5#1: ok
	// served by anthropic/claude-haiku-4-5#1 after 2 attempts
}
