package balance

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Strategy names an ordering strategy.
type Strategy string

const (
	// StrategyLatency: power of two choices over PeakEWMA x (in-flight+1);
	// failover continues in ascending score.
	StrategyLatency Strategy = "latency"
	// StrategyWeighted: smooth weighted round robin by Target.Weight;
	// failover continues by descending weight.
	StrategyWeighted Strategy = "weighted"
	// StrategyRoundRobin: rotate the first choice; failover continues in
	// rotation order.
	StrategyRoundRobin Strategy = "round_robin"
	// StrategyLeastBusy: fewest in-flight attempts first, ties broken at random.
	StrategyLeastBusy Strategy = "least_busy"
	// StrategyPriority: ascending Target.Priority, then declaration order.
	StrategyPriority Strategy = "priority"
	// StrategyCost: cheapest expected price (PriceIn x est. input tokens +
	// PriceOut x est. output tokens) first.
	StrategyCost Strategy = "cost"
	// StrategyPlugin: Config.Orderer decides; on its error the router falls
	// back to Config.FallbackStrategy.
	StrategyPlugin Strategy = "plugin"
)

// ParseStrategy checks a configured strategy name.
func ParseStrategy(name string) (Strategy, error) {
	if s := Strategy(name); s.valid() {
		return s, nil
	}
	return "", fmt.Errorf("balance: unknown strategy %q (want latency, weighted, round_robin, least_busy, priority, cost or plugin)", name)
}

func (s Strategy) valid() bool {
	switch s {
	case StrategyLatency, StrategyWeighted, StrategyRoundRobin, StrategyLeastBusy,
		StrategyPriority, StrategyCost, StrategyPlugin:
		return true
	}
	return false
}

// CandidateStats is one candidate as a route plugin sees it; the JSON form is
// the CAND object of the plugin ABI's route hook.
type CandidateStats struct {
	ID        string  `json:"id"`
	Provider  string  `json:"provider"`
	Model     string  `json:"model"`
	Weight    int     `json:"weight"`
	Priority  int     `json:"priority"`
	Healthy   bool    `json:"healthy"`
	EWMAms    float64 `json:"ewma_ms"`
	InFlight  int64   `json:"in_flight"`
	ErrorRate float64 `json:"error_rate"`
	PriceIn   float64 `json:"price_in"`
	PriceOut  float64 `json:"price_out"`
}

// Orderer orders candidates for the plugin strategy; the gateway supplies it
// (wrapping a WASM route plugin). It returns candidate ids, first choice
// first: unknown ids are ignored, omitted ones dropped, an empty order keeps
// the fallback strategy's order. meta is Request.Meta, passed through.
type Orderer func(ctx context.Context, meta any, candidates []CandidateStats) ([]string, error)

// Prober checks one target actively (e.g. a cheap upstream request); the
// gateway implements it and this package schedules it.
type Prober func(ctx context.Context, t Target) error

// Retries configures attempts after the first.
type Retries struct {
	// Attempts is the maximum number of attempts per request, the first
	// included (default 3; 1 disables failover).
	Attempts int
	// Backoff and MaxBackoff bound the full-jitter backoff before repeating a
	// target already tried by the same request: a uniform pause in
	// [0, min(MaxBackoff, Backoff x 2^(n-1))] for the n-th repeat. An
	// attempt on a target not yet tried goes at once: it is another failure
	// domain, and waiting would only add latency. Defaults 50ms and 1s.
	Backoff, MaxBackoff time.Duration
	// Budget is the ratio of retries to requests allowed over BudgetWindow
	// (default 0.2), on top of BudgetFloor retries per second (default 10).
	Budget       float64
	BudgetFloor  float64
	BudgetWindow time.Duration // default 10s, in 10 buckets
	// AfterSend also retries failures that came after the whole request reached the upstream
	// (Outcome.AfterSend: a timeout or reset while waiting for the answer, a stream broken
	// before its first chunk). The upstream may then do and bill the work twice, so it is
	// off by default: only failures that certainly started nothing are retried.
	AfterSend bool
}

