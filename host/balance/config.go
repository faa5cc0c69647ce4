package balance

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/sluice-gw/sluice/host/config"
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
	// included (1 disables failover).
	//
	// Every zero field of a Config gets host/config's default (config.DefaultAttempts and the
	// rest), the same table declared and implicit routers get.
	Attempts int
	// Backoff and MaxBackoff bound the full-jitter backoff before repeating a
	// target already tried by the same request: a uniform pause in
	// [0, min(MaxBackoff, Backoff x 2^(n-1))] for the n-th repeat. An
	// attempt on a target not yet tried goes at once: it is another failure
	// domain, and waiting would only add latency.
	Backoff, MaxBackoff time.Duration
	// Budget is the ratio of retries to requests allowed over BudgetWindow (in 10
	// buckets), on top of BudgetFloor retries per second.
	Budget       float64
	BudgetFloor  float64
	BudgetWindow time.Duration
	// AfterSend also retries failures that came after the whole request reached the upstream
	// (Outcome.AfterSend: a timeout or reset while waiting for the answer, a stream broken
	// before its first chunk). The upstream may then do and bill the work twice, so it is
	// off by default: only failures that certainly started nothing are retried.
	AfterSend bool
}

// Health configures passive health and ejection.
type Health struct {
	// Window is the sliding window of outcomes, in Buckets time buckets.
	Window  time.Duration
	Buckets int
	// Threshold ejects a target when failures/requests in the window exceed
	// it with at least MinRequests outcomes (a threshold of 1 never ejects).
	Threshold   float64
	MinRequests int
	// Cooldown is the first ejection's length; each failed trial doubles it
	// up to MaxCooldown.
	Cooldown, MaxCooldown time.Duration
	// RetryAfter cools a target after a 429 without a usable Retry-After. Any
	// 429 cooling is capped at MaxCooldown.
	RetryAfter time.Duration
}

