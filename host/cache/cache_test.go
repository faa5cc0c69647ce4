package cache

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func newMemory(t testing.TB, maxBytes int64) *MemoryStore {
	t.Helper()
	m, err := NewMemoryStore(MemoryOptions{MaxBytes: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func newCache(t testing.TB, s Store, p Policy) *Cache {
	t.Helper()
	c, err := New(Options{Store: s, Policy: p, Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var enabled = Policy{Enabled: true, TTL: time.Minute, MaxEntryBytes: 1 << 20}

func textEntry(s string) *Entry {
	return &Entry{Model: "m", ContentType: "application/json", Body: []byte(s)}
}

func TestExactCaching(t *testing.T) {
	ctx := context.Background()
	c := newCache(t, newMemory(t, 1<<20), enabled)
	ctl := c.Control(http.Header{})
	key := mustKey(t, `{"messages":[{"role":"user","content":"hi"}]}`, testParts)
	res := c.Lookup(ctx, key, ctl)
	if res.Status != Miss || res.Bucket != 0 {
		t.Fatalf("first lookup: %+v", res)
	}
	if err := c.Store(ctx, key, res.Bucket, textEntry("answer"), ctl); err != nil {
		t.Fatal(err)
	}
	res = c.Lookup(ctx, key, ctl)
	if res.Status != Hit || string(res.Entry.Body) != "answer" || res.Age < 0 || res.Age > time.Second {
		t.Fatalf("second lookup: %+v", res)
	}
	h := http.Header{}
	res.SetHeaders(h)
	if h.Get("x-sluice-cache") != "HIT" || h.Get("x-sluice-cache-bucket") != "0" || h.Get("age") != "0" {
		t.Fatalf("headers: %v", h)
	}
	// Another tenant does not see it.
	other := mustKey(t, `{"messages":[{"role":"user","content":"hi"}]}`,
		KeyParts{Endpoint: "chat.completions", Model: "openai/gpt-4o-mini", Namespace: "team-b"})
	if r := c.Lookup(ctx, other, ctl); r.Status != Miss {
		t.Fatalf("other namespace: %+v", r)
	}
	st := c.Stats()
	if st.Hits != 1 || st.Misses != 2 || st.Stored != 1 || st.Store.Hits != 1 || st.Store.Bytes <= 0 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestBucketsFillThenDraw(t *testing.T) {
	ctx := context.Background()
	c := newCache(t, newMemory(t, 1<<20), enabled)
	ctl := c.Control(http.Header{"X-Sluice-Cache-Buckets": {"3"}})
	if ctl.Buckets != 3 {
		t.Fatalf("buckets = %d", ctl.Buckets)
	}
	key := Key("k")
	for want := range 3 {
		res := c.Lookup(ctx, key, ctl)
		if res.Status != Miss || res.Bucket != want {
			t.Fatalf("fill %d: %+v", want, res)
		}
		if err := c.Store(ctx, key, res.Bucket, textEntry("answer-"+strconv.Itoa(want)), ctl); err != nil {
			t.Fatal(err)
		}
	}
	const draws = 3000
	counts := map[string]int{}
	for range draws {
		res := c.Lookup(ctx, key, ctl)
		if res.Status != Hit || string(res.Entry.Body) != "answer-"+strconv.Itoa(res.Bucket) {
			t.Fatalf("draw: %+v", res)
		}
		counts[string(res.Entry.Body)]++
	}
	// Chi-squared with 2 degrees of freedom; 13.8 is the 0.001 critical value.
	chi := 0.0
	for i := range 3 {
		d := float64(counts["answer-"+strconv.Itoa(i)]) - draws/3.0
		chi += d * d / (draws / 3.0)
	}
	if len(counts) != 3 || chi > 13.8 {
		t.Fatalf("draws not uniform: %v (chi2 %.2f)", counts, chi)
	}
	// A seeded source gives the same sequence of buckets.
	seq := func() []int {
		c2 := newCache(t, c.store, enabled)
		var s []int
		for range 20 {
			s = append(s, c2.Lookup(ctx, key, ctl).Bucket)
		}
		return s
	}
	if a, b := seq(), seq(); !equalInts(a, b) {
		t.Fatalf("seeded draws differ: %v %v", a, b)
	}
	// Asking for more buckets than are filled is a miss on the next one.
	more := ctl
	more.Buckets = 5
	if res := c.Lookup(ctx, key, more); res.Status != Miss || res.Bucket != 3 {
		t.Fatalf("growing buckets: %+v", res)
	}
	if err := c.Store(ctx, key, 5, textEntry("x"), more); !errors.Is(err, ErrBucketRange) {
		t.Fatalf("bucket out of range: %v", err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestControlTable(t *testing.T) {
	p := Policy{Enabled: true, TTL: 10 * time.Minute, Buckets: 2, MaxBuckets: 10}
	cases := []struct {
		name string
		pol  Policy
		h    http.Header
		want Control
	}{
		{"default", p, nil, Control{Lookup: true, Store: true, TTL: 10 * time.Minute, Buckets: 2}},
		{"disabled", Policy{TTL: time.Minute}, nil, Control{}},
		{"no-cache", p, http.Header{"Cache-Control": {"no-cache"}}, Control{Store: true, TTL: 10 * time.Minute, Buckets: 2}},
		{"no-store", p, http.Header{"Cache-Control": {"No-Store"}}, Control{Buckets: 2}},
		{"no-cache and no-store", p, http.Header{"Cache-Control": {"no-cache", "no-store"}}, Control{Buckets: 2}},
		{"max-age smaller", p, http.Header{"Cache-Control": {"max-age=60"}}, Control{Lookup: true, Store: true, TTL: time.Minute, MaxAge: time.Minute, Buckets: 2}},
		{"max-age larger", p, http.Header{"Cache-Control": {"public, max-age=\"3600\""}}, Control{Lookup: true, Store: true, TTL: 10 * time.Minute, MaxAge: time.Hour, Buckets: 2}},
		{"max-age no ttl", Policy{Enabled: true}, http.Header{"Cache-Control": {"max-age=5"}}, Control{Lookup: true, Store: true, TTL: 5 * time.Second, MaxAge: 5 * time.Second, Buckets: 1}},
		{"max-age=0", p, http.Header{"Cache-Control": {"max-age=0"}}, Control{Store: true, TTL: 10 * time.Minute, Buckets: 2}},
		{"max-age junk", p, http.Header{"Cache-Control": {"max-age=soon, max-age=-3"}}, Control{Lookup: true, Store: true, TTL: 10 * time.Minute, Buckets: 2}},
		{"buckets", p, http.Header{"X-Sluice-Cache-Buckets": {"4"}}, Control{Lookup: true, Store: true, TTL: 10 * time.Minute, Buckets: 4}},
		{"buckets capped", p, http.Header{"X-Sluice-Cache-Buckets": {"99"}}, Control{Lookup: true, Store: true, TTL: 10 * time.Minute, Buckets: 10}},
		{"buckets floor", p, http.Header{"X-Sluice-Cache-Buckets": {"0"}}, Control{Lookup: true, Store: true, TTL: 10 * time.Minute, Buckets: 1}},
		{"buckets junk", p, http.Header{"X-Sluice-Cache-Buckets": {"many"}}, Control{Lookup: true, Store: true, TTL: 10 * time.Minute, Buckets: 2}},
		{"buckets default cap", Policy{Enabled: true}, http.Header{"X-Sluice-Cache-Buckets": {"50"}}, Control{Lookup: true, Store: true, Buckets: DefaultMaxBuckets}},
		{"seed", p, http.Header{"X-Sluice-Cache-Seed": {"v2"}}, Control{Lookup: true, Store: true, TTL: 10 * time.Minute, Buckets: 2, Seed: "v2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParseControl(tc.h, tc.pol); got != tc.want {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestBoundBuckets(t *testing.T) {
	p := Policy{MaxBuckets: 4}
	for in, want := range map[int]int{-1: 1, 0: 1, 3: 3, 4: 4, 9: 4} {
		if got := p.BoundBuckets(in); got != want {
			t.Errorf("BoundBuckets(%d) = %d, want %d", in, got, want)
		}
	}
	if got := (Policy{}).BoundBuckets(99); got != DefaultMaxBuckets {
		t.Errorf("default cap: %d", got)
	}
}

func TestControlSemantics(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_000_000, 0)
	c, _ := New(Options{Store: newMemory(t, 1<<20), Policy: enabled, Now: func() time.Time { return now }})
	key := Key("cc")
	base := c.Control(nil)
	if err := c.Store(ctx, key, 0, textEntry("v1"), base); err != nil {
		t.Fatal(err)
	}
	now = now.Add(30 * time.Second)

	// no-cache: lookup skipped, answer stored (overwrites).
	nc := c.Control(http.Header{"Cache-Control": {"no-cache"}})
	if r := c.Lookup(ctx, key, nc); r.Status != Miss {
		t.Fatalf("no-cache lookup: %+v", r)
	}
	// no-store: nothing at all.
	ns := c.Control(http.Header{"Cache-Control": {"no-store"}})
	if r := c.Lookup(ctx, key, ns); r.Status != Bypass {
		t.Fatalf("no-store lookup: %+v", r)
	}
	if err := c.Store(ctx, key, 0, textEntry("v2"), ns); err != nil {
		t.Fatal(err)
	}
	if r := c.Lookup(ctx, key, base); r.Status != Hit || string(r.Entry.Body) != "v1" || r.Age != 30*time.Second {
		t.Fatalf("after no-store: %+v", r)
	}
	// max-age: a 30s-old entry is too old for max-age=10 but fine for 60.
	if r := c.Lookup(ctx, key, c.Control(http.Header{"Cache-Control": {"max-age=10"}})); r.Status != Miss || r.Bucket != 0 {
		t.Fatalf("max-age=10: %+v", r)
	}
	if r := c.Lookup(ctx, key, c.Control(http.Header{"Cache-Control": {"max-age=60"}})); r.Status != Hit {
		t.Fatalf("max-age=60: %+v", r)
	}
	h := http.Header{}
	c.Lookup(ctx, key, base).SetHeaders(h)
	if h.Get("Age") != "30" {
		t.Fatalf("age header: %v", h)
	}
	// An entry stored under max-age=5 expires after 5s even though the policy TTL is 1m.
	short := c.Control(http.Header{"Cache-Control": {"max-age=5"}})
	if err := c.Store(ctx, "short", 0, textEntry("s"), short); err != nil {
		t.Fatal(err)
	}
	now = now.Add(6 * time.Second)
	if r := c.Lookup(ctx, "short", base); r.Status != Miss {
		t.Fatalf("short ttl entry still served: %+v", r)
	}
	h = http.Header{}
	c.Lookup(ctx, key, ns).SetHeaders(h)
	if h.Get("X-Sluice-Cache") != "BYPASS" || h.Get("X-Sluice-Cache-Bucket") != "" {
		t.Fatalf("bypass headers: %v", h)
	}
}

func TestStoreRefusals(t *testing.T) {
	ctx := context.Background()
	c := newCache(t, newMemory(t, 1<<20), Policy{Enabled: true, MaxEntryBytes: 1000})
	ctl := c.Control(nil)
	if err := c.Store(ctx, "k", 0, textEntry(string(make([]byte, 2000))), ctl); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("large body: %v", err)
	}
	big := &Entry{Chunks: [][]byte{make([]byte, 600), make([]byte, 600)}}
	if err := c.Store(ctx, "k", 0, big, ctl); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("large stream: %v", err)
	}
	if err := c.Store(ctx, "k", 0, &Entry{}, ctl); !errors.Is(err, ErrEmptyEntry) {
		t.Fatalf("empty entry: %v", err)
	}
	if err := c.Store(ctx, "k", 0, textEntry("small"), ctl); err != nil {
		t.Fatal(err)
	}
	st := c.Stats()
	if st.TooLarge != 2 || st.Empty != 1 || st.Stored != 1 {
		t.Fatalf("stats: %+v", st)
	}
	if r := c.Lookup(ctx, "k", ctl); r.Status != Hit || string(r.Entry.Body) != "small" {
		t.Fatalf("lookup: %+v", r)
	}
}

func TestMemoryStoreTTLExpiry(t *testing.T) {
	ctx := context.Background()
	m := newMemory(t, 1<<20)
	c := newCache(t, m, Policy{Enabled: true, TTL: 80 * time.Millisecond})
	ctl := c.Control(nil)
	if err := c.Store(ctx, "t", 0, textEntry("x"), ctl); err != nil {
		t.Fatal(err)
	}
	if r := c.Lookup(ctx, "t", ctl); r.Status != Hit {
		t.Fatalf("fresh: %+v", r)
	}
	time.Sleep(150 * time.Millisecond)
	if r := c.Lookup(ctx, "t", ctl); r.Status != Miss {
		t.Fatalf("expired entry served: %+v", r)
	}
	// The store itself no longer returns it (not just the Cache's check).
	if got, _ := m.Get(ctx, []string{bucketKey("t", 0)}); got[0] != nil {
		t.Fatal("memory store returned an expired entry")
	}
}

func TestMemoryStoreSizeBound(t *testing.T) {
	ctx := context.Background()
	const maxBytes = 64 << 10
	m := newMemory(t, maxBytes)
	for i := range 200 {
		e := textEntry(string(make([]byte, 2000)))
		if err := m.Set(ctx, "k"+strconv.Itoa(i), e, 0); err != nil {
			t.Fatal(err)
		}
	}
	st := m.Stats()
	if st.Bytes > maxBytes || st.Bytes <= 0 {
		t.Fatalf("bytes %d outside (0, %d]", st.Bytes, maxBytes)
	}
	if st.Evictions == 0 && st.Sets == 200 {
		t.Fatalf("200 x 2 KB in 64 KB without eviction or rejection: %+v", st)
	}
	if _, err := NewMemoryStore(MemoryOptions{}); err == nil {
		t.Fatal("zero MaxBytes accepted")
	}
}

func TestKeyTimeBudget(t *testing.T) {
	// A guard against gross regressions (e.g. quadratic work): the key for a
	// 4 KB body takes ~15µs; the bound leaves room for -race and a busy machine.
	body := request4K()
	start := time.Now()
	const n = 50
	for range n {
		if _, _, err := KeyFor(body, testParts); err != nil {
			t.Fatal(err)
		}
	}
	if per := time.Since(start) / n; per > 2*time.Millisecond {
		t.Fatalf("key takes %v per 4 KB request", per)
	}
}

func BenchmarkMemoryHit(b *testing.B) {
	ctx := context.Background()
	c := newCache(b, newMemory(b, 1<<20), enabled)
	ctl := c.Control(nil)
	key := Key("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	if err := c.Store(ctx, key, 0, textEntry("answer"), ctl); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if r := c.Lookup(ctx, key, ctl); r.Status != Hit {
			b.Fatal(r.Status)
		}
	}
}
