package cache

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/host/redisclient"
	"github.com/sluice-gw/sluice/internal/redistest"
)

func fill(t *testing.T, s Store, n int) []string {
	t.Helper()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
		if err := s.Set(context.Background(), keys[i], &Entry{Model: "m", Body: []byte(`{"x":1}`)}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func present(t *testing.T, s Store, keys []string) int {
	t.Helper()
	got, err := s.Get(context.Background(), keys)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range got {
		if e != nil {
			n++
		}
	}
	return n
}

func TestMemoryStorePurge(t *testing.T) {
	m, err := NewMemoryStore(MemoryOptions{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	keys := fill(t, m, 5)
	if n := present(t, m, keys); n != 5 {
		t.Fatalf("before purge %d of 5 present", n)
	}
	n, err := m.Purge(context.Background())
	if err != nil || n != 5 {
		t.Fatalf("purge = %d, %v; want 5", n, err)
	}
	if n := present(t, m, keys); n != 0 {
		t.Fatalf("after purge %d entries remain", n)
	}
	// The store keeps working after a purge.
	fill(t, m, 2)
	if n := present(t, m, keys[:2]); n != 2 {
		t.Fatalf("after refill %d of 2 present", n)
	}
}

func TestRedisAndTieredPurge(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	rs := newRedis(t, srv.URL, nil)
	cl, err := redisclient.New(redisclient.Options{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// A key outside the prefix, and one that only globs would confuse with it, survive.
	for _, k := range []string{"other:keep", "testX"} {
		if _, err := cl.Do(ctx, "SET", k, "1"); err != nil {
			t.Fatal(err)
		}
	}
	keys := fill(t, rs, 1200) // more than one SCAN batch
	n, err := rs.Purge(ctx)
	if err != nil || n != 1200 {
		t.Fatalf("redis purge = %d, %v; want 1200", n, err)
	}
	if left := present(t, rs, keys); left != 0 {
		t.Fatalf("%d redis entries remain", left)
	}
	if v, _ := cl.Do(ctx, "EXISTS", "other:keep", "testX"); v.String() != "2" {
		t.Fatalf("purge removed keys outside the prefix (%v of 2 left)", v)
	}

	local, err := NewMemoryStore(MemoryOptions{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ts := NewTieredStore(local, rs)
	defer local.Close()
	keys = fill(t, ts, 3)
	c := newCache(t, ts, enabled)
	n, err = c.Purge(ctx)
	if err != nil || n != 6 {
		t.Fatalf("tiered purge = %d, %v; want 6 (3 per tier)", n, err)
	}
	if left := present(t, ts, keys); left != 0 {
		t.Fatalf("%d tiered entries remain", left)
	}
	if !c.SameStore(newCache(t, ts, enabled)) || c.SameStore(newCache(t, local, enabled)) {
		t.Fatal("SameStore")
	}
}

func TestGlobEscape(t *testing.T) {
	if got := globEscape(`a*b?[c]\`); got != `a\*b\?\[c\]\\` {
		t.Fatalf("globEscape = %q", got)
	}
}
