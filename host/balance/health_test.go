package balance

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// healthRouter: a (primary) and b (fallback) under the priority strategy,
// ejecting after 5 outcomes over 50% failures, cool-down 10s doubling to 40s.
func healthRouter(t *testing.T, clk *fakeClock, reg *Registry) *Router {
	a, b := tgt("a", "pa"), tgt("b", "pb")
	b.Priority = 1
	return mustRouter(t, Config{
		Strategy: StrategyPriority, Targets: []Target{a, b},
		Health:   Health{Window: 30 * time.Second, Buckets: 10, Threshold: 0.5, MinRequests: 5, Cooldown: 10 * time.Second, MaxCooldown: 40 * time.Second},
		Registry: reg, Clock: clk.Now, Rand: seeded(),
	})
}

func failA(tg Target) Outcome {
	if tg.ID == "a" {
		return Outcome{Kind: KindStatus5xx}
	}
	return Outcome{Kind: KindOK, Latency: time.Millisecond}
}

func TestEjectionTrialAndReejection(t *testing.T) {
	clk := newClock()
	r := healthRouter(t, clk, nil)

	// 4xx is not a failure: it never ejects.
	for range 20 {
		run(t, mustPlan(t, r, Request{}), func(Target) Outcome { return Outcome{Kind: KindStatus4xx} })
	}
	if s := status(r, "a"); s.State != StateHealthy || s.ErrorRate != 0 {
		t.Fatalf("after 4xx: %+v", s)
	}
	clk.Advance(31 * time.Second) // let the 4xx outcomes leave the window

	// Four failures stay under MinRequests: a is still first.
	for range 4 {
		if tried := run(t, mustPlan(t, r, Request{}), failA); !eq(tried, []string{"a", "b"}) {
			t.Fatalf("tried %v", tried)
		}
	}
	if s := status(r, "a"); s.State != StateHealthy || s.WindowRequests != 4 {
		t.Fatalf("before threshold: %+v", s)
	}
	run(t, mustPlan(t, r, Request{}), failA) // fifth: 5/5 > 0.5
	s := status(r, "a")
	if s.State != StateEjected || !s.EjectedUntil.Equal(clk.Now().Add(10*time.Second)) || s.Ejections != 1 {
		t.Fatalf("after threshold: %+v", s)
	}
	if got := ids(mustPlan(t, r, Request{}).Targets()); !eq(got, []string{"b"}) {
		t.Fatalf("ejected target planned: %v", got)
	}

	// Cool-down over: exactly one trial is admitted.
	clk.Advance(10 * time.Second)
	if s := status(r, "a"); s.State != StateProbation {
		t.Fatalf("after cool-down: %v", s.State)
	}
	trial := mustPlan(t, r, Request{})
	other := mustPlan(t, r, Request{}) // planned before the trial went out
	if tg, _ := trial.Next(); tg.ID != "a" {
		t.Fatalf("trial went to %s", tg.ID)
	}
	if tg, _ := other.Next(); tg.ID != "b" {
		t.Fatalf("second request went to %s while the trial is out", tg.ID)
	}
	if s := status(r, "a"); s.State != StateTrial {
		t.Fatalf("during trial: %v", s.State)
	}
	other.Report(Outcome{Kind: KindOK})
	// Failed trial: re-ejected for twice the cool-down.
	if err := trial.Report(Outcome{Kind: KindConnect}); err != nil {
		t.Fatal(err)
	}
	if s := status(r, "a"); s.State != StateEjected || !s.EjectedUntil.Equal(clk.Now().Add(20*time.Second)) || s.Ejections != 2 {
		t.Fatalf("after failed trial: %+v", s)
	}
	if tg, ok := trial.Next(); !ok || tg.ID != "b" || trial.Backoff() != 0 {
		t.Fatalf("failover after failed trial: %v %v backoff %s", tg.ID, ok, trial.Backoff())
	}
	trial.Report(Outcome{Kind: KindOK})
	if res := trial.Result(); res.TargetID != "b" || res.Attempts != 2 || res.Kind != KindOK {
		t.Fatalf("result %+v", res)
	}

	// Two more failed trials: the cool-down doubles to its 40s cap.
	for _, want := range []time.Duration{40 * time.Second, 40 * time.Second} {
		clk.Advance(time.Hour)
		run(t, mustPlan(t, r, Request{}), failA)
		if s := status(r, "a"); !s.EjectedUntil.Equal(clk.Now().Add(want)) {
			t.Fatalf("cool-down %s, want %s", s.EjectedUntil.Sub(clk.Now()), want)
		}
	}

	// Successful trial closes the circuit and forgets the old failures.
	clk.Advance(40 * time.Second)
	if tried := run(t, mustPlan(t, r, Request{}), func(Target) Outcome { return Outcome{Kind: KindOK} }); !eq(tried, []string{"a"}) {
		t.Fatalf("trial tried %v", tried)
	}
	if s := status(r, "a"); s.State != StateHealthy || s.WindowRequests != 0 {
		t.Fatalf("after good trial: %+v", s)
	}
	// And the cool-down is back to its base.
	for range 5 {
		run(t, mustPlan(t, r, Request{}), failA)
	}
	if s := status(r, "a"); !s.EjectedUntil.Equal(clk.Now().Add(10 * time.Second)) {
		t.Fatalf("cool-down not reset: %s", s.EjectedUntil.Sub(clk.Now()))
	}
}

