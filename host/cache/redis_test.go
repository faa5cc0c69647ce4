package cache

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/internal/redistest"
)

// syncBuffer collects log output from concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newRedis(t *testing.T, url string, logs *syncBuffer) *RedisStore {
	t.Helper()
	o := RedisOptions{URL: url, Prefix: "test:", Timeout: 100 * time.Millisecond, Cooldown: 300 * time.Millisecond}
	if logs != nil {
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	r, err := NewRedisStore(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestRedisStoreSharedBetweenReplicas(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	a := newCache(t, newRedis(t, srv.URL, nil), enabled)
	b := newCache(t, newRedis(t, srv.URL, nil), enabled)
	ctl := a.Control(http.Header{"X-Sluice-Cache-Buckets": {"2"}})
	key := mustKey(t, `{"messages":[{"role":"user","content":"shared"}]}`, testParts)

	stream := sampleStreamEntry(t)
	stream.Created = time.Time{}
	for i, e := range []*Entry{textEntry("from-a"), stream} {
		r := a.Lookup(ctx, key, ctl)
		if r.Status != Miss || r.Bucket != i {
			t.Fatalf("replica a fill %d: %+v", i, r)
		}
		if err := a.Store(ctx, key, r.Bucket, e, ctl); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[int]bool{}
	for range 40 {
		r := b.Lookup(ctx, key, ctl)
		if r.Status != Hit {
			t.Fatalf("replica b: %+v", r)
		}
		seen[r.Bucket] = true
		if r.Bucket == 1 {
			if !r.Entry.Stream() || !bytes.Equal(r.Entry.Chunks[2], stream.Chunks[2]) || r.Entry.Usage != stream.Usage {
				t.Fatalf("stream entry came back different: %+v", r.Entry)
			}
		} else if string(r.Entry.Body) != "from-a" {
			t.Fatalf("body entry: %q", r.Entry.Body)
		}
	}
	if !seen[0] || !seen[1] {
		t.Fatalf("buckets drawn: %v", seen)
	}
	if st := b.Stats().Store; st.Hits == 0 || st.Unavailable != 0 {
		t.Fatalf("replica b store stats: %+v", st)
	}
}

func TestRedisTTLSetInRedis(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	r := newRedis(t, srv.URL, nil)
	c := newCache(t, r, Policy{Enabled: true, TTL: 200 * time.Millisecond})
	ctl := c.Control(nil)
	if err := c.Store(ctx, "ttl", 0, textEntry("x"), ctl); err != nil {
		t.Fatal(err)
	}
	if v, err := r.c.Do(ctx, "PTTL", "test:ttl:0"); err != nil {
		t.Fatal(err)
	} else if ms, _ := v.Int(); ms <= 0 || ms > 200 {
		t.Fatalf("PTTL in redis = %dms", ms)
	}
	if got := c.Lookup(ctx, "ttl", ctl); got.Status != Hit {
		t.Fatalf("fresh: %+v", got)
	}
	time.Sleep(300 * time.Millisecond)
	if v, _ := r.c.Do(ctx, "EXISTS", "test:ttl:0"); v.String() != "0" {
		t.Fatal("redis kept the key past its TTL")
	}
	if got := c.Lookup(ctx, "ttl", ctl); got.Status != Miss {
		t.Fatalf("expired: %+v", got)
	}
}

func TestTieredStoreFillsLocal(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	remoteA := newRedis(t, srv.URL, nil)
	localB := newMemory(t, 1<<20)
	remoteB := newRedis(t, srv.URL, nil)
	a := newCache(t, NewTieredStore(newMemory(t, 1<<20), remoteA), enabled)
	b := newCache(t, NewTieredStore(localB, remoteB), enabled)
	ctl := a.Control(nil)
	if err := a.Store(ctx, "tier", 0, textEntry("v"), ctl); err != nil {
		t.Fatal(err)
	}
	if got, _ := localB.Get(ctx, []string{"tier:0"}); got[0] != nil {
		t.Fatal("b's local tier has the entry before any lookup")
	}
	if r := b.Lookup(ctx, "tier", ctl); r.Status != Hit || string(r.Entry.Body) != "v" {
		t.Fatalf("b via redis: %+v", r)
	}
	if got, _ := localB.Get(ctx, []string{"tier:0"}); got[0] == nil || string(got[0].Body) != "v" {
		t.Fatal("redis hit did not fill b's local tier")
	}
	// The local fill keeps the entry's remaining lifetime, not a fresh one.
	if ttl, ok := localB.c.GetTTL("tier:0"); !ok || ttl <= 0 || ttl > enabled.TTL {
		t.Fatalf("local fill TTL = %v (ok=%v), want within (0, %v]", ttl, ok, enabled.TTL)
	}
	// Once local, Redis is not needed: stop it and b still hits.
	before := remoteB.Stats().Hits
	srv.Stop()
	if r := b.Lookup(ctx, "tier", ctl); r.Status != Hit {
		t.Fatalf("b local after redis stop: %+v", r)
	}
	if remoteB.Stats().Hits != before {
		t.Fatal("local hit went to redis")
	}
	// A key only Redis could answer is now a bypass, not an error or a hang.
	start := time.Now()
	if r := b.Lookup(ctx, "elsewhere", ctl); r.Status != Bypass {
		t.Fatalf("redis down, local miss: %+v", r)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("bypass took %v", d)
	}
	st := b.Stats().Store
	if st.Hits < 2 || st.Unavailable != 1 {
		t.Fatalf("tiered stats: %+v", st)
	}
}

// blackhole accepts connections and never answers, like a hung Redis.
func blackhole(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

func TestRedisDownIsBoundedBypass(t *testing.T) {
	// A port nobody listens on (refused at once) and a server that never
	// answers (only the timeout ends it).
	refused := func() string {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}()
	for name, addr := range map[string]string{"refused": refused, "hung": blackhole(t)} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			logs := &syncBuffer{}
			r := newRedis(t, "redis://"+addr+"/0", logs)
			c := newCache(t, r, enabled)
			ctl := c.Control(nil)
			start := time.Now()
			for range 20 {
				if res := c.Lookup(ctx, "k", ctl); res.Status != Bypass {
					t.Fatalf("lookup with redis down: %+v", res)
				}
			}
			// One timeout at most, then the cooldown answers at once.
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Fatalf("20 bypassed lookups took %v", d)
			}
			if err := c.Store(ctx, "k", 0, textEntry("x"), ctl); err != nil {
				t.Fatalf("store with redis down returned %v", err)
			}
			st := c.Stats()
			if st.Bypasses != 20 || st.Store.Unavailable != 21 || st.StoreFailures != 1 {
				t.Fatalf("stats: %+v", st)
			}
			if n := strings.Count(logs.String(), "redis unavailable"); n != 1 {
				t.Fatalf("want one log line for the outage, got %d:\n%s", n, logs.String())
			}
			// After the cooldown it tries again (and fails again, bounded).
			time.Sleep(350 * time.Millisecond)
			start = time.Now()
			c.Lookup(ctx, "k", ctl)
			if d := time.Since(start); d > 400*time.Millisecond {
				t.Fatalf("retry after cooldown took %v", d)
			}
			if got := c.Stats().Store.Unavailable; got != 22 {
				t.Fatalf("unavailable after retry = %d", got)
			}
		})
	}
}

