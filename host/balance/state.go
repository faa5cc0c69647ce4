package balance

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// tuning is everything that shapes a target's shared state. Routers share a
// state only when their tuning is equal, so one router's threshold never
// silently applies to another's traffic.
type tuning struct {
	window      time.Duration
	buckets     int
	threshold   float64
	minRequests int
	cooldown    time.Duration
	maxCooldown time.Duration
	retryAfter  time.Duration
	defaultRTT  time.Duration
	decay       time.Duration
}

// circuit positions.
const (
	circClosed uint8 = iota
	circOpen
	circHalfOpen
)

// availability of a target at plan or attempt time.
type avail uint8

const (
	availNo    avail = iota // ejected in cool-down, cooling after 429, or trial in flight
	availOK                 // closed circuit
	availTrial              // open circuit past its cool-down: one trial may go
)

// admission says how an attempt was admitted; it decides what its outcome
// may do to the circuit.
type admission uint8

const (
	admitNormal admission = iota
	admitTrial
	admitPanic // every candidate was unhealthy; sent anyway
)

type slot struct {
	epoch    int64
	ok, fail uint32
}

// state is the live state of one upstream (provider/model under one tuning).
type state struct {
	tune     tuning
	bucketNs int64

	inFlight  atomic.Int64
	requests  atomic.Uint64
	failures  atomic.Uint64
	ejections atomic.Uint64

	mu sync.Mutex
	// PeakEWMA, in nanoseconds.
	ewma    float64
	ewmaAt  int64
	sampled bool
	// passive health: a ring of time buckets.
	slots []slot
	// circuit breaker.
	circ      uint8
	openUntil int64
	cooldown  time.Duration // the cool-down the next re-ejection uses
	trialAt   int64
	// 429 cooling.
	coolUntil int64
	// failure accrual: a per-outcome EWMA of failures (0..1), read with a time decay, that
	// makes a failing target look slower to the latency strategy long before the health
	// window ejects it (a target that fails fast would otherwise look like the fastest).
	failEWMA float64
	failAt   int64
}

const (
	failAlpha   = 0.2             // weight of one outcome in failEWMA
	failDecay   = 2 * time.Second // how fast the penalty fades without outcomes
	failPenalty = 20.0            // a target failing every request looks 21x slower
)

func newState(t tuning) *state {
	return &state{
		tune:     t,
		bucketNs: int64(t.window) / int64(t.buckets),
		slots:    make([]slot, t.buckets),
		cooldown: t.cooldown,
	}
}

// availability reports whether the target may take an attempt now, without
// claiming anything.
func (s *state) availability(now int64) avail {
	s.mu.Lock()
	a := s.availLocked(now)
	s.mu.Unlock()
	return a
}

func (s *state) availLocked(now int64) avail {
	if now < s.coolUntil {
		return availNo
	}
	switch s.circ {
	case circClosed:
		return availOK
	case circOpen:
		if now >= s.openUntil {
			return availTrial
		}
		return availNo
	default: // half-open: a trial is out. One that never reported is presumed
		// lost after maxCooldown so the target cannot stay stuck.
		if now-s.trialAt >= int64(s.tune.maxCooldown) {
			return availTrial
		}
		return availNo
	}
}

// admit claims an attempt: a normal one on a closed circuit or the single
// trial on an open one past its cool-down.
func (s *state) admit(now int64) (admission, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.availLocked(now) {
	case availOK:
		return admitNormal, true
	case availTrial:
		s.circ = circHalfOpen
		s.trialAt = now
		return admitTrial, true
	}
	return admitNormal, false
}

// finish feeds one reported outcome into the state.
func (s *state) finish(now int64, o *Outcome, adm admission) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch o.Kind {
	case KindOK, KindStatus4xx:
		// A 4xx is the caller's fault and proves the upstream alive.
		s.requests.Add(1)
		s.recordLocked(now, false)
		if o.Kind == KindOK {
			rtt := o.TTFB
			if rtt <= 0 {
				rtt = o.Latency
			}
			s.observeLocked(now, rtt)
		}
		if adm != admitNormal && s.circ != circClosed {
			s.closeLocked()
		}
	case KindConnect, KindTimeout, KindStatus5xx, KindBrokenStream:
		s.requests.Add(1)
		s.failures.Add(1)
		s.recordLocked(now, true)
		if o.Kind == KindTimeout && o.Latency > 0 {
			// A timeout is a latency peak: steer away from it at once.
			s.observeLocked(now, o.Latency)
		}
		switch {
		case s.circ == circClosed:
			ok, fail := s.countsLocked(now)
			if total := ok + fail; total >= s.tune.minRequests && float64(fail)/float64(total) > s.tune.threshold {
				s.ejectLocked(now)
			}
		case adm == admitTrial && s.circ == circHalfOpen:
			// Failed trial: re-eject, longer.
			s.cooldown = min(2*s.cooldown, s.tune.maxCooldown)
			s.ejectLocked(now)
		}
	case KindStatus429:
		d := o.RetryAfter
		if d <= 0 {
			d = s.tune.retryAfter
		}
		d = min(d, s.tune.maxCooldown)
		s.coolUntil = max(s.coolUntil, now+int64(d))
		if adm == admitTrial && s.circ == circHalfOpen {
			// The trial proved nothing; let the next request try after cooling.
			s.circ = circOpen
			s.openUntil = now
		}
	default: // KindCanceled: the caller gave up; nothing learned.
		if adm == admitTrial && s.circ == circHalfOpen {
			s.circ = circOpen
			s.openUntil = now
		}
	}
}