func TestSlidingWindowForgets(t *testing.T) {
	clk := newClock()
	r := healthRouter(t, clk, nil)
	// 4 failures, then 30s later 1 more: the old ones left the window.
	for range 4 {
		run(t, mustPlan(t, r, Request{}), failA)
	}
	clk.Advance(30 * time.Second)
	run(t, mustPlan(t, r, Request{}), failA)
	if s := status(r, "a"); s.State != StateHealthy || s.WindowRequests != 1 {
		t.Fatalf("window kept stale outcomes: %+v", s)
	}
	// Within the window, partial bucket expiry: 3 failures at t, 2 at t+25s,
	// then at t+31s only the last 2 count.
	clk.Advance(time.Hour)
	for range 3 {
		run(t, mustPlan(t, r, Request{}), failA)
	}
	clk.Advance(25 * time.Second)
	run(t, mustPlan(t, r, Request{}), failA)
	if s := status(r, "a"); s.WindowRequests != 4 {
		t.Fatalf("window = %d, want 4", s.WindowRequests)
	}
	clk.Advance(6 * time.Second)
	if s := status(r, "a"); s.WindowRequests != 1 {
		t.Fatalf("window after partial expiry = %d, want 1", s.WindowRequests)
	}
}

func TestRetryAfterCooling(t *testing.T) {
	clk := newClock()
	r := healthRouter(t, clk, nil)
	rate := func(after time.Duration) func(Target) Outcome {
		return func(tg Target) Outcome {
			if tg.ID == "a" {
				return Outcome{Kind: KindStatus429, RetryAfter: after}
			}
			return Outcome{Kind: KindOK}
		}
	}
	// Seconds form.
	d, ok := ParseRetryAfter("7", clk.Now())
	if !ok || d != 7*time.Second {
		t.Fatalf("parse seconds: %s %v", d, ok)
	}
	if tried := run(t, mustPlan(t, r, Request{}), rate(d)); !eq(tried, []string{"a", "b"}) {
		t.Fatalf("429 did not fail over: %v", tried)
	}
	if s := status(r, "a"); s.State != StateCooling || !s.CoolingUntil.Equal(clk.Now().Add(7*time.Second)) || s.Failures != 0 {
		t.Fatalf("after 429: %+v", s)
	}
	clk.Advance(6 * time.Second)
	if got := ids(mustPlan(t, r, Request{}).Targets()); !eq(got, []string{"b"}) {
		t.Fatalf("cooling target planned: %v", got)
	}
	clk.Advance(time.Second)
	if got := ids(mustPlan(t, r, Request{}).Targets()); !eq(got, []string{"a", "b"}) {
		t.Fatalf("after Retry-After: %v", got)
	}

	// HTTP-date form.
	date := clk.Now().Add(35 * time.Second).UTC().Format(http.TimeFormat)
	d, ok = ParseRetryAfter(date, clk.Now())
	if !ok || d != 35*time.Second {
		t.Fatalf("parse date %q: %s %v", date, d, ok)
	}
	run(t, mustPlan(t, r, Request{}), rate(d))
	if s := status(r, "a"); !s.CoolingUntil.Equal(clk.Now().Add(35 * time.Second)) {
		t.Fatalf("date cooling until %s", s.CoolingUntil.Sub(clk.Now()))
	}

	// An absurd Retry-After is capped at MaxCooldown (40s here).
	clk.Advance(36 * time.Second)
	run(t, mustPlan(t, r, Request{}), rate(time.Hour))
	if s := status(r, "a"); !s.CoolingUntil.Equal(clk.Now().Add(40 * time.Second)) {
		t.Fatalf("capped cooling until %s", s.CoolingUntil.Sub(clk.Now()))
	}

	// Absent: the default (30s).
	clk.Advance(41 * time.Second)
	run(t, mustPlan(t, r, Request{}), rate(0))
	if s := status(r, "a"); !s.CoolingUntil.Equal(clk.Now().Add(30 * time.Second)) {
		t.Fatalf("default cooling %s", s.CoolingUntil.Sub(clk.Now()))
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 2 * time.Minute, true},
		{" 1.5 ", 1500 * time.Millisecond, true},
		{"Thu, 01 Jan 2026 00:01:00 GMT", time.Minute, true},
		{"Wed, 31 Dec 2025 23:00:00 GMT", 0, true},
		{"", 0, false},
		{"-3", 0, false},
		{"soon", 0, false},
	}
	for _, c := range cases {
		got, ok := ParseRetryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseRetryAfter(%q) = %s, %v; want %s, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestPanicMode(t *testing.T) {
	clk := newClock()
	r := healthRouter(t, clk, nil)
	all5xx := func(Target) Outcome { return Outcome{Kind: KindStatus5xx} }
	for range 5 {
		run(t, mustPlan(t, r, Request{}), all5xx)
	}
	for _, s := range r.Snapshot() {
		if s.State != StateEjected {
			t.Fatalf("%s not ejected: %v", s.Target.ID, s.State)
		}
	}
	// Every target ejected: plan them all anyway, in strategy order.
	p := mustPlan(t, r, Request{})
	if got := ids(p.Targets()); !eq(got, []string{"a", "b"}) || !p.Result().Panic {
		t.Fatalf("panic plan %v panic=%v", got, p.Result().Panic)
	}
	// A panic attempt that succeeds closes that target's circuit.
	if tried := run(t, p, func(tg Target) Outcome {
		if tg.ID == "b" {
			return Outcome{Kind: KindOK}
		}
		return Outcome{Kind: KindConnect}
	}); !eq(tried, []string{"a", "b"}) {
		t.Fatalf("panic tried %v", tried)
	}
	if s := status(r, "b"); s.State != StateHealthy {
		t.Fatalf("b after panic success: %v", s.State)
	}
	p = mustPlan(t, r, Request{})
	if got := ids(p.Targets()); !eq(got, []string{"b"}) || p.Result().Panic {
		t.Fatalf("after recovery %v panic=%v", got, p.Result().Panic)
	}
	if st := r.Stats(); st.PanicPlans == 0 {
		t.Fatalf("panic plans not counted: %+v", st)
	}
}

func TestRetrySemantics(t *testing.T) {
	clk := newClock()
	r := mustRouter(t, Config{
		Strategy: StrategyPriority, Targets: []Target{tgt("a", "pa"), tgt("b", "pb")},
		Retries: Retries{Attempts: 5, Backoff: 100 * time.Millisecond, MaxBackoff: 300 * time.Millisecond},
		Health:  Health{MinRequests: 1000}, Clock: clk.Now, Rand: seeded(),
	})
	// Non-retryable: 4xx, and anything after the first byte.
	for _, o := range []Outcome{{Kind: KindStatus4xx}, {Kind: KindBrokenStream, FirstByteSent: true}, {Kind: KindStatus5xx, FirstByteSent: true}, {Kind: KindCanceled}} {
		p := mustPlan(t, r, Request{})
		if tried := run(t, p, func(Target) Outcome { return o }); len(tried) != 1 {
			t.Fatalf("%v (sent=%v) retried: %v", o.Kind, o.FirstByteSent, tried)
		}
	}
	// Retryable: connect, timeout before first byte, 5xx. New targets go at
	// once; repeats wait a full-jitter backoff within the exponential cap.
	for _, k := range []Kind{KindConnect, KindTimeout, KindStatus5xx, KindBrokenStream} {
		p := mustPlan(t, r, Request{})
		var tried []string
		for n := 0; ; n++ {
			tg, ok := p.Next()
			if !ok {
				break
			}
			tried = append(tried, tg.ID)
			caps := []time.Duration{0, 0, 100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}
			if b := p.Backoff(); b < 0 || b > caps[n] || (n < 2 && b != 0) {
				t.Fatalf("%v attempt %d backoff %s, cap %s", k, n, b, caps[n])
			}
			p.Report(Outcome{Kind: k})
		}
		if !eq(tried, []string{"a", "b", "a", "b", "a"}) {
			t.Fatalf("%v tried %v", k, tried)
		}
		if res := p.Result(); res.Attempts != 5 || res.Kind != k || res.TargetID != "a" {
			t.Fatalf("result %+v", res)
		}
	}
	// A 429'd target is not repeated by the same request.
	p := mustPlan(t, r, Request{})
	if tried := run(t, p, func(Target) Outcome {
		clk.Advance(2 * time.Millisecond) // the cooling ends before the next attempt
		return Outcome{Kind: KindStatus429, RetryAfter: time.Millisecond}
	}); !eq(tried, []string{"a", "b"}) {
		t.Fatalf("429 tried %v", tried)
	}
	// Misuse is refused.
	p = mustPlan(t, r, Request{})
	if err := p.Report(Outcome{}); !errors.Is(err, ErrNoAttempt) {
		t.Fatalf("report before Next: %v", err)
	}
	p.Next()
	if _, ok := p.Next(); ok {
		t.Fatal("Next with an attempt outstanding")
	}
	if err := p.Report(Outcome{Target: tgt("b", "pb")}); err == nil {
		t.Fatal("report for the wrong target accepted")
	}
	if err := p.Report(Outcome{Target: tgt("a", "pa"), Kind: KindOK}); err != nil {
		t.Fatal(err)
	}
	for _, s := range r.Snapshot() {
		if s.InFlight != 0 {
			t.Fatalf("%s in flight %d", s.Target.ID, s.InFlight)
		}
	}
	st := r.Stats()
	if st.Failovers == 0 || st.Retries == 0 || st.Attempts < st.Plans {
		t.Fatalf("stats %+v", st)
	}
}

func TestRetryBudgetCapsAmplification(t *testing.T) {
	clk := newClock()
	const ratio, floor = 0.2, 10.0
	window := 10 * time.Second
	r := mustRouter(t, Config{
		Strategy: StrategyLatency, Targets: []Target{tgt("a", "pa"), tgt("b", "pb"), tgt("c", "pc")},
		Retries: Retries{Attempts: 3, Budget: ratio, BudgetFloor: floor, BudgetWindow: window},
		Clock:   clk.Now, Rand: seeded(),
	})
	const requests = 10000
	step := time.Millisecond
	attempts := 0
	for range requests {
		attempts += len(run(t, mustPlan(t, r, Request{}), func(Target) Outcome { return Outcome{Kind: KindStatus5xx} }))
		clk.Advance(step)
	}
	elapsed := (requests * step).Seconds()
	// The floor adds at most floor retries/s over the run plus one window.
	bound := (1+ratio)*requests + floor*(elapsed+window.Seconds())
	st := r.Stats()
	t.Logf("attempts %d for %d requests (bound %.0f, unbudgeted %d); %+v", attempts, requests, bound, 3*requests, st)
	if float64(attempts) > bound {
		t.Fatalf("attempts %d exceed bound %.0f", attempts, bound)
	}
	if attempts <= requests || st.BudgetExhausted == 0 {
		t.Fatalf("budget never allowed or never refused retries: %d attempts, %+v", attempts, st)
	}
}

func TestSharedRegistry(t *testing.T) {
	clk := newClock()
	reg := NewRegistry()
	r1 := healthRouter(t, clk, reg)
	r2 := healthRouter(t, clk, reg)
	for range 5 {
		run(t, mustPlan(t, r1, Request{}), failA)
	}
	if got := ids(mustPlan(t, r2, Request{}).Targets()); !eq(got, []string{"b"}) {
		t.Fatalf("health learned on r1 not seen by r2: %v", got)
	}
	if reg.Len() != 2 {
		t.Fatalf("registry holds %d states, want 2", reg.Len())
	}
	// Different tuning: separate state.
	r3 := mustRouter(t, Config{Name: "other", Targets: []Target{tgt("a", "pa")}, Registry: reg, Health: Health{Threshold: 0.9}, Clock: clk.Now})
	if reg.Len() != 3 || status(r3, "a").State != StateHealthy {
		t.Fatalf("distinct tuning shared state: len %d", reg.Len())
	}
	r3.Close()
	r1.Close()
	r2.Close()
	if reg.Len() != 0 {
		t.Fatalf("registry keeps %d states after every router closed", reg.Len())
	}
}

func TestProbes(t *testing.T) {
	clk := newClock()
	var down atomic.Bool
	down.Store(true)
	var probes atomic.Int64
	prober := func(ctx context.Context, tg Target) error {
		probes.Add(1)
		if tg.ID == "a" && down.Load() {
			return errors.New("dial refused")
		}
		return nil
	}
	a, b := tgt("a", "pa"), tgt("b", "pb")
	b.Priority = 1
	r := mustRouter(t, Config{
		Strategy: StrategyPriority, Targets: []Target{a, b},
		Health: Health{MinRequests: 3, Threshold: 0.5, Cooldown: 5 * time.Second},
		Probe:  Probe{Func: prober, Interval: 2 * time.Millisecond, Timeout: time.Second},
		Clock:  clk.Now,
	})
	waitFor(t, func() bool { return status(r, "a").State == StateEjected }, "probe failures to eject a")
	if status(r, "b").State != StateHealthy {
		t.Fatal("b ejected by probes that succeed")
	}
	down.Store(false)
	clk.Advance(5 * time.Second)
	waitFor(t, func() bool { return status(r, "a").State == StateHealthy }, "a successful probe to act as the trial")
	r.Close()
	n := probes.Load()
	time.Sleep(10 * time.Millisecond)
	if probes.Load() != n {
		t.Fatal("probes continue after Close")
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestHammer(t *testing.T) {
	clk := newClock()
	reg := NewRegistry()
	var cfgs []Config
	for _, s := range []Strategy{StrategyLatency, StrategyWeighted, StrategyLeastBusy, StrategyRoundRobin, StrategyCost} {
		cfgs = append(cfgs, Config{
			Name: string(s), Strategy: s, Registry: reg, Clock: clk.Now, Rand: seeded(),
			Targets: []Target{tgt("a", "pa"), tgt("b", "pb"), tgt("c", "pc")},
			Health:  Health{MinRequests: 5, Cooldown: 10 * time.Millisecond},
		})
	}
	cfgs = append(cfgs, Config{
		Name: "plugin", Strategy: StrategyPlugin, Registry: reg, Clock: clk.Now,
		Targets: []Target{tgt("a", "pa"), tgt("b", "pb"), tgt("c", "pc")},
		Health:  Health{MinRequests: 5, Cooldown: 10 * time.Millisecond},
		Orderer: func(_ context.Context, _ any, cs []CandidateStats) ([]string, error) {
			if cs[0].InFlight%2 == 1 {
				return nil, errors.New("odd")
			}
			return []string{cs[2].ID, cs[0].ID}, nil
		},
		Probe: Probe{Interval: time.Millisecond, Func: func(ctx context.Context, tg Target) error {
			if tg.ID == "b" {
				return errors.New("down")
			}
			return nil
		}},
	})
	var routers []*Router
	for _, c := range cfgs {
		routers = append(routers, mustRouter(t, c))
	}
	kinds := []Kind{KindOK, KindOK, KindOK, KindStatus5xx, KindConnect, KindStatus429, KindStatus4xx, KindTimeout, KindCanceled}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, r := range routers {
				r.Snapshot()
				r.Stats()
			}
			clk.Advance(time.Millisecond)
		}
	})
	var workers sync.WaitGroup
	for g := range 8 {
		workers.Go(func() {
			for i := range 1500 {
				r := routers[(g+i)%len(routers)]
				p, err := r.Plan(context.Background(), Request{EstTokensIn: i})
				if err != nil {
					t.Error(err)
					return
				}
				for tg, ok := p.Next(); ok; tg, ok = p.Next() {
					p.Report(Outcome{Target: tg, Kind: kinds[(g*7+i)%len(kinds)], Latency: time.Duration(i%50) * time.Millisecond, RetryAfter: time.Millisecond})
				}
			}
		})
	}
	workers.Wait()
	close(stop)
	wg.Wait()
	for _, r := range routers {
		for _, s := range r.Snapshot() {
			if s.InFlight != 0 {
				t.Fatalf("%s/%s in flight %d after all reports", r.Name(), s.Target.ID, s.InFlight)
			}
		}
	}
}

