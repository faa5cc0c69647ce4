package telemetry

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/host/admin/dashboard"
)

// fakeClock lets tests move the live aggregator through seconds.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func newLiveTel(t *testing.T) (*Telemetry, *fakeClock) {
	t.Helper()
	tel, err := New(context.Background(), Config{Traces: Traces{Exporter: ExporterNone}, Metrics: Metrics{DisableRuntime: true}})
	if err != nil {
		t.Fatal(err)
	}
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	tel.live.now = c.now
	tel.live.start = c.now()
	return tel, c
}

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol*math.Abs(want) }

func TestLiveRatesPercentilesAndModels(t *testing.T) {
	tel, clk := newLiveTel(t)
	// 20 seconds of traffic: 10 req/s, latencies 1..10 ms for gpt, one
	// 500 per second for claude at 1 s.
	for s := 0; s < 20; s++ {
		for i := 1; i <= 10; i++ {
			tel.RecordRequest(RequestRecord{Route: "/c", Provider: "openai", Model: "gpt", Status: 200, Duration: time.Duration(i) * time.Millisecond, InputTokens: 10, OutputTokens: 5, CostUSD: 0.001})
		}
		tel.RecordRequest(RequestRecord{Route: "/c", Provider: "anthropic", Model: "claude", Status: 500, Duration: time.Second})
		tel.RecordCache(s%4 == 0)
		clk.advance(time.Second)
	}
	tel.RecordRateLimit("team", "tokens")
	tel.RecordRateLimit("team", "tokens")
	tel.RecordRateLimit("global", "requests")
	tel.RecordPlugin(PluginRecord{Plugin: "p", Hook: "route", Duration: 5 * time.Microsecond})
	tel.RecordPlugin(PluginRecord{Plugin: "p", Hook: "route", Duration: 15 * time.Microsecond, Err: true})
	done := tel.RequestStarted()
	sdone := tel.StreamStarted()
	tel.Live().SetTargetSource(func() []dashboard.Target {
		return []dashboard.Target{{Router: "prod", Target: "openai/gpt#0", Healthy: true, EWMAMs: 12}}
	})

	s := tel.Live().Snapshot()
	tt := s.Totals
	if tt.Requests != 220 || tt.Errors != 20 || tt.TokensIn != 2000 || tt.TokensOut != 1000 || !near(tt.CostUSD, 0.2, 1e-9) {
		t.Errorf("totals %+v", tt)
	}
	if tt.RequestsPerSec != 11 || tt.ErrorsPerSec != 1 {
		t.Errorf("rates %v %v", tt.RequestsPerSec, tt.ErrorsPerSec)
	}
	// 200 of 220 samples are 1..10 ms: p50 ~ 5-6 ms, p90 ~ 10 ms, p99 = 1 s.
	if !near(tt.P50Ms, 5.5, 0.2) || !near(tt.P90Ms, 10, 0.15) || !near(tt.P99Ms, 1000, 0.15) {
		t.Errorf("percentiles p50 %v p90 %v p99 %v", tt.P50Ms, tt.P90Ms, tt.P99Ms)
	}
	if tt.CacheHitRate != 0.25 || tt.RateLimited != 3 || tt.InFlight != 1 || tt.Streams != 1 {
		t.Errorf("cache %v rl %v inflight %v streams %v", tt.CacheHitRate, tt.RateLimited, tt.InFlight, tt.Streams)
	}
	if len(s.Models) != 2 || s.Models[0].Model != "gpt" || s.Models[0].Requests != 200 || s.Models[0].Provider != "openai" ||
		s.Models[1].Errors != 20 || !near(s.Models[1].MeanMs, 1000, 1e-9) || !near(s.Models[0].MeanMs, 5.5, 1e-9) {
		t.Errorf("models %+v", s.Models)
	}
	if len(s.Plugins) != 1 || s.Plugins[0].Calls != 2 || s.Plugins[0].Errors != 1 || s.Plugins[0].MeanUs != 10 || !near(s.Plugins[0].P99Us, 15, 0.13) {
		t.Errorf("plugins %+v", s.Plugins)
	}
	if len(s.RateLimits) != 2 || s.RateLimits[1] != (dashboard.RateLimit{Tier: "team", Unit: "tokens", Rejections: 2}) {
		t.Errorf("rate limits %+v", s.RateLimits)
	}
	if len(s.Targets) != 1 || s.Targets[0].Target != "openai/gpt#0" {
		t.Errorf("targets %+v", s.Targets)
	}
	if len(s.Series.Requests) != liveWindow || s.Series.Requests[liveWindow-2] != 11 || s.Series.Requests[liveWindow-1] != 0 ||
		s.Series.Requests[liveWindow-21] != 11 || s.Series.Requests[liveWindow-22] != 0 || s.Series.Start != clk.now().Unix()-liveWindow+1 {
		t.Errorf("series tail %v", s.Series.Requests[liveWindow-22:])
	}
	if !near(s.Series.P99Ms[liveWindow-2], 1000, 0.15) {
		t.Errorf("per-second p99 %v", s.Series.P99Ms[liveWindow-2])
	}
	done()
	sdone()
	if s := tel.Live().Snapshot(); s.Totals.InFlight != 0 || s.Totals.Streams != 0 {
		t.Errorf("in flight not released: %+v", s.Totals)
	}

	// Five minutes later the window is empty but totals remain.
	clk.advance(liveWindow * time.Second)
	tel.RecordRequest(RequestRecord{Route: "/c", Provider: "openai", Model: "gpt", Status: 200, Duration: time.Millisecond})
	s = tel.Live().Snapshot()
	var inWindow float64
	for _, v := range s.Series.Requests {
		inWindow += v
	}
	if inWindow != 1 || s.Totals.Requests != 221 || len(s.Models) != 1 || s.Models[0].Requests != 1 || s.Totals.CacheHitRate != -1 {
		t.Errorf("after window: in window %v totals %+v models %+v", inWindow, s.Totals, s.Models)
	}
}

