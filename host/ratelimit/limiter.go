package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"
)

// ErrUnavailable is wrapped by Check's error when the store failed and the limiter is
// fail-closed. The gateway answers such requests with a 503.
var ErrUnavailable = errors.New("rate limit store unavailable")

// Config configures a Limiter.
type Config struct {
	Rules []Rule
	// Store defaults to a new MemoryStore.
	Store Store
	// FailOpen admits requests when the store fails; otherwise they are refused with
	// ErrUnavailable. Either way the failure is logged and counted.
	FailOpen bool
	// Clock defaults to time.Now. The Redis store uses this clock too (it is passed to the
	// script), so replicas sharing Redis must keep their clocks in sync (NTP): a skew of d
	// lets a replica admit up to d worth of rate early.
	Clock  func() time.Time
	Logger *slog.Logger
}

// Subject is who a request is for; empty fields skip the tiers that need them.
type Subject struct {
	Router, Team, User string
	// Key is the virtual key's ID (never the secret).
	Key string
	// KeyRules are the limits that come with the caller's key; they apply at the key scope
	// whatever their Scope and Match say. Give them names unique within the key.
	KeyRules []Rule
}

// Demand is what a request will consume, per unit. Tokens and CostMicros are estimates,
// corrected by Reservation.Settle.
type Demand struct {
	Requests   int64
	Tokens     int64
	CostMicros int64
}

// Actual is the real consumption reported when a request completes.
type Actual struct {
	Tokens     int64
	CostMicros int64
}

// Decision is the outcome at one tier.
type Decision struct {
	Rule  string
	Scope Scope
	// Key is the scope key, e.g. "team:acme" or "global".
	Key  string
	Unit Unit
	// Budget is true for periodic budgets, false for rates.
	Budget  bool
	Allowed bool
	// Limit is the burst of a rate, or the budget of a window.
	Limit     int64
	Remaining int64
	// ResetAfter is when the tier is back to its full Limit (rate) or its window ends.
	ResetAfter time.Duration
	// RetryAfter is, when denied, how long until this demand would pass.
	RetryAfter time.Duration
}

// Stats are the limiter's counters since it was built, for telemetry.
type Stats struct {
	Allowed, Denied uint64
	// StoreErrors counts failed store calls; FailedOpen those of them admitted anyway.
	StoreErrors, FailedOpen uint64
}

// Limiter applies rules to requests. It is safe for concurrent use.
type Limiter struct {
	rules    []Rule
	store    Store
	failOpen bool
	clock    func() time.Time
	log      *slog.Logger

	allowed, denied, storeErrors, failedOpen atomic.Uint64
}