func TestOutcomeKindsFeedHealth(t *testing.T) {
	cases := []struct {
		kind             Kind
		requests, failed uint64
		retryable        bool
	}{
		{KindOK, 1, 0, false},
		{KindStatus4xx, 1, 0, false},
		{KindConnect, 1, 1, true},
		{KindTimeout, 1, 1, true},
		{KindStatus5xx, 1, 1, true},
		{KindBrokenStream, 1, 1, true},
		{KindStatus429, 0, 0, true},
		{KindCanceled, 0, 0, false},
	}
	for _, c := range cases {
		t.Run(c.kind.String(), func(t *testing.T) {
			r := mustRouter(t, Config{Targets: []Target{tgt("a", "pa")}, Retries: Retries{Attempts: 1}})
			p := mustPlan(t, r, Request{})
			p.Next()
			o := Outcome{Kind: c.kind}
			if o.Retryable() != c.retryable {
				t.Fatalf("retryable = %v", o.Retryable())
			}
			p.Report(o)
			s := status(r, "a")
			if s.Requests != c.requests || s.Failures != c.failed {
				t.Fatalf("requests %d failures %d, want %d %d", s.Requests, s.Failures, c.requests, c.failed)
			}
			o.FirstByteSent = true
			if o.Retryable() {
				t.Fatal("retryable after the first byte was sent")
			}
		})
	}
}

