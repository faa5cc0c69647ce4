package plugin

import (
	"context"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPerfBudgets checks the plugin budgets (BENCHMARKS.md, "Plugins"). It runs for about 20 s,
// so it only runs with SLUICE_PLUGIN_PERF=1:
//
//	SLUICE_PLUGIN_PERF=1 go test -run TestPerfBudgets -v ./host/plugin/
func TestPerfBudgets(t *testing.T) {
	if os.Getenv("SLUICE_PLUGIN_PERF") == "" {
		t.Skip("set SLUICE_PLUGIN_PERF=1 to run the paced latency, reload and start-up budgets")
	}
	v1, v2 := goodWasm(t, "v1"), goodWasm(t, "v2")
	ctx := context.Background()

	t.Run("route-paced-1000rps", func(t *testing.T) {
		e, _ := newTestEngine(t)
		p := load(t, e, Spec{Name: "good", Bytes: v1, Sandbox: SandboxTrusted})
		in := []byte(routeIn)
		for range 1000 { // warm the instance, its buffers and the Go heap
			if _, err := p.Call(ctx, "route", in); err != nil {
				t.Fatal(err)
			}
		}
		const rate, secs = 1000, 10
		lat := make([]time.Duration, 0, rate*secs)
		tick := time.NewTicker(time.Second / rate)
		defer tick.Stop()
		for range rate * secs {
			<-tick.C
			start := time.Now()
			if _, err := p.Call(ctx, "route", in); err != nil {
				t.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		slices.Sort(lat)
		p50, p99, p999 := lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)*999/1000]
		t.Logf("route hook (Go guest, meta + 2 candidates, trusted), %d calls paced at %d/s: p50 %v p99 %v p99.9 %v max %v",
			len(lat), rate, p50, p99, p999, lat[len(lat)-1])
		if p50 > 10*time.Microsecond || p99 > 50*time.Microsecond {
			t.Errorf("budget p50 <= 10us, p99 <= 50us: got p50 %v p99 %v", p50, p99)
		}
	})

	// The typed route call, JSON form (the good guest) and flat view (the flatroute guest):
	// envelope encoding and output decoding included, as the gateway pays them.
	for _, g := range []struct {
		name string
		bin  []byte
	}{{"json", v1}, {"view", flatRouteWasm(t)}, {"floor", v1}} {
		t.Run("route-typed-"+g.name+"-paced-1000rps", func(t *testing.T) {
			e, _ := newTestEngine(t)
			p := load(t, e, Spec{Name: g.name, Bytes: g.bin, Sandbox: SandboxTrusted})
			m, cands := testMeta(), testCands()[:2]
			route := func() error {
				if g.name == "floor" {
					// The same paced loop around an echo of "{}": what any hook call costs here.
					_, err := p.Call(ctx, "translate_request", []byte("{}"))
					return err
				}
				_, err := p.Route(ctx, m, cands)
				return err
			}
			for range 1000 {
				if err := route(); err != nil {
					t.Fatal(err)
				}
			}
			secs := 10
			if s, err := strconv.Atoi(os.Getenv("SLUICE_PLUGIN_PERF_SECS")); err == nil && s > 0 {
				secs = s
			}
			const rate = 1000
			lat := make([]time.Duration, 0, rate*secs)
			tick := time.NewTicker(time.Second / rate)
			defer tick.Stop()
			for range rate * secs {
				<-tick.C
				start := time.Now()
				if err := route(); err != nil {
					t.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			p50, p99, p999 := lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)*999/1000]
			t.Logf("Plugin.Route (%s, 2 candidates, trusted), %d calls paced at %d/s: p50 %v p99 %v p99.9 %v max %v",
				g.name, len(lat), rate, p50, p99, p999, lat[len(lat)-1])
			if g.name == "view" && (p50 > 10*time.Microsecond || p99 > 50*time.Microsecond) {
				t.Errorf("budget p50 <= 10us, p99 <= 50us: got p50 %v p99 %v", p50, p99)
			}
		})
	}

	t.Run("reloads-under-load", func(t *testing.T) {
		e, _ := newTestEngine(t)
		p := load(t, e, Spec{Name: "good", Bytes: v1, Sandbox: SandboxTrusted})
		if err := p.Reload(ctx, v2); err != nil { // compile v2 once; later swaps hit the cache
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var calls, failed atomic.Int64
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := p.Call(ctx, "route", []byte(routeIn)); err != nil {
						failed.Add(1)
					}
					calls.Add(1)
				}
			}()
		}
		var took []time.Duration
		for i := range 100 {
			bin := v1
			if i%2 == 0 {
				bin = v2
			}
			start := time.Now()
			if err := p.Reload(ctx, bin); err != nil {
				t.Fatal(err)
			}
			took = append(took, time.Since(start))
		}
		close(stop)
		wg.Wait()
		slices.Sort(took)
		t.Logf("100 cached reloads under 2 calling goroutines: %d calls, %d failed; reload p50 %v max %v",
			calls.Load(), failed.Load(), took[len(took)/2], took[len(took)-1])
		if failed.Load() != 0 {
			t.Errorf("%d calls failed during reloads", failed.Load())
		}
		if took[len(took)-1] > time.Second {
			t.Errorf("a reload took %v (> 1 s)", took[len(took)-1])
		}
	})

	t.Run("start-from-compile-cache", func(t *testing.T) {
		e0, _ := newTestEngine(t)
		load(t, e0, Spec{Name: "warm", Bytes: v1}).Close()
		var worst time.Duration
		for range 5 {
			start := time.Now()
			e, err := NewEngine(EngineOptions{CacheDir: testCacheDir})
			if err != nil {
				t.Fatal(err)
			}
			p, err := e.Load(ctx, Spec{Name: "good", Bytes: v1})
			if err != nil {
				t.Fatal(err)
			}
			worst = max(worst, time.Since(start))
			p.Close()
			e.Close()
		}
		t.Logf("engine + load of a cached Go guest (first instance included), worst of 5: %v", worst)
		if worst > 150*time.Millisecond {
			t.Errorf("budget 150 ms, got %v", worst)
		}
	})

	t.Run("instantiate-and-rss", func(t *testing.T) {
		e, _ := newTestEngine(t)
		p := load(t, e, Spec{Name: "good", Bytes: v1})
		v := p.acquire()
		defer v.unref()
		const n = 16
		runtime.GC()
		before := rss(t)
		var insts []*instance
		start := time.Now()
		for range n {
			inst, err := v.newInstance(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			insts = append(insts, inst)
		}
		per := time.Since(start) / n
		runtime.GC()
		after := rss(t)
		t.Logf("instantiate (incl. _initialize, handshake, init): %v each; RSS %.2f MiB per instance (%d instances)",
			per, float64(after-before)/n/(1<<20), n)
		for _, inst := range insts {
			v.live.Add(-1)
			inst.mod.Close(ctx)
		}
		runtime.KeepAlive(e)
	})
}

// rss reads the process's resident set from /proc/self/statm.
func rss(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skip("no /proc/self/statm")
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
