package plugin

import (
	"sync/atomic"
	"time"
)

// latencyBounds are the upper bounds of the latency histogram; the last bucket is unbounded.
var latencyBounds = [...]time.Duration{
	time.Microsecond, 2 * time.Microsecond, 5 * time.Microsecond, 10 * time.Microsecond,
	20 * time.Microsecond, 50 * time.Microsecond, 100 * time.Microsecond, 200 * time.Microsecond,
	500 * time.Microsecond, time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 500 * time.Millisecond,
	time.Second,
}

// Stats is a snapshot of one plugin's counters, for telemetry.
type Stats struct {
	Plugin         string
	Version        string // sha256 prefix of the serving .wasm
	Hooks          []string
	Calls          uint64 // hook calls, all outcomes
	Errors         uint64 // calls that returned an error (guest errors, traps, timeouts, busy)
	Traps          uint64 // calls that discarded an instance (traps, ABI violations)
	Timeouts       uint64 // calls that hit the per-call deadline
	Instances      int    // live instances of the serving version
	Reloads        uint64 // successful reloads
	ReloadFailures uint64 // refused reloads (the old version kept serving)
	Latency        []LatencyBucket
	P50, P99       time.Duration // upper bounds of the buckets holding the quantiles
}

// LatencyBucket counts calls with latency <= UpperBound and above the previous bucket's bound.
// The last bucket has UpperBound 0 and holds everything slower.
type LatencyBucket struct {
	UpperBound time.Duration
	Count      uint64
}

type counters struct {
	calls, errors, traps, timeouts, reloads, reloadFailures atomic.Uint64
	buckets                                                 [len(latencyBounds) + 1]atomic.Uint64
}

func (c *counters) observe(d time.Duration) {
	i := 0
	for i < len(latencyBounds) && d > latencyBounds[i] {
		i++
	}
	c.buckets[i].Add(1)
}

func (c *counters) snapshot(s *Stats) {
	s.Calls = c.calls.Load()
	s.Errors = c.errors.Load()
	s.Traps = c.traps.Load()
	s.Timeouts = c.timeouts.Load()
	s.Reloads = c.reloads.Load()
	s.ReloadFailures = c.reloadFailures.Load()
	s.Latency = make([]LatencyBucket, len(c.buckets))
	var total uint64
	for i := range c.buckets {
		n := c.buckets[i].Load()
		total += n
		s.Latency[i].Count = n
		if i < len(latencyBounds) {
			s.Latency[i].UpperBound = latencyBounds[i]
		}
	}
	s.P50 = quantile(s.Latency, total, 0.50)
	s.P99 = quantile(s.Latency, total, 0.99)
}

func quantile(b []LatencyBucket, total uint64, q float64) time.Duration {
	if total == 0 {
		return 0
	}
	want := uint64(float64(total)*q + 0.5)
	if want == 0 {
		want = 1
	}
	var seen uint64
	for _, x := range b {
		seen += x.Count
		if seen >= want {
			if x.UpperBound == 0 {
				return latencyBounds[len(latencyBounds)-1]
			}
			return x.UpperBound
		}
	}
	return latencyBounds[len(latencyBounds)-1]
}