func TestPlanCloseReleasesAttempt(t *testing.T) {
	clk := newClock()
	r := healthRouter(t, clk, nil)
	for range 5 {
		run(t, mustPlan(t, r, Request{}), failA)
	}
	clk.Advance(10 * time.Second)
	p := mustPlan(t, r, Request{})
	if tg, _ := p.Next(); tg.ID != "a" {
		t.Fatalf("trial went to %s", tg.ID)
	}
	p.Close() // abandoned trial: canceled, nothing learned, trial slot freed
	if s := status(r, "a"); s.InFlight != 0 || s.State != StateProbation {
		t.Fatalf("after Close: in flight %d, state %v", s.InFlight, s.State)
	}
	if _, ok := p.Next(); ok {
		t.Fatal("Next after Close")
	}
}

func TestBackoffFullJitter(t *testing.T) {
	r := mustRouter(t, Config{Targets: []Target{tgt("a", "pa")}, Retries: Retries{Attempts: 8, Backoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond},
		Health: Health{MinRequests: 10}, Rand: seeded()}) // eight failures must not eject the one target
	for n, ceil := range map[int]time.Duration{1: 10 * time.Millisecond, 2: 20 * time.Millisecond, 3: 40 * time.Millisecond, 4: 50 * time.Millisecond, 40: 50 * time.Millisecond} {
		var sum time.Duration
		const k = 2000
		for range k {
			d := r.jitter(n)
			if d < 0 || d > ceil {
				t.Fatalf("repeat %d: backoff %s outside [0, %s]", n, d, ceil)
			}
			sum += d
		}
		if mean := sum / k; mean < ceil*4/10 || mean > ceil*6/10 {
			t.Fatalf("repeat %d: mean %s, want about %s (uniform over [0, %s])", n, mean, ceil/2, ceil)
		}
	}
	// Through a plan: a single target's repeats wait; the first attempt does not.
	p := mustPlan(t, r, Request{})
	var waits []time.Duration
	for _, ok := p.Next(); ok; _, ok = p.Next() {
		waits = append(waits, p.Backoff())
		p.Report(Outcome{Kind: KindStatus5xx})
	}
	if len(waits) != 8 || waits[0] != 0 {
		t.Fatalf("waits %v", waits)
	}
	var total time.Duration
	for _, w := range waits[1:] {
		total += w
	}
	if total == 0 {
		t.Fatalf("repeats never backed off: %v", waits)
	}
}

