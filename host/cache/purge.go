package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// Purger is a Store that can drop every entry it holds. All stores in this
// package are Purgers; the admin API uses it to empty the cache.
type Purger interface {
	// Purge removes every entry and returns how many it removed.
	Purge(ctx context.Context) (int, error)
}

// ErrNotPurgeable is returned by Cache.Purge when its store cannot purge.
var ErrNotPurgeable = errors.New("cache: purge: store cannot purge")

// Purge empties the cache's store. Caches sharing one store empty it together.
func (c *Cache) Purge(ctx context.Context) (int, error) {
	p, ok := c.store.(Purger)
	if !ok {
		return 0, ErrNotPurgeable
	}
	return p.Purge(ctx)
}

// SameStore reports whether c and o are backed by the same store, so a caller
// purging several caches empties each store once.
func (c *Cache) SameStore(o *Cache) bool { return c.store == o.store }

// purgeMu serialises Clear calls: ristretto restarts its worker in Clear, and
// two overlapping Clears on one cache would contend for it.
var purgeMu sync.Mutex

// Purge implements Purger. The count is the number of entries resident when
// the purge ran (each one passes through the eviction callback).
func (m *MemoryStore) Purge(_ context.Context) (int, error) {
	purgeMu.Lock()
	defer purgeMu.Unlock()
	m.c.Wait()
	before := m.evicts.Load()
	m.c.Clear()
	return int(m.evicts.Load() - before), nil
}

// purgeBatch is how many keys one SCAN step asks for and one UNLINK removes.
const purgeBatch = 500

// Purge implements Purger: it walks the store's prefix with SCAN (never KEYS,
// which blocks Redis) and UNLINKs what it finds, batch by batch. Keys written
// while it runs may survive.
func (r *RedisStore) Purge(ctx context.Context) (int, error) {
	match := globEscape(r.prefix) + "*"
	cursor := "0"
	n := 0
	for {
		next, keys, err := r.scan(ctx, cursor, match)
		if err != nil {
			return n, fmt.Errorf("cache: redis purge: scan: %w", err)
		}
		if len(keys) > 0 {
			v, err := r.c.Do(ctx, keys...)
			var del int64
			if err == nil {
				del, err = v.Int()
			}
			if err != nil {
				return n, fmt.Errorf("cache: redis purge: unlink: %w", err)
			}
			n += int(del)
		}
		cursor = next
		if cursor == "0" {
			return n, nil
		}
	}
}

// scan runs one SCAN step. It returns the next cursor and an UNLINK command
// for the keys found (nil when there are none).
func (r *RedisStore) scan(ctx context.Context, cursor, match string) (string, []any, error) {
	v, err := r.c.Do(ctx, "SCAN", cursor, "MATCH", match, "COUNT", purgeBatch)
	if err != nil {
		return "", nil, err
	}
	a, err := v.Array()
	if err != nil {
		return "", nil, err
	}
	if len(a) != 2 {
		return "", nil, fmt.Errorf("reply has %d elements, want 2", len(a))
	}
	next, err := a[0].Str()
	if err != nil {
		return "", nil, err
	}
	found, err := a[1].Array()
	if err != nil {
		return "", nil, err
	}
	if len(found) == 0 {
		return next, nil, nil
	}
	unlink := make([]any, 1, 1+len(found))
	unlink[0] = "UNLINK"
	for _, k := range found {
		b, err := k.Bytes()
		if err != nil {
			return "", nil, err
		}
		unlink = append(unlink, b)
	}
	return next, unlink, nil
}

// globEscape quotes the characters SCAN MATCH treats as pattern syntax.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Purge implements Purger: both tiers are emptied, the shared one first so
// the local tier cannot be refilled from it in between.
func (t *TieredStore) Purge(ctx context.Context) (int, error) {
	var n int
	var errs []error
	for _, s := range []Store{t.remote, t.local} {
		p, ok := s.(Purger)
		if !ok {
			errs = append(errs, ErrNotPurgeable)
			continue
		}
		k, err := p.Purge(ctx)
		n += k
		errs = append(errs, err)
	}
	return n, errors.Join(errs...)
}
