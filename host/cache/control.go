package cache

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Request and response header names.
const (
	HeaderCacheControl = "Cache-Control"
	HeaderBuckets      = "X-Sluice-Cache-Buckets"
	HeaderSeed         = "X-Sluice-Cache-Seed"
	HeaderStatus       = "X-Sluice-Cache"
	HeaderBucket       = "X-Sluice-Cache-Bucket"
	HeaderAge          = "Age"
)

// DefaultMaxBuckets caps x-sluice-cache-buckets when Policy.MaxBuckets is 0.
const DefaultMaxBuckets = 10

// Policy is the configured caching behaviour (the [cache] table).
type Policy struct {
	Enabled bool
	// TTL is the lifetime of stored entries; 0 means entries never expire
	// (a size-bounded store still evicts them).
	TTL time.Duration
	// Buckets is the default number of answers kept per key (0 means 1).
	Buckets int
	// MaxBuckets bounds the x-sluice-cache-buckets header (0 means 10).
	MaxBuckets int
	// MaxEntryBytes refuses larger entries (Entry.Size); 0 means no limit.
	MaxEntryBytes int
	// Ignore lists top-level body fields left out of keys (see KeyParts).
	Ignore []string
}

// Control is the effective caching decision for one request.
type Control struct {
	// Lookup says whether to consult the cache.
	Lookup bool
	// Store says whether a successful answer is stored.
	Store bool
	// TTL of an entry stored for this request.
	TTL time.Duration
	// MaxAge, when positive, accepts only entries younger than it.
	MaxAge time.Duration
	// Buckets is the number of answers per key, 1..MaxBuckets.
	Buckets int
	// Seed is the x-sluice-cache-seed value; pass it in KeyParts.Seed.
	Seed string
}

// Bypass reports whether the cache plays no part in this request.
func (c Control) Bypass() bool { return !c.Lookup && !c.Store }

// ParseControl merges a request's headers into policy p:
//
//   - Cache-Control: no-cache skips the lookup but still stores the answer;
//     no-store neither looks up nor stores; max-age=N accepts only entries
//     younger than N seconds and lowers the stored TTL to N when smaller
//     (max-age=0 behaves as no-cache).
//   - x-sluice-cache-buckets: N sets the buckets, clamped to 1..MaxBuckets.
//   - x-sluice-cache-seed: S is returned as Control.Seed.
//
// Malformed values are ignored, as HTTP caches do with unknown directives.
func ParseControl(h http.Header, p Policy) Control {
	if !p.Enabled {
		return Control{}
	}
	c := Control{Lookup: true, Store: true, TTL: p.TTL, Buckets: p.BoundBuckets(p.Buckets)}
	for _, line := range h.Values(HeaderCacheControl) {
		for _, d := range strings.Split(line, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "no-cache":
				c.Lookup = false
			case "no-store":
				c.Lookup, c.Store = false, false
			case "max-age":
				n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(val), `"`), 10, 64)
				if err != nil || n < 0 {
					continue
				}
				if n == 0 {
					c.Lookup = false
					continue
				}
				age := time.Duration(min(n, int64(1<<31))) * time.Second
				c.MaxAge = age
				if c.TTL == 0 || age < c.TTL {
					c.TTL = age
				}
			}
		}
	}
	if v := strings.TrimSpace(h.Get(HeaderBuckets)); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			c.Buckets = p.BoundBuckets(n)
		}
	}
	c.Seed = h.Get(HeaderSeed)
	if c.Bypass() {
		return Control{Buckets: c.Buckets, Seed: c.Seed}
	}
	return c
}

// BoundBuckets clamps a bucket count from elsewhere (e.g. a cache_key plugin's
// "buckets") to 1..MaxBuckets, as ParseControl does for the header.
func (p Policy) BoundBuckets(n int) int {
	maxB := p.MaxBuckets
	if maxB <= 0 {
		maxB = DefaultMaxBuckets
	}
	return clamp(n, 1, maxB)
}

func clamp(n, lo, hi int) int {
	return max(lo, min(n, hi))
}