func TestLostTrialIsReplaced(t *testing.T) {
	clk := newClock()
	r := healthRouter(t, clk, nil)
	for range 5 {
		run(t, mustPlan(t, r, Request{}), failA)
	}
	clk.Advance(10 * time.Second)
	lost := mustPlan(t, r, Request{})
	if tg, _ := lost.Next(); tg.ID != "a" {
		t.Fatalf("trial went to %s", tg.ID)
	}
	// The trial never reports. Until MaxCooldown (40s) passes, nobody else
	// may try a; then another trial is admitted.
	clk.Advance(39 * time.Second)
	if got := ids(mustPlan(t, r, Request{}).Targets()); !eq(got, []string{"b"}) {
		t.Fatalf("while trial out: %v", got)
	}
	clk.Advance(time.Second)
	if tried := run(t, mustPlan(t, r, Request{}), func(Target) Outcome { return Outcome{Kind: KindOK} }); !eq(tried, []string{"a"}) {
		t.Fatalf("replacement trial: %v", tried)
	}
	if s := status(r, "a"); s.State != StateHealthy {
		t.Fatalf("after replacement trial: %v", s.State)
	}
}

func TestPanicWhenPlannedTargetsFailBeforeFirstAttempt(t *testing.T) {
	clk := newClock()
	r := healthRouter(t, clk, nil)
	p := mustPlan(t, r, Request{Pin: "pa"}) // a healthy at plan time
	for range 5 {
		run(t, mustPlan(t, r, Request{Pin: "pa"}), failA) // others eject it meanwhile
	}
	tg, ok := p.Next()
	if !ok || tg.ID != "a" || !p.Result().Panic {
		t.Fatalf("Next = %v %v, panic %v; want a best-effort attempt on a", tg.ID, ok, p.Result().Panic)
	}
	p.Report(Outcome{Kind: KindOK})
}

