// Package ratelimit owns request, token and cost limits: GCRA (generic cell rate algorithm)
// rates and calendar-aligned budgets at the global, router, team, user and key tiers. A request
// must pass every tier that applies to it; tiers are checked first and consumed only when all
// pass, in one atomic step (one mutex section in memory, one Lua script in Redis). Token and
// cost demands are reserved from an estimate and settled from the real usage afterwards.
//
// Units are integers: requests, tokens, or micro-dollars (1 USD = 1,000,000) for cost.
package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// Unit is what a rule counts.
type Unit uint8

const (
	Requests Unit = iota + 1
	Tokens
	Cost // micro-dollars
)

func (u Unit) String() string {
	switch u {
	case Requests:
		return "requests"
	case Tokens:
		return "tokens"
	case Cost:
		return "cost"
	}
	return "unit(" + strconv.Itoa(int(u)) + ")"
}

// Scope is the tier a rule applies at.
type Scope uint8

const (
	Global Scope = iota + 1
	Router
	Team
	User
	Key
)

func (s Scope) String() string {
	switch s {
	case Global:
		return "global"
	case Router:
		return "router"
	case Team:
		return "team"
	case User:
		return "user"
	case Key:
		return "key"
	}
	return "scope(" + strconv.Itoa(int(s)) + ")"
}

// Window is the calendar period of a budget, aligned to UTC.
type Window uint8

const (
	Minute Window = iota + 1
	Hour
	Day
	Month
)

func (w Window) String() string {
	switch w {
	case Minute:
		return "minute"
	case Hour:
		return "hour"
	case Day:
		return "day"
	case Month:
		return "month"
	}
	return "window(" + strconv.Itoa(int(w)) + ")"
}

// bounds returns the window containing now, as unix nanoseconds [start, end).
func (w Window) bounds(now int64) (start, end int64) {
	var step int64
	switch w {
	case Minute:
		step = int64(time.Minute)
	case Hour:
		step = int64(time.Hour)
	case Day:
		step = int64(24 * time.Hour)
	case Month:
		t := time.Unix(0, now).UTC()
		s := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return s.UnixNano(), s.AddDate(0, 1, 0).UnixNano()
	}
	start = now - ((now%step)+step)%step
	return start, start + step
}

// Rule is one limit. It is either a GCRA rate (Rate units per Period, up to Burst at once) or
// a periodic budget (Budget units per calendar Window), never both.
type Rule struct {
	// Name identifies the rule's state in the store; unique per Limiter. Renaming a rule
	// starts it afresh. Empty names are derived from the rule's position and fields.
	Name string
	// Scope is the tier. Match limits the rule to one router, team, user or key ID; empty
	// means each one separately (a team rule with no Match gives every team its own budget).
	// Global rules ignore Match.
	Scope Scope
	Match string
	Unit  Unit

	// Rate units per Period, sustained. Burst is how many units may pass at once from idle;
	// zero means Rate (one period's worth).
	Rate   int64
	Period time.Duration
	Burst  int64

	// Budget units per Window, counted in a fixed window aligned to the UTC calendar.
	Budget int64
	Window Window

	// FailClosed refuses the requests this rule applies to when the store fails, even when
	// the limiter fails open: spending (tokens, cost) is not admitted unchecked.
	FailClosed bool
}

// maxOffset bounds how far in the future a theoretical arrival time may be (about 52 days),
// which keeps every offset exact in the float64 arithmetic of the Redis script.
const maxOffset = int64(1) << 52

