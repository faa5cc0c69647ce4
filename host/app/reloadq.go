package app

import (
	"context"
	"sync"
)

// reloadQueue runs reloads one at a time, in the order they were asked for, and loses none:
// a request that arrives while a reload runs is answered by the next run, which starts after it
// arrived and so reads the newest configuration. Requests that pile up behind one run share the
// next run (each would read the same file), so a burst of N requests costs at most two builds,
// and the configuration left serving is always the last one read.
type reloadQueue struct {
	mu      sync.Mutex
	running bool
	next    *reloadRun // the run that requests arriving now will share
}

// reloadRun is one execution shared by the requests that joined it.
type reloadRun struct {
	done chan struct{}
	err  error
	seq  uint64
}

// do asks for a reload and waits for the run that answers it. ctx bounds only the wait: a run
// that started completes even when its callers gave up, so no caller's request is lost.
func (q *reloadQueue) do(ctx context.Context, run func() error) error {
	q.mu.Lock()
	if q.next == nil {
		q.next = &reloadRun{done: make(chan struct{})}
	}
	r := q.next
	if !q.running {
		q.startLocked(run)
	}
	q.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startLocked runs q.next, then whatever joined while it ran, until nothing is waiting.
func (q *reloadQueue) startLocked(run func() error) {
	q.running = true
	go func() {
		var seq uint64
		for {
			q.mu.Lock()
			r := q.next
			if r == nil {
				q.running = false
				q.mu.Unlock()
				return
			}
			q.next = nil
			q.mu.Unlock()
			seq++
			r.seq = seq
			r.err = run()
			close(r.done)
		}
	}()
}
