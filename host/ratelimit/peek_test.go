package ratelimit

import (
	"context"
	"testing"
	"time"
)

// TestPeekDoesNotConsume: a peek reports each applicable tier's limit, remaining and reset,
// follows what checks consume, and never consumes itself, in both stores.
func TestPeekDoesNotConsume(t *testing.T) {
	for _, sf := range stores(t) {
		t.Run(sf.name, func(t *testing.T) {
			clk := newFakeClock()
			l := mustLimiter(t, sf.new(t), clk,
				Rule{Name: "router-rpm", Scope: Router, Match: "prod", Unit: Requests, Rate: 60, Period: time.Minute, Burst: 3},
				Rule{Name: "team-day", Scope: Team, Unit: Tokens, Budget: 1000, Window: Day},
				Rule{Name: "other-team", Scope: Team, Match: "other", Unit: Requests, Rate: 1, Period: time.Minute},
			)
			ctx := context.Background()
			s := Subject{Router: "prod", Team: "acme", Key: "k1",
				KeyRules: []Rule{{Name: "rpm", Unit: Requests, Rate: 2, Period: time.Minute}}}
			peek := func() []Decision {
				t.Helper()
				d, err := l.Peek(ctx, s)
				if err != nil {
					t.Fatal(err)
				}
				if len(d) != 3 {
					t.Fatalf("peek gave %d tiers, want 3: %+v", len(d), d)
				}
				return d
			}
			d := peek()
			if d[0].Rule != "router-rpm" || d[0].Key != "router:prod" || d[0].Limit != 3 || d[0].Remaining != 3 || !d[0].Allowed || d[0].ResetAfter != 0 {
				t.Fatalf("idle router tier %+v", d[0])
			}
			if d[1].Rule != "team-day" || !d[1].Budget || d[1].Limit != 1000 || d[1].Remaining != 1000 || d[1].ResetAfter != 14*time.Hour {
				t.Fatalf("idle team tier %+v", d[1])
			}
			if d[2].Rule != "rpm" || d[2].Key != "key:k1" || d[2].Limit != 2 || d[2].Remaining != 2 {
				t.Fatalf("idle key tier %+v", d[2])
			}
			for range 5 {
				peek()
			}
			if st := l.Stats(); st.Allowed != 0 || st.Denied != 0 {
				t.Fatalf("peeks were counted as checks: %+v", st)
			}
			if _, err := l.Check(ctx, s, Demand{Requests: 1, Tokens: 100}); err != nil {
				t.Fatal(err)
			}
			d = peek()
			if d[0].Remaining != 2 || d[0].ResetAfter != time.Second || d[1].Remaining != 900 || d[2].Remaining != 1 {
				t.Fatalf("after one check: %+v", d)
			}
			if _, err := l.Check(ctx, s, Demand{Requests: 1, Tokens: 100}); err != nil {
				t.Fatalf("second check after peeks: %v", err)
			}
			d = peek()
			if d[2].Remaining != 0 || d[2].Allowed || !d[0].Allowed {
				t.Fatalf("key tier exhausted: %+v", d)
			}
			if _, err := l.Check(ctx, s, Demand{Requests: 1}); err == nil {
				t.Fatal("third check passed a 2-request key burst")
			}
			clk.Advance(30 * time.Second)
			if d = peek(); d[2].Remaining != 1 || d[0].Remaining != 3 {
				t.Fatalf("after 30s: %+v", d)
			}
		})
	}
}

func TestPeekNoTiers(t *testing.T) {
	l := mustLimiter(t, NewMemoryStore(), newFakeClock(), Rule{Name: "t", Scope: Team, Match: "x", Unit: Requests, Rate: 1, Period: time.Second})
	d, err := l.Peek(context.Background(), Subject{Team: "y"})
	if err != nil || len(d) != 0 {
		t.Fatalf("peek = %v, %v", d, err)
	}
}
