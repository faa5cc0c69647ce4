// Package cache owns sluice's response cache: canonical request keys (tenant
// namespaced, optionally seeded), bucketed lookups holding up to N answers per
// key, the per-request controls derived from headers, stored entries and their
// stream/non-stream conversions, SSE replay, and the stores behind it (an
// in-process size-bounded store, Redis, and the two layered).
//
// The gateway's flow for one request:
//
//	ctl := c.Control(r.Header)
//	key, ex, err := cache.KeyFor(body, cache.KeyParts{..., Seed: ctl.Seed})
//	res := c.Lookup(ctx, key, ctl)
//	res.SetHeaders(w.Header())
//	// HIT: serve res.Entry (AsCompletion or AsChunks + WriteSSE).
//	// MISS: call upstream; on a complete 200 answer, c.Store(ctx, key, res.Bucket, entry, ctl).
//	// BYPASS: call upstream, store nothing.
package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Status is the outcome of a lookup, sent as x-sluice-cache.
type Status uint8

const (
	// Bypass: the cache took no part (disabled, no-store, or store down).
	Bypass Status = iota
	// Miss: no usable answer; store the upstream answer in Result.Bucket.
	Miss
	// Hit: Result.Entry is the answer.
	Hit
)

func (s Status) String() string {
	switch s {
	case Hit:
		return "HIT"
	case Miss:
		return "MISS"
	}
	return "BYPASS"
}

// Result is the outcome of Cache.Lookup.
type Result struct {
	Status Status
	// Bucket is the bucket served on a hit, or the one to fill on a miss.
	Bucket int
	// Entry is the stored answer on a hit.
	Entry *Entry
	// Age is how old Entry is on a hit.
	Age time.Duration
}

// SetHeaders writes x-sluice-cache, x-sluice-cache-bucket (hit and miss) and
// Age (hit, whole seconds).
func (r Result) SetHeaders(h http.Header) {
	h.Set(HeaderStatus, r.Status.String())
	if r.Status == Bypass {
		return
	}
	h.Set(HeaderBucket, strconv.Itoa(r.Bucket))
	if r.Status == Hit {
		h.Set(HeaderAge, strconv.FormatInt(int64(max(r.Age, 0)/time.Second), 10))
	}
}

// Refusals returned by Cache.Store; each is counted in Stats.
var (
	ErrTooLarge    = errors.New("cache: store: entry exceeds max entry size")
	ErrEmptyEntry  = errors.New("cache: store: entry has neither body nor chunks")
	ErrBucketRange = errors.New("cache: store: bucket out of range")
)

// Options configure a Cache.
type Options struct {
	// Store holds the entries. Required.
	Store Store
	// Policy is the configured behaviour; see ParseControl.
	Policy Policy
	// Rand draws the bucket served on a hit; nil uses the global source. It is
	// guarded by a mutex, so a seeded *rand.Rand gives reproducible draws.
	Rand *rand.Rand
	// Now is the clock for ages; nil uses time.Now.
	Now func() time.Time
	// Logger receives store failures on the write path; nil uses slog.Default.
	Logger *slog.Logger
}

// Stats are the cache's cumulative counters plus its store's.
type Stats struct {
	Hits, Misses, Bypasses uint64
	// Stored counts entries written; StoreFailures writes the store lost.
	Stored, StoreFailures uint64
	// TooLarge, Empty and BadBucket count refused entries by reason.
	TooLarge, Empty, BadBucket uint64
	Store                      StoreStats
}

// Cache answers lookups and stores answers over a Store.
type Cache struct {
	store  Store
	policy Policy
	now    func() time.Time
	log    *slog.Logger

	mu  sync.Mutex
	rnd *rand.Rand

	hits, misses, bypasses, stored, storeFailures atomic.Uint64
	tooLarge, empty, badBucket                    atomic.Uint64
}

