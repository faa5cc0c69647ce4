package balance

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

func TestWeightedConverges(t *testing.T) {
	clk := newClock()
	a, b := tgt("a", "p"), tgt("b", "q")
	a.Weight, b.Weight = 3, 1
	r := mustRouter(t, Config{Strategy: StrategyWeighted, Targets: []Target{a, b}, Clock: clk.Now, Rand: seeded()})
	const n = 10000
	got := map[string]int{}
	for range n {
		p := mustPlan(t, r, Request{})
		got[run(t, p, func(Target) Outcome { return Outcome{Kind: KindOK, Latency: time.Millisecond} })[0]]++
		clk.Advance(time.Millisecond)
	}
	share := float64(got["a"]) / n
	t.Logf("picks %v", got)
	if math.Abs(share-0.75) > 0.02 {
		t.Fatalf("a share = %.4f, want 0.75 ± 0.02 (%v)", share, got)
	}
	// Failover continues by descending weight.
	if o := ids(mustPlan(t, r, Request{}).Targets()); len(o) != 2 {
		t.Fatalf("order %v", o)
	}
}

func TestLatencyShiftsTrafficAndRecovers(t *testing.T) {
	clk := newClock()
	r := mustRouter(t, Config{
		Strategy: StrategyLatency,
		Targets:  []Target{tgt("fast", "p"), tgt("slow", "q")},
		Clock:    clk.Now, Rand: seeded(),
		DefaultRTT: 100 * time.Millisecond, Decay: 10 * time.Second,
	})
	lat := map[string]time.Duration{"fast": 20 * time.Millisecond, "slow": 200 * time.Millisecond}
	phase := func(n int) map[string]int {
		got := map[string]int{}
		for range n {
			p := mustPlan(t, r, Request{})
			tried := run(t, p, func(tg Target) Outcome { return Outcome{Kind: KindOK, Latency: lat[tg.ID]} })
			got[tried[0]]++
			clk.Advance(10 * time.Millisecond)
		}
		return got
	}
	phase(500) // warm-up
	got := phase(5000)
	t.Logf("after warm-up: %v", got)
	if share := float64(got["fast"]) / 5000; share < 0.9 {
		t.Fatalf("fast share after warm-up = %.3f, want >= 0.9 (%v)", share, got)
	}
	if got["slow"] == 0 {
		t.Fatalf("slow target never re-sampled; it could not show recovery (%v)", got)
	}
	lat["slow"] = 5 * time.Millisecond
	phase(5000) // the decayed estimate lets the recovered target prove itself
	got = phase(5000)
	t.Logf("after recovery: %v", got)
	if share := float64(got["slow"]) / 5000; share < 0.9 {
		t.Fatalf("recovered target share = %.3f, want >= 0.9 (%v)", share, got)
	}
}

func TestPeakEWMA(t *testing.T) {
	s := newState(tuning{window: time.Second, buckets: 1, defaultRTT: 250 * time.Millisecond, decay: 10 * time.Second, maxCooldown: time.Minute, cooldown: time.Second})
	now := int64(1e18)
	if got := s.latency(now); got != float64(250*time.Millisecond) {
		t.Fatalf("unsampled = %v, want default RTT", got)
	}
	s.observeLocked(now, 100*time.Millisecond)
	s.observeLocked(now, 300*time.Millisecond) // peak: replaces at once
	if got := s.latency(now); got != float64(300*time.Millisecond) {
		t.Fatalf("after peak = %v", time.Duration(got))
	}
	now += int64(10 * time.Second) // one time constant later
	s.observeLocked(now, 100*time.Millisecond)
	w := math.Exp(-1)
	want := 300e6*w + 100e6*(1-w)
	if got := s.latency(now); math.Abs(got-want) > 1 {
		t.Fatalf("after decay = %v, want %v", time.Duration(got), time.Duration(want))
	}
	// Idle: the estimate decays toward zero so the target is retried.
	if got := s.latency(now + int64(10*time.Second)); math.Abs(got-want*w) > 1 {
		t.Fatalf("idle read = %v, want %v", time.Duration(got), time.Duration(want*w))
	}
}

