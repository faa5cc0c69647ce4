package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sluice-gw/sluice/host/openai"
)

// ErrUnavailable is wrapped by Check's error when the store failed and the limiter is
// fail-closed. The gateway answers such requests with a 503.
var ErrUnavailable = errors.New("rate limit store unavailable")

// Config configures a Limiter.
type Config struct {
	Rules []Rule
	// Store defaults to a new MemoryStore.
	Store Store
	// FailOpen admits requests when the store fails, unless a tier that applies to the
	// request is a fail-closed rule (Rule.FailClosed); otherwise they are refused with
	// ErrUnavailable. Either way the failure is logged and counted.
	FailOpen bool
	// StoreTimeout bounds each store call (default 1s). Calls run on a context detached from
	// the caller's, so a client that hangs up never fails a store call (and never trips the
	// Redis store's breaker); the store's own timeout applies within this bound.
	StoreTimeout time.Duration
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
	// whatever their Scope and Match say, and are ignored when Key is empty. Give them names
	// unique within the key.
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
	// TooLarge is true when the demand alone exceeds the tier's burst (or budget): it can
	// never pass, and RetryAfter is zero. Demand is that demand, in the rule's unit.
	TooLarge bool
	Demand   int64
}

// Stats are the limiter's counters since it was built, for telemetry.
type Stats struct {
	Allowed, Denied uint64
	// StoreErrors counts failed store calls; FailedOpen those of them admitted anyway.
	StoreErrors, FailedOpen uint64
}

// Limiter applies rules to requests. It is safe for concurrent use.
type Limiter struct {
	rules        []Rule
	prefixes     []string // cell key prefix per rule
	store        Store
	failOpen     bool
	storeTimeout time.Duration
	clock        func() time.Time
	log          *slog.Logger

	allowed, denied, storeErrors, failedOpen atomic.Uint64
}

// New validates the rules and builds a Limiter.
func New(cfg Config) (*Limiter, error) {
	l := &Limiter{store: cfg.Store, failOpen: cfg.FailOpen, storeTimeout: cfg.StoreTimeout, clock: cfg.Clock, log: cfg.Logger}
	if l.storeTimeout <= 0 {
		l.storeTimeout = time.Second
	}
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
		l.prefixes = append(l.prefixes, cellPrefix(&r))
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
	prefix string // cell key prefix: rule name and scope
	value  string // the subject's router, team, user or key ("" for global)
	demand int64
	start  int64 // window start, for budgets
}

// key is the scope key reported in decisions, e.g. "team:acme".
func (t *tier) key() string {
	if t.rule.Scope == Global {
		return "global"
	}
	return t.rule.Scope.String() + ":" + t.value
}

func subjectValue(r *Rule, s *Subject) (string, bool) {
	var v string
	switch r.Scope {
	case Global:
		return "", true
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
	return v, true
}

func cellPrefix(r *Rule) string { return r.Name + ":" + r.Scope.String() + ":" }

func amountOf(u Unit, d Demand) int64 {
	switch u {
	case Requests:
		return d.Requests
	case Tokens:
		return d.Tokens
	}
	return d.CostMicros
}

// inline is how many tiers a Reservation holds without further allocation.
const inline = 4

// Check admits or denies a request at every tier that applies to s. When all pass, d is
// consumed at all of them; when any denies, none is consumed and the error is a *DeniedError.
// A store failure yields ErrUnavailable, or an admitted Reservation marked Degraded when
// the limiter fails open.
func (l *Limiter) Check(ctx context.Context, s Subject, d Demand) (*Reservation, error) {
	now := l.clock().UnixNano()
	res := &Reservation{l: l, now: now}
	res.tiers = res.tierBuf[:0]
	for i := range l.rules {
		if v, ok := subjectValue(&l.rules[i], &s); ok {
			res.tiers = append(res.tiers, tier{rule: &l.rules[i], prefix: l.prefixes[i], value: v})
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
			res.tiers = append(res.tiers, tier{rule: &r, prefix: cellPrefix(&r), value: s.Key})
		}
	}
	n := len(res.tiers)
	if n == 0 {
		l.allowed.Add(1)
		return res, nil
	}
	res.ops, res.vals = res.opBuf[:0], res.valBuf[:0]
	if n > inline {
		res.ops, res.vals = make([]op, 0, n), make([]int64, 0, n)
	}
	for i := range res.tiers {
		t := &res.tiers[i]
		t.demand = max(amountOf(t.rule.Unit, d), 0)
		res.ops = append(res.ops, t.op(now, t.demand))
		res.vals = append(res.vals, 0)
	}
	sctx, cancel := l.storeContext(ctx)
	denied, err := l.store.check(sctx, now, res.ops, res.vals)
	cancel()
	if err != nil {
		return l.storeFailed(err, res)
	}
	if denied >= 0 {
		l.denied.Add(1)
		decs := res.decide(denied)
		return nil, &DeniedError{Decision: decs[denied], all: decs}
	}
	l.allowed.Add(1)
	return res, nil
}

// storeContext is the context of one store call: the caller's values (trace) without its
// cancellation, bounded by StoreTimeout. A request whose client hung up still completes its
// store call, so the client's cancellation is never mistaken for a store failure.
func (l *Limiter) storeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), l.storeTimeout)
}

