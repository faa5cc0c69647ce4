package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/internal/redistest"
)

// fakeClock is a settable clock safe for concurrent use.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

type storeFactory struct {
	name string
	new  func(t testing.TB) Store
}

func stores(t testing.TB) []storeFactory {
	return []storeFactory{
		{"memory", func(testing.TB) Store { return NewMemoryStore() }},
		{"redis", func(t testing.TB) Store {
			srv := redistest.Start(t)
			s, err := NewRedisStore(RedisOptions{URL: srv.URL, Timeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
	}
}

func mustLimiter(t testing.TB, st Store, clk *fakeClock, rules ...Rule) *Limiter {
	t.Helper()
	l, err := New(Config{Rules: rules, Store: st, Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestAdmittedCount: over a window W from idle, a GCRA admits rate*W + burst units (+-1
// demand), for each unit and each store.
func TestAdmittedCount(t *testing.T) {
	cases := []struct {
		unit   Unit
		rate   int64
		period time.Duration
		burst  int64
		n      int64         // units per attempt
		step   time.Duration // time between attempts
		window time.Duration
	}{
		{Requests, 10, time.Second, 5, 1, 7 * time.Millisecond, 20 * time.Second},
		{Requests, 3, time.Second, 1, 1, time.Millisecond, 10 * time.Second}, // 1/3 s is not a whole number of ns
		{Tokens, 100_000, time.Minute, 20_000, 700, 100 * time.Millisecond, 5 * time.Minute},
		{Cost, 50_000_000, 24 * time.Hour, 2_000_000, 1_234, 500 * time.Millisecond, 2 * time.Hour},
	}
	for _, sf := range stores(t) {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s/%s/%d-per-%s", sf.name, c.unit, c.rate, c.period), func(t *testing.T) {
				clk := newFakeClock()
				l := mustLimiter(t, sf.new(t), clk, Rule{Name: "r", Scope: Global, Unit: c.unit, Rate: c.rate, Period: c.period, Burst: c.burst})
				d := Demand{}
				switch c.unit {
				case Requests:
					d.Requests = c.n
				case Tokens:
					d.Tokens = c.n
				case Cost:
					d.CostMicros = c.n
				}
				var admitted int64
				ctx := context.Background()
				for el := time.Duration(0); el <= c.window; el += c.step {
					if _, err := l.Check(ctx, Subject{}, d); err == nil {
						admitted += c.n
					} else if !errors.As(err, new(*DeniedError)) {
						t.Fatal(err)
					}
					clk.Advance(c.step)
				}
				want := c.burst + int64(float64(c.rate)*c.window.Seconds()/c.period.Seconds())
				if diff := admitted - want; diff > c.n || diff < -c.n {
					t.Fatalf("admitted %d units, want %d +- %d", admitted, want, c.n)
				}
			})
		}
	}
}

func TestAllOrNothing(t *testing.T) {
	for _, sf := range stores(t) {
		t.Run(sf.name, func(t *testing.T) {
			clk := newFakeClock()
			l := mustLimiter(t, sf.new(t), clk,
				Rule{Name: "global", Scope: Global, Unit: Requests, Rate: 100, Period: time.Second},
				Rule{Name: "team", Scope: Team, Unit: Requests, Rate: 50, Period: time.Second},
				Rule{Name: "alice", Scope: User, Match: "alice", Unit: Requests, Rate: 1, Period: time.Minute, Burst: 2},
				Rule{Name: "bob-tokens", Scope: User, Match: "bob", Unit: Tokens, Rate: 10, Period: time.Minute},
			)
			ctx := context.Background()
			alice := Subject{Team: "acme", User: "alice"}
			for i := 0; i < 2; i++ {
				if _, err := l.Check(ctx, alice, Demand{Requests: 1}); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < 10; i++ {
				_, err := l.Check(ctx, alice, Demand{Requests: 1})
				var de *DeniedError
				if !errors.As(err, &de) {
					t.Fatalf("want denial, got %v", err)
				}
				if de.Rule != "alice" || de.Scope != User || de.Key != "user:alice" || de.Unit != Requests {
					t.Fatalf("denial names %+v", de.Decision)
				}
				if de.RetryAfter != time.Minute {
					t.Fatalf("retry after %v", de.RetryAfter)
				}
			}
			// The 10 denied requests consumed nothing at the global and team tiers.
			res, err := l.Check(ctx, Subject{Team: "acme", User: "carol"}, Demand{Requests: 1})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range res.Decisions() {
				want := map[string]int64{"global": 97, "team": 47}[d.Rule]
				if d.Remaining != want {
					t.Errorf("%s remaining %d, want %d", d.Rule, d.Remaining, want)
				}
			}
			// Rules with a Match apply only to that subject; bob's token limit does not touch carol.
			if len(res.Decisions()) != 2 {
				t.Fatalf("carol got %d tiers", len(res.Decisions()))
			}
			// Teams are limited separately.
			res, err = l.Check(ctx, Subject{Team: "other"}, Demand{Requests: 1})
			if err != nil {
				t.Fatal(err)
			}
			if r := res.Decisions()[1].Remaining; r != 49 {
				t.Fatalf("other team remaining %d", r)
			}
		})
	}
}

func TestSettle(t *testing.T) {
	for _, sf := range stores(t) {
		t.Run(sf.name, func(t *testing.T) {
			clk := newFakeClock()
			l := mustLimiter(t, sf.new(t), clk, Rule{Name: "tok", Scope: Key, Unit: Tokens, Rate: 60_000, Period: time.Minute})
			ctx := context.Background()
			s := Subject{Key: "k1"}
			remaining := func() int64 {
				t.Helper()
				res, err := l.Check(ctx, s, Demand{})
				if err != nil {
					t.Fatal(err)
				}
				return res.Decisions()[0].Remaining
			}
			res, err := l.Check(ctx, s, Demand{Tokens: 50_000})
			if err != nil {
				t.Fatal(err)
			}
			if r := res.Decisions()[0].Remaining; r != 10_000 {
				t.Fatalf("after reserve remaining %d", r)
			}
			if _, err := l.Check(ctx, s, Demand{Tokens: 20_000}); err == nil {
				t.Fatal("over-reservation admitted")
			}
			// Refund: only 5,000 were used.
			if err := res.Settle(ctx, Actual{Tokens: 5_000}); err != nil {
				t.Fatal(err)
			}
			if r := remaining(); r != 55_000 {
				t.Fatalf("after refund remaining %d, want 55000", r)
			}
			if err := res.Settle(ctx, Actual{Tokens: 0}); err != nil || remaining() != 55_000 {
				t.Fatal("second settle had an effect")
			}
			// Charge: reserved 1,000, used 115,000: the key holds 120,000 tokens (2 minutes) for a
			// burst of 60,000, so even one token waits a minute.
			res, err = l.Check(ctx, s, Demand{Tokens: 1_000})
			if err != nil {
				t.Fatal(err)
			}
			if err := res.Settle(ctx, Actual{Tokens: 115_000}); err != nil {
				t.Fatal(err)
			}
			_, err = l.Check(ctx, s, Demand{Tokens: 1})
			var de *DeniedError
			if !errors.As(err, &de) {
				t.Fatalf("in debt but admitted: %v", err)
			}
			if de.RetryAfter != time.Minute+time.Millisecond {
				t.Fatalf("retry after %v, want 1m0.001s", de.RetryAfter)
			}
			clk.Advance(de.RetryAfter)
			if _, err := l.Check(ctx, s, Demand{Tokens: 1}); err != nil {
				t.Fatalf("after waiting: %v", err)
			}
		})
	}
}

// TestOversizedDemandRefused: a demand above a tier's whole burst (or budget) is refused at
// once, even from idle, naming the tier and the unit, and leaves the tier untouched.
func TestOversizedDemandRefused(t *testing.T) {
	for _, sf := range stores(t) {
		t.Run(sf.name, func(t *testing.T) {
			clk := newFakeClock()
			l := mustLimiter(t, sf.new(t), clk,
				Rule{Name: "t", Scope: Team, Unit: Tokens, Rate: 1000, Period: time.Second},
				Rule{Name: "b", Scope: User, Unit: Cost, Budget: 5_000_000, Window: Day})
			ctx := context.Background()
			s := Subject{Team: "acme", User: "u"}
			_, err := l.Check(ctx, s, Demand{Tokens: 3000})
			var de *DeniedError
			if !errors.As(err, &de) || !de.TooLarge || de.RetryAfter != 0 || de.Demand != 3000 || de.Limit != 1000 {
				t.Fatalf("oversized from idle: want a too-large denial, got %v %+v", err, de)
			}
			for _, w := range []string{"team:acme", "3000 tokens", "tokens rate limit of 1000"} {
				if !strings.Contains(de.Error(), w) {
					t.Fatalf("message %q lacks %q", de.Error(), w)
				}
			}
			h := http.Header{}
			de.WriteHeaders(h)
			if h.Get("Retry-After") != "" {
				t.Fatalf("a request that can never pass got Retry-After %q", h.Get("Retry-After"))
			}
			_, err = l.Check(ctx, s, Demand{CostMicros: 6_000_000})
			if !errors.As(err, &de) || !de.TooLarge || de.Rule != "b" || !strings.Contains(de.Error(), "$6 cost") {
				t.Fatalf("oversized budget demand: %v", err)
			}
			// Nothing was consumed: the whole burst is still there.
			if _, err := l.Check(ctx, s, Demand{Tokens: 1000}); err != nil {
				t.Fatalf("a full burst after the refusals: %v", err)
			}
		})
	}
}

func TestBudget(t *testing.T) {
	for _, sf := range stores(t) {
		t.Run(sf.name, func(t *testing.T) {
			clk := newFakeClock()
			clk.ns.Store(time.Date(2026, 1, 31, 23, 0, 0, 0, time.UTC).UnixNano())
			l := mustLimiter(t, sf.new(t), clk,
				Rule{Name: "team-day", Scope: Team, Unit: Cost, Budget: 50_000_000, Window: Day},
				Rule{Name: "user-month", Scope: User, Unit: Tokens, Budget: 1_000_000, Window: Month},
			)
			ctx := context.Background()
			s := Subject{Team: "acme", User: "u"}
			res, err := l.Check(ctx, s, Demand{CostMicros: 30_000_000, Tokens: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if err := res.Settle(ctx, Actual{CostMicros: 45_000_000, Tokens: 900_000}); err != nil {
				t.Fatal(err)
			}
			_, err = l.Check(ctx, s, Demand{CostMicros: 6_000_000})
			var de *DeniedError
			if !errors.As(err, &de) || de.Rule != "team-day" || de.Code() != "insufficient_quota" {
				t.Fatalf("want team-day denial, got %v", err)
			}
			if de.RetryAfter != time.Hour {
				t.Fatalf("retry after %v, want 1h (midnight UTC)", de.RetryAfter)
			}
			res, err = l.Check(ctx, s, Demand{CostMicros: 5_000_000})
			if err != nil {
				t.Fatalf("exactly the rest of the budget: %v", err)
			}
			if d := res.Decisions()[0]; d.Remaining != 0 || d.Limit != 50_000_000 {
				t.Fatalf("decision %+v", d)
			}
			// Next day (and month): both windows start afresh.
			clk.Advance(time.Hour)
			res, err = l.Check(ctx, s, Demand{CostMicros: 50_000_000, Tokens: 1_000_000})
			if err != nil {
				t.Fatalf("new window: %v", err)
			}
			if d := res.Decisions()[1]; d.ResetAfter != 28*24*time.Hour {
				t.Fatalf("month reset after %v", d.ResetAfter)
			}
		})
	}
}

func TestKeyRules(t *testing.T) {
	clk := newFakeClock()
	l := mustLimiter(t, NewMemoryStore(), clk)
	ctx := context.Background()
	s := Subject{Key: "key_1", KeyRules: []Rule{{Name: "rpm", Unit: Requests, Rate: 2, Period: time.Minute}}}
	for i := 0; i < 2; i++ {
		if _, err := l.Check(ctx, s, Demand{Requests: 1}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := l.Check(ctx, s, Demand{Requests: 1})
	var de *DeniedError
	if !errors.As(err, &de) || de.Key != "key:key_1" || de.Scope != Key {
		t.Fatalf("want key denial, got %v", err)
	}
	s.Key = "key_2"
	if _, err := l.Check(ctx, s, Demand{Requests: 1}); err != nil {
		t.Fatalf("another key shares the limit: %v", err)
	}
}

func TestHeaders(t *testing.T) {
	clk := newFakeClock()
	l := mustLimiter(t, NewMemoryStore(), clk,
		Rule{Name: "rpm", Scope: Global, Unit: Requests, Rate: 60, Period: time.Minute, Burst: 2},
		Rule{Name: "tpm", Scope: Global, Unit: Tokens, Rate: 100_000, Period: time.Minute},
	)
	ctx := context.Background()
	res, err := l.Check(ctx, Subject{}, Demand{Requests: 1, Tokens: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	res.WriteHeaders(h)
	want := map[string]string{
		"x-ratelimit-limit-requests": "2", "x-ratelimit-remaining-requests": "1", "x-ratelimit-reset-requests": "1s",
		"x-ratelimit-limit-tokens": "100000", "x-ratelimit-remaining-tokens": "90000", "x-ratelimit-reset-tokens": "6s",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	l.Check(ctx, Subject{}, Demand{Requests: 1})
	clk.Advance(300 * time.Millisecond)
	_, err = l.Check(ctx, Subject{}, Demand{Requests: 1})
	var de *DeniedError
	if !errors.As(err, &de) {
		t.Fatalf("want denial, got %v", err)
	}
	h = http.Header{}
	de.WriteHeaders(h)
	if h.Get("retry-after") != "1" || h.Get("x-ratelimit-remaining-requests") != "0" || h.Get("x-ratelimit-reset-requests") != "1.7s" {
		t.Fatalf("denial headers %v", h)
	}
}

func TestFormatReset(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", time.Second: "1s", 6 * time.Minute: "6m0s", 20 * time.Millisecond: "20ms",
		7660 * time.Millisecond: "7.66s", time.Microsecond: "1ms", -time.Second: "0s",
	} {
		if got := FormatReset(d); got != want {
			t.Errorf("FormatReset(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestParse(t *testing.T) {
	good := []struct {
		spec Spec
		want Rule
	}{
		{Spec{Name: "a", Scope: "team", Unit: "tokens", Rate: "100000/min", Burst: 20000},
			Rule{Name: "a", Scope: Team, Unit: Tokens, Rate: 100000, Period: time.Minute, Burst: 20000, FailClosed: true}},
		{Spec{Name: "b", Scope: "global", Unit: "requests", Rate: "10/s"},
			Rule{Name: "b", Scope: Global, Unit: Requests, Rate: 10, Period: time.Second, Burst: 10}},
		{Spec{Name: "c", Scope: "user", Unit: "requests", Rate: "1/2s"},
			Rule{Name: "c", Scope: User, Unit: Requests, Rate: 1, Period: 2 * time.Second, Burst: 1}},
		{Spec{Name: "d", Scope: "team", Match: "acme", Unit: "cost", Budget: "$50/day"},
			Rule{Name: "d", Scope: Team, Match: "acme", Unit: Cost, Budget: 50_000_000, Window: Day, FailClosed: true}},
		{Spec{Name: "e", Scope: "key", Unit: "cost", Rate: "$0.25/hour", Burst: 0.05},
			Rule{Name: "e", Scope: Key, Unit: Cost, Rate: 250_000, Period: time.Hour, Burst: 50_000, FailClosed: true}},
		{Spec{Name: "f", Scope: "user", Unit: "tokens", Budget: "1_000_000/month"},
			Rule{Name: "f", Scope: User, Unit: Tokens, Budget: 1_000_000, Window: Month, FailClosed: true}},
	}
	for _, g := range good {
		got, err := g.spec.Rule()
		if err != nil || got != g.want {
			t.Errorf("%+v.Rule() = %+v, %v; want %+v", g.spec, got, err, g.want)
		}
	}
	bad := []Spec{
		{Scope: "org", Unit: "requests", Rate: "1/s"},
		{Scope: "team", Unit: "dollars", Rate: "1/s"},
		{Scope: "team", Unit: "requests"},
		{Scope: "team", Unit: "requests", Rate: "0.5/s"},
		{Scope: "team", Unit: "requests", Rate: "$5/s"},
		{Scope: "team", Unit: "requests", Rate: "5/fortnight"},
		{Scope: "team", Unit: "tokens", Rate: "5/month"},
		{Scope: "team", Unit: "tokens", Rate: "5/s", Budget: "5/day"},
		{Scope: "team", Unit: "tokens", Budget: "5/week"},
		{Scope: "team", Unit: "tokens", Rate: "-5/s"},
		{Scope: "team", Unit: "tokens", Rate: "5/s", Burst: -1},
	}
	for _, b := range bad {
		if _, err := b.Rule(); err == nil {
			t.Errorf("%+v accepted", b)
		}
	}
	if _, err := New(Config{Rules: []Rule{{Name: "x", Scope: Global, Unit: Requests, Rate: 1, Period: time.Second}, {Name: "x", Scope: Team, Unit: Requests, Rate: 1, Period: time.Second}}}); err == nil {
		t.Error("duplicate rule names accepted")
	}
}

func TestMemoryStoreDropsIdleCells(t *testing.T) {
	clk := newFakeClock()
	st := NewMemoryStore()
	l := mustLimiter(t, st, clk, Rule{Name: "u", Scope: User, Unit: Requests, Rate: 10, Period: time.Second})
	ctx := context.Background()
	for i := 0; i < 3*sweepEvery*shardCount/2; i++ {
		if _, err := l.Check(ctx, Subject{User: fmt.Sprint("u", i)}, Demand{Requests: 1}); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Millisecond)
	}
	// Each cell idles 100ms after its request; most of the 196,608 users must be gone.
	if n := st.Len(); n > 3*sweepEvery*shardCount/4 {
		t.Fatalf("%d cells held", n)
	}
}

// TestRedisSharedAcrossLimiters: several Limiter instances (replicas) on one Redis, hammered
// concurrently, admit the global limit to within 1%.
func TestRedisSharedAcrossLimiters(t *testing.T) {
	srv := redistest.Start(t)
	clk := newFakeClock()
	start := clk.ns.Load()
	const rate, burst = 1000, 50 // per second
	var admitted atomic.Int64
	var wg sync.WaitGroup
	var maxNow atomic.Int64
	for r := 0; r < 4; r++ {
		st, err := NewRedisStore(RedisOptions{URL: srv.URL, Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		l := mustLimiter(t, st, clk, Rule{Name: "g", Scope: Global, Unit: Requests, Rate: rate, Period: time.Second, Burst: burst})
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 500; i++ {
					// Each attempt moves the shared clock 0.5ms: 8,000 attempts span 4s.
					clk.Advance(500 * time.Microsecond)
					if _, err := l.Check(context.Background(), Subject{User: "x"}, Demand{Requests: 1}); err == nil {
						admitted.Add(1)
					} else if !errors.As(err, new(*DeniedError)) {
						t.Error(err)
						return
					}
				}
				maxNow.Store(max(maxNow.Load(), clk.ns.Load()))
			}()
		}
	}
	wg.Wait()
	span := time.Duration(clk.ns.Load() - start)
	want := float64(burst) + rate*span.Seconds()
	got := float64(admitted.Load())
	if got > want*1.01 || got < want*0.99 {
		t.Fatalf("admitted %v over %v, want %v within 1%%", got, span, want)
	}
	t.Logf("admitted %v, ideal %v", got, want)
}

func TestRedisDown(t *testing.T) {
	for _, failOpen := range []bool{true, false} {
		t.Run(fmt.Sprint("failOpen=", failOpen), func(t *testing.T) {
			srv := redistest.Start(t)
			st, err := NewRedisStore(RedisOptions{URL: srv.URL, Timeout: 100 * time.Millisecond, Cooldown: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			l, err := New(Config{Store: st, FailOpen: failOpen,
				Rules: []Rule{{Name: "g", Scope: Global, Unit: Requests, Rate: 10, Period: time.Second}}})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if _, err := l.Check(ctx, Subject{}, Demand{Requests: 1}); err != nil {
				t.Fatal(err)
			}
			srv.Stop()
			for i := 0; i < 3; i++ {
				begin := time.Now()
				res, err := l.Check(ctx, Subject{}, Demand{Requests: 1})
				if took := time.Since(begin); took > 500*time.Millisecond {
					t.Fatalf("check took %v with redis down", took)
				}
				if failOpen {
					if err != nil || !res.Degraded {
						t.Fatalf("fail-open: %v, %+v", err, res)
					}
					if err := res.Settle(ctx, Actual{Tokens: 5}); err != nil {
						t.Fatalf("settling a degraded reservation: %v", err)
					}
				} else if !errors.Is(err, ErrUnavailable) {
					t.Fatalf("fail-closed: want ErrUnavailable, got %v", err)
				}
			}
			s := l.Stats()
			if s.StoreErrors != 3 || s.Allowed != 1 || (failOpen && s.FailedOpen != 3) || (!failOpen && s.FailedOpen != 0) {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

func TestRedisBadURL(t *testing.T) {
	if _, err := NewRedisStore(RedisOptions{URL: "http://x"}); err == nil {
		t.Fatal("bad URL accepted")
	}
}

func BenchmarkCheckMemory(b *testing.B) {
	l, err := New(Config{Rules: []Rule{
		{Name: "g", Scope: Global, Unit: Requests, Rate: 1 << 40, Period: time.Second},
		{Name: "t", Scope: Team, Unit: Tokens, Rate: 1 << 40, Period: time.Second},
	}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	s := Subject{Team: "acme", User: "u"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Check(ctx, s, Demand{Requests: 1, Tokens: 100}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckRedis(b *testing.B) {
	srv := redistest.Start(b)
	st, err := NewRedisStore(RedisOptions{URL: srv.URL})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	l, err := New(Config{Store: st, Rules: []Rule{
		{Name: "g", Scope: Global, Unit: Requests, Rate: 1 << 40, Period: time.Second},
		{Name: "t", Scope: Team, Unit: Tokens, Rate: 1 << 40, Period: time.Second},
	}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	s := Subject{Team: "acme"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Check(ctx, s, Demand{Requests: 1, Tokens: 100}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCallerCancellationIsNotAStoreFailure: checks whose caller already gave up still run
// against Redis, count no store error and leave the breaker closed, so the limits hold for
// everyone after a burst of clients that hung up.
func TestCallerCancellationIsNotAStoreFailure(t *testing.T) {
	srv := redistest.Start(t)
	st, err := NewRedisStore(RedisOptions{URL: srv.URL, Timeout: time.Second, Cooldown: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, err := New(Config{Store: st, FailOpen: true,
		Rules: []Rule{{Name: "g", Scope: Global, Unit: Requests, Rate: 5, Period: time.Minute}}})
	if err != nil {
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	admitted := 0
	for i := 0; i < 20; i++ {
		if res, err := l.Check(gone, Subject{}, Demand{Requests: 1}); err == nil {
			if res.Degraded {
				t.Fatalf("check %d was admitted unchecked", i)
			}
			admitted++
		}
	}
	if admitted != 5 {
		t.Fatalf("canceled callers: %d admitted, want the burst of 5", admitted)
	}
	if s := l.Stats(); s.StoreErrors != 0 || s.FailedOpen != 0 {
		t.Fatalf("canceled callers counted as store failures: %+v", s)
	}
	// The store itself sees a caller whose deadline passed and must not cool down for it.
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	if _, err := st.run(expired, time.Now().UnixNano(), "c", []op{{key: cellKey{"x:", "y"}, kind: opGCRA, n: 1, lim: 10}}); err == nil {
		t.Fatal("a call on an expired context succeeded")
	}
	if _, err := l.Check(context.Background(), Subject{}, Demand{Requests: 1}); !errors.As(err, new(*DeniedError)) {
		t.Fatalf("after an expired caller the limit must still hold (breaker closed), got %v", err)
	}
}

// TestFailClosedRule: with the store down, a fail-open limiter admits requests that only
// meet requests rules and refuses those that meet a fail-closed (tokens, cost) rule.
func TestFailClosedRule(t *testing.T) {
	srv := redistest.Start(t)
	st, err := NewRedisStore(RedisOptions{URL: srv.URL, Timeout: 100 * time.Millisecond, Cooldown: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	spend, err := Spec{Name: "spend", Scope: "team", Match: "paid", Unit: "cost", Budget: "$5/day"}.Rule()
	if err != nil {
		t.Fatal(err)
	}
	reqs, err := Spec{Name: "reqs", Scope: "global", Unit: "requests", Rate: "100/s"}.Rule()
	if err != nil {
		t.Fatal(err)
	}
	if !spend.FailClosed || reqs.FailClosed {
		t.Fatalf("defaults: cost fail-closed %v, requests fail-closed %v", spend.FailClosed, reqs.FailClosed)
	}
	yes := true
	if r, _ := (Spec{Name: "x", Scope: "global", Unit: "tokens", Rate: "1/s", FailOpen: &yes}).Rule(); r.FailClosed {
		t.Fatal("fail_open = true on a tokens rule was ignored")
	}
	l, err := New(Config{Store: st, FailOpen: true, Rules: []Rule{spend, reqs}})
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if res, err := l.Check(context.Background(), Subject{Team: "free"}, Demand{Requests: 1}); err != nil || !res.Degraded {
		t.Fatalf("requests-only tiers: want admitted degraded, got %v", err)
	}
	if _, err := l.Check(context.Background(), Subject{Team: "paid"}, Demand{Requests: 1, CostMicros: 10}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a cost tier with the store down: want ErrUnavailable, got %v", err)
	}
}
