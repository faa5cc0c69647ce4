package telemetry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	otelmetric "go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

func benchTel(b *testing.B, on bool) *Telemetry {
	b.Helper()
	cfg := Config{Traces: Traces{Exporter: ExporterNone}, Metrics: Metrics{DisableRuntime: true}}
	if on {
		sink := newOTLPSink(b, false)
		cfg.Traces = Traces{Exporter: ExporterOTLPHTTP, Endpoint: sink.srv.URL, SampleRatio: Ratio(1)}
	}
	tel, err := New(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	return tel
}

func benchRequest() *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	r.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	return r
}

// stopReason is hoisted so the benchmark measures the API, not the
// caller's slice literal.
var stopReason = []string{"stop"}

// requestSpans is the span work the gateway does for one request: the
// server span, five stages, one upstream attempt with propagation, and the
// GenAI attributes.
func requestSpans(tel *Telemetry, r *http.Request, h http.Header) {
	ctx, s := tel.StartRequest(r.Context(), r, "/v1/chat/completions")
	for _, stage := range [...]string{"auth", "policy", "ratelimit", "cache", "plugin"} {
		_, st := tel.StartStage(ctx, stage)
		st.End()
	}
	actx, up := tel.StartUpstream(ctx, "openai/gpt-4o-mini#0", 1)
	tel.Inject(actx, h)
	up.SetHTTPStatus(200)
	up.End()
	s.SetRequest(GenAIRequest{System: "openai", Operation: "chat", Model: "gpt-4o-mini", MaxTokens: 256})
	s.SetResponse(GenAIResponse{Model: "gpt-4o-mini", InputTokens: 120, OutputTokens: 80, FinishReasons: stopReason})
	s.SetRoute("prod", "openai/gpt-4o-mini#0", 1)
	s.SetHTTPStatus(200)
	s.End()
}

// plainRequestSpans is what the gateway does for a plain request (no keys,
// no plugins, no cache): the server span and one upstream attempt with
// propagation, then the attributes finishTelemetry sets.
func plainRequestSpans(tel *Telemetry, r *http.Request) {
	ctx, s := tel.StartRequest(r.Context(), r, "/v1/chat/completions")
	actx, up := tel.StartUpstream(ctx, "openai/gpt-4o-mini#0", 1)
	h := http.Header{}
	tel.Inject(actx, h)
	up.SetString("sluice.outcome", "ok")
	up.End()
	s.SetRequest(GenAIRequest{System: "openai", Operation: "chat", Model: "gpt-4o-mini", MaxTokens: 256})
	s.SetResponse(GenAIResponse{Model: "gpt-4o-mini", InputTokens: 120, OutputTokens: 80})
	s.SetFinishReason("stop")
	s.SetRoute("prod", "openai/gpt-4o-mini#0", 1)
	s.SetHTTPStatus(200)
	s.SetString(AttrRequestID, "req-0123456789abcdef")
	s.End()
}

func BenchmarkPlainRequestTraceOn(b *testing.B) {
	tel := benchTel(b, true)
	r := benchRequest()
	b.ReportAllocs()
	cpu := startCPU()
	n := 0
	for b.Loop() {
		plainRequestSpans(tel, r)
		flushEvery(b, tel, &n)
	}
	cpu.report(b)
}

func BenchmarkRequestSpanOff(b *testing.B) {
	tel := benchTel(b, false)
	r := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		_, s := tel.StartRequest(r.Context(), r, "/v1/chat/completions")
		s.End()
	}
}

func BenchmarkRequestSpanOn(b *testing.B) {
	tel := benchTel(b, true)
	r := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		_, s := tel.StartRequest(r.Context(), r, "/v1/chat/completions")
		s.End()
	}
}

func BenchmarkRequestTraceOff(b *testing.B) {
	tel := benchTel(b, false)
	r := benchRequest()
	h := http.Header{}
	b.ReportAllocs()
	for b.Loop() {
		requestSpans(tel, r, h)
	}
}

func BenchmarkRequestTraceOn(b *testing.B) {
	tel := benchTel(b, true)
	r := benchRequest()
	h := http.Header{}
	b.ReportAllocs()
	cpu := startCPU()
	n := 0
	for b.Loop() {
		requestSpans(tel, r, h)
		flushEvery(b, tel, &n)
	}
	cpu.report(b)
}

