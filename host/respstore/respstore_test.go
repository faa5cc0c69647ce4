package respstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/host/redisclient"
	"github.com/sluice-gw/sluice/internal/redistest"
)

func rec(tenant, id string, body string) *Record {
	return &Record{ID: id, Tenant: tenant, Model: "m", Provider: "p", Native: true,
		Response: []byte(`{"id":"` + id + `","body":"` + body + `"}`),
		Items:    [][]byte{[]byte(`{"type":"message"}`), []byte(`{"type":"function_call"}`), {}},
		Input:    2, CreatedAt: 1700000000}
}

func same(t *testing.T, got, want *Record) {
	t.Helper()
	if got.ID != want.ID || got.Tenant != want.Tenant || got.Model != want.Model ||
		got.Provider != want.Provider || got.Native != want.Native || got.CreatedAt != want.CreatedAt || got.Input != want.Input ||
		!bytes.Equal(got.Response, want.Response) || len(got.Items) != len(want.Items) {
		t.Fatalf("record differs:\n got %+v\nwant %+v", got, want)
	}
	for i := range got.Items {
		if !bytes.Equal(got.Items[i], want.Items[i]) {
			t.Fatalf("item %d: %q, want %q", i, got.Items[i], want.Items[i])
		}
	}
}

// contract runs the behaviour every Store must have.
func contract(t *testing.T, s Store) {
	ctx := context.Background()
	a := rec("tenant-a", "resp_1", "a")
	if err := s.Put(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "tenant-a", "resp_1")
	if err != nil {
		t.Fatal(err)
	}
	same(t, got, a)
	// Another tenant, the empty tenant and an unknown id all look the same: not found.
	for _, c := range [][2]string{{"tenant-b", "resp_1"}, {"", "resp_1"}, {"tenant-a", "resp_2"}, {"tenant-a:", "resp_1"}} {
		if _, err := s.Get(ctx, c[0], c[1]); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q, %q) = %v, want ErrNotFound", c[0], c[1], err)
		}
		if err := s.Delete(ctx, c[0], c[1]); !errors.Is(err, ErrNotFound) {
			t.Errorf("Delete(%q, %q) = %v, want ErrNotFound", c[0], c[1], err)
		}
	}
	// Same id under another tenant is a different record.
	b := rec("tenant-b", "resp_1", "b")
	if err := s.Put(ctx, b); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, "tenant-a", "resp_1"); got == nil || !bytes.Equal(got.Response, a.Response) {
		t.Fatalf("tenant-a's record was overwritten by tenant-b's: %+v", got)
	}
	if err := s.Delete(ctx, "tenant-a", "resp_1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "tenant-a", "resp_1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := s.Delete(ctx, "tenant-a", "resp_1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if got, err := s.Get(ctx, "tenant-b", "resp_1"); err != nil || !bytes.Equal(got.Response, b.Response) {
		t.Fatalf("tenant-b's record after tenant-a's delete: %v %+v", err, got)
	}
	if err := s.Put(ctx, &Record{Tenant: "x"}); err == nil {
		t.Fatal("a record without an id was accepted")
	}
}

func TestMemoryContract(t *testing.T) { contract(t, NewMemory(1<<20, time.Hour)) }

func TestMemoryCopiesOnPut(t *testing.T) {
	s := NewMemory(1<<20, 0)
	r := rec("t", "resp_1", "x")
	if err := s.Put(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	r.Response[2] = 'X'
	r.Items[0][2] = 'X'
	got, _ := s.Get(context.Background(), "t", "resp_1")
	if got.Response[2] == 'X' || got.Items[0][2] == 'X' {
		t.Fatal("the store kept the caller's buffers")
	}
}

func TestMemoryTTL(t *testing.T) {
	now := time.Unix(1000, 0)
	s := newMemory(1<<20, time.Minute, func() time.Time { return now })
	ctx := context.Background()
	_ = s.Put(ctx, rec("t", "old", ""))
	now = now.Add(30 * time.Second)
	_ = s.Put(ctx, rec("t", "new", ""))
	now = now.Add(30*time.Second - time.Nanosecond)
	if _, err := s.Get(ctx, "t", "old"); err != nil {
		t.Fatalf("record gone before its TTL: %v", err)
	}
	now = now.Add(time.Nanosecond)
	if _, err := s.Get(ctx, "t", "old"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("record alive at its TTL: %v", err)
	}
	if err := s.Delete(ctx, "t", "old"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete of an expired record: %v", err)
	}
	if _, err := s.Get(ctx, "t", "new"); err != nil {
		t.Fatalf("younger record expired with the old one: %v", err)
	}
	if s.total != Size(rec("t", "new", "")) {
		t.Fatalf("accounting after expiry: %d", s.total)
	}
}

func TestMemoryByteBound(t *testing.T) {
	one := Size(rec("t", "r0", ""))
	s := newMemory(3*one, 0, time.Now)
	ctx := context.Background()
	for i := range 5 {
		if err := s.Put(ctx, rec("t", fmt.Sprint("r", i), "")); err != nil {
			t.Fatal(err)
		}
		if s.total > s.max {
			t.Fatalf("total %d above bound %d", s.total, s.max)
		}
	}
	for i := range 5 {
		_, err := s.Get(ctx, "t", fmt.Sprint("r", i))
		if (i < 2) != errors.Is(err, ErrNotFound) {
			t.Errorf("r%d: %v (the two oldest should be evicted, the rest kept)", i, err)
		}
	}
	// Replacing a record does not count it twice.
	_ = s.Put(ctx, rec("t", "r4", ""))
	if s.total != 3*one || len(s.byKey) != 3 {
		t.Fatalf("after replace: total %d, %d records", s.total, len(s.byKey))
	}
	big := rec("t", "big", strings.Repeat("x", int(3*one)))
	if err := s.Put(ctx, big); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized record: %v", err)
	}
	if len(s.byKey) != 3 {
		t.Fatal("an oversized record evicted others")
	}
}