// TestAfterSendRetriedOnlyWhenAllowed: a failure after the request reached the upstream ends
// the plan unless the router opts in with Retries.AfterSend; health learns from it either way.
func TestAfterSendRetriedOnlyWhenAllowed(t *testing.T) {
	for _, allow := range []bool{false, true} {
		r := mustRouter(t, Config{
			Strategy: StrategyPriority, Targets: []Target{tgt("a", "pa"), tgt("b", "pb")},
			Retries: Retries{Attempts: 3, AfterSend: allow},
			Health:  Health{MinRequests: 1000}, Clock: newClock().Now, Rand: seeded(),
		})
		for _, k := range []Kind{KindTimeout, KindConnect, KindBrokenStream} {
			p := mustPlan(t, r, Request{})
			tried := run(t, p, func(Target) Outcome { return Outcome{Kind: k, AfterSend: true} })
			if want := map[bool]int{false: 1, true: 3}[allow]; len(tried) != want {
				t.Fatalf("after_send=%v, %v after the request was sent: tried %v, want %d attempts", allow, k, tried, want)
			}
		}
		// Failures before the request was sent are retried whatever the setting.
		p := mustPlan(t, r, Request{})
		if tried := run(t, p, func(Target) Outcome { return Outcome{Kind: KindConnect} }); len(tried) != 3 {
			t.Fatalf("after_send=%v: a refused connection tried %v", allow, tried)
		}
	}
}