func TestFailoverOrderPerStrategy(t *testing.T) {
	a := Target{ID: "a", Provider: "openai", Model: "x", Weight: 1, Priority: 2, PriceIn: 1, PriceOut: 10}
	b := Target{ID: "b", Provider: "anthropic", Model: "y", Weight: 5, Priority: 0, PriceIn: 3, PriceOut: 4}
	c := Target{ID: "c", Provider: "groq", Model: "z", Weight: 2, Priority: 1, PriceIn: 0.5, PriceOut: 20}
	targets := []Target{a, b, c}

	t.Run("priority", func(t *testing.T) {
		r := mustRouter(t, Config{Strategy: StrategyPriority, Targets: targets})
		if got := ids(mustPlan(t, r, Request{}).Targets()); !eq(got, []string{"b", "c", "a"}) {
			t.Fatalf("order %v", got)
		}
	})
	t.Run("cost", func(t *testing.T) {
		r := mustRouter(t, Config{Strategy: StrategyCost, Targets: targets})
		// input-heavy: c (0.5*1000+20*10=700) < a (1000+100=1100) < b (3000+40)
		if got := ids(mustPlan(t, r, Request{EstTokensIn: 1000, EstTokensOut: 10}).Targets()); !eq(got, []string{"c", "a", "b"}) {
			t.Fatalf("input-heavy order %v", got)
		}
		// output-heavy: b (3*10+4*1000) < a (10+10000) < c (5+20000)
		if got := ids(mustPlan(t, r, Request{EstTokensIn: 10, EstTokensOut: 1000}).Targets()); !eq(got, []string{"b", "a", "c"}) {
			t.Fatalf("output-heavy order %v", got)
		}
	})
	t.Run("round_robin", func(t *testing.T) {
		r := mustRouter(t, Config{Strategy: StrategyRoundRobin, Targets: targets})
		want := [][]string{{"a", "b", "c"}, {"b", "c", "a"}, {"c", "a", "b"}, {"a", "b", "c"}}
		for i, w := range want {
			if got := ids(mustPlan(t, r, Request{}).Targets()); !eq(got, w) {
				t.Fatalf("plan %d order %v, want %v", i, got, w)
			}
		}
	})
	t.Run("least_busy", func(t *testing.T) {
		r := mustRouter(t, Config{Strategy: StrategyLeastBusy, Targets: targets, Rand: seeded()})
		// Hold 2 attempts on a and 1 on c.
		for _, id := range []string{"a", "a", "c"} {
			p := mustPlan(t, r, Request{Pin: map[string]string{"a": "openai", "c": "groq"}[id]})
			if _, ok := p.Next(); !ok {
				t.Fatal("no attempt")
			}
		}
		if got := ids(mustPlan(t, r, Request{}).Targets()); !eq(got, []string{"b", "c", "a"}) {
			t.Fatalf("order %v", got)
		}
	})
	t.Run("weighted", func(t *testing.T) {
		r := mustRouter(t, Config{Strategy: StrategyWeighted, Targets: targets})
		// smooth WRR: first pick is the heaviest, failover by weight.
		if got := ids(mustPlan(t, r, Request{}).Targets()); !eq(got, []string{"b", "c", "a"}) {
			t.Fatalf("order %v", got)
		}
	})
	t.Run("latency", func(t *testing.T) {
		clk := newClock()
		r := mustRouter(t, Config{Strategy: StrategyLatency, Targets: targets, Clock: clk.Now, Rand: seeded()})
		for id, d := range map[string]time.Duration{"a": 30 * time.Millisecond, "b": 10 * time.Millisecond, "c": 20 * time.Millisecond} {
			p := mustPlan(t, r, Request{Pin: r.members[map[string]int{"a": 0, "b": 1, "c": 2}[id]].t.Provider})
			run(t, p, func(Target) Outcome { return Outcome{Kind: KindOK, Latency: d} })
		}
		// P2C picks the first; the rest follow in ascending score, and the
		// worst target is never first (it loses every pair it is in).
		for range 50 {
			got := ids(mustPlan(t, r, Request{}).Targets())
			if got[0] == "a" {
				t.Fatalf("slowest first: %v", got)
			}
			if rest := got[1:]; !(rest[0] == "b" || rest[0] == "c") || rest[len(rest)-1] != "a" {
				t.Fatalf("failover order %v not by score", got)
			}
		}
	})
}

