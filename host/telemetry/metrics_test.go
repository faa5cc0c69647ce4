package telemetry

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// exerciseAll records one of everything so every family has a series.
func exerciseAll(tel *Telemetry) {
	tel.RecordRequest(RequestRecord{Route: "/v1/chat/completions", Provider: "openai", Model: "gpt-4o-mini", Team: "acme", Status: 200,
		Duration: 420 * time.Millisecond, TTFT: 120 * time.Millisecond, InputTokens: 100, OutputTokens: 50, CostUSD: 0.0012})
	tel.RecordRequest(RequestRecord{Route: "/v1/chat/completions", Provider: "openai", Model: "gpt-4o-mini", Team: "acme", Status: 200,
		Duration: 180 * time.Millisecond, InputTokens: 10, OutputTokens: 5, CostUSD: 0.0003, EstimatedInputTokens: 12})
	tel.RecordUnpriced("openai/o9-mystery")
	tel.RecordRequest(RequestRecord{Route: "/v1/chat/completions", Model: "gpt-4o-mini", Status: 429, Duration: time.Millisecond})
	tel.RecordAttempt(AttemptRecord{Provider: "openai", Target: "openai/gpt-4o-mini#0", Outcome: "5xx", Duration: 80 * time.Millisecond, Failover: true})
	tel.RecordAttempt(AttemptRecord{Provider: "anthropic", Target: "anthropic/claude-haiku-4-5#1", Outcome: "ok", Duration: 300 * time.Millisecond})
	tel.SetTargetHealth(TargetHealth{Provider: "openai", Target: "openai/gpt-4o-mini#0", Healthy: false, EWMA: 250 * time.Millisecond})
	tel.RecordPlugin(PluginRecord{Plugin: "anthropic", Hook: "translate_request", Duration: 18 * time.Microsecond})
	tel.RecordPlugin(PluginRecord{Plugin: "anthropic", Hook: "translate_request", Duration: 40 * time.Microsecond, Err: true, Trap: true})
	tel.RecordPluginReload("anthropic", true)
	tel.RecordPluginReload("anthropic", false)
	tel.RecordCache(true)
	tel.RecordCache(false)
	tel.RecordCache(false)
	tel.RecordCacheEvictions(3)
	tel.SetCacheBytes(4096)
	tel.RecordRateLimit("team", "tokens")
	tel.RequestStarted()
	tel.StreamStarted()
	done := tel.RequestStarted()
	done()
}

// ExpectedMetricNames is every family the registry exports besides the
// runtime collectors; the Grafana dashboard test checks against it too.
var expectedMetricNames = []string{
	"sluice_cache_evictions_total", "sluice_cache_hits_total", "sluice_cache_misses_total", "sluice_cache_size_bytes",
	"sluice_cost_usd_total", "sluice_input_tokens_total", "sluice_output_tokens_total",
	"sluice_plugin_call_duration_seconds", "sluice_plugin_calls_total", "sluice_plugin_errors_total", "sluice_plugin_reloads_total", "sluice_plugin_traps_total",
	"sluice_price_unknown_total", "sluice_ratelimit_rejections_total", "sluice_request_duration_seconds", "sluice_requests_in_flight", "sluice_requests_total",
	"sluice_streams_in_flight", "sluice_target_healthy", "sluice_target_latency_ewma_seconds", "sluice_time_to_first_token_seconds",
	"sluice_token_estimate_ratio", "sluice_upstream_attempt_duration_seconds", "sluice_upstream_attempts_total", "sluice_upstream_failovers_total",
}

