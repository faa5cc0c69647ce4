package gateway

import (
	"context"
	"sync/atomic"
	"time"
)

// firstByteTimer bounds a streamed attempt until its first chunk. A stream's attempt timeout
// cannot be a context deadline: the deadline would also cut a long, healthy generation, so
// the timer cancels the attempt only while nothing has been relayed, and is stopped at the
// first chunk.
type firstByteTimer struct {
	t     *time.Timer
	fired atomic.Bool
}

// startFirstByteTimer returns a context canceled after d unless the timer is stopped first.
func startFirstByteTimer(ctx context.Context, d time.Duration) (context.Context, *firstByteTimer, context.CancelFunc) {
	actx, cancel := context.WithCancel(ctx)
	ft := &firstByteTimer{}
	ft.t = time.AfterFunc(d, func() {
		ft.fired.Store(true)
		cancel()
	})
	return actx, ft, func() { ft.t.Stop(); cancel() }
}

// stop disarms the timer once the first chunk arrived; it is safe on nil.
func (ft *firstByteTimer) stop() {
	if ft != nil {
		ft.t.Stop()
	}
}

// expired reports whether the timer canceled the attempt; it is safe on nil.
func (ft *firstByteTimer) expired() bool { return ft != nil && ft.fired.Load() }