// Health configures passive health and ejection.
type Health struct {
	// Window is the sliding window of outcomes, in Buckets time buckets.
	// Defaults 30s and 10.
	Window  time.Duration
	Buckets int
	// Threshold ejects a target when failures/requests in the window exceed
	// it with at least MinRequests outcomes. Defaults 0.5 and 10.
	Threshold   float64
	MinRequests int
	// Cooldown is the first ejection's length; each failed trial doubles it
	// up to MaxCooldown. Defaults 10s and 5m.
	Cooldown, MaxCooldown time.Duration
	// RetryAfter cools a target after a 429 without a usable Retry-After
	// (default 30s). Any 429 cooling is capped at MaxCooldown.
	RetryAfter time.Duration
}

// Probe configures optional active health checks. Each router probes its own
// targets; routers sharing a target state both feed it.
type Probe struct {
	// Func runs one check; nil disables probing.
	Func Prober
	// Interval between rounds (default 10s); Timeout per check (default 5s).
	Interval, Timeout time.Duration
}

// Config describes one router.
type Config struct {
	Name     string
	Strategy Strategy
	Targets  []Target
	Retries  Retries
	Health   Health
	Probe    Probe
	// DefaultRTT is the latency assumed for a target without samples
	// (default 250ms); Decay is the PeakEWMA time constant (default 10s).
	DefaultRTT, Decay time.Duration
	// Timeout bounds a whole request and AttemptTimeout one attempt; the
	// gateway enforces both with contexts. Defaults 60s and Timeout.
	Timeout, AttemptTimeout time.Duration
	// FallbackStrategy orders targets when the Orderer fails (default
	// priority). It cannot be plugin.
	FallbackStrategy Strategy
	// Orderer is required by the plugin strategy.
	Orderer Orderer
	// Registry shares target state with other routers; nil gives the router
	// private state.
	Registry *Registry
	// Rand drives every random choice (nil: the runtime's generator); it is
	// used under a lock, so any Source will do.
	Rand rand.Source
	// Clock is the time source (nil: time.Now).
	Clock func() time.Time
}

// ConfigError is a validation error naming the offending field.
type ConfigError struct {
	Router string
	Field  string // e.g. "targets[1].weight"
	Reason string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("balance: router %q: %s: %s", e.Router, e.Field, e.Reason)
}

func defDur(d *time.Duration, v time.Duration) {
	if *d == 0 {
		*d = v
	}
}

