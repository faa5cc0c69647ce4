package balance

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxTargets bounds a router's targets so a plan tracks them in one word.
const maxTargets = 64

// ErrNoTarget is returned by Plan when the request's pin and exclusions leave
// no target.
var ErrNoTarget = errors.New("balance: no target left")

// member is a target within one router: its shared state plus the router's
// own counters.
type member struct {
	t   Target
	idx int
	key stateKey
	st  *state

	attempts, failovers, retries atomic.Uint64
}

// Router orders its targets for each request and learns from the outcomes.
// It is safe for concurrent use.
type Router struct {
	name                    string
	strategy, fallback      Strategy
	members                 []*member
	maxAttempts             int
	afterSend               bool
	backoff, maxBackoff     time.Duration
	timeout, attemptTimeout time.Duration
	budget                  *budget
	orderer                 Orderer
	clock                   func() time.Time
	reg                     *Registry

	randMu sync.Mutex
	src    rand.Source

	rr     atomic.Uint64
	swrrMu sync.Mutex
	swrr   []int

	plans, panics, attempts, failovers, retries atomic.Uint64
	budgetExhausted, pluginErrors               atomic.Uint64

	stopProbes context.CancelFunc
	probesDone chan struct{}
	closeOnce  sync.Once
}

// Request is what the router needs to know about one request.
type Request struct {
	// Meta is opaque here; it is handed to the Orderer unchanged.
	Meta any
	// EstTokensIn and EstTokensOut feed the cost strategy; when both are
	// zero, prices are compared as PriceIn + PriceOut.
	EstTokensIn, EstTokensOut int
	// Pin keeps only targets of this provider ("anthropic") or
	// provider/model ("anthropic/claude-haiku-4-5"); empty keeps all.
	Pin string
	// Exclude drops targets matching any entry (same forms as Pin).
	Exclude []string
	// Allow, when set, keeps only the targets it returns true for (the caller's permissions):
	// a target it refuses is never a candidate, a route plugin never sees it.
	Allow func(Target) bool
}

func (q *Request) allows(t Target) bool {
	if q.Allow != nil && !q.Allow(t) {
		return false
	}
	if q.Pin != "" && !t.matches(q.Pin) {
		return false
	}
	for _, e := range q.Exclude {
		if t.matches(e) {
			return false
		}
	}
	return true
}

// RouterStats are a router's own counters.
type RouterStats struct {
	// Plans counts requests planned; PanicPlans those planned while every
	// candidate was unhealthy.
	Plans, PanicPlans uint64
	// Attempts counts attempts handed out; Failovers those that moved to a
	// target the request had not tried; Retries those that repeated one.
	Attempts, Failovers, Retries uint64
	// BudgetExhausted counts requests denied a further attempt by the retry
	// budget.
	BudgetExhausted uint64
	// PluginErrors counts Orderer failures that fell back to the fallback
	// strategy.
	PluginErrors uint64
}

// NewRouter validates cfg, applies defaults and builds the router. With a
// Probe.Func set it starts probing; Close stops it.
func NewRouter(cfg Config) (*Router, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	r := &Router{
		name:           cfg.Name,
		strategy:       cfg.Strategy,
		fallback:       cfg.FallbackStrategy,
		maxAttempts:    cfg.Retries.Attempts,
		afterSend:      cfg.Retries.AfterSend,
		backoff:        cfg.Retries.Backoff,
		maxBackoff:     cfg.Retries.MaxBackoff,
		timeout:        cfg.Timeout,
		attemptTimeout: cfg.AttemptTimeout,
		budget:         newBudget(cfg.Retries.Budget, cfg.Retries.BudgetFloor, cfg.Retries.BudgetWindow, 10),
		orderer:        cfg.Orderer,
		clock:          cfg.Clock,
		reg:            cfg.Registry,
		src:            cfg.Rand,
		swrr:           make([]int, len(cfg.Targets)),
	}
	if r.clock == nil {
		r.clock = time.Now
	}
	if r.reg == nil {
		r.reg = NewRegistry()
	}
	tune := cfg.tuning()
	for i, t := range cfg.Targets {
		k := stateKey{provider: t.Provider, model: t.Model, tune: tune}
		r.members = append(r.members, &member{t: t, idx: i, key: k, st: r.reg.acquire(k)})
	}
	if cfg.Probe.Func != nil {
		ctx, cancel := context.WithCancel(context.Background())
		r.stopProbes = cancel
		r.probesDone = make(chan struct{})
		go r.probeLoop(ctx, cfg.Probe)
	}
	return r, nil
}

// Name returns the router's name.
func (r *Router) Name() string { return r.name }

// Timeout is the bound for a whole request.
func (r *Router) Timeout() time.Duration { return r.timeout }

// AttemptTimeout is the bound for one attempt.
func (r *Router) AttemptTimeout() time.Duration { return r.attemptTimeout }

// Close stops probing and releases the router's share of the registry. The
// router must not be used afterwards. On a config reload build the new
// routers before closing the old ones, so shared state carries over.
func (r *Router) Close() {
	r.closeOnce.Do(func() {
		if r.stopProbes != nil {
			r.stopProbes()
			<-r.probesDone
		}
		for _, m := range r.members {
			r.reg.release(m.key)
		}
	})
}