func TestPluginOrderer(t *testing.T) {
	clk := newClock()
	targets := []Target{
		{ID: "a", Provider: "openai", Model: "x", Priority: 1, PriceIn: 0.15, PriceOut: 0.6},
		{ID: "b", Provider: "anthropic", Model: "y", Priority: 0},
		{ID: "c", Provider: "groq", Model: "z", Priority: 2},
	}
	var order []string
	var fail error
	var seen []CandidateStats
	var seenMeta any
	orderer := func(_ context.Context, meta any, cands []CandidateStats) ([]string, error) {
		seen, seenMeta = cands, meta
		return order, fail
	}
	r := mustRouter(t, Config{Strategy: StrategyPlugin, Orderer: orderer, Targets: targets, Clock: clk.Now})

	order = []string{"c", "nope", "a", "c"}
	p := mustPlan(t, r, Request{Meta: "m1"})
	if got := ids(p.Targets()); !eq(got, []string{"c", "a"}) {
		t.Fatalf("plugin order %v, want [c a] (unknown ignored, omitted dropped, duplicate once)", got)
	}
	if seenMeta != "m1" || len(seen) != 3 {
		t.Fatalf("orderer got meta %v and %d candidates", seenMeta, len(seen))
	}
	if c := seen[0]; c.ID != "a" || c.Provider != "openai" || c.Model != "x" || c.Weight != 1 || c.Priority != 1 ||
		!c.Healthy || c.EWMAms != 250 || c.PriceIn != 0.15 || c.PriceOut != 0.6 {
		t.Fatalf("candidate stats %+v", c)
	}

	fail = errors.New("trap")
	if got := ids(mustPlan(t, r, Request{}).Targets()); !eq(got, []string{"b", "a", "c"}) {
		t.Fatalf("fallback order %v, want priority order", got)
	}
	fail = nil
	order = nil // empty: keep host (fallback) order, not an error
	if got := ids(mustPlan(t, r, Request{}).Targets()); !eq(got, []string{"b", "a", "c"}) {
		t.Fatalf("empty-order plan %v", got)
	}
	order = []string{"ghost"}
	mustPlan(t, r, Request{})
	if got := r.Stats().PluginErrors; got != 2 {
		t.Fatalf("plugin errors = %d, want 2 (error + nothing known)", got)
	}

	// An unhealthy target the plugin names is dropped while others are healthy.
	for range 10 {
		p := mustPlan(t, r, Request{Pin: "groq"})
		run(t, p, func(Target) Outcome { return Outcome{Kind: KindStatus5xx} })
	}
	order = []string{"c", "a"}
	p = mustPlan(t, r, Request{})
	if got := ids(p.Targets()); !eq(got, []string{"a"}) {
		t.Fatalf("order with c ejected %v", got)
	}
	if seen[2].Healthy {
		t.Fatalf("ejected candidate reported healthy: %+v", seen[2])
	}
	// If the plugin names only unhealthy targets, its rule wins (panic).
	order = []string{"c"}
	p = mustPlan(t, r, Request{})
	if got := ids(p.Targets()); !eq(got, []string{"c"}) || !p.Result().Panic {
		t.Fatalf("plugin-pinned unhealthy: order %v panic %v", got, p.Result().Panic)
	}
}

func TestPinAndExclude(t *testing.T) {
	targets := []Target{
		{ID: "o1", Provider: "openai", Model: "gpt-4o-mini"},
		{ID: "a1", Provider: "anthropic", Model: "claude-haiku-4-5"},
		{ID: "g1", Provider: "groq", Model: "llama"},
		{ID: "a2", Provider: "anthropic", Model: "claude-sonnet-4-5"},
	}
	r := mustRouter(t, Config{Strategy: StrategyPriority, Targets: targets})
	cases := []struct {
		req  Request
		want []string
	}{
		{Request{Pin: "anthropic"}, []string{"a1", "a2"}},
		{Request{Pin: "Anthropic/claude-sonnet-4-5"}, []string{"a2"}},
		{Request{Exclude: ParseProviderList(" openai, GROQ ,")}, []string{"a1", "a2"}},
		{Request{Pin: "anthropic", Exclude: []string{"anthropic/claude-haiku-4-5"}}, []string{"a2"}},
	}
	for _, c := range cases {
		if got := ids(mustPlan(t, r, c.req).Targets()); !eq(got, c.want) {
			t.Fatalf("%+v: %v, want %v", c.req, got, c.want)
		}
	}
	_, err := r.Plan(t.Context(), Request{Pin: "mistral"})
	if !errors.Is(err, ErrNoTarget) {
		t.Fatalf("pin to absent provider: %v", err)
	}
}

