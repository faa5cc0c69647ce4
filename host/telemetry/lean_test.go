package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// exportedSpans runs one gateway-shaped request (the benchmark's span tree plus a failed
// attempt) through New with OTLP/HTTP export to a real decoding receiver and returns what it
// received, every span rendered without its ids and times, and the raw spans.
func exportedSpans(t *testing.T, sdk bool, traceparent string, ratio float64) ([]string, []*tracepb.Span, string, string) {
	t.Helper()
	if sdk {
		t.Setenv("SLUICE_TRACES_SDK", "true")
	} else {
		t.Setenv("SLUICE_TRACES_SDK", "")
	}
	sink := newOTLPSink(t, true)
	tel, err := New(context.Background(), Config{ServiceName: "sluice-lean", Version: "v9", Traces: Traces{Exporter: ExporterOTLPHTTP, Endpoint: sink.srv.URL, SampleRatio: Ratio(ratio)}, Metrics: Metrics{DisableRuntime: true}})
	if err != nil {
		t.Fatal(err)
	}
	if _, lean := tel.tracer.(*leanTracer); lean == sdk {
		t.Fatalf("sdk=%v: tracer %T", sdk, tel.tracer)
	}
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	r.Header.Set("User-Agent", "bench/1")
	if traceparent != "" {
		r.Header.Set("traceparent", traceparent)
	}
	h := http.Header{}
	requestSpans(tel, r, h)
	ctx, s := tel.StartRequest(r.Context(), r, "/v1/embeddings")
	_, up := tel.StartUpstream(ctx, "openai/text-embedding-3-small#0", 2)
	up.Fail(errors.New("upstream said no"), "upstream_5xx")
	up.SetHTTPStatus(503)
	up.End()
	s.SetRoute("prod", "openai/text-embedding-3-small#0", 2)
	s.SetString(AttrTarget, "openai/text-embedding-3-small#1") // a later value wins
	s.SetBool(AttrStream, false)
	temp := 0.25
	s.SetRequest(GenAIRequest{System: "openai", Operation: "embeddings", Model: "text-embedding-3-small", Temperature: &temp})
	s.add(attribute.Int64Slice("x.ints", []int64{-1, 2}), attribute.BoolSlice("x.bools", []bool{true}), attribute.Float64Slice("x.floats", []float64{0.5}))
	s.SetHTTPStatus(502)
	s.End()
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	var out []string
	var raw []*tracepb.Span
	svc, scope := "", ""
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for _, req := range sink.traces {
		for _, rs := range req.GetResourceSpans() {
			var res []string
			for _, a := range rs.GetResource().GetAttributes() {
				if strings.HasPrefix(a.GetKey(), "service.") {
					res = append(res, a.GetKey()+"="+a.GetValue().GetStringValue())
				}
			}
			sort.Strings(res)
			svc = strings.Join(res, ",")
			for _, ss := range rs.GetScopeSpans() {
				scope = ss.GetScope().GetName()
				for _, sp := range ss.GetSpans() {
					raw = append(raw, sp)
					attrs := make([]string, 0, len(sp.GetAttributes()))
					for _, a := range sp.GetAttributes() {
						v, _ := protojson.Marshal(a.GetValue())
						attrs = append(attrs, a.GetKey()+"="+strings.ReplaceAll(string(v), " ", ""))
					}
					sort.Strings(attrs)
					out = append(out, fmt.Sprintf("%s kind=%v status=%v/%q flags=%#x parent=%v %s", sp.GetName(), sp.GetKind(), sp.GetStatus().GetCode(), sp.GetStatus().GetMessage(),
						sp.GetFlags(), len(sp.GetParentSpanId()) > 0, strings.Join(attrs, " ")))
				}
			}
		}
	}
	return out, raw, svc, scope
}

// TestLeanTracerMatchesSDK is the lean tracer's contract: for the same calls it exports what
// the OTel SDK exports (names, kinds, statuses, flags, attributes and their types, resource
// and scope), and its trees hold together (parents, one trace id per request).
func TestLeanTracerMatchesSDK(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	want, _, wantSvc, wantScope := exportedSpans(t, true, tp, 1)
	got, raw, gotSvc, gotScope := exportedSpans(t, false, tp, 1)
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lean spans differ from the SDK's:\nlean:\n%s\nsdk:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if gotSvc != wantSvc || gotScope != wantScope || !strings.Contains(gotSvc, "service.name=sluice-lean") {
		t.Errorf("resource %q scope %q, want %q %q", gotSvc, gotScope, wantSvc, wantScope)
	}
	if len(raw) != 9 {
		t.Fatalf("%d spans, want 9", len(raw))
	}
	byID := map[string]*tracepb.Span{}
	for _, s := range raw {
		byID[string(s.GetSpanId())] = s
	}
	for _, s := range raw {
		if fmt.Sprintf("%x", s.GetTraceId()) != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Errorf("%s: trace id %x, want the caller's", s.GetName(), s.GetTraceId())
		}
		if p := s.GetParentSpanId(); strings.HasPrefix(s.GetName(), "POST") {
			if fmt.Sprintf("%x", p) != "00f067aa0ba902b7" {
				t.Errorf("server span's parent %x, want the caller's span", p)
			}
		} else if par := byID[string(p)]; par == nil || !strings.HasPrefix(par.GetName(), "POST") {
			t.Errorf("%s: parent %x is not a server span of this export", s.GetName(), p)
		}
		if s.GetEndTimeUnixNano() < s.GetStartTimeUnixNano() || s.GetStartTimeUnixNano() == 0 {
			t.Errorf("%s: times %d..%d", s.GetName(), s.GetStartTimeUnixNano(), s.GetEndTimeUnixNano())
		}
	}
}

