package ratelimit

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/internal/redisbaseline"
	"github.com/sluice-gw/sluice/internal/redistest"
)

// baselineConn runs the store on the RESP2 client sluice used before rueidis, so that one
// benchmark run compares both on the same server (BENCHMARKS.md).
type baselineConn struct{ c *redisbaseline.Client }

var baselineScript = redisbaseline.NewScript(scriptSrc)

func (b baselineConn) eval(ctx context.Context, keys []string, args []any) ([]int64, error) {
	v, err := baselineScript.Run(ctx, b.c, keys, args...)
	if err != nil {
		return nil, err
	}
	a, err := v.Array()
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(a))
	for i, e := range a {
		if out[i], err = e.Int(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (b baselineConn) Ping(ctx context.Context) error {
	_, err := b.c.Do(ctx, "PING")
	return err
}

func (b baselineConn) Close() error { return b.c.Close() }

func newBaselineStore(t testing.TB, url string, timeout time.Duration) *RedisStore {
	t.Helper()
	c, err := redisbaseline.New(redisbaseline.Options{URL: url, DialTimeout: timeout, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return newRedisStore(baselineConn{c}, RedisOptions{Prefix: "sluice:rl:", Timeout: timeout, Cooldown: time.Second})
}

// threeTiers is a request limit per user, a token limit per team and a global request limit,
// all far above what a benchmark reaches so that every check is admitted and written.
var threeTiers = []Rule{
	{Name: "global", Scope: Global, Unit: Requests, Rate: 1 << 40, Period: time.Second},
	{Name: "team", Scope: Team, Unit: Tokens, Rate: 1 << 40, Period: time.Second},
	{Name: "user", Scope: User, Unit: Requests, Rate: 1 << 40, Period: time.Second},
}

// TestBaselineStoreAgrees: the benchmark's baseline store decides as the production one does,
// so the comparison measures the clients and nothing else.
func TestBaselineStoreAgrees(t *testing.T) {
	srv := redistest.Start(t)
	clk := newFakeClock()
	rules := []Rule{{Name: "u", Scope: User, Unit: Requests, Rate: 5, Period: time.Minute}}
	st, err := NewRedisStore(RedisOptions{URL: srv.URL, Timeout: 2 * time.Second, Prefix: "new:"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	old := newBaselineStore(t, srv.URL, 2*time.Second)
	old.prefix = "old:"
	for _, s := range []Store{st, old} {
		l := mustLimiter(t, s, clk, rules...)
		admitted := 0
		for range 8 {
			if _, err := l.Check(context.Background(), Subject{User: "a"}, Demand{Requests: 1}); err == nil {
				admitted++
			}
		}
		if admitted != 5 {
			t.Fatalf("%T admitted %d of 8, want 5", s, admitted)
		}
	}
}

// BenchmarkLimiter3TiersRedis is one request's limiter work (Check, then Settle with the
// tokens used) on three tiers, on the previous client and on rueidis against one
// redis-server: from b.SetParallelism(25) goroutines per -cpu (callers=50 at -cpu 2), and
// from one goroutine (callers=1, what auto-pipelining costs when there is nothing to share).
// It reports the median and 99th percentile of one request's latency besides ns/op (the
// inverse of throughput).
func BenchmarkLimiter3TiersRedis(b *testing.B) {
	srv := redistest.Start(b)
	for _, callers := range []int{50, 1} {
		for _, impl := range []string{"old", "rueidis"} {
			b.Run(fmt.Sprintf("callers=%d/client=%s", callers, impl), func(b *testing.B) {
				benchLimiter(b, srv.URL, impl, callers)
			})
		}
	}
}

func benchLimiter(b *testing.B, url, impl string, callers int) {
	var st Store
	if impl == "old" {
		st = newBaselineStore(b, url, 2*time.Second)
	} else {
		rs, err := NewRedisStore(RedisOptions{URL: url, Timeout: 2 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { rs.Close() })
		st = rs
	}
	l, err := New(Config{Store: st, Rules: threeTiers})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	before := serverStats(b, url)
	var mu sync.Mutex
	var lat []time.Duration
	var g atomic.Int64
	run := func(next func() bool) {
		s := Subject{Team: "acme", User: fmt.Sprint("u", g.Add(1))}
		mine := make([]time.Duration, 0, 1024)
		for next() {
			begin := time.Now()
			res, err := l.Check(ctx, s, Demand{Requests: 1, Tokens: 500})
			if err != nil {
				b.Error(err)
				return
			}
			if err := res.Settle(ctx, Actual{Tokens: 320}); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(begin))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	}
	b.ReportAllocs()
	b.ResetTimer()
	if callers == 1 {
		run(b.Loop)
	} else {
		b.SetParallelism(max(callers/runtime.GOMAXPROCS(0), 1))
		b.RunParallel(func(pb *testing.PB) { run(pb.Next) })
	}
	b.StopTimer()
	after := serverStats(b, url)
	if reads := after["total_reads_processed"] - before["total_reads_processed"]; reads > 0 {
		// Script calls per read event on the server: 1 without pipelining, more when
		// concurrent calls share a write. (Commands inside the script count as commands, so
		// scripts are counted by commandstats.)
		calls := after["cmdstat_evalsha"] + after["cmdstat_eval"] - before["cmdstat_evalsha"] - before["cmdstat_eval"]
		b.ReportMetric(float64(calls)/float64(reads), "scripts/read")
	}
	b.ReportMetric(float64(after["connected_clients"]-1), "conns")
	if st := l.Stats(); st.StoreErrors != 0 {
		b.Fatalf("store errors: %+v", st)
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}

// serverStats reads the counters of INFO stats and clients, on a connection of its own.
func serverStats(b *testing.B, url string) map[string]int64 {
	c, err := redisbaseline.New(redisbaseline.Options{URL: url})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	out := map[string]int64{}
	for _, section := range []string{"stats", "clients", "commandstats"} {
		v, err := c.Do(context.Background(), "INFO", section)
		if err != nil {
			b.Fatal(err)
		}
		text, _ := v.Str()
		for _, line := range strings.Split(text, "\r\n") {
			if k, val, ok := strings.Cut(line, ":"); ok {
				// cmdstat_evalsha:calls=12,usec=...
				if c, ok := strings.CutPrefix(val, "calls="); ok {
					val, _, _ = strings.Cut(c, ",")
				}
				if n, err := strconv.ParseInt(val, 10, 64); err == nil {
					out[k] = n
				}
			}
		}
	}
	return out
}