// Probe configures optional active health checks. Each router probes its own
// targets; routers sharing a target state both feed it.
type Probe struct {
	// Func runs one check; nil disables probing.
	Func Prober
	// Interval between rounds; Timeout per check.
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
	// DefaultRTT is the latency assumed for a target without samples; Decay
	// is the PeakEWMA time constant.
	DefaultRTT, Decay time.Duration
	// Timeout bounds a whole request and AttemptTimeout one attempt; the
	// gateway enforces both with contexts (AttemptTimeout defaults to Timeout).
	Timeout, AttemptTimeout time.Duration
	// FallbackStrategy orders targets when the Orderer fails. It cannot be
	// plugin.
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

func defNum[T int | float64](n *T, v T) {
	if *n == 0 {
		*n = v
	}
}

// normalize fills unset fields with host/config's defaults (the one table every router
// gets) and validates c in place.
func (c *Config) normalize() error {
	c.defaults()
	return c.validate()
}

func (c *Config) defaults() {
	if c.Strategy == "" {
		c.Strategy = Strategy(config.DefaultStrategy)
	}
	if c.FallbackStrategy == "" {
		c.FallbackStrategy = Strategy(config.DefaultFallbackStrategy)
	}
	r := &c.Retries
	defNum(&r.Attempts, config.DefaultAttempts)
	defDur(&r.Backoff, config.DefaultBackoff)
	defDur(&r.MaxBackoff, config.DefaultMaxBackoff)
	defNum(&r.Budget, config.DefaultRetryBudget)
	defNum(&r.BudgetFloor, config.DefaultBudgetFloor)
	defDur(&r.BudgetWindow, config.DefaultBudgetWindow)
	h := &c.Health
	defDur(&h.Window, config.DefaultHealthWindow)
	defNum(&h.Buckets, config.DefaultHealthBuckets)
	defNum(&h.Threshold, config.DefaultHealthThreshold)
	defNum(&h.MinRequests, config.DefaultMinRequests)
	defDur(&h.Cooldown, config.DefaultCooldown)
	defDur(&h.MaxCooldown, config.DefaultMaxCooldown)
	defDur(&h.RetryAfter, config.DefaultRetryAfter)
	if c.Probe.Func != nil {
		defDur(&c.Probe.Interval, config.DefaultProbeInterval)
		defDur(&c.Probe.Timeout, config.MaxProbeTimeout)
	}
	defDur(&c.DefaultRTT, config.DefaultRTT)
	defDur(&c.Decay, config.DefaultDecay)
	defDur(&c.Timeout, config.DefaultRouterTimeout)
	defDur(&c.AttemptTimeout, c.Timeout)
}

func (c *Config) bad(field, format string, args ...any) error {
	return &ConfigError{Router: c.Name, Field: field, Reason: fmt.Sprintf(format, args...)}
}

func (c *Config) validate() error {
	if c.Name == "" {
		return c.bad("name", "must not be empty")
	}
	if !c.Strategy.valid() {
		return c.bad("strategy", "unknown strategy %q", c.Strategy)
	}
	if !c.FallbackStrategy.valid() || c.FallbackStrategy == StrategyPlugin {
		return c.bad("fallback_strategy", "must be a built-in strategy, got %q", c.FallbackStrategy)
	}
	if c.Strategy == StrategyPlugin && c.Orderer == nil {
		return c.bad("orderer", "strategy plugin needs an orderer")
	}
	if err := c.validateTargets(); err != nil {
		return err
	}
	if err := c.validateRetries(); err != nil {
		return err
	}
	if err := c.validateHealth(); err != nil {
		return err
	}
	return c.validateTimes()
}

func (c *Config) validateTargets() error {
	if len(c.Targets) == 0 {
		return c.bad("targets", "at least one target is required")
	}
	if len(c.Targets) > maxTargets {
		return c.bad("targets", "at most %d targets, got %d", maxTargets, len(c.Targets))
	}
	seen := make(map[string]int, len(c.Targets))
	for i, t := range c.Targets {
		f := fmt.Sprintf("targets[%d]", i)
		switch {
		case t.ID == "":
			return c.bad(f+".id", "must not be empty")
		case t.Provider == "":
			return c.bad(f+".provider", "must not be empty")
		case t.Model == "":
			return c.bad(f+".model", "must not be empty")
		case t.Weight < 0:
			return c.bad(f+".weight", "must be >= 0, got %d", t.Weight)
		case t.PriceIn < 0:
			return c.bad(f+".price_in", "must be >= 0")
		case t.PriceOut < 0:
			return c.bad(f+".price_out", "must be >= 0")
		}
		if j, dup := seen[t.ID]; dup {
			return c.bad(f+".id", "duplicate of targets[%d] (%q)", j, t.ID)
		}
		seen[t.ID] = i
	}
	return nil
}

func (c *Config) validateRetries() error {
	r := &c.Retries
	switch {
	case r.Attempts < 0:
		return c.bad("retries.attempts", "must be >= 1, got %d", r.Attempts)
	case r.Backoff < 0:
		return c.bad("retries.backoff", "must be >= 0")
	case r.MaxBackoff < r.Backoff:
		return c.bad("retries.max_backoff", "must be >= retries.backoff (%s)", r.Backoff)
	case r.Budget < 0:
		return c.bad("retries.budget", "must be >= 0")
	case r.BudgetFloor < 0:
		return c.bad("retries.budget_floor", "must be >= 0")
	case r.BudgetWindow < 10*time.Millisecond:
		return c.bad("retries.budget_window", "must be >= 10ms")
	}
	return nil
}

func (c *Config) validateHealth() error {
	h := &c.Health
	switch {
	case h.Buckets < 1 || h.Buckets > 1000:
		return c.bad("health.buckets", "must be in [1, 1000], got %d", h.Buckets)
	case h.Window < time.Duration(h.Buckets)*time.Millisecond:
		return c.bad("health.window", "must be at least 1ms per bucket")
	case !config.ValidThreshold(h.Threshold):
		// The same range host/config accepts: 1 is allowed and never ejects.
		return c.bad("health.threshold", "must be in (0, 1], got %g", h.Threshold)
	case h.MinRequests < 1:
		return c.bad("health.min_requests", "must be >= 1")
	case h.Cooldown < 0:
		return c.bad("health.cooldown", "must be > 0")
	case h.MaxCooldown < h.Cooldown:
		return c.bad("health.max_cooldown", "must be >= health.cooldown (%s)", h.Cooldown)
	case h.RetryAfter < 0:
		return c.bad("health.retry_after", "must be > 0")
	}
	return nil
}

func (c *Config) validateTimes() error {
	switch {
	case c.Probe.Func != nil && c.Probe.Interval < 0:
		return c.bad("probe.interval", "must be > 0")
	case c.Probe.Func != nil && c.Probe.Timeout < 0:
		return c.bad("probe.timeout", "must be > 0")
	case c.DefaultRTT < 0:
		return c.bad("default_rtt", "must be > 0")
	case c.Decay < 0:
		return c.bad("decay", "must be > 0")
	case c.Timeout < 0:
		return c.bad("timeout", "must be > 0")
	case c.AttemptTimeout < 0 || c.AttemptTimeout > c.Timeout:
		return c.bad("attempt_timeout", "must be in (0, timeout]")
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
