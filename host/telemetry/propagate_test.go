package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The direct traceparent write must produce exactly what the W3C
// propagator writes, for every flag combination.
func TestInjectMatchesPropagator(t *testing.T) {
	tel, _ := newTraced(t)
	prop := propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ts, _ := trace.ParseTraceState("vendor=abc")
	member, _ := baggage.NewMember("tenant", "acme")
	bag, _ := baggage.New(member)
	for _, c := range []struct {
		flags trace.TraceFlags
		state trace.TraceState
		bag   bool
	}{{0, trace.TraceState{}, false}, {1, trace.TraceState{}, false}, {3, trace.TraceState{}, false}, {0xff, trace.TraceState{}, false},
		{1, ts, false}, {1, trace.TraceState{}, true}} {
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: c.flags, TraceState: c.state})
		ctx := trace.ContextWithSpanContext(context.Background(), sc)
		if c.bag {
			ctx = baggage.ContextWithBaggage(ctx, bag)
		}
		got, want := http.Header{}, http.Header{}
		tel.Inject(ctx, got)
		prop.Inject(ctx, propagation.HeaderCarrier(want))
		if len(got) != len(want) || len(want) == 0 {
			t.Fatalf("flags %x: got %v want %v", c.flags, got, want)
		}
		for k := range want {
			if got.Get(k) != want.Get(k) {
				t.Errorf("flags %x %s: got %q want %q", c.flags, k, got.Get(k), want.Get(k))
			}
		}
	}
	// No span, nothing written.
	h := http.Header{}
	tel.Inject(context.Background(), h)
	if len(h) != 0 {
		t.Errorf("no span: %v", h)
	}
}

// Extraction through the allocation-free carrier still continues the
// caller's trace and keeps its tracestate and baggage.
func TestExtractContinuesCaller(t *testing.T) {
	tel, rec := newTraced(t)
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	r.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	r.Header.Set("tracestate", "vendor=abc")
	r.Header.Set("baggage", "tenant=acme")
	ctx, s := tel.StartRequest(r.Context(), r, "/v1/chat/completions")
	sc := trace.SpanContextFromContext(ctx)
	if sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || sc.TraceState().String() != "vendor=abc" {
		t.Errorf("span context %v state %q", sc.TraceID(), sc.TraceState().String())
	}
	if baggage.FromContext(ctx).Member("tenant").Value() != "acme" {
		t.Error("baggage lost")
	}
	h := http.Header{}
	tel.Inject(ctx, h)
	if h.Get("tracestate") != "vendor=abc" || h.Get("baggage") != "tenant=acme" || h.Get("traceparent") == "" {
		t.Errorf("injected %v", h)
	}
	s.End()
	spans := rec.Spans()
	if len(spans) != 1 || spans[0].ParentID != "00f067aa0ba902b7" {
		t.Fatalf("spans %+v", spans)
	}
}

// Attribute buffers are recycled after End; a later span must not see an
// earlier span's attributes.
func TestPendingAttributesDoNotLeak(t *testing.T) {
	tel, rec := newTraced(t)
	r := httptest.NewRequest(http.MethodGet, "/v1/models", nil)
	_, s := tel.StartRequest(r.Context(), r, "/v1/models")
	s.SetString(AttrCacheStatus, "hit")
	s.SetFinishReason("stop")
	s.End()
	_, s = tel.StartRequest(r.Context(), r, "/v1/models")
	s.SetFinishReason("my_reason")
	s.End()
	spans := rec.Spans()
	if len(spans) != 2 {
		t.Fatalf("spans %+v", spans)
	}
	if spans[0].Attributes[AttrCacheStatus] != "hit" || spans[0].Name != "GET /v1/models" {
		t.Errorf("first %+v", spans[0])
	}
	if _, ok := spans[1].Attributes[AttrCacheStatus]; ok {
		t.Errorf("second span carries the first's attribute: %+v", spans[1].Attributes)
	}
	fr, _ := spans[1].Attributes[AttrGenAIFinishReasons].([]string)
	if len(fr) != 1 || fr[0] != "my_reason" {
		t.Errorf("finish reasons %#v", spans[1].Attributes[AttrGenAIFinishReasons])
	}
}