func TestRedisRecovers(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	logs := &syncBuffer{}
	r := newRedis(t, srv.URL, logs)
	c := newCache(t, r, enabled)
	ctl := c.Control(nil)
	// Simulate an outage by marking the store down, as a failed call would.
	r.fail("get", errors.New("simulated"))
	if res := c.Lookup(ctx, "k", ctl); res.Status != Bypass {
		t.Fatalf("during cooldown: %+v", res)
	}
	time.Sleep(350 * time.Millisecond)
	if res := c.Lookup(ctx, "k", ctl); res.Status != Miss {
		t.Fatalf("after cooldown: %+v", res)
	}
	if !strings.Contains(logs.String(), "redis available again") {
		t.Fatalf("no recovery line:\n%s", logs.String())
	}
	if _, err := NewRedisStore(RedisOptions{URL: "http://nope"}); err == nil {
		t.Fatal("bad URL accepted")
	}
}

func TestConcurrentUse(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	c := newCache(t, NewTieredStore(newMemory(t, 1<<20), newRedis(t, srv.URL, nil)), enabled)
	ctl := c.Control(http.Header{"X-Sluice-Cache-Buckets": {"2"}})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				key := Key("k" + string(rune('a'+(g+i)%5)))
				r := c.Lookup(ctx, key, ctl)
				switch r.Status {
				case Miss:
					if err := c.Store(ctx, key, r.Bucket, textEntry(string(key)), ctl); err != nil {
						t.Error(err)
						return
					}
				case Hit:
					if string(r.Entry.Body) != string(key) {
						t.Errorf("key %s served %q", key, r.Entry.Body)
						return
					}
				default:
					t.Errorf("unexpected %v", r.Status)
					return
				}
			}
		}()
	}
	wg.Wait()
	if st := c.Stats(); st.Hits == 0 || st.Stored < 10 {
		t.Fatalf("stats: %+v", st)
	}
}