func TestLatencyCountsInFlight(t *testing.T) {
	clk := newClock()
	r := mustRouter(t, Config{Strategy: StrategyLatency, Targets: []Target{tgt("fast", "p"), tgt("slow", "q")}, Clock: clk.Now, Rand: seeded()})
	for _, c := range []struct {
		pin string
		d   time.Duration
	}{{"p", 10 * time.Millisecond}, {"q", 100 * time.Millisecond}} {
		run(t, mustPlan(t, r, Request{Pin: c.pin}), func(Target) Outcome { return Outcome{Kind: KindOK, Latency: c.d} })
	}
	if got := ids(mustPlan(t, r, Request{}).Targets()); got[0] != "fast" {
		t.Fatalf("idle order %v", got)
	}
	// 10 attempts outstanding on fast: 10ms x 11 > 100ms x 1.
	var held []*Plan
	for range 10 {
		p := mustPlan(t, r, Request{Pin: "p"})
		p.Next()
		held = append(held, p)
	}
	if got := ids(mustPlan(t, r, Request{}).Targets()); !eq(got, []string{"slow", "fast"}) {
		t.Fatalf("busy order %v", got)
	}
	for _, p := range held {
		p.Close()
	}
	if got := ids(mustPlan(t, r, Request{}).Targets()); got[0] != "fast" {
		t.Fatalf("order after release %v", got)
	}
}

// A target that fails fast must not win the latency strategy because its failures are quick:
// failure accrual moves traffic to the healthy target well before the health window ejects
// the failing one, and the penalty fades so the failing target is tried again later.
func TestLatencyPenalisesFastFailures(t *testing.T) {
	clk := newClock()
	r := mustRouter(t, Config{
		Strategy: StrategyLatency, Targets: []Target{tgt("flaky", "a"), tgt("good", "b")},
		Retries: Retries{Attempts: 1},
		Health:  Health{MinRequests: 1000}, // keep ejection out of the picture
		Rand:    seeded(), Clock: clk.Now,
	})
	first := map[string]int{}
	for i := 0; i < 500; i++ {
		req := Request{}
		if i < 100 {
			// Warm both estimates: flaky at 1ms, good at 5ms.
			req.Pin = []string{"a", "b"}[i%2]
		}
		p := mustPlan(t, r, req)
		tried := run(t, p, func(tg Target) Outcome {
			if tg.ID == "flaky" && i < 100 {
				// Its good phase: the fastest target, so it earns the best score.
				return Outcome{Kind: KindOK, Latency: time.Millisecond}
			}
			if tg.ID == "flaky" {
				return Outcome{Kind: KindStatus5xx, Latency: time.Millisecond}
			}
			return Outcome{Kind: KindOK, Latency: 5 * time.Millisecond}
		})
		p.Close()
		if i >= 200 {
			first[tried[0]]++
		}
		clk.Advance(5 * time.Millisecond)
	}
	t.Logf("first picks %v", first)
	if first["good"] < 280 {
		t.Fatalf("after warm-up the healthy target got %d of 300 first picks, want >= 280 (%v)", first["good"], first)
	}
	clk.Advance(20 * time.Second)
	p := mustPlan(t, r, Request{})
	defer p.Close()
	_, l := r.members[0].st.availLatency(clk.Now().UnixNano())
	if lat := r.members[0].st.latency(clk.Now().UnixNano()); l > lat*1.01 {
		t.Fatalf("the failure penalty did not fade: %v vs %v", l, lat)
	}
}
