package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func newTraced(t *testing.T) (*Telemetry, *Recorder) {
	t.Helper()
	rec := NewRecorder()
	tel, err := New(context.Background(), Config{Traces: Traces{Exporter: ExporterNone, Recorder: rec}, Metrics: Metrics{DisableRuntime: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	return tel, rec
}

// TestSpanTreeOverRealSockets runs a client -> gateway-like handler ->
// upstream chain on real sockets and checks the recorded tree, the
// attributes and that the trace crosses both hops.
func TestSpanTreeOverRealSockets(t *testing.T) {
	tel, rec := newTraced(t)

	var upstreamTP string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstreamTP = r.Header.Get("traceparent")
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer upstream.Close()

	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tel.StartRequest(r.Context(), r, "/v1/chat/completions")
		defer span.End()
		temp := 0.2
		span.SetRequest(GenAIRequest{System: "openai", Operation: "chat", Model: "gpt-4o-mini", MaxTokens: 64, Temperature: &temp})

		_, auth := tel.StartStage(ctx, "auth")
		auth.End()
		_, rl := tel.StartStage(ctx, "ratelimit")
		rl.SetRateLimitTier("team")
		rl.End()
		_, cache := tel.StartStage(ctx, "cache")
		cache.SetCacheStatus("miss")
		cache.End()
		_, plug := tel.StartStage(ctx, "plugin")
		plug.SetPlugin("tenant-router", "route")
		plug.End()

		for attempt := 1; attempt <= 2; attempt++ {
			actx, up := tel.StartUpstream(ctx, "openai/gpt-4o-mini#0", attempt)
			up.SetRequest(GenAIRequest{ServerAddress: strings.TrimPrefix(upstream.URL, "http://")})
			req, _ := http.NewRequestWithContext(actx, http.MethodPost, upstream.URL+"/v1/chat/completions", nil)
			tel.Inject(actx, req.Header)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				up.End()
				return
			}
			resp.Body.Close()
			up.SetHTTPStatus(resp.StatusCode)
			if attempt == 2 {
				up.Fail(errors.New("upstream returned 502"), "upstream_5xx")
			}
			up.End()
		}
		span.SetRoute("prod", "openai/gpt-4o-mini#0", 2)
		span.SetResponse(GenAIResponse{Model: "gpt-4o-mini-2024-07-18", InputTokens: 12, OutputTokens: 34, FinishReasons: []string{"stop"}})
		span.SetHTTPStatus(http.StatusBadGateway)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer gw.Close()

	const clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest(http.MethodPost, gw.URL+"/v1/chat/completions", nil)
	req.Header.Set("traceparent", "00-"+clientTrace+"-00f067aa0ba902b7-01")
	req.Header.Set("tracestate", "vendor=abc")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	spans := rec.Spans()
	byName := map[string][]RecordedSpan{}
	for _, s := range spans {
		byName[s.Name] = append(byName[s.Name], s)
		if s.TraceID != clientTrace {
			t.Errorf("span %s in trace %s, want the client's %s", s.Name, s.TraceID, clientTrace)
		}
	}
	root := byName["POST /v1/chat/completions"]
	if len(root) != 1 {
		t.Fatalf("want one server span, got %+v", spans)
	}
	r := root[0]
	if r.ParentID != "00f067aa0ba902b7" || r.Parent != "" || r.Kind != "server" {
		t.Errorf("root parent/kind = %q %q %q", r.ParentID, r.Parent, r.Kind)
	}
	wantAttrs := map[string]any{
		AttrGenAISystem: "openai", AttrGenAIOperation: "chat", AttrGenAIRequestModel: "gpt-4o-mini",
		AttrGenAIMaxTokens: int64(64), AttrGenAITemperature: 0.2, AttrGenAIResponseModel: "gpt-4o-mini-2024-07-18",
		AttrGenAIInputTokens: int64(12), AttrGenAIOutputTokens: int64(34), AttrRouter: "prod",
		AttrTarget: "openai/gpt-4o-mini#0", AttrAttempt: int64(2), AttrHTTPStatus: int64(502), AttrHTTPRoute: "/v1/chat/completions",
		AttrClientAddress: "127.0.0.1", AttrHTTPMethod: "POST", AttrURLPath: "/v1/chat/completions",
	}
	for k, v := range wantAttrs {
		if r.Attributes[k] != v {
			t.Errorf("root %s = %#v, want %#v", k, r.Attributes[k], v)
		}
	}
	if fr, _ := r.Attributes[AttrGenAIFinishReasons].([]string); len(fr) != 1 || fr[0] != "stop" {
		t.Errorf("finish reasons = %#v", r.Attributes[AttrGenAIFinishReasons])
	}
	if r.Status != "error" {
		t.Errorf("root status = %s, want error for a 502", r.Status)
	}
	for name, attr := range map[string][2]string{
		"auth": {}, "ratelimit": {AttrRateLimitTier, "team"}, "cache": {AttrCacheStatus, "miss"}, "plugin": {AttrPluginName, "tenant-router"},
	} {
		s := byName[name]
		if len(s) != 1 || s[0].Parent != r.Name || s[0].Kind != "internal" {
			t.Errorf("stage %s: %+v", name, s)
			continue
		}
		if attr[0] != "" && s[0].Attributes[attr[0]] != attr[1] {
			t.Errorf("stage %s %s = %v", name, attr[0], s[0].Attributes[attr[0]])
		}
	}
	ups := byName["upstream"]
	if len(ups) != 2 {
		t.Fatalf("want two upstream attempt spans, got %d", len(ups))
	}
	for i, u := range ups {
		if u.Parent != r.Name || u.Kind != "client" || u.Attributes[AttrAttempt] != int64(i+1) || u.Attributes[AttrServerAddress] == nil {
			t.Errorf("attempt %d: %+v", i+1, u)
		}
	}
	if ups[1].Status != "error" || ups[1].StatusMessage != "upstream returned 502" || ups[1].Attributes[AttrErrorType] != "upstream_5xx" {
		t.Errorf("failed attempt status: %+v", ups[1])
	}
	// The upstream saw the second attempt's span as its parent.
	if want := "00-" + clientTrace + "-" + ups[1].SpanID + "-01"; upstreamTP != want {
		t.Errorf("upstream traceparent %q, want %q", upstreamTP, want)
	}
}

func TestTracingOffIsNilAndFree(t *testing.T) {
	tel, err := New(context.Background(), Config{Traces: Traces{Exporter: ExporterNone}, Metrics: Metrics{DisableRuntime: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	var nilTel *Telemetry
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	h := http.Header{}
	ctx := context.Background()
	failure := errors.New("x")
	for _, tt := range []*Telemetry{tel, nilTel} {
		if tt.TracingEnabled() {
			t.Fatal("tracing on with exporter none")
		}
		allocs := testing.AllocsPerRun(200, func() {
			c, s := tt.StartRequest(ctx, r, "/v1/chat/completions")
			c2, st := tt.StartStage(c, "auth")
			st.SetCacheStatus("hit")
			st.End()
			_, up := tt.StartUpstream(c2, "openai/x#0", 1)
			tt.Inject(c2, h)
			up.SetHTTPStatus(500)
			up.Fail(failure, "t")
			up.End()
			s.SetRoute("r", "t", 1)
			s.SetRequest(GenAIRequest{Model: "m"})
			s.SetResponse(GenAIResponse{InputTokens: 1})
			s.End()
			if s != nil || st != nil || up != nil || s.TraceID() != "" {
				t.Fatal("spans should be nil when tracing is off")
			}
		})
		if allocs != 0 {
			t.Errorf("tracing off allocates %.1f per request", allocs)
		}
	}
	if len(h) != 0 {
		t.Errorf("Inject wrote headers with tracing off: %v", h)
	}
}

func TestUnsampledParentSkipsStages(t *testing.T) {
	tel, rec := newTraced(t)
	r := httptest.NewRequest(http.MethodGet, "/v1/models", nil)
	r.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
	ctx, s := tel.StartRequest(r.Context(), r, "/v1/models")
	_, st := tel.StartStage(ctx, "auth")
	if st != nil {
		t.Error("stage span created under an unsampled parent")
	}
	h := http.Header{}
	tel.Inject(ctx, h)
	if got := h.Get("traceparent"); !strings.HasSuffix(got, "-00") || !strings.Contains(got, "4bf92f3577b34da6a3ce929d0e0e4736") {
		t.Errorf("unsampled decision not propagated: %q", got)
	}
	s.End()
	if n := len(rec.Spans()); n != 0 {
		t.Errorf("%d spans recorded for an unsampled request", n)
	}
	if TraceID(ctx) != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("TraceID(ctx) = %q", TraceID(ctx))
	}
}

func TestOTLPHTTPExportAndEnv(t *testing.T) {
	sink := newOTLPSink(t, true)

	// Config silent: the standard variables decide exporter, endpoint and
	// service name.
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", sink.srv.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_SERVICE_NAME", "sluice-env")
	t.Setenv("OTEL_TRACES_SAMPLER_ARG", "1")
	tel, err := New(context.Background(), Config{Metrics: Metrics{DisableRuntime: true}})
	if err != nil {
		t.Fatal(err)
	}
	if !tel.TracingEnabled() {
		t.Fatal("OTEL_EXPORTER_OTLP_ENDPOINT did not turn tracing on")
	}
	r := httptest.NewRequest(http.MethodPost, "/v1/embeddings", nil)
	ctx, s := tel.StartRequest(r.Context(), r, "/v1/embeddings")
	_, st := tel.StartStage(ctx, "cache")
	st.End()
	s.End()
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	names, svcs := sink.spanNames()
	if strings.Join(names, ",") != "cache,POST /v1/embeddings" || svcs[0] != "sluice-env" {
		t.Errorf("exported %v from %v", names, svcs)
	}

	// Explicit config beats the environment.
	sink2 := newOTLPSink(t, true)
	tel, err = New(context.Background(), Config{ServiceName: "sluice-cfg", Traces: Traces{Exporter: ExporterOTLPHTTP, Endpoint: sink2.srv.URL, SampleRatio: Ratio(1)}, Metrics: Metrics{DisableRuntime: true}})
	if err != nil {
		t.Fatal(err)
	}
	_, s = tel.StartRequest(context.Background(), r, "/v1/embeddings")
	s.End()
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if names, svcs := sink2.spanNames(); len(names) != 1 || svcs[0] != "sluice-cfg" {
		t.Errorf("exported %v from %v", names, svcs)
	}
	if n, _ := sink.spanNames(); len(n) != 2 {
		t.Errorf("first sink got spans from the second instance: %v", n)
	}

	t.Setenv("OTEL_SDK_DISABLED", "true")
	tel, err = New(context.Background(), Config{Metrics: Metrics{DisableRuntime: true}})
	if err != nil {
		t.Fatal(err)
	}
	if tel.TracingEnabled() {
		t.Error("OTEL_SDK_DISABLED=true left tracing on")
	}
	_ = tel.Shutdown(context.Background())
}

func TestSamplerFromEnv(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/v1/models", nil)
	for _, c := range []struct {
		sampler, arg string
		parent       string // traceparent flags from the caller, "" for none
		want         int
	}{
		{"always_off", "", "", 0},
		{"always_on", "", "00", 1}, // not parent-based: overrides the caller
		{"parentbased_always_on", "", "00", 0},
		{"traceidratio", "0", "", 0},
		{"", "0", "01", 1}, // default is parent-based: a sampled caller wins
		{"", "", "", 1},
	} {
		t.Run(c.sampler+"/"+c.arg+"/"+c.parent, func(t *testing.T) {
			t.Setenv("OTEL_TRACES_SAMPLER", c.sampler)
			t.Setenv("OTEL_TRACES_SAMPLER_ARG", c.arg)
			rec := NewRecorder()
			tel, err := New(context.Background(), Config{Traces: Traces{Exporter: ExporterNone, Recorder: rec}, Metrics: Metrics{DisableRuntime: true}})
			if err != nil {
				t.Fatal(err)
			}
			defer tel.Shutdown(context.Background())
			r.Header.Del("traceparent")
			if c.parent != "" {
				r.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-"+c.parent)
			}
			_, s := tel.StartRequest(r.Context(), r, "")
			s.End()
			spans := rec.Spans()
			if len(spans) != c.want {
				t.Fatalf("%d spans, want %d", len(spans), c.want)
			}
			if c.want == 1 && spans[0].Name != "GET" {
				t.Errorf("span name %q for an empty route", spans[0].Name)
			}
		})
	}
	t.Setenv("OTEL_TRACES_SAMPLER", "jaeger_remote")
	if _, err := New(context.Background(), Config{Traces: Traces{Exporter: ExporterStdout}}); err == nil {
		t.Error("unsupported sampler accepted")
	}
}

func TestSampleRatioZeroFollowsCallers(t *testing.T) {
	rec := NewRecorder()
	tel, err := New(context.Background(), Config{Traces: Traces{Exporter: ExporterNone, Recorder: rec, SampleRatio: Ratio(0)}, Metrics: Metrics{DisableRuntime: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	r := httptest.NewRequest(http.MethodGet, "/v1/models", nil)
	_, s := tel.StartRequest(r.Context(), r, "/v1/models")
	s.End()
	r.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	_, s = tel.StartRequest(r.Context(), r, "/v1/models")
	s.End()
	if spans := rec.Spans(); len(spans) != 1 || spans[0].TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("ratio 0 recorded %+v, want only the caller-sampled request", spans)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{Traces: Traces{Exporter: "zipkin"}},
		{Traces: Traces{Exporter: ExporterOTLPHTTP, Endpoint: "http://", SampleRatio: Ratio(1)}},
		{Traces: Traces{Exporter: ExporterStdout, SampleRatio: Ratio(2)}},
	} {
		tel, err := New(context.Background(), c)
		if err == nil {
			_ = tel.Shutdown(context.Background())
			t.Errorf("%+v: no error", c.Traces)
		} else if !strings.HasPrefix(err.Error(), "telemetry: ") {
			t.Errorf("error not prefixed: %v", err)
		}
	}
}

func TestStdoutExporterWritesJSONLines(t *testing.T) {
	var buf bytes.Buffer
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(&stdoutExporter{w: &buf}))
	defer tp.Shutdown(context.Background())
	tel := &Telemetry{tracer: tp.Tracer("t"), prop: nil}
	ctx, s := tel.tracer.Start(context.Background(), "root")
	_, st := tel.StartStage(ctx, "auth")
	sp := &Span{s: s}
	sp.SetRoute("prod", "", 0)
	st.End()
	sp.End()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", buf.String())
	}
	var child, root stdoutSpan
	if err := json.Unmarshal([]byte(lines[0]), &child); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &root); err != nil {
		t.Fatal(err)
	}
	if child.Name != "auth" || child.ParentID != root.SpanID || root.Attributes[AttrRouter] != "prod" || root.TraceID != child.TraceID {
		t.Errorf("child %+v root %+v", child, root)
	}
}