func (r *Router) now() int64 { return r.clock().UnixNano() }

func (r *Router) rand64() uint64 {
	if r.src == nil {
		return rand.Uint64()
	}
	r.randMu.Lock()
	v := r.src.Uint64()
	r.randMu.Unlock()
	return v
}

// randN returns a uniform int in [0, n).
func (r *Router) randN(n int) int {
	hi, _ := bits.Mul64(r.rand64(), uint64(n))
	return int(hi)
}

// jitter is the full-jitter pause before the n-th repeat (n >= 1).
func (r *Router) jitter(n int) time.Duration {
	ceil := r.maxBackoff
	if n <= 32 {
		if d := r.backoff << (n - 1); d > 0 && d < ceil {
			ceil = d
		}
	}
	if ceil <= 0 {
		return 0
	}
	hi, _ := bits.Mul64(r.rand64(), uint64(ceil)+1)
	return time.Duration(hi)
}

// Plan orders the targets for one request. Healthy targets come first in the
// strategy's order; unhealthy ones are left out unless no candidate is
// healthy, in which case all are planned anyway (panic mode) so a total
// outage degrades to best effort. ctx is used only by the Orderer. The error
// is ErrNoTarget (wrapped) when req's pin and exclusions leave nothing.
func (r *Router) Plan(ctx context.Context, req Request) (*Plan, error) {
	now := r.now()
	var cbuf, hbuf [maxTargets]*member
	cands := cbuf[:0]
	for _, m := range r.members {
		if req.allows(m.t) {
			cands = append(cands, m)
		}
	}
	if len(cands) == 0 {
		return nil, fmt.Errorf("balance: router %q: pin %q, exclude [%s]: %w",
			r.name, req.Pin, strings.Join(req.Exclude, ","), ErrNoTarget)
	}
	var lat [maxTargets]float64
	healthy := hbuf[:0]
	for _, m := range cands {
		a, l := m.st.availLatency(now)
		lat[m.idx] = l
		if a != availNo {
			healthy = append(healthy, m)
		}
	}
	p := &Plan{r: r, at: now, timeout: r.timeout, attemptTimeout: r.attemptTimeout}
	if len(healthy) == 0 {
		p.panic = true
		healthy = cands
	}
	out := p.buf[:0]
	if len(cands) > len(p.buf) {
		out = make([]*member, 0, len(cands))
	}
	if r.strategy == StrategyPlugin {
		p.order = r.orderPlugin(ctx, &req, now, lat[:], cands, healthy, out, &p.panic)
	} else {
		p.order = r.orderBy(r.strategy, &req, lat[:], healthy, out)
	}
	r.plans.Add(1)
	if p.panic {
		r.panics.Add(1)
	}
	r.budget.request(now)
	return p, nil
}

// Targets returns the router's targets in declaration order.
func (r *Router) Targets() []Target {
	out := make([]Target, len(r.members))
	for i, m := range r.members {
		out[i] = m.t
	}
	return out
}

// Stats returns the router's own counters.
func (r *Router) Stats() RouterStats {
	return RouterStats{
		Plans:           r.plans.Load(),
		PanicPlans:      r.panics.Load(),
		Attempts:        r.attempts.Load(),
		Failovers:       r.failovers.Load(),
		Retries:         r.retries.Load(),
		BudgetExhausted: r.budgetExhausted.Load(),
		PluginErrors:    r.pluginErrors.Load(),
	}
}

// Snapshot returns the status of every target in declaration order.
func (r *Router) Snapshot() []TargetStatus {
	now := r.now()
	out := make([]TargetStatus, len(r.members))
	for i, m := range r.members {
		v := m.st.view(now)
		s := &out[i]
		s.Target = m.t
		s.State = v.state
		s.EWMA = time.Duration(v.latency)
		s.InFlight = m.st.inFlight.Load()
		s.ErrorRate = v.errRate
		s.WindowRequests = v.windowRequests
		if v.openUntil != 0 {
			s.EjectedUntil = time.Unix(0, v.openUntil)
		}
		if v.coolUntil != 0 {
			s.CoolingUntil = time.Unix(0, v.coolUntil)
		}
		s.Ejections = m.st.ejections.Load()
		s.Requests = m.st.requests.Load()
		s.Failures = m.st.failures.Load()
		s.Attempts = m.attempts.Load()
		s.Failovers = m.failovers.Load()
		s.Retries = m.retries.Load()
	}
	return out
}

func (r *Router) probeLoop(ctx context.Context, cfg Probe) {
	defer close(r.probesDone)
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.probeRound(ctx, cfg)
		}
	}
}

// probeRound checks every target once, concurrently, skipping targets that
// are cooling after a 429 (probing a rate-limited upstream only adds load).
func (r *Router) probeRound(ctx context.Context, cfg Probe) {
	var wg sync.WaitGroup
	for _, m := range r.members {
		if m.st.view(r.now()).state == StateCooling {
			continue
		}
		wg.Go(func() {
			pctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
			err := cfg.Func(pctx, m.t)
			cancel()
			if ctx.Err() != nil {
				return // shutting down: the result says nothing about the target
			}
			m.st.probeResult(r.now(), err)
		})
	}
	wg.Wait()
}