func TestMemoryConcurrent(t *testing.T) {
	s := NewMemory(64<<10, time.Minute)
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tenant := fmt.Sprint("t", g%3)
			for i := range 500 {
				id := fmt.Sprint("r", i%50)
				want := rec(tenant, id, fmt.Sprint(g))
				if err := s.Put(ctx, want); err != nil {
					t.Error(err)
					return
				}
				if got, err := s.Get(ctx, tenant, id); err == nil && (got.Tenant != tenant || got.ID != id) {
					t.Errorf("got another record: %+v", got)
					return
				}
				if i%7 == 0 {
					_ = s.Delete(ctx, tenant, id)
				}
			}
		}()
	}
	wg.Wait()
	m := s.(*memory)
	var sum int64
	for el := m.order.Front(); el != nil; el = el.Next() {
		sum += el.Value.(*memEntry).size
	}
	if sum != m.total || m.total > m.max || len(m.byKey) != m.order.Len() {
		t.Fatalf("accounting drifted: sum %d total %d max %d map %d list %d", sum, m.total, m.max, len(m.byKey), m.order.Len())
	}
}

func TestEncodeDecode(t *testing.T) {
	r := rec("tën\x00ant", "resp_x", "body")
	r.Native = false
	r.CreatedAt = -5
	got, err := decode(encode(r))
	if err != nil {
		t.Fatal(err)
	}
	same(t, got, r)
	empty := &Record{ID: "i"}
	if got, err := decode(encode(empty)); err != nil || got.ID != "i" || len(got.Items) != 0 {
		t.Fatalf("empty record: %v %+v", err, got)
	}
	b := encode(r)
	for i := range len(b) {
		if _, err := decode(b[:i]); err == nil {
			t.Fatalf("truncated record (%d of %d bytes) decoded", i, len(b))
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(rec("t", "i", "b")))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decode(b)
		if err != nil {
			return
		}
		if again := encode(r); !bytes.Equal(again, b) {
			// Varints have one canonical encoding only when minimal; accept a re-decode match.
			r2, err := decode(again)
			if err != nil || r2.ID != r.ID || len(r2.Items) != len(r.Items) {
				t.Fatalf("re-encoding differs: %v", err)
			}
		}
	})
}

func newRedisStore(t *testing.T, url, prefix string, ttl time.Duration, maxRecord int64) Store {
	t.Helper()
	c, err := redisclient.New(redisclient.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return NewRedis(c, prefix, ttl, maxRecord)
}

func TestRedisContract(t *testing.T) {
	srv := redistest.Start(t)
	contract(t, newRedisStore(t, srv.URL, "test:resp:", time.Hour, 0))
}

// TestRedisSharedBetweenReplicas: two stores on one server (two replicas) see each other's
// records and deletes, still scoped by tenant.
func TestRedisSharedBetweenReplicas(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	a := newRedisStore(t, srv.URL, "sluice:resp:", time.Hour, 0)
	b := newRedisStore(t, srv.URL, "sluice:resp:", time.Hour, 0)
	r := rec("team-1", "resp_shared", "x")
	if err := a.Put(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := b.Get(ctx, "team-1", "resp_shared")
	if err != nil {
		t.Fatal(err)
	}
	same(t, got, r)
	if _, err := b.Get(ctx, "team-2", "resp_shared"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("another tenant read it through the second replica: %v", err)
	}
	if err := b.Delete(ctx, "team-1", "resp_shared"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, "team-1", "resp_shared"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete on one replica not seen by the other: %v", err)
	}
	// A store with another prefix is another namespace.
	other := newRedisStore(t, srv.URL, "other:", time.Hour, 0)
	_ = a.Put(ctx, r)
	if _, err := other.Get(ctx, "team-1", "resp_shared"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("prefix did not separate stores: %v", err)
	}
}

func TestRedisTTLAndBound(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	s := newRedisStore(t, srv.URL, "ttl:", 150*time.Millisecond, 4096)
	if err := s.Put(ctx, rec("t", "short", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "t", "short"); err != nil {
		t.Fatal(err)
	}
	// The key carries the TTL in Redis itself.
	c, _ := redisclient.New(redisclient.Options{URL: srv.URL})
	defer c.Close()
	v, err := c.Do(ctx, "PTTL", s.(*redisStore).key("t", "short"))
	if n, _ := v.Int(); err != nil || n <= 0 || n > 150 {
		t.Fatalf("PTTL = %d, %v", n, err)
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := s.Get(ctx, "t", "short"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after TTL: %v", err)
	}
	big := rec("t", "big", strings.Repeat("y", 5000))
	if err := s.Put(ctx, big); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "4096") {
		t.Fatalf("oversized record: %v", err)
	}
	if _, err := s.Get(ctx, "t", "big"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("oversized record was stored: %v", err)
	}
	// A value that is not a record is an error, not a silent miss.
	_, _ = c.Do(ctx, "SET", s.(*redisStore).key("t", "junk"), "junk")
	if _, err := s.Get(ctx, "t", "junk"); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("corrupt value: %v", err)
	}
}

func TestRedisUnavailable(t *testing.T) {
	srv := redistest.Start(t)
	s := newRedisStore(t, srv.URL, "x:", time.Hour, 0)
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.Put(ctx, rec("t", "i", "")); err == nil || !strings.HasPrefix(err.Error(), "respstore: redis put") {
		t.Fatalf("put with redis down: %v", err)
	}
	if _, err := s.Get(ctx, "t", "i"); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("get with redis down must not look like a miss: %v", err)
	}
}