func (s *state) ejectLocked(now int64) {
	s.circ = circOpen
	s.openUntil = now + int64(s.cooldown)
	s.ejections.Add(1)
}

func (s *state) closeLocked() {
	s.circ = circClosed
	s.cooldown = s.tune.cooldown
	// Forget the failures that caused the ejection, or the first failure
	// after recovery would re-eject on stale evidence.
	clear(s.slots)
}

// probeResult feeds an active probe: a failure counts in the window like a
// passive one; on an ejected target past its cool-down the probe acts as the
// trial.
func (s *state) probeResult(now int64, err error) {
	s.mu.Lock()
	a := s.availLocked(now)
	s.mu.Unlock()
	adm := admitNormal
	if a == availTrial {
		adm = admitTrial
	}
	o := Outcome{Kind: KindOK}
	if err != nil {
		o.Kind = KindConnect
	}
	s.finish(now, &o, adm)
}

func (s *state) epochSlot(now int64) (int64, *slot) {
	e := now / s.bucketNs
	i := e % int64(len(s.slots))
	if i < 0 {
		i += int64(len(s.slots))
	}
	return e, &s.slots[i]
}

func (s *state) recordLocked(now int64, fail bool) {
	f := s.failLocked(now)
	if fail {
		f += failAlpha * (1 - f)
	} else {
		f -= failAlpha * f
	}
	s.failEWMA, s.failAt = f, now
	e, sl := s.epochSlot(now)
	if sl.epoch != e {
		*sl = slot{epoch: e}
	}
	if fail {
		sl.fail++
	} else {
		sl.ok++
	}
}

func (s *state) countsLocked(now int64) (ok, fail int) {
	e := now / s.bucketNs
	lo := e - int64(len(s.slots))
	for i := range s.slots {
		if sl := &s.slots[i]; sl.epoch > lo && sl.epoch <= e {
			ok += int(sl.ok)
			fail += int(sl.fail)
		}
	}
	return ok, fail
}

// observeLocked folds one latency sample into the PeakEWMA: a sample above
// the estimate replaces it at once; one below is blended with the weight
// exp(-elapsed/decay), so a long-idle estimate follows the new sample.
func (s *state) observeLocked(now int64, rtt time.Duration) {
	if rtt <= 0 {
		return
	}
	x := float64(rtt)
	if !s.sampled || x > s.ewma {
		s.ewma = x
	} else {
		w := math.Exp(-float64(max(now-s.ewmaAt, 0)) / float64(s.tune.decay))
		s.ewma = s.ewma*w + x*(1-w)
	}
	s.ewmaAt = now
	s.sampled = true
}

// availLatency reads availability and latency estimate under one lock.
func (s *state) availLatency(now int64) (avail, float64) {
	s.mu.Lock()
	a, l := s.availLocked(now), s.latencyLocked(now)*(1+failPenalty*s.failLocked(now))
	s.mu.Unlock()
	return a, l
}

// failLocked is the failure EWMA faded by the time since the last outcome, so a penalised
// target is tried again after a few seconds and can show it recovered.
func (s *state) failLocked(now int64) float64 {
	if s.failEWMA == 0 {
		return 0
	}
	idle := now - s.failAt
	if idle <= 0 {
		return s.failEWMA
	}
	return s.failEWMA * math.Exp(-float64(idle)/float64(failDecay))
}

// latency is the estimate the latency strategy uses at now. Without samples
// it is the default RTT. Otherwise it decays toward zero while no sample
// arrives, so a target that was slow once is retried eventually and can
// prove it recovered.
func (s *state) latency(now int64) float64 {
	s.mu.Lock()
	v := s.latencyLocked(now)
	s.mu.Unlock()
	return v
}

func (s *state) latencyLocked(now int64) float64 {
	if !s.sampled {
		return float64(s.tune.defaultRTT)
	}
	idle := now - s.ewmaAt
	if idle <= 0 {
		return s.ewma
	}
	return s.ewma * math.Exp(-float64(idle)/float64(s.tune.decay))
}

// view is a consistent read of the fields status reporting needs.
type view struct {
	state          State
	latency        float64
	errRate        float64
	windowRequests int
	openUntil      int64
	coolUntil      int64
}

func (s *state) view(now int64) view {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := view{latency: s.latencyLocked(now)}
	ok, fail := s.countsLocked(now)
	v.windowRequests = ok + fail
	if v.windowRequests > 0 {
		v.errRate = float64(fail) / float64(v.windowRequests)
	}
	if s.circ != circClosed {
		v.openUntil = s.openUntil
	}
	if now < s.coolUntil {
		v.coolUntil = s.coolUntil
	}
	switch {
	case now < s.coolUntil:
		v.state = StateCooling
	case s.circ == circClosed:
		v.state = StateHealthy
	case s.availLocked(now) == availTrial:
		v.state = StateProbation
	case s.circ == circHalfOpen:
		v.state = StateTrial
	default:
		v.state = StateEjected
	}
	return v
}