func scrape(t *testing.T, tel *Telemetry) ([]byte, map[string]*dto.MetricFamily) {
	t.Helper()
	srv := httptest.NewServer(tel.MetricsHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return body, fams
}

func value(f *dto.MetricFamily, labels map[string]string) (float64, bool) {
	for _, m := range f.GetMetric() {
		match := true
		for k, v := range labels {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func TestMetricsScrapeParsesWithValues(t *testing.T) {
	tel, err := New(context.Background(), Config{Traces: Traces{Exporter: ExporterNone}})
	if err != nil {
		t.Fatal(err)
	}
	exerciseAll(tel)
	_, fams := scrape(t, tel)

	var got []string
	for name := range fams {
		if strings.HasPrefix(name, "sluice_") {
			got = append(got, name)
		}
	}
	sort.Strings(got)
	if strings.Join(got, " ") != strings.Join(expectedMetricNames, " ") {
		t.Errorf("families:\n got %v\nwant %v", got, expectedMetricNames)
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("runtime collector missing")
	}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"sluice_requests_total", map[string]string{"route": "/v1/chat/completions", "provider": "openai", "model": "gpt-4o-mini", "status": "200"}, 2},
		{"sluice_requests_total", map[string]string{"provider": "", "status": "429"}, 1},
		{"sluice_request_duration_seconds", map[string]string{"status": "200"}, 2},
		{"sluice_time_to_first_token_seconds", map[string]string{"provider": "openai", "model": "gpt-4o-mini"}, 1},
		{"sluice_input_tokens_total", map[string]string{"provider": "openai"}, 110},
		{"sluice_output_tokens_total", map[string]string{"provider": "openai"}, 55},
		{"sluice_cost_usd_total", map[string]string{"team": "acme"}, 0.0015},
		{"sluice_upstream_attempts_total", map[string]string{"outcome": "5xx"}, 1},
		{"sluice_upstream_failovers_total", map[string]string{"target": "openai/gpt-4o-mini#0"}, 1},
		{"sluice_target_healthy", map[string]string{"target": "openai/gpt-4o-mini#0"}, 0},
		{"sluice_target_latency_ewma_seconds", map[string]string{"target": "openai/gpt-4o-mini#0"}, 0.25},
		{"sluice_plugin_calls_total", map[string]string{"plugin": "anthropic", "hook": "translate_request"}, 2},
		{"sluice_plugin_errors_total", nil, 1},
		{"sluice_plugin_traps_total", nil, 1},
		{"sluice_plugin_reloads_total", map[string]string{"result": "refused"}, 1},
		{"sluice_plugin_call_duration_seconds", nil, 2},
		{"sluice_cache_hits_total", nil, 1},
		{"sluice_cache_misses_total", nil, 2},
		{"sluice_cache_evictions_total", nil, 3},
		{"sluice_cache_size_bytes", nil, 4096},
		{"sluice_ratelimit_rejections_total", map[string]string{"tier": "team", "unit": "tokens"}, 1},
		{"sluice_requests_in_flight", nil, 1},
		{"sluice_streams_in_flight", nil, 1},
	}
	for _, c := range checks {
		f := fams[c.name]
		if f == nil {
			t.Errorf("%s missing", c.name)
			continue
		}
		v, ok := value(f, c.labels)
		if !ok || v < c.want-1e-9 || v > c.want+1e-9 {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, v, ok, c.want)
		}
	}
}

func TestMetricNamesLint(t *testing.T) {
	tel, err := New(context.Background(), Config{Traces: Traces{Exporter: ExporterNone}, Metrics: Metrics{DisableRuntime: true}})
	if err != nil {
		t.Fatal(err)
	}
	exerciseAll(tel)
	body, fams := scrape(t, tel)
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	for name, f := range fams {
		if !strings.HasPrefix(name, "sluice_") {
			t.Errorf("%s lacks the sluice_ prefix", name)
		}
		// Histograms carry a base unit: seconds, or ratio for a dimensionless quotient.
		if f.GetType() == dto.MetricType_HISTOGRAM && !strings.HasSuffix(name, "_seconds") && !strings.HasSuffix(name, "_ratio") {
			t.Errorf("histogram %s has no unit suffix", name)
		}
		if f.GetType() == dto.MetricType_GAUGE && strings.HasSuffix(name, "_total") {
			t.Errorf("gauge %s ends in _total", name)
		}
	}
}

func TestModelLabelCap(t *testing.T) {
	tel, err := New(context.Background(), Config{Traces: Traces{Exporter: ExporterNone}, Metrics: Metrics{MaxModels: 2, DisableRuntime: true}})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"a", "b", "c", "d", "a", "c"} {
		tel.RecordRequest(RequestRecord{Route: "/r", Provider: "p", Model: m, Team: "t-" + m, Status: 200, Duration: time.Millisecond, CostUSD: 1})
	}
	_, fams := scrape(t, tel)
	seen := map[string]float64{}
	for _, m := range fams["sluice_requests_total"].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "model" {
				seen[lp.GetValue()] += m.GetCounter().GetValue()
			}
		}
	}
	if len(seen) != 3 || seen["a"] != 2 || seen["b"] != 1 || seen[OtherLabel] != 3 {
		t.Errorf("capped models = %v", seen)
	}
	teams := map[string]bool{}
	for _, m := range fams["sluice_cost_usd_total"].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "team" {
				teams[lp.GetValue()] = true
			}
		}
	}
	if len(teams) != 3 || !teams[OtherLabel] {
		t.Errorf("capped teams = %v", teams)
	}
	if n := len(tel.metrics.handles); n > 4 {
		t.Errorf("handle cache grew to %d entries for 2 models + other", n)
	}
}

func TestNilTelemetryIsSafe(t *testing.T) {
	var tel *Telemetry
	exerciseAll(tel)
	if tel.Live() != nil || tel.Live().Snapshot().WindowSeconds != 0 {
		t.Error("nil telemetry has live stats")
	}
	rr := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rr.Code != http.StatusNotFound {
		t.Errorf("nil metrics handler: %d", rr.Code)
	}
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

func TestOTLPMetricPush(t *testing.T) {
	sink := newOTLPSink(t, true)
	// Switched on by the standard variable; endpoint from config.
	t.Setenv("OTEL_METRICS_EXPORTER", "otlp")
	tel, err := New(context.Background(), Config{
		Traces:  Traces{Exporter: ExporterNone},
		Metrics: Metrics{Endpoint: sink.srv.URL, Interval: 50 * time.Millisecond, DisableRuntime: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	exerciseAll(tel)
	deadline := time.Now().Add(5 * time.Second)
	for {
		sink.mu.Lock()
		n := len(sink.metrics)
		sink.mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.metrics) == 0 {
		t.Fatal("no OTLP metric export arrived")
	}
	last := sink.metrics[len(sink.metrics)-1]
	found := map[string]bool{}
	for _, rm := range last.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				found[m.GetName()] = true
				switch m.GetName() {
				case "sluice_requests_total":
					var total float64
					for _, dp := range m.GetSum().GetDataPoints() {
						total += dp.GetAsDouble()
					}
					if total != 3 || !m.GetSum().GetIsMonotonic() {
						t.Errorf("requests_total pushed as %v", m)
					}
				case "sluice_request_duration_seconds":
					var count uint64
					for _, dp := range m.GetHistogram().GetDataPoints() {
						count += dp.GetCount()
						var sum uint64
						for _, c := range dp.GetBucketCounts() {
							sum += c
						}
						if sum != dp.GetCount() || len(dp.GetBucketCounts()) != len(dp.GetExplicitBounds())+1 {
							t.Errorf("bad histogram point %v", dp)
						}
					}
					if count != 3 || m.GetUnit() != "s" {
						t.Errorf("duration pushed with count %d unit %q", count, m.GetUnit())
					}
				}
			}
		}
	}
	for _, n := range expectedMetricNames {
		if !found[n] {
			t.Errorf("%s not pushed", n)
		}
	}
}