// New returns a Cache.
func New(o Options) (*Cache, error) {
	if o.Store == nil {
		return nil, errors.New("cache: new: a store is required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Cache{store: o.Store, policy: o.Policy, now: o.Now, log: o.Logger, rnd: o.Rand}, nil
}

// Policy returns the configured policy.
func (c *Cache) Policy() Policy { return c.policy }

// Control is ParseControl with the cache's policy.
func (c *Cache) Control(h http.Header) Control { return ParseControl(h, c.policy) }

func (c *Cache) intN(n int) int {
	if n <= 1 {
		return 0
	}
	if c.rnd == nil {
		return rand.IntN(n)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rnd.IntN(n)
}

// bucketKey is where bucket i of key lives in the store.
func bucketKey(k Key, i int) string { return string(k) + ":" + strconv.Itoa(i) }

// Lookup consults the cache. With ctl.Buckets = N it reads buckets 0..N-1 and
// hits only when all N hold a usable entry (younger than ctl.MaxAge if set),
// then serves one drawn uniformly at random; otherwise it misses with the
// first unusable bucket to fill. With no-cache it misses at once with a random
// bucket to overwrite. A store failure or a disabled cache is a Bypass.
func (c *Cache) Lookup(ctx context.Context, key Key, ctl Control) Result {
	n := max(ctl.Buckets, 1)
	if !ctl.Lookup {
		if !ctl.Store {
			c.bypasses.Add(1)
			return Result{Status: Bypass}
		}
		c.misses.Add(1)
		return Result{Status: Miss, Bucket: c.intN(n)}
	}
	keys := make([]string, n)
	for i := range keys {
		keys[i] = bucketKey(key, i)
	}
	entries, err := c.store.Get(ctx, keys)
	now := c.now()
	fill := -1
	for i := range n {
		var e *Entry
		if i < len(entries) {
			e = entries[i]
		}
		if !c.usable(e, now, ctl.MaxAge) {
			fill = i
			break
		}
	}
	if fill < 0 {
		i := c.intN(n)
		c.hits.Add(1)
		e := entries[i]
		return Result{Status: Hit, Bucket: i, Entry: e, Age: now.Sub(e.Created)}
	}
	if err != nil {
		c.bypasses.Add(1)
		return Result{Status: Bypass}
	}
	c.misses.Add(1)
	return Result{Status: Miss, Bucket: fill}
}

func (c *Cache) usable(e *Entry, now time.Time, maxAge time.Duration) bool {
	if e == nil {
		return false
	}
	if !e.expires.IsZero() && !now.Before(e.expires) {
		return false
	}
	return maxAge <= 0 || now.Sub(e.Created) < maxAge
}

// Store saves a complete successful answer in bucket (from a Miss) for
// ctl.TTL. It does nothing when ctl.Store is false. It returns ErrTooLarge,
// ErrEmptyEntry or ErrBucketRange for a refused entry; a store failure is
// counted and logged, never returned. e must not be modified afterwards; a
// zero e.Created is set to now.
func (c *Cache) Store(ctx context.Context, key Key, bucket int, e *Entry, ctl Control) error {
	if !ctl.Store {
		return nil
	}
	if bucket < 0 || bucket >= max(ctl.Buckets, 1) {
		c.badBucket.Add(1)
		return fmt.Errorf("%w: %d of %d", ErrBucketRange, bucket, ctl.Buckets)
	}
	if e.Body == nil && e.Chunks == nil {
		c.empty.Add(1)
		return ErrEmptyEntry
	}
	if size := e.Size(); c.policy.MaxEntryBytes > 0 && size > c.policy.MaxEntryBytes {
		c.tooLarge.Add(1)
		return fmt.Errorf("%w: %d > %d bytes", ErrTooLarge, size, c.policy.MaxEntryBytes)
	}
	now := c.now()
	stored := *e
	if stored.Created.IsZero() {
		stored.Created = now
	}
	stored.expires = time.Time{}
	if ctl.TTL > 0 {
		stored.expires = now.Add(ctl.TTL)
	}
	if err := c.store.Set(ctx, bucketKey(key, bucket), &stored, ctl.TTL); err != nil {
		c.storeFailures.Add(1)
		c.log.Debug("cache: store failed", "key", string(key), "bucket", bucket, "err", err)
		return nil
	}
	c.stored.Add(1)
	return nil
}

// Stats returns a snapshot of the counters.
func (c *Cache) Stats() Stats {
	return Stats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Bypasses: c.bypasses.Load(),
		Stored: c.stored.Load(), StoreFailures: c.storeFailures.Load(),
		TooLarge: c.tooLarge.Load(), Empty: c.empty.Load(), BadBucket: c.badBucket.Load(),
		Store: c.store.Stats(),
	}
}

// Close closes the store.
func (c *Cache) Close() error { return c.store.Close() }
