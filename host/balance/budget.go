package balance

import (
	"sync"
	"time"
)

// budget caps retries to a ratio of requests over a sliding window, plus a
// per-second floor so a quiet router can still retry. During a full outage
// it keeps total attempts near (1+ratio) x requests instead of x attempts.
type budget struct {
	ratio    float64
	floor    float64 // retries always allowed per window
	bucketNs int64

	mu    sync.Mutex
	slots []budgetSlot
}

type budgetSlot struct {
	epoch             int64
	requests, retries int64
}

func newBudget(ratio, perSecond float64, window time.Duration, buckets int) *budget {
	return &budget{
		ratio:    ratio,
		floor:    perSecond * window.Seconds(),
		bucketNs: int64(window) / int64(buckets),
		slots:    make([]budgetSlot, buckets),
	}
}

func (b *budget) slot(now int64) *budgetSlot {
	e := now / b.bucketNs
	i := e % int64(len(b.slots))
	if i < 0 {
		i += int64(len(b.slots))
	}
	sl := &b.slots[i]
	if sl.epoch != e {
		*sl = budgetSlot{epoch: e}
	}
	return sl
}

func (b *budget) request(now int64) {
	b.mu.Lock()
	b.slot(now).requests++
	b.mu.Unlock()
}

// tryRetry spends one retry if the window allows it.
func (b *budget) tryRetry(now int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := now / b.bucketNs
	lo := e - int64(len(b.slots))
	var reqs, rets int64
	for i := range b.slots {
		if sl := &b.slots[i]; sl.epoch > lo && sl.epoch <= e {
			reqs += sl.requests
			rets += sl.retries
		}
	}
	if float64(rets+1) > b.ratio*float64(reqs)+b.floor {
		return false
	}
	b.slot(now).retries++
	return true
}

// refund returns a retry spent on an attempt that was never sent.
func (b *budget) refund(now int64) {
	b.mu.Lock()
	if sl := b.slot(now); sl.retries > 0 {
		sl.retries--
	}
	b.mu.Unlock()
}