// TestLiveFeedsDashboard wires the aggregator into the dashboard handler
// on a real socket, as the admin listener does.
func TestLiveFeedsDashboard(t *testing.T) {
	tel, _ := newLiveTel(t)
	tel.RecordRequest(RequestRecord{Route: "/c", Provider: "openai", Model: "gpt", Status: 200, Duration: 3 * time.Millisecond, InputTokens: 7, CostUSD: 0.5})
	srv := httptest.NewServer(dashboard.Handler(tel.Live().Snapshot))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/dashboard/data.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s dashboard.Snapshot
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	if s.Totals.Requests != 1 || s.Totals.TokensIn != 7 || s.Totals.CostUSD != 0.5 || len(s.Models) != 1 || s.Models[0].Model != "gpt" || len(s.Series.Requests) != liveWindow {
		t.Errorf("feed over HTTP: %+v models %+v", s.Totals, s.Models)
	}
}

func TestLiveModelRowsBounded(t *testing.T) {
	tel, _ := newLiveTel(t)
	for i := range liveModels + 10 {
		tel.RecordRequest(RequestRecord{Route: "/c", Provider: "p", Model: fmt.Sprintf("m%02d", i), Status: 200, Duration: time.Millisecond})
	}
	s := tel.Live().Snapshot()
	if len(s.Models) != liveModels {
		t.Fatalf("%d model rows, want %d", len(s.Models), liveModels)
	}
	var other int64
	for _, m := range s.Models {
		if m.Model == OtherLabel {
			other = m.Requests
		}
	}
	if other != 11 {
		t.Errorf("other row has %d requests, want 11", other)
	}
}

// TestLiveConcurrent hammers every writer while snapshots run; -race
// checks the memory model and the totals check the counting.
func TestLiveConcurrent(t *testing.T) {
	tel, err := New(context.Background(), Config{Traces: Traces{Exporter: ExporterNone}, Metrics: Metrics{DisableRuntime: true}})
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 4, 500
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				_ = tel.Live().Snapshot()
			}
		}
	}()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				tel.RecordRequest(RequestRecord{Route: "/c", Provider: "p", Model: fmt.Sprintf("m%d", (w+i)%5), Status: 200 + (i%2)*300, Duration: time.Duration(i) * time.Microsecond, InputTokens: 1})
				tel.RecordPlugin(PluginRecord{Plugin: "p", Hook: fmt.Sprint(i % 3), Duration: time.Microsecond})
				tel.RecordRateLimit("key", "requests")
				tel.RecordCache(i%2 == 0)
			}
		}()
	}
	wg.Wait()
	close(stop)
	s := tel.Live().Snapshot()
	if s.Totals.Requests != workers*each || s.Totals.Errors != workers*each/2 || s.Totals.TokensIn != workers*each || s.Totals.RateLimited != workers*each {
		t.Errorf("totals %+v", s.Totals)
	}
	var calls int64
	for _, p := range s.Plugins {
		calls += p.Calls
	}
	if calls != workers*each {
		t.Errorf("plugin calls %d", calls)
	}
}
