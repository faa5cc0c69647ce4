package balance

import (
	"sync"
	"testing"
	"time"
)

func TestSingleTrialUnderConcurrency(t *testing.T) {
	clk := newClock()
	r := healthRouter(t, clk, nil)
	for range 5 {
		run(t, mustPlan(t, r, Request{}), failA)
	}
	clk.Advance(10 * time.Second)
	const n = 32
	plans := make([]*Plan, n)
	for i := range plans {
		plans[i] = mustPlan(t, r, Request{}) // all planned while a is in probation
	}
	got := make([]string, n)
	var wg sync.WaitGroup
	for i, p := range plans {
		wg.Go(func() {
			tg, _ := p.Next()
			got[i] = tg.ID
		})
	}
	wg.Wait()
	trials := 0
	for _, id := range got {
		if id == "a" {
			trials++
		}
	}
	if trials != 1 {
		t.Fatalf("%d requests admitted to the ejected target, want exactly 1 trial", trials)
	}
	for _, p := range plans {
		p.Report(Outcome{Kind: KindOK})
	}
}

func benchRouter(b *testing.B, s Strategy) *Router {
	r, err := NewRouter(Config{
		Name: "bench", Strategy: s,
		Targets: []Target{
			{ID: "openai/gpt-4o-mini#0", Provider: "openai", Model: "gpt-4o-mini", Weight: 3},
			{ID: "anthropic/claude-haiku-4-5#1", Provider: "anthropic", Model: "claude-haiku-4-5", Weight: 1},
			{ID: "groq/llama#2", Provider: "groq", Model: "llama", Weight: 1},
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(r.Close)
	return r
}

func benchPlanReport(b *testing.B, s Strategy) {
	r := benchRouter(b, s)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		p, err := r.Plan(ctx, Request{EstTokensIn: 100, EstTokensOut: 100})
		if err != nil {
			b.Fatal(err)
		}
		tg, _ := p.Next()
		p.Report(Outcome{Target: tg, Kind: KindOK, Latency: 40 * time.Millisecond})
	}
}

func BenchmarkPlanReportLatency3(b *testing.B)  { benchPlanReport(b, StrategyLatency) }
func BenchmarkPlanReportWeighted3(b *testing.B) { benchPlanReport(b, StrategyWeighted) }
func BenchmarkPlanReportPriority3(b *testing.B) { benchPlanReport(b, StrategyPriority) }

func BenchmarkPlanReportLatency3Parallel(b *testing.B) {
	r := benchRouter(b, StrategyLatency)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, _ := r.Plan(b.Context(), Request{})
			tg, _ := p.Next()
			p.Report(Outcome{Target: tg, Kind: KindOK, Latency: 40 * time.Millisecond})
		}
	})
}

func BenchmarkSnapshot(b *testing.B) {
	r := benchRouter(b, StrategyLatency)
	b.ReportAllocs()
	for b.Loop() {
		r.Snapshot()
	}
}
