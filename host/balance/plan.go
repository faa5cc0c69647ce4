package balance

import (
	"errors"
	"fmt"
	"time"
)

// ErrNoAttempt is returned by Report when no attempt is outstanding.
var ErrNoAttempt = errors.New("balance: report without an outstanding attempt")

// Plan is the attempt sequence for one request. Use it from one goroutine:
//
//	for t, ok := p.Next(); ok; t, ok = p.Next() {
//		sleep p.Backoff() (honouring ctx), send to t under p.AttemptTimeout(),
//		p.Report(outcome)
//	}
//	res := p.Result()
//
// Every target Next returns must be reported exactly once, even when the
// caller gives up (KindCanceled): the report releases its in-flight count and
// any half-open trial. Close does that for an attempt left outstanding.
type Plan struct {
	r                       *Router
	order                   []*member
	buf                     [8]*member
	timeout, attemptTimeout time.Duration

	at       int64 // planning time
	panic    bool
	pos      int
	attempts int
	repeats  int
	tried    uint64 // members tried by this request
	cooled   uint64 // members that answered 429 to this request
	cur      *member
	curAdm   admission
	backoff  time.Duration
	done     bool
	last     *member
	lastKind Kind
}

// Result describes how a finished (or abandoned) plan went, for response
// headers and logs.
type Result struct {
	// TargetID is the target of the last attempt: the one that served the
	// response when Kind is KindOK or KindStatus4xx. Empty if none was sent.
	TargetID string
	// Attempts is the number of attempts sent.
	Attempts int
	// Kind is the last attempt's outcome.
	Kind Kind
	// Panic is true when the plan was built with every candidate unhealthy.
	Panic bool
}

// Next returns the next target to try, or false when the request must stop:
// it succeeded, failed in a way no other attempt can fix, ran out of
// attempts, targets or retry budget. Targets ejected or cooling since the
// plan was made are skipped; an ejected target past its cool-down is
// admitted as its single half-open trial.
func (p *Plan) Next() (Target, bool) {
	if p.done || p.cur != nil {
		return Target{}, false
	}
	if p.attempts >= p.r.maxAttempts {
		p.done = true
		return Target{}, false
	}
	now := p.at // the first attempt follows planning at once: save a clock read
	if p.attempts > 0 {
		now = p.r.now()
	}
	charged := false
	n := len(p.order)
	for i := range n {
		pos := (p.pos + i) % n
		m := p.order[pos]
		bit := uint64(1) << m.idx
		if p.cooled&bit != 0 {
			continue
		}
		// Peek before spending retry budget; a first attempt spends none, so
		// admit alone decides.
		if !p.panic && p.attempts > 0 && m.st.availability(now) == availNo {
			continue
		}
		if p.attempts > 0 && !charged {
			if !p.r.budget.tryRetry(now) {
				p.r.budgetExhausted.Add(1)
				p.done = true
				return Target{}, false
			}
			charged = true
		}
		adm := admitPanic
		if !p.panic {
			var ok bool
			if adm, ok = m.st.admit(now); !ok {
				continue // lost a race for the trial or an ejection
			}
		}
		p.backoff = 0
		switch {
		case p.tried&bit != 0:
			p.repeats++
			p.backoff = p.r.jitter(p.repeats)
			m.retries.Add(1)
			p.r.retries.Add(1)
		case p.attempts > 0:
			m.failovers.Add(1)
			p.r.failovers.Add(1)
		}
		p.tried |= bit
		p.pos = pos + 1
		p.attempts++
		p.cur, p.curAdm, p.last = m, adm, m
		m.st.inFlight.Add(1)
		m.attempts.Add(1)
		p.r.attempts.Add(1)
		return m.t, true
	}
	if charged {
		p.r.budget.refund(now)
	}
	if p.attempts == 0 && !p.panic {
		// Everything planned went unhealthy before the first attempt: the
		// request still deserves a best-effort try.
		p.panic = true
		p.r.panics.Add(1)
		return p.Next()
	}
	p.done = true
	return Target{}, false
}

// Backoff is the pause to observe before sending the attempt Next just
// returned: zero for the first attempt and for any target the request has
// not tried yet, a full-jitter backoff for a repeat.
func (p *Plan) Backoff() time.Duration { return p.backoff }

// Timeout is the router's bound for the whole request.
func (p *Plan) Timeout() time.Duration { return p.timeout }

// AttemptTimeout is the router's bound for one attempt.
func (p *Plan) AttemptTimeout() time.Duration { return p.attemptTimeout }

// Report records the outcome of the attempt Next returned. It returns
// ErrNoAttempt when none is outstanding, or an error when o.Target is set
// and is not that attempt's target; in both cases nothing is recorded.
func (p *Plan) Report(o Outcome) error {
	m := p.cur
	if m == nil {
		return ErrNoAttempt
	}
	if o.Target.ID != "" && o.Target.ID != m.t.ID {
		return fmt.Errorf("balance: report for %q, attempt outstanding on %q", o.Target.ID, m.t.ID)
	}
	p.cur = nil
	m.st.inFlight.Add(-1)
	m.st.finish(p.r.now(), &o, p.curAdm)
	p.lastKind = o.Kind
	if o.Kind == KindStatus429 {
		p.cooled |= 1 << m.idx
	}
	if !o.Retryable() || (o.AfterSend && !p.r.afterSend) {
		p.done = true
	}
	return nil
}

// Close ends the plan; an attempt still outstanding is reported as
// KindCanceled. It is safe to defer right after Router.Plan.
func (p *Plan) Close() {
	if p.cur != nil {
		p.Report(Outcome{Kind: KindCanceled})
	}
	p.done = true
}

// Result reports the plan's outcome so far.
func (p *Plan) Result() Result {
	res := Result{Attempts: p.attempts, Kind: p.lastKind, Panic: p.panic}
	if p.last != nil {
		res.TargetID = p.last.t.ID
	}
	return res
}

// Targets returns the planned order (first choice first), for logs and tests.
func (p *Plan) Targets() []Target {
	out := make([]Target, len(p.order))
	for i, m := range p.order {
		out[i] = m.t
	}
	return out
}