// validate checks r and fills defaults.
func (r *Rule) validate() error {
	if r.Scope < Global || r.Scope > Key {
		return fmt.Errorf("rule %q: unknown scope", r.Name)
	}
	if r.Unit < Requests || r.Unit > Cost {
		return fmt.Errorf("rule %q: unknown unit", r.Name)
	}
	switch {
	case r.Rate > 0 && r.Budget > 0:
		return fmt.Errorf("rule %q: both a rate and a budget; use two rules", r.Name)
	case r.Rate > 0:
		if r.Period <= 0 {
			return fmt.Errorf("rule %q: rate without a period", r.Name)
		}
		if r.Burst < 0 {
			return fmt.Errorf("rule %q: negative burst", r.Name)
		}
		if r.Burst == 0 {
			r.Burst = r.Rate
		}
		if r.tau() >= maxOffset {
			return fmt.Errorf("rule %q: burst spans more than 52 days of the rate; use a budget", r.Name)
		}
	case r.Budget > 0:
		if r.Window < Minute || r.Window > Month {
			return fmt.Errorf("rule %q: budget without a window", r.Name)
		}
		if r.Budget > 1<<52 {
			return fmt.Errorf("rule %q: budget too large", r.Name)
		}
	default:
		return fmt.Errorf("rule %q: needs a rate or a budget", r.Name)
	}
	return nil
}

// cost is the emission time of n units in nanoseconds, ceil(n*Period/Rate), capped at
// maxOffset. Exact to the nanosecond whatever the rate: the product is 128-bit.
func (r *Rule) cost(n int64) int64 {
	if n <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(n), uint64(r.Period))
	if hi >= uint64(r.Rate) {
		return maxOffset
	}
	q, rem := bits.Div64(hi, lo, uint64(r.Rate))
	if rem > 0 {
		q++
	}
	if q > uint64(maxOffset) {
		return maxOffset
	}
	return int64(q)
}

// tau is the delay variation tolerance: the emission time of a full burst.
func (r *Rule) tau() int64 { return r.cost(r.Burst) }

// units converts an emission time back to whole units, rounding down.
func (r *Rule) units(ns int64) int64 {
	if ns <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(ns), uint64(r.Rate))
	if hi >= uint64(r.Period) {
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, uint64(r.Period))
	return int64(q)
}

// Spec is a rule as written in config; Rule converts it.
type Spec struct {
	Name  string
	Scope string // global | router | team | user | key
	Match string
	Unit  string // requests | tokens | cost
	// Rate like "10/s", "100000/min", "$5/hour", "1/2s". Cost amounts are USD.
	Rate string
	// Burst in the rule's unit (USD for cost); zero means one period's worth of Rate.
	Burst float64
	// Budget like "$50/day" or "1000000/month": a fixed window aligned to the UTC calendar
	// (minute, hour, day or month).
	Budget string
	// FailOpen says whether requests pass unchecked at this rule when the store fails. Nil
	// takes the unit's default: requests rules follow the limiter's FailOpen, tokens and
	// cost rules fail closed (an outage must not turn into unbounded spending).
	FailOpen *bool
}

// Rule validates s and converts it to a Rule.
func (s Spec) Rule() (Rule, error) {
	r := Rule{Name: s.Name, Match: s.Match}
	var err error
	if r.Scope, err = ParseScope(s.Scope); err != nil {
		return Rule{}, fmt.Errorf("ratelimit: rule %q: %w", s.Name, err)
	}
	if r.Unit, err = ParseUnit(s.Unit); err != nil {
		return Rule{}, fmt.Errorf("ratelimit: rule %q: %w", s.Name, err)
	}
	if s.FailOpen != nil {
		r.FailClosed = !*s.FailOpen
	} else {
		r.FailClosed = r.Unit != Requests
	}
	if s.Rate != "" {
		if r.Rate, r.Period, err = ParseRate(s.Rate, r.Unit); err != nil {
			return Rule{}, fmt.Errorf("ratelimit: rule %q: %w", s.Name, err)
		}
	}
	if s.Budget != "" {
		if r.Budget, r.Window, err = ParseBudget(s.Budget, r.Unit); err != nil {
			return Rule{}, fmt.Errorf("ratelimit: rule %q: %w", s.Name, err)
		}
	}
	if s.Burst < 0 {
		return Rule{}, fmt.Errorf("ratelimit: rule %q: negative burst", s.Name)
	}
	if r.Burst, err = amount(strconv.FormatFloat(s.Burst, 'f', -1, 64), r.Unit); err != nil {
		return Rule{}, fmt.Errorf("ratelimit: rule %q: burst: %w", s.Name, err)
	}
	if err := r.validate(); err != nil {
		return Rule{}, fmt.Errorf("ratelimit: %w", err)
	}
	return r, nil
}