// normalize applies defaults and validates c in place.
func (c *Config) normalize() error {
	bad := func(field, format string, args ...any) error {
		return &ConfigError{Router: c.Name, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if c.Name == "" {
		return bad("name", "must not be empty")
	}
	if c.Strategy == "" {
		c.Strategy = StrategyLatency
	}
	if !c.Strategy.valid() {
		return bad("strategy", "unknown strategy %q", c.Strategy)
	}
	if c.FallbackStrategy == "" {
		c.FallbackStrategy = StrategyPriority
	}
	if !c.FallbackStrategy.valid() || c.FallbackStrategy == StrategyPlugin {
		return bad("fallback_strategy", "must be a built-in strategy, got %q", c.FallbackStrategy)
	}
	if c.Strategy == StrategyPlugin && c.Orderer == nil {
		return bad("orderer", "strategy plugin needs an orderer")
	}
	if len(c.Targets) == 0 {
		return bad("targets", "at least one target is required")
	}
	if len(c.Targets) > maxTargets {
		return bad("targets", "at most %d targets, got %d", maxTargets, len(c.Targets))
	}
	seen := make(map[string]int, len(c.Targets))
	for i, t := range c.Targets {
		f := fmt.Sprintf("targets[%d]", i)
		switch {
		case t.ID == "":
			return bad(f+".id", "must not be empty")
		case t.Provider == "":
			return bad(f+".provider", "must not be empty")
		case t.Model == "":
			return bad(f+".model", "must not be empty")
		case t.Weight < 0:
			return bad(f+".weight", "must be >= 0, got %d", t.Weight)
		case t.PriceIn < 0:
			return bad(f+".price_in", "must be >= 0")
		case t.PriceOut < 0:
			return bad(f+".price_out", "must be >= 0")
		}
		if j, dup := seen[t.ID]; dup {
			return bad(f+".id", "duplicate of targets[%d] (%q)", j, t.ID)
		}
		seen[t.ID] = i
	}

	r := &c.Retries
	if r.Attempts == 0 {
		r.Attempts = 3
	}
	if r.Attempts < 0 {
		return bad("retries.attempts", "must be >= 1, got %d", r.Attempts)
	}
	defDur(&r.Backoff, 50*time.Millisecond)
	defDur(&r.MaxBackoff, time.Second)
	if r.Backoff < 0 {
		return bad("retries.backoff", "must be >= 0")
	}
	if r.MaxBackoff < r.Backoff {
		return bad("retries.max_backoff", "must be >= retries.backoff (%s)", r.Backoff)
	}
	if r.Budget == 0 {
		r.Budget = 0.2
	}
	if r.Budget < 0 {
		return bad("retries.budget", "must be >= 0")
	}
	if r.BudgetFloor == 0 {
		r.BudgetFloor = 10
	}
	if r.BudgetFloor < 0 {
		return bad("retries.budget_floor", "must be >= 0")
	}
	defDur(&r.BudgetWindow, 10*time.Second)
	if r.BudgetWindow < 10*time.Millisecond {
		return bad("retries.budget_window", "must be >= 10ms")
	}

	h := &c.Health
	defDur(&h.Window, 30*time.Second)
	if h.Buckets == 0 {
		h.Buckets = 10
	}
	if h.Buckets < 1 || h.Buckets > 1000 {
		return bad("health.buckets", "must be in [1, 1000], got %d", h.Buckets)
	}
	if h.Window < time.Duration(h.Buckets)*time.Millisecond {
		return bad("health.window", "must be at least 1ms per bucket")
	}
	if h.Threshold == 0 {
		h.Threshold = 0.5
	}
	if h.Threshold < 0 || h.Threshold >= 1 {
		return bad("health.threshold", "must be in (0, 1), got %g", h.Threshold)
	}
	if h.MinRequests == 0 {
		h.MinRequests = 10
	}
	if h.MinRequests < 1 {
		return bad("health.min_requests", "must be >= 1")
	}
	defDur(&h.Cooldown, 10*time.Second)
	defDur(&h.MaxCooldown, 5*time.Minute)
	defDur(&h.RetryAfter, 30*time.Second)
	if h.Cooldown < 0 {
		return bad("health.cooldown", "must be > 0")
	}
	if h.MaxCooldown < h.Cooldown {
		return bad("health.max_cooldown", "must be >= health.cooldown (%s)", h.Cooldown)
	}
	if h.RetryAfter < 0 {
		return bad("health.retry_after", "must be > 0")
	}

	if c.Probe.Func != nil {
		defDur(&c.Probe.Interval, 10*time.Second)
		defDur(&c.Probe.Timeout, 5*time.Second)
		if c.Probe.Interval < 0 {
			return bad("probe.interval", "must be > 0")
		}
		if c.Probe.Timeout < 0 {
			return bad("probe.timeout", "must be > 0")
		}
	}

	defDur(&c.DefaultRTT, 250*time.Millisecond)
	defDur(&c.Decay, 10*time.Second)
	if c.DefaultRTT < 0 {
		return bad("default_rtt", "must be > 0")
	}
	if c.Decay < 0 {
		return bad("decay", "must be > 0")
	}
	defDur(&c.Timeout, 60*time.Second)
	defDur(&c.AttemptTimeout, c.Timeout)
	if c.Timeout < 0 {
		return bad("timeout", "must be > 0")
	}
	if c.AttemptTimeout < 0 || c.AttemptTimeout > c.Timeout {
		return bad("attempt_timeout", "must be in (0, timeout]")
	}
	return nil
}

func (c *Config) tuning() tuning {
	return tuning{
		window:      c.Health.Window,
		buckets:     c.Health.Buckets,
		threshold:   c.Health.Threshold,
		minRequests: c.Health.MinRequests,
		cooldown:    c.Health.Cooldown,
		maxCooldown: c.Health.MaxCooldown,
		retryAfter:  c.Health.RetryAfter,
		defaultRTT:  c.DefaultRTT,
		decay:       c.Decay,
	}
}
