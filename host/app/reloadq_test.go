package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type runErr struct{ n int64 }

func (e runErr) Error() string { return fmt.Sprintf("run %d", e.n) }

// TestReloadQueueOrder: concurrent reload requests never overlap, each is answered by a run that
// started after it was asked for (none lost), bursts share runs, and the configuration applied
// last is the one written last.
func TestReloadQueueOrder(t *testing.T) {
	var q reloadQueue
	var started, active, overlaps atomic.Int64
	var cfg, applied atomic.Int64
	run := func() error {
		n := started.Add(1)
		if active.Add(1) != 1 {
			overlaps.Add(1)
		}
		c := cfg.Load()
		time.Sleep(2 * time.Millisecond)
		applied.Store(c)
		active.Add(-1)
		return runErr{n}
	}
	const callers = 100
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		cfg.Store(int64(i + 1)) // the file is written, then a reload is asked for
		before := started.Load()
		go func() {
			defer wg.Done()
			var re runErr
			if err := q.do(context.Background(), run); !errors.As(err, &re) {
				t.Errorf("caller %d: %v", i, err)
				return
			}
			if re.n <= before {
				t.Errorf("caller %d asked after run %d started but was answered by run %d", i, before, re.n)
			}
		}()
		if i%10 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	wg.Wait()
	if overlaps.Load() != 0 {
		t.Fatalf("%d runs overlapped", overlaps.Load())
	}
	if applied.Load() != callers {
		t.Fatalf("applied config %d, want the last written, %d", applied.Load(), callers)
	}
	if n := started.Load(); n >= callers || n < 2 {
		t.Fatalf("%d runs for %d requests: bursts should share runs", n, callers)
	}
}

// TestReloadQueueCallerGivesUp: a caller whose context ends gets its error at once, and the
// run it asked for still happens.
func TestReloadQueueCallerGivesUp(t *testing.T) {
	var q reloadQueue
	release := make(chan struct{})
	var ran atomic.Int64
	run := func() error {
		<-release
		ran.Add(1)
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- q.do(ctx, run) }()
	time.Sleep(10 * time.Millisecond)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	close(release)
	if err := q.do(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	if ran.Load() != 2 {
		t.Fatalf("%d runs, want 2 (the abandoned one and the next)", ran.Load())
	}
}