// flushEvery exports what is queued every 200 requests and waits for it, so that a loop
// faster than any real load neither drops spans (which would leave their export uncounted)
// nor lets the queue grow.
func flushEvery(b *testing.B, tel *Telemetry, n *int) {
	if *n++; *n%200 == 0 {
		if err := tel.flushTraces(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// cpuMeter reports process CPU time per op, which counts the exporter's
// and the sink's goroutines too and is less skewed than wall time when
// the machine is shared.
type cpuMeter struct{ start time.Duration }

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuMeter { return cpuMeter{start: processCPU()} }

func (c cpuMeter) report(b *testing.B) {
	b.ReportMetric(float64((processCPU()-c.start).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

func BenchmarkRecordRequest(b *testing.B) {
	tel := benchTel(b, false)
	rec := RequestRecord{Route: "/v1/chat/completions", Provider: "openai", Model: "gpt-4o-mini", Team: "acme", Status: 200,
		Duration: 420 * time.Millisecond, TTFT: 90 * time.Millisecond, InputTokens: 120, OutputTokens: 80, CostUSD: 0.0002}
	b.ReportAllocs()
	for b.Loop() {
		tel.RecordRequest(rec)
	}
}

func BenchmarkRecordRequestParallel(b *testing.B) {
	tel := benchTel(b, false)
	rec := RequestRecord{Route: "/v1/chat/completions", Provider: "openai", Model: "gpt-4o-mini", Team: "acme", Status: 200,
		Duration: 420 * time.Millisecond, InputTokens: 120, OutputTokens: 80, CostUSD: 0.0002}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tel.RecordRequest(rec)
		}
	})
}

func BenchmarkLiveSnapshot(b *testing.B) {
	tel := benchTel(b, false)
	for i := range 1000 {
		tel.RecordRequest(RequestRecord{Route: "/c", Provider: "p", Model: "m", Status: 200, Duration: time.Duration(i) * time.Microsecond})
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = tel.Live().Snapshot()
	}
}

// The two benchmarks below back the choice in docs/decisions.md: the same
// counter increment plus histogram observation with three labels, through
// client_golang with a resolved child versus the OTel metric SDK with a
// precomputed attribute set.
func BenchmarkHotPathPrometheus(b *testing.B) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "c_total", Help: "h"}, []string{"a", "b", "c"})
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "h_seconds", Help: "h", Buckets: durationBuckets}, []string{"a", "b", "c"})
	cc, hh := c.WithLabelValues("x", "y", "z"), h.WithLabelValues("x", "y", "z")
	b.ReportAllocs()
	for b.Loop() {
		cc.Inc()
		hh.Observe(0.42)
	}
}

func BenchmarkHotPathOTelSDK(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	m := mp.Meter("bench")
	c, _ := m.Float64Counter("c")
	h, _ := m.Float64Histogram("h", otelmetric.WithExplicitBucketBoundaries(durationBuckets...))
	set := attribute.NewSet(attribute.String("a", "x"), attribute.String("b", "y"), attribute.String("c", "z"))
	ctx := context.Background()
	opt := otelmetric.WithAttributeSet(set)
	b.ReportAllocs()
	for b.Loop() {
		c.Add(ctx, 1, opt)
		h.Record(ctx, 0.42, opt)
	}
}

// benchServer runs a gateway-shaped handler on a real socket: the span
// tree of requestSpans, in-flight accounting and RecordRequest around a
// small JSON answer. Comparing Off and On gives the added latency per
// request as a client sees it.
func benchServer(b *testing.B, on bool) {
	tel := benchTel(b, on)
	body := []byte(`{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		done := tel.RequestStarted()
		requestSpans(tel, r, http.Header{})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
		done()
		tel.RecordRequest(RequestRecord{Route: "/v1/chat/completions", Provider: "openai", Model: "gpt-4o-mini", Status: 200,
			Duration: time.Since(start), InputTokens: 12, OutputTokens: 3, CostUSD: 0.00001})
	}))
	defer srv.Close()
	client := srv.Client()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/chat/completions", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	cpu.report(b)
}

func BenchmarkServerTelemetryOff(b *testing.B) { benchServer(b, false) }
func BenchmarkServerTelemetryOn(b *testing.B)  { benchServer(b, true) }

func BenchmarkRecordAttempt(b *testing.B) {
	tel := benchTel(b, false)
	a := AttemptRecord{Provider: "openai", Target: "openai/gpt-4o-mini#0", Outcome: "ok", Duration: 300 * time.Millisecond}
	b.ReportAllocs()
	for b.Loop() {
		tel.RecordAttempt(a)
	}
}

func BenchmarkRecordPlugin(b *testing.B) {
	tel := benchTel(b, false)
	p := PluginRecord{Plugin: "anthropic", Hook: "translate_request", Duration: 20 * time.Microsecond}
	b.ReportAllocs()
	for b.Loop() {
		tel.RecordPlugin(p)
	}
}

// The SDK variants run the same spans through the OTel SDK and its OTLP/HTTP exporter
// (SLUICE_TRACES_SDK=true), against which the lean tracer is measured (docs/decisions.md).
func BenchmarkPlainRequestTraceOnSDK(b *testing.B) {
	b.Setenv("SLUICE_TRACES_SDK", "true")
	BenchmarkPlainRequestTraceOn(b)
}

func BenchmarkRequestTraceOnSDK(b *testing.B) {
	b.Setenv("SLUICE_TRACES_SDK", "true")
	BenchmarkRequestTraceOn(b)
}

func BenchmarkServerTelemetryOnSDK(b *testing.B) {
	b.Setenv("SLUICE_TRACES_SDK", "true")
	benchServer(b, true)
}