// ParseScope parses "global", "router", "team", "user" or "key".
func ParseScope(s string) (Scope, error) {
	for sc := Global; sc <= Key; sc++ {
		if s == sc.String() {
			return sc, nil
		}
	}
	return 0, fmt.Errorf("unknown scope %q (want global, router, team, user or key)", s)
}

// ParseUnit parses "requests", "tokens" or "cost".
func ParseUnit(s string) (Unit, error) {
	for u := Requests; u <= Cost; u++ {
		if s == u.String() {
			return u, nil
		}
	}
	return 0, fmt.Errorf("unknown unit %q (want requests, tokens or cost)", s)
}

var periodWords = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "second": time.Second,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hour": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour,
}

// ParseRate parses "N/period" where period is s, min, hour, day or a Go duration ("2s",
// "1m30s"). For the cost unit N is USD ("$0.50/min" or "0.5/min") and the result is in
// micro-dollars; other units take whole numbers.
func ParseRate(s string, u Unit) (n int64, per time.Duration, err error) {
	num, den, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, 0, fmt.Errorf("rate %q: want N/period like 100/min", s)
	}
	if n, err = amount(num, u); err != nil {
		return 0, 0, fmt.Errorf("rate %q: %w", s, err)
	}
	if n <= 0 {
		return 0, 0, fmt.Errorf("rate %q: must be positive", s)
	}
	den = strings.TrimSpace(den)
	if d, ok := periodWords[den]; ok {
		return n, d, nil
	}
	if d, err := time.ParseDuration(den); err == nil && d > 0 {
		return n, d, nil
	}
	if den == "month" || den == "week" {
		return 0, 0, fmt.Errorf("rate %q: use a budget for calendar periods", s)
	}
	return 0, 0, fmt.Errorf("rate %q: unknown period %q", s, den)
}

// ParseBudget parses "N/window" where window is minute, hour, day or month.
func ParseBudget(s string, u Unit) (n int64, w Window, err error) {
	num, den, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return 0, 0, fmt.Errorf("budget %q: want N/window like $50/day", s)
	}
	if n, err = amount(num, u); err != nil {
		return 0, 0, fmt.Errorf("budget %q: %w", s, err)
	}
	if n <= 0 {
		return 0, 0, fmt.Errorf("budget %q: must be positive", s)
	}
	switch strings.TrimSpace(den) {
	case "min", "minute":
		return n, Minute, nil
	case "h", "hour":
		return n, Hour, nil
	case "d", "day":
		return n, Day, nil
	case "month":
		return n, Month, nil
	}
	return 0, 0, fmt.Errorf("budget %q: unknown window %q (minute, hour, day or month)", s, den)
}

// amount parses a count in the unit: whole numbers, or USD for cost (to micro-dollars).
func amount(s string, u Unit) (int64, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), "_", "")
	if u == Cost {
		f, err := strconv.ParseFloat(strings.TrimPrefix(s, "$"), 64)
		if err != nil || f < 0 || f > 1e9 {
			return 0, fmt.Errorf("bad USD amount %q", s)
		}
		return int64(math.Round(f * 1e6)), nil
	}
	if strings.HasPrefix(s, "$") {
		return 0, errors.New("a $ amount needs unit = \"cost\"")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if f, ferr := strconv.ParseFloat(s, 64); ferr == nil && f == math.Trunc(f) && f >= 0 && f < 1<<53 {
			return int64(f), nil
		}
		return 0, fmt.Errorf("bad count %q (whole numbers; write 1/2s rather than 0.5/s)", s)
	}
	return n, nil
}