func TestLeanSampling(t *testing.T) {
	// Ratio 0: a root is not recorded, a sampled caller's request is.
	got, _, _, _ := exportedSpans(t, false, "", 0)
	if len(got) != 0 {
		t.Errorf("ratio 0 exported %d spans", len(got))
	}
	got, _, _, _ = exportedSpans(t, false, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 0)
	if len(got) != 9 {
		t.Errorf("ratio 0 with a sampled caller exported %d spans, want 9", len(got))
	}
	got, _, _, _ = exportedSpans(t, false, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", 1)
	if len(got) != 0 {
		t.Errorf("ratio 1 with an unsampled caller exported %d spans", len(got))
	}
	// The ratio test is the SDK's: the second half of the trace id against ratio × 2^63.
	lt := newLeanTracer(0.25, nil)
	var lo, hi [16]byte
	lo[8], hi[8] = 0x3f, 0x40
	if !lt.sampleRoot(lo) || lt.sampleRoot(hi) {
		t.Error("ratio 0.25 must sample ids below 2^62 (shifted) and not above")
	}
	// An unsampled root still propagates its trace with the sampled flag off.
	tel := &Telemetry{tracer: newLeanTracer(0, nil), prop: propagation.TraceContext{}}
	ctx, s := tel.StartRequest(context.Background(), httptest.NewRequest(http.MethodGet, "/", nil), "/")
	h := http.Header{}
	tel.Inject(ctx, h)
	if s.Recording() || !strings.HasSuffix(h.Get("traceparent"), "-00") || len(h.Get("traceparent")) != 55 {
		t.Errorf("unsampled root: recording %v, traceparent %q", s.Recording(), h.Get("traceparent"))
	}
}

func TestLeanConfiguredOnlyWhereItMatchesTheSDK(t *testing.T) {
	cfg := Traces{Exporter: ExporterOTLPHTTP, Endpoint: "http://127.0.0.1:4318"}
	if !leanConfigured(cfg) {
		t.Fatal("a config endpoint should use the lean tracer")
	}
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x=1")
	if leanConfigured(cfg) {
		t.Error("exporter tuning from the environment needs the SDK")
	}
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "")
	if leanConfigured(Traces{Exporter: ExporterOTLPHTTP}) || leanConfigured(Traces{Exporter: ExporterOTLPHTTP, Endpoint: "x:1", Recorder: NewRecorder()}) {
		t.Error("no config endpoint, or a Recorder, needs the SDK")
	}
	t.Setenv("OTEL_TRACES_SAMPLER", "always_on")
	if _, ok := leanSampling(nil); ok {
		t.Error("always_on is the SDK's")
	}
	if r, ok := leanSampling(Ratio(0.5)); !ok || r != 0.5 {
		t.Error("a config ratio is the lean tracer's")
	}
}

func TestSpanBatcherDropsWhenFullAndFlushesOnShutdown(t *testing.T) {
	sink := newOTLPSink(t, true)
	tel, err := New(context.Background(), Config{Traces: Traces{Exporter: ExporterOTLPHTTP, Endpoint: sink.srv.URL, SampleRatio: Ratio(1)}, Metrics: Metrics{DisableRuntime: true}})
	if err != nil {
		t.Fatal(err)
	}
	b := tel.tracer.(*leanTracer).out
	b.mu.Lock() // hold the queue so nothing is exported meanwhile
	b.queue = append(b.queue, make([]*leanSpan, spanQueueMax-1)...)
	b.mu.Unlock()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for range 3 {
		_, s := tel.StartRequest(context.Background(), r, "/")
		s.End()
	}
	b.mu.Lock()
	n, dropped := len(b.queue), b.dropped
	b.queue = b.queue[spanQueueMax-1:]
	b.mu.Unlock()
	if n != spanQueueMax || dropped != 2 {
		t.Fatalf("queue %d dropped %d; want %d and 2", n, dropped, spanQueueMax)
	}
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if names, _ := sink.spanNames(); len(names) != 1 {
		t.Errorf("shutdown exported %v, want the one queued span", names)
	}
}
