package respstore

import (
	"container/list"
	"context"
	"fmt"
	"sync"
	"time"
)

// memory is the single-replica store: a map plus a list in insertion order, so that eviction
// (oldest first, when the byte bound is reached) and expiry (all records share one TTL, so the
// oldest expires first) both work from the front.
type memory struct {
	max int64
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	total int64
	byKey map[memKey]*list.Element
	order list.List // of *memEntry, oldest at the front
}

type memKey struct{ tenant, id string }

type memEntry struct {
	key     memKey
	rec     *Record
	size    int64
	expires time.Time // zero: never
}

// NewMemory returns an in-process store holding at most maxBytes of records (by Size; the
// oldest are evicted to make room, and a record larger than maxBytes is refused with
// ErrTooLarge), each for ttl (0: until evicted).
func NewMemory(maxBytes int64, ttl time.Duration) Store {
	return newMemory(maxBytes, ttl, time.Now)
}

func newMemory(maxBytes int64, ttl time.Duration, now func() time.Time) *memory {
	return &memory{max: maxBytes, ttl: ttl, now: now, byKey: make(map[memKey]*list.Element)}
}

// Put stores a private copy of r, replacing any record with the same tenant and id.
func (m *memory) Put(ctx context.Context, r *Record) error {
	if err := check(r); err != nil {
		return err
	}
	size := Size(r)
	if size > m.max {
		return fmt.Errorf("%w: %d bytes, the bound is %d", ErrTooLarge, size, m.max)
	}
	cp := copyRecord(r)
	e := &memEntry{key: memKey{r.Tenant, r.ID}, rec: cp, size: size}
	now := m.now()
	if m.ttl > 0 {
		e.expires = now.Add(m.ttl)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.byKey[e.key]; ok {
		m.remove(old)
	}
	m.expire(now)
	for m.total+size > m.max {
		m.remove(m.order.Front())
	}
	m.byKey[e.key] = m.order.PushBack(e)
	m.total += size
	return nil
}

// Get returns the stored record (shared: callers must not modify it).
func (m *memory) Get(ctx context.Context, tenant, id string) (*Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(m.now())
	el, ok := m.byKey[memKey{tenant, id}]
	if !ok {
		return nil, ErrNotFound
	}
	return el.Value.(*memEntry).rec, nil
}

func (m *memory) Delete(ctx context.Context, tenant, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(m.now())
	el, ok := m.byKey[memKey{tenant, id}]
	if !ok {
		return ErrNotFound
	}
	m.remove(el)
	return nil
}

// expire drops expired records from the front; the TTL is uniform, so they are all there.
func (m *memory) expire(now time.Time) {
	for el := m.order.Front(); el != nil; el = m.order.Front() {
		e := el.Value.(*memEntry)
		if e.expires.IsZero() || now.Before(e.expires) {
			return
		}
		m.remove(el)
	}
}

func (m *memory) remove(el *list.Element) {
	e := m.order.Remove(el).(*memEntry)
	delete(m.byKey, e.key)
	m.total -= e.size
}

// copyRecord copies r into one allocation for its bytes, so the caller may reuse its buffers.
func copyRecord(r *Record) *Record {
	n := len(r.Response)
	for _, it := range r.Items {
		n += len(it)
	}
	buf := make([]byte, 0, n)
	cp := *r
	buf = append(buf, r.Response...)
	cp.Response = buf[:len(r.Response):len(r.Response)]
	cp.Items = make([][]byte, len(r.Items))
	for i, it := range r.Items {
		start := len(buf)
		buf = append(buf, it...)
		cp.Items[i] = buf[start:len(buf):len(buf)]
	}
	return &cp
}
