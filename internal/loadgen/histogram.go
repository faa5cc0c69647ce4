package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// subBits sets the histogram's precision: each power of two is split into 2^subBits buckets, so
// a reported value is at most 1/128 (0.8 %) above the true one. Values below 2^(subBits+1) ns
// are kept exactly.
const subBits = 7

const (
	subCount   = 1 << subBits
	numBuckets = (64 - subBits) * subCount
)

// Histogram is a log-bucketed latency histogram in the manner of HDR histograms: constant
// relative precision over the whole range, fixed memory, O(1) recording. It is not safe for
// concurrent use; each worker keeps its own and they are merged at the end, which keeps the
// recording path free of locks and atomics.
type Histogram struct {
	counts [numBuckets]uint64
	total  uint64
	min    int64
	max    int64
	sum    float64
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram { return &Histogram{min: math.MaxInt64} }

func bucketOf(v int64) int {
	if v < 0 {
		v = 0
	}
	u := uint64(v)
	shift := max(0, bits.Len64(u)-(subBits+1))
	return shift*subCount + int(u>>uint(shift))
}

// bucketHigh is the largest value that lands in bucket i.
func bucketHigh(i int) int64 {
	if i < 2*subCount {
		return int64(i)
	}
	shift := i>>subBits - 1
	mant := i - shift*subCount
	return int64((uint64(mant+1) << uint(shift)) - 1)
}

// Record adds one duration.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)]++
	h.total++
	h.sum += float64(v)
	h.min = min(h.min, v)
	h.max = max(h.max, v)
}

// Merge adds all of o's values to h.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.sum += o.sum
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.total }

// Max is the largest recorded value, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Min is the smallest recorded value, exactly (0 when empty).
func (h *Histogram) Min() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.min)
}

// Mean is the exact arithmetic mean.
func (h *Histogram) Mean() time.Duration {
	if h.total == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.total))
}

// Quantile returns the smallest recorded value v (to the histogram's precision, rounded up to
// its bucket's top, never above Max) such that at least q of all values are <= v. q is in [0, 1].
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	// The epsilon keeps float noise (0.99*100 = 99.00000000000001) from moving the rank.
	rank := uint64(math.Ceil(q*float64(h.total) - 1e-9))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketHigh(i), h.max))
		}
	}
	return time.Duration(h.max)
}
