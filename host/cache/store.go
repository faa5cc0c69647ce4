package cache

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
)

// ErrUnavailable is returned by a Store whose backend cannot be reached. The
// Cache turns it into a BYPASS; it never reaches the gateway.
var ErrUnavailable = errors.New("cache: store unavailable")

// Store holds entries by string key. Implementations must be safe for
// concurrent use and must not block longer than their configured timeouts.
type Store interface {
	// Get returns one entry per key, nil where absent or expired. A non-nil
	// error means the backend is unavailable; entries found before the failure
	// (e.g. in a local tier) are still returned.
	Get(ctx context.Context, keys []string) ([]*Entry, error)
	// Set stores e under key for ttl (0 means no expiry). The store may keep
	// a reference to e, which must not be modified afterwards.
	Set(ctx context.Context, key string, e *Entry, ttl time.Duration) error
	// Stats returns a snapshot of the store's counters.
	Stats() StoreStats
	// Close releases the store's resources.
	Close() error
}

// StoreStats are cumulative counters since the store was created (Bytes is a
// current level).
type StoreStats struct {
	Hits, Misses uint64
	// Evictions counts entries removed for space or by expiry (memory tier).
	Evictions uint64
	// Sets counts successful writes.
	Sets uint64
	// Unavailable counts operations skipped or failed because the backend was
	// unreachable (each one a bypass).
	Unavailable uint64
	// Bytes is the accounted size of resident entries (memory tier).
	Bytes int64
}

// MemoryOptions configure an in-process store.
type MemoryOptions struct {
	// MaxBytes bounds the sum of Entry.Size of resident entries. Required.
	MaxBytes int64
	// ExpectedEntries sizes the admission counters; 0 derives it from MaxBytes
	// assuming 4 KiB entries.
	ExpectedEntries int64
}

// MemoryStore is a size-bounded in-process store (TinyLFU admission, sampled
// LFU eviction) with a TTL per entry.
type MemoryStore struct {
	c                    *ristretto.Cache[string, *Entry]
	hits, misses, evicts atomic.Uint64
	sets                 atomic.Uint64
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an in-process store bounded to o.MaxBytes.
func NewMemoryStore(o MemoryOptions) (*MemoryStore, error) {
	if o.MaxBytes <= 0 {
		return nil, errors.New("cache: memory store: MaxBytes must be positive")
	}
	n := o.ExpectedEntries
	if n <= 0 {
		n = max(o.MaxBytes/4096, 1000)
	}
	m := &MemoryStore{}
	c, err := ristretto.NewCache(&ristretto.Config[string, *Entry]{
		NumCounters:        n * 10,
		MaxCost:            o.MaxBytes,
		BufferItems:        64,
		IgnoreInternalCost: true,
		OnEvict:            func(*ristretto.Item[*Entry]) { m.evicts.Add(1) },
	})
	if err != nil {
		return nil, errors.Join(errors.New("cache: memory store"), err)
	}
	m.c = c
	return m, nil
}

// Get implements Store; it never fails.
func (m *MemoryStore) Get(_ context.Context, keys []string) ([]*Entry, error) {
	out := make([]*Entry, len(keys))
	for i, k := range keys {
		if e, ok := m.c.Get(k); ok {
			out[i] = e
			m.hits.Add(1)
		} else {
			m.misses.Add(1)
		}
	}
	return out, nil
}

// Set implements Store. It waits until the write is applied so a following
// Get sees it; the admission policy may still decline an entry when full.
func (m *MemoryStore) Set(_ context.Context, key string, e *Entry, ttl time.Duration) error {
	if ttl < 0 {
		return nil
	}
	if m.c.SetWithTTL(key, e, int64(e.Size()), ttl) {
		m.sets.Add(1)
	}
	m.c.Wait()
	return nil
}

// Stats implements Store.
func (m *MemoryStore) Stats() StoreStats {
	return StoreStats{
		Hits: m.hits.Load(), Misses: m.misses.Load(), Evictions: m.evicts.Load(),
		Sets: m.sets.Load(), Bytes: m.c.MaxCost() - m.c.RemainingCost(),
	}
}

// Close implements Store.
func (m *MemoryStore) Close() error {
	m.c.Close()
	return nil
}