// New validates the rules and builds a Limiter.
func New(cfg Config) (*Limiter, error) {
	l := &Limiter{store: cfg.Store, failOpen: cfg.FailOpen, clock: cfg.Clock, log: cfg.Logger}
	if l.store == nil {
		l.store = NewMemoryStore()
	}
	if l.clock == nil {
		l.clock = time.Now
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	seen := map[string]bool{}
	for i, r := range cfg.Rules {
		if r.Name == "" {
			r.Name = defaultName(i, r)
		}
		if err := r.validate(); err != nil {
			return nil, fmt.Errorf("ratelimit: %w", err)
		}
		if seen[r.Name] {
			return nil, fmt.Errorf("ratelimit: two rules named %q", r.Name)
		}
		seen[r.Name] = true
		l.rules = append(l.rules, r)
	}
	return l, nil
}

func defaultName(i int, r Rule) string {
	kind := "rate"
	if r.Budget > 0 {
		kind = "budget"
	}
	return r.Scope.String() + "-" + r.Unit.String() + "-" + kind + "-" + strconv.Itoa(i)
}

// Stats returns a snapshot of the counters.
func (l *Limiter) Stats() Stats {
	return Stats{Allowed: l.allowed.Load(), Denied: l.denied.Load(),
		StoreErrors: l.storeErrors.Load(), FailedOpen: l.failedOpen.Load()}
}

// tier is one rule applied to one subject.
type tier struct {
	rule   *Rule
	key    string // scope key
	demand int64
	start  int64 // window start, for budgets
}

func scopeKey(r *Rule, s *Subject) (string, bool) {
	var v string
	switch r.Scope {
	case Global:
		return "global", true
	case Router:
		v = s.Router
	case Team:
		v = s.Team
	case User:
		v = s.User
	case Key:
		v = s.Key
	}
	if v == "" || (r.Match != "" && r.Match != v) {
		return "", false
	}
	return r.Scope.String() + ":" + v, true
}

func amountOf(u Unit, d Demand) int64 {
	switch u {
	case Requests:
		return d.Requests
	case Tokens:
		return d.Tokens
	}
	return d.CostMicros
}

// Check admits or denies a request at every tier that applies to s. When all pass, d is
// consumed at all of them; when any denies, none is consumed and the error is a *DeniedError.
// A store failure yields ErrUnavailable, or an admitted Reservation marked Degraded when
// the limiter fails open.
func (l *Limiter) Check(ctx context.Context, s Subject, d Demand) (*Reservation, error) {
	now := l.clock().UnixNano()
	tiers := make([]tier, 0, len(l.rules)+len(s.KeyRules))
	for i := range l.rules {
		if k, ok := scopeKey(&l.rules[i], &s); ok {
			tiers = append(tiers, tier{rule: &l.rules[i], key: k})
		}
	}
	if s.Key != "" {
		for i := range s.KeyRules {
			r := s.KeyRules[i]
			r.Scope, r.Match = Key, ""
			r.Name = "keyrule-" + r.Name
			if err := r.validate(); err != nil {
				return nil, fmt.Errorf("ratelimit: key %s: %w", s.Key, err)
			}
			tiers = append(tiers, tier{rule: &r, key: "key:" + s.Key})
		}
	}
	res := &Reservation{l: l, tiers: tiers}
	if len(tiers) == 0 {
		l.allowed.Add(1)
		return res, nil
	}
	ops := make([]op, len(tiers))
	for i := range tiers {
		t := &tiers[i]
		t.demand = max(amountOf(t.rule.Unit, d), 0)
		ops[i] = t.op(now, t.demand)
	}
	vals, denied, err := l.store.check(ctx, now, ops)
	if err != nil {
		return l.storeFailed(err, res)
	}
	decs := make([]Decision, len(tiers))
	for i := range tiers {
		decs[i] = tiers[i].decision(now, vals[i], denied < 0 || i != denied, &ops[i])
	}
	if denied >= 0 {
		l.denied.Add(1)
		return nil, &DeniedError{Decision: decs[denied], all: decs}
	}
	l.allowed.Add(1)
	res.decisions = decs
	return res, nil
}

func (l *Limiter) storeFailed(err error, res *Reservation) (*Reservation, error) {
	l.storeErrors.Add(1)
	if !errors.Is(err, errCircuitOpen) {
		l.log.Warn("ratelimit: store failed", "err", err, "fail_open", l.failOpen)
	}
	if l.failOpen {
		l.failedOpen.Add(1)
		res.Degraded = true
		res.tiers = nil
		return res, nil
	}
	return nil, fmt.Errorf("ratelimit: %w: %w", ErrUnavailable, err)
}

// op builds the store operation consuming n units (n may be negative when settling).
func (t *tier) op(now, n int64) op {
	r := t.rule
	if r.Budget > 0 {
		// Settlement goes to the window the reservation was taken in.
		if t.start == 0 {
			t.start, _ = r.Window.bounds(now)
		}
		_, end := r.Window.bounds(t.start)
		return op{key: r.Name + ":" + t.key + ":" + strconv.FormatInt(t.start/1e9, 10),
			kind: opWindow, n: n, lim: r.Budget, exp: end}
	}
	ns := r.cost(n)
	if n < 0 {
		ns = -r.cost(-n)
	}
	return op{key: r.Name + ":" + t.key, kind: opGCRA, n: ns, lim: r.tau()}
}

func (t *tier) decision(now, val int64, allowed bool, o *op) Decision {
	r := t.rule
	d := Decision{Rule: r.Name, Scope: r.Scope, Key: t.key, Unit: r.Unit, Allowed: allowed}
	if r.Budget > 0 {
		d.Budget = true
		d.Limit = r.Budget
		d.Remaining = max(r.Budget-val, 0)
		d.ResetAfter = time.Duration(o.exp - now)
		if !allowed {
			d.RetryAfter = d.ResetAfter
		}
		return d
	}
	d.Limit = r.Burst
	d.Remaining = min(r.units(o.lim-val), r.Burst)
	d.ResetAfter = time.Duration(val)
	if !allowed {
		if o.n > o.lim {
			d.RetryAfter = time.Duration(val) // oversized: passes once idle
		} else {
			d.RetryAfter = time.Duration(val + o.n - o.lim)
		}
	}
	return d
}

// Reservation is an admitted request's hold on its tiers.
type Reservation struct {
	// Degraded is true when the store failed and the request was admitted unchecked.
	Degraded bool

	l         *Limiter
	tiers     []tier
	decisions []Decision
	settled   atomic.Bool
}

// Decisions returns the outcome at each tier that applied.
func (r *Reservation) Decisions() []Decision { return r.decisions }

// Settle corrects the token and cost reservations with the real usage: the difference is
// refunded or charged (a charge may put a tier into debt, delaying the next request). Only the
// first call has an effect.
func (r *Reservation) Settle(ctx context.Context, a Actual) error {
	if r == nil || r.settled.Swap(true) || len(r.tiers) == 0 {
		return nil
	}
	now := r.l.clock().UnixNano()
	var ops []op
	for i := range r.tiers {
		t := &r.tiers[i]
		var actual int64
		switch t.rule.Unit {
		case Tokens:
			actual = a.Tokens
		case Cost:
			actual = a.CostMicros
		default:
			continue
		}
		if delta := max(actual, 0) - t.demand; delta != 0 {
			ops = append(ops, t.op(now, delta))
		}
	}
	if len(ops) == 0 {
		return nil
	}
	if err := r.l.store.settle(ctx, now, ops); err != nil {
		r.l.storeErrors.Add(1)
		if !errors.Is(err, errCircuitOpen) {
			r.l.log.Warn("ratelimit: settlement failed", "err", err)
		}
		return fmt.Errorf("ratelimit: settle: %w", err)
	}
	return nil
}

// DeniedError is returned by Check when a tier refuses the request. It names the first tier
// that refused; the gateway turns it into an OpenAI-shaped 429.
type DeniedError struct {
	Decision
	all []Decision
}

func (e *DeniedError) Error() string {
	what := "rate"
	if e.Budget {
		what = "budget"
	}
	return fmt.Sprintf("ratelimit: %s over its %s %s limit (rule %q); retry after %s",
		e.Key, e.Unit, what, e.Rule, FormatReset(e.RetryAfter))
}

// Code is the OpenAI error code: insufficient_quota for an exhausted budget,
// rate_limit_exceeded otherwise.
func (e *DeniedError) Code() string {
	if e.Budget {
		return "insufficient_quota"
	}
	return "rate_limit_exceeded"
}

// Decisions returns the state of every tier that applied (none was consumed).
func (e *DeniedError) Decisions() []Decision { return e.all }
