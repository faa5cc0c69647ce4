package balance

import (
	"strings"
	"time"
)

// Target is one upstream a router can send a request to.
type Target struct {
	// ID names the target in plans, plugin candidates and metrics,
	// e.g. "openai/gpt-4o-mini#0". Unique within a router.
	ID string
	// Provider is the configured provider name, e.g. "openai".
	Provider string
	// Model is the upstream model name, e.g. "gpt-4o-mini".
	Model string
	// Weight is the share for the weighted strategy; zero means 1.
	Weight int
	// Priority orders the priority strategy: lower values are tried first.
	Priority int
	// PriceIn and PriceOut are USD per 1M input and output tokens.
	PriceIn, PriceOut float64
}

func (t Target) weight() int {
	if t.Weight == 0 {
		return 1
	}
	return t.Weight
}

// matches reports whether sel names this target's provider ("openai") or its
// provider/model pair ("openai/gpt-4o-mini"), case-insensitively.
func (t Target) matches(sel string) bool {
	if i := strings.IndexByte(sel, '/'); i >= 0 {
		return strings.EqualFold(sel[:i], t.Provider) && strings.EqualFold(sel[i+1:], t.Model)
	}
	return strings.EqualFold(sel, t.Provider)
}

// State is the health state of a target.
type State uint8

const (
	// StateHealthy: the target takes traffic.
	StateHealthy State = iota
	// StateEjected: the failure ratio crossed the threshold; no traffic until
	// the cool-down ends.
	StateEjected
	// StateProbation: the cool-down ended; the next request is admitted as a
	// single trial (half-open) whose outcome closes or re-ejects the target.
	StateProbation
	// StateTrial: the trial request is in flight; no other traffic.
	StateTrial
	// StateCooling: the target answered 429 and rests until its Retry-After.
	StateCooling
)

var stateNames = [...]string{"healthy", "ejected", "probation", "trial", "cooling"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// MarshalText writes the state's name, so JSON views (the admin API) read "ejected", not 1.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// TargetStatus is a point-in-time view of one target of a router, for metrics
// and the admin API.
type TargetStatus struct {
	Target Target
	State  State
	// EWMA is the PeakEWMA latency estimate as the latency strategy sees it now.
	EWMA time.Duration
	// InFlight counts attempts sent and not yet reported, across all routers
	// sharing the target.
	InFlight int64
	// ErrorRate is failures / requests in the health window.
	ErrorRate float64
	// WindowRequests is the number of outcomes in the health window.
	WindowRequests int
	// EjectedUntil is the end of the current ejection cool-down (zero if none).
	EjectedUntil time.Time
	// CoolingUntil is the end of the current 429 cool-down (zero if none).
	CoolingUntil time.Time
	// Ejections counts transitions into StateEjected (shared state).
	Ejections uint64
	// Requests and Failures count reported outcomes over the target's
	// lifetime, across all routers sharing it.
	Requests, Failures uint64
	// Attempts counts attempts this router sent to the target; Failovers
	// those that were a failover from another target of the same request;
	// Retries those that repeated a target already tried by that request.
	Attempts, Failovers, Retries uint64
}