func (l *Limiter) storeFailed(err error, res *Reservation) (*Reservation, error) {
	l.storeErrors.Add(1)
	open := l.failOpen
	for i := range res.tiers {
		if res.tiers[i].rule.FailClosed {
			open = false
			break
		}
	}
	if !errors.Is(err, errCircuitOpen) {
		l.log.Warn("ratelimit: store failed", "err", err, "fail_open", open)
	}
	if open {
		l.failedOpen.Add(1)
		res.Degraded = true
		res.tiers, res.ops, res.vals = nil, nil, nil
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
		return op{key: cellKey{t.prefix, t.value + ":" + strconv.FormatInt(t.start/1e9, 10)},
			kind: opWindow, n: n, lim: r.Budget, exp: end}
	}
	ns := r.cost(n)
	if n < 0 {
		ns = -r.cost(-n)
	}
	return op{key: cellKey{t.prefix, t.value}, kind: opGCRA, n: ns, lim: r.tau()}
}

func (t *tier) decision(now, val int64, allowed bool, o *op) Decision {
	r := t.rule
	d := Decision{Rule: r.Name, Scope: r.Scope, Key: t.key(), Unit: r.Unit, Allowed: allowed, Demand: t.demand}
	if r.Budget > 0 {
		d.Budget = true
		d.Limit = r.Budget
		d.Remaining = max(r.Budget-val, 0)
		d.ResetAfter = time.Duration(o.exp - now)
		switch {
		case allowed:
		case t.demand > r.Budget:
			d.TooLarge = true
		default:
			d.RetryAfter = d.ResetAfter
		}
		return d
	}
	d.Limit = r.Burst
	d.Remaining = min(r.units(o.lim-val), r.Burst)
	d.ResetAfter = time.Duration(val)
	switch {
	case allowed:
	case o.n > o.lim:
		d.TooLarge = true // more than the whole burst: waiting never helps
	default:
		d.RetryAfter = time.Duration(val + o.n - o.lim)
	}
	return d
}

// Reservation is an admitted request's hold on its tiers.
type Reservation struct {
	// Degraded is true when the store failed and the request was admitted unchecked.
	Degraded bool

	l         *Limiter
	now       int64
	tiers     []tier
	ops       []op
	vals      []int64
	decisions []Decision
	settled   atomic.Bool

	tierBuf [inline]tier
	opBuf   [inline]op
	valBuf  [inline]int64
}

// decide computes the per-tier decisions (denied is the refusing tier, or -1).
func (r *Reservation) decide(denied int) []Decision {
	decs := make([]Decision, len(r.tiers))
	for i := range r.tiers {
		decs[i] = r.tiers[i].decision(r.now, r.vals[i], i != denied, &r.ops[i])
	}
	return decs
}

// Decisions returns the outcome at each tier that applied. They are computed on first use,
// keeping Check itself cheap. Not safe to call concurrently with itself.
func (r *Reservation) Decisions() []Decision {
	if r.decisions == nil && len(r.tiers) > 0 {
		r.decisions = r.decide(-1)
	}
	return r.decisions
}

// Settle corrects the token and cost reservations with the real usage: the difference is
// refunded or charged (a charge may put a tier into debt, delaying the next request). Only the
// first call has an effect.
func (r *Reservation) Settle(ctx context.Context, a Actual) error {
	if r == nil || r.settled.Swap(true) || len(r.tiers) == 0 {
		return nil
	}
	now := r.l.clock().UnixNano()
	var buf [inline]op
	ops := buf[:0]
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
	sctx, cancel := r.l.storeContext(ctx)
	defer cancel()
	if err := r.l.store.settle(sctx, now, ops); err != nil {
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
	if e.TooLarge {
		return fmt.Sprintf("ratelimit: %s: the request needs %s %s, more than the whole %s %s limit of %s (rule %q); it cannot pass: lower max_tokens or split the request",
			e.Key, formatAmount(e.Unit, e.Demand), e.Unit, e.Unit, what, formatAmount(e.Unit, e.Limit), e.Rule)
	}
	return fmt.Sprintf("ratelimit: %s over its %s %s limit (rule %q); retry after %s",
		e.Key, e.Unit, what, e.Rule, FormatReset(e.RetryAfter))
}

// Code is the OpenAI error code: insufficient_quota for an exhausted budget,
// rate_limit_exceeded otherwise.
func (e *DeniedError) Code() string {
	if e.Budget {
		return openai.CodeInsufficientQuota
	}
	return openai.CodeRateLimitExceeded
}

// Decisions returns the state of every tier that applied (none was consumed).
func (e *DeniedError) Decisions() []Decision { return e.all }

// formatAmount writes n in unit: USD for cost (micro-dollars inside), a count otherwise.
func formatAmount(u Unit, n int64) string {
	if u == Cost {
		return "$" + strconv.FormatFloat(float64(n)/1e6, 'f', -1, 64)
	}
	return strconv.FormatInt(n, 10)
}
