package telemetry

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"
)

// The lean tracer is what sluice traces with when spans go to an OTLP/HTTP endpoint named in
// the config at a parent-based ratio (the settings sluice itself offers): spans are plain
// structs, sampled the way the SDK's ParentBased(TraceIDRatioBased) samples, and handed to
// a batcher that encodes them as OTLP protobuf on its own goroutine (otlpspans.go). The OTel
// SDK costs ~12-18 µs of CPU per traced request (a span's attribute map at End, its lock per
// call, per-span snapshots and their conversion); this costs a few. Everything else (gRPC,
// stdout, the test Recorder, other samplers, OTLP tuning from the environment) keeps the SDK,
// and SLUICE_TRACES_SDK=true forces it. See docs/decisions.md.

// leanTracer implements trace.Tracer for one Telemetry.
type leanTracer struct {
	embedded.Tracer
	// bound: a root span is sampled when the low 63 bits of its trace id's second half,
	// shifted right by one, are below it (the SDK's TraceIDRatioBased test). always
	// samples every root.
	bound  uint64
	always bool
	out    *spanBatcher
}

// leanSampling reports whether the lean tracer can sample as configured: a config ratio, or
// the environment's default parent-based ratio sampler. It returns the ratio.
func leanSampling(ratio *float64) (float64, bool) {
	if ratio != nil {
		return *ratio, true
	}
	switch strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER"))) {
	case "", "parentbased_traceidratio":
	default:
		return 0, false
	}
	arg := 1.0
	if raw := strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER_ARG")); raw != "" {
		v, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return 0, false
		}
		arg = v
	}
	return arg, true
}

func newLeanTracer(ratio float64, out *spanBatcher) *leanTracer {
	t := &leanTracer{out: out}
	switch {
	case ratio >= 1:
		t.always = true
	case ratio > 0:
		t.bound = uint64(ratio * (1 << 63))
	}
	return t
}

func (t *leanTracer) sampleRoot(tid trace.TraceID) bool {
	return t.always || binary.BigEndian.Uint64(tid[8:16])>>1 < t.bound
}

// Start begins a span under ctx's span. A parent's sampled flag decides; a root is sampled by
// ratio. An unsampled span carries a new span id and no recording, as the SDK's does.
func (t *leanTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	var cfg trace.SpanConfig
	if len(opts) > 0 {
		cfg = trace.NewSpanStartConfig(opts...)
	}
	var psc trace.SpanContext
	if !cfg.NewRoot() {
		psc = trace.SpanContextFromContext(ctx)
	}
	var tid trace.TraceID
	var sampled bool
	if psc.TraceID().IsValid() {
		tid, sampled = psc.TraceID(), psc.IsSampled()
	} else {
		binary.BigEndian.PutUint64(tid[:8], rand.Uint64())
		binary.BigEndian.PutUint64(tid[8:], rand.Uint64())
		sampled = t.sampleRoot(tid)
	}
	var sid trace.SpanID
	for !sid.IsValid() {
		binary.BigEndian.PutUint64(sid[:], rand.Uint64())
	}
	flags := psc.TraceFlags() &^ trace.FlagsSampled
	if sampled {
		flags |= trace.FlagsSampled
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: flags, TraceState: psc.TraceState()})
	if !sampled {
		ctx = trace.ContextWithSpanContext(ctx, sc)
		return ctx, trace.SpanFromContext(ctx)
	}
	start := cfg.Timestamp()
	if start.IsZero() {
		start = time.Now()
	}
	s := &leanSpan{t: t, sc: sc, parent: psc, name: name, kind: trace.ValidateSpanKind(cfg.SpanKind()), start: start}
	if a := cfg.Attributes(); len(a) > 0 {
		s.attrs = append(s.attrs, a...)
	}
	return trace.ContextWithSpan(ctx, s), s
}

// leanEvent is a span event (RecordError and AddEvent).
type leanEvent struct {
	name  string
	at    time.Time
	attrs []attribute.KeyValue
}

// leanSpan is one recording span. Its fields are written under mu until End, and read only by
// the batcher after it.
type leanSpan struct {
	embedded.Span
	t      *leanTracer
	sc     trace.SpanContext
	parent trace.SpanContext
	kind   trace.SpanKind
	ended  atomic.Bool

	mu         sync.Mutex
	name       string
	start, end time.Time
	attrs      []attribute.KeyValue
	events     []leanEvent
	status     codes.Code
	statusMsg  string
}

func (s *leanSpan) End(opts ...trace.SpanEndOption) {
	end := time.Time{}
	if len(opts) > 0 {
		c := trace.NewSpanEndConfig(opts...)
		end = c.Timestamp()
	}
	if end.IsZero() {
		end = time.Now()
	}
	s.mu.Lock()
	if s.ended.Load() {
		s.mu.Unlock()
		return
	}
	s.end = end
	s.ended.Store(true)
	s.mu.Unlock()
	s.t.out.add(s)
}

func (s *leanSpan) AddEvent(name string, opts ...trace.EventOption) {
	cfg := trace.NewEventConfig(opts...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended.Load() {
		s.events = append(s.events, leanEvent{name: name, at: cfg.Timestamp(), attrs: cfg.Attributes()})
	}
}

// AddLink is not used by sluice; links are not exported.
func (s *leanSpan) AddLink(trace.Link) {}

func (s *leanSpan) IsRecording() bool { return !s.ended.Load() }

func (s *leanSpan) RecordError(err error, opts ...trace.EventOption) {
	if err == nil {
		return
	}
	opts = append(opts, trace.WithAttributes(attribute.String("exception.type", fmt.Sprintf("%T", err)), attribute.String("exception.message", err.Error())))
	s.AddEvent("exception", opts...)
}

func (s *leanSpan) SpanContext() trace.SpanContext { return s.sc }

// SetStatus follows the SDK: Unset < Error < Ok, a status never goes down, and only Error
// keeps its description.
func (s *leanSpan) SetStatus(code codes.Code, description string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended.Load() || s.status > code {
		return
	}
	s.status, s.statusMsg = code, ""
	if code == codes.Error {
		s.statusMsg = description
	}
}

func (s *leanSpan) SetName(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended.Load() {
		s.name = name
	}
}

func (s *leanSpan) SetAttributes(kv ...attribute.KeyValue) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended.Load() {
		s.attrs = append(s.attrs, kv...)
	}
}

func (s *leanSpan) TracerProvider() trace.TracerProvider { return leanProvider{t: s.t} }

// leanProvider hands out the one lean tracer whatever the name.
type leanProvider struct {
	embedded.TracerProvider
	t *leanTracer
}

func (p leanProvider) Tracer(string, ...trace.TracerOption) trace.Tracer {
	if p.t == nil {
		return noop.NewTracerProvider().Tracer("")
	}
	return p.t
}
