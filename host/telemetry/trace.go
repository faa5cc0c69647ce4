package telemetry

import (
	"context"
	"encoding/hex"
	"net"
	"net/http"
	"strconv"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Attribute names: the OpenTelemetry GenAI semantic conventions, a few HTTP
// ones, and sluice's own. Other packages use these instead of literals.
const (
	AttrGenAISystem         = "gen_ai.system"
	AttrGenAIOperation      = "gen_ai.operation.name"
	AttrGenAIRequestModel   = "gen_ai.request.model"
	AttrGenAIResponseModel  = "gen_ai.response.model"
	AttrGenAIInputTokens    = "gen_ai.usage.input_tokens"
	AttrGenAIOutputTokens   = "gen_ai.usage.output_tokens"
	AttrGenAIFinishReasons  = "gen_ai.response.finish_reasons"
	AttrGenAIMaxTokens      = "gen_ai.request.max_tokens"
	AttrGenAITemperature    = "gen_ai.request.temperature"
	AttrServerAddress       = "server.address"
	AttrHTTPMethod          = "http.request.method"
	AttrHTTPRoute           = "http.route"
	AttrHTTPStatus          = "http.response.status_code"
	AttrURLPath             = "url.path"
	AttrClientAddress       = "client.address"
	AttrUserAgent           = "user_agent.original"
	AttrRouter              = "sluice.router"
	AttrTarget              = "sluice.target"
	AttrAttempt             = "sluice.attempt"
	AttrCacheStatus         = "sluice.cache.status"
	AttrRateLimitTier       = "sluice.ratelimit.tier"
	AttrPluginName          = "sluice.plugin.name"
	AttrPluginHook          = "sluice.plugin.hook"
	AttrRequestID           = "sluice.request_id"
	AttrStream              = "sluice.stream"
	AttrErrorType           = "error.type"
	spanNameUpstreamAttempt = "upstream"
)

// Span is one timed operation in a request's trace. A nil *Span is valid:
// every method is a no-op, which is what callers get with tracing off.
//
// Attributes are collected in the Span and handed to the SDK in one call at
// End: each SDK SetAttributes takes the span's lock and may regrow its
// attribute slice, and a request span used to make six such calls. Like the
// request it belongs to, a Span is used by one goroutine at a time.
type Span struct {
	s  trace.Span
	kv *[]attribute.KeyValue // pending attributes, from kvPool; nil until the first
}

// kvPool recycles pending-attribute buffers: End copies them into the SDK
// span, so the buffer is free again once End returns.
var kvPool = sync.Pool{New: func() any {
	b := make([]attribute.KeyValue, 0, 24)
	return &b
}}

// add queues attributes for End. The caller has checked recording.
func (s *Span) add(kv ...attribute.KeyValue) {
	if s.kv == nil {
		s.kv = kvPool.Get().(*[]attribute.KeyValue)
	}
	*s.kv = append(*s.kv, kv...)
}

func (s *Span) addStr(k, v string) {
	if v != "" {
		s.add(attribute.String(k, v))
	}
}

// Recording reports whether the span records anything, so callers can skip
// building attributes for a span that will drop them.
func (s *Span) Recording() bool { return s != nil && s.s.IsRecording() }

// serverNames caches "METHOD /route" span names for the standard methods,
// so a request does not build the same string every time. Routes are the
// gateway's templates, so the set is small and fixed.
var serverNames sync.Map // method+" "+route -> same string

func serverSpanName(method, route string) string {
	if route == "" {
		return method
	}
	switch method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodHead, http.MethodOptions:
	default:
		return method + " " + route
	}
	key := routeKey{method, route}
	if n, ok := serverNames.Load(key); ok {
		return n.(string)
	}
	n := method + " " + route
	serverNames.Store(key, n)
	return n
}

type routeKey struct{ method, route string }

// StartRequest starts the server span for an inbound request, continuing
// the client's W3C traceparent/tracestate when present. route is the
// matched route template ("/v1/chat/completions"), never the raw path with
// ids in it. With tracing off it returns ctx unchanged and a nil span.
//
// The HTTP attributes are queued with the rest and reach the SDK at End,
// not at start: sluice's samplers (parent-based, ratio, always/never)
// decide on the trace id and parent alone, so nothing reads them earlier.
func (t *Telemetry) StartRequest(ctx context.Context, r *http.Request, route string) (context.Context, *Span) {
	if t == nil || t.tracer == nil {
		return ctx, nil
	}
	ctx = t.prop.Extract(ctx, headerCarrier(r.Header))
	ctx, s := t.tracer.Start(ctx, serverSpanName(r.Method, route), serverKind)
	sp := &Span{s: s}
	if s.IsRecording() {
		sp.add(
			attribute.String(AttrHTTPMethod, r.Method),
			attribute.String(AttrHTTPRoute, route),
			attribute.String(AttrURLPath, r.URL.Path),
			attribute.String(AttrClientAddress, hostOnly(r.RemoteAddr)),
			attribute.String(AttrUserAgent, r.UserAgent()),
		)
	}
	return ctx, sp
}

// Span kinds as prebuilt start options, so a start does not box them.
var (
	serverKind trace.SpanStartOption = trace.WithSpanKind(trace.SpanKindServer)
	clientKind trace.SpanStartOption = trace.WithSpanKind(trace.SpanKindClient)
)

// hostOnly strips the port from a RemoteAddr: semconv's client.address is
// the address alone.
func hostOnly(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// StartStage starts an internal child span (auth, policy, ratelimit, cache,
// a plugin call). It is a no-op when tracing is off or the request is not
// sampled, so unsampled requests pay nothing per stage.
func (t *Telemetry) StartStage(ctx context.Context, name string) (context.Context, *Span) {
	if t == nil || t.tracer == nil || !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, nil
	}
	ctx, s := t.tracer.Start(ctx, name)
	return ctx, &Span{s: s}
}

// StartUpstream starts a client span for one upstream attempt (1-based)
// against target ("openai/gpt-4o-mini#0"). Pass its context to Inject.
func (t *Telemetry) StartUpstream(ctx context.Context, target string, attempt int) (context.Context, *Span) {
	if t == nil || t.tracer == nil || !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, nil
	}
	ctx, s := t.tracer.Start(ctx, spanNameUpstreamAttempt, clientKind)
	sp := &Span{s: s}
	sp.add(attribute.String(AttrTarget, target), attribute.Int(AttrAttempt, attempt))
	return ctx, sp
}

// Inject writes traceparent/tracestate for ctx's span into h, so the
// upstream call joins the trace. It does nothing with tracing off.
//
// The common case (a valid span, no tracestate, no baggage) writes
// traceparent directly under its canonical key: the propagator would build
// the same value and then canonicalise the key, one allocation more.
func (t *Telemetry) Inject(ctx context.Context, h http.Header) {
	if t == nil || t.tracer == nil {
		return
	}
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() || sc.TraceState().Len() > 0 || baggage.FromContext(ctx).Len() > 0 {
		t.prop.Inject(ctx, headerCarrier(h))
		return
	}
	h[headerTraceparent] = []string{traceparent(sc)}
}

const headerTraceparent = "Traceparent" // http.CanonicalHeaderKey("traceparent")

// headerCarrier is propagation.HeaderCarrier without the per-lookup cost:
// the propagators ask for lowercase keys, and http.Header.Get allocates the
// canonical form of "traceparent", "tracestate" and "baggage" (they are not
// among net/textproto's preinterned headers) on every request.
type headerCarrier http.Header

func canonicalKey(k string) string {
	switch k {
	case "traceparent":
		return headerTraceparent
	case "tracestate":
		return "Tracestate"
	case "baggage":
		return "Baggage"
	}
	return http.CanonicalHeaderKey(k)
}

func (h headerCarrier) Get(k string) string {
	if vs := h[canonicalKey(k)]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

func (h headerCarrier) Values(k string) []string { return h[canonicalKey(k)] }

func (h headerCarrier) Set(k, v string) { h[canonicalKey(k)] = []string{v} }

func (h headerCarrier) Keys() []string { return propagation.HeaderCarrier(h).Keys() }

// traceparent formats sc as a W3C version-00 traceparent value, keeping
// only the spec-defined flags (sampled, random) as the propagator does.
func traceparent(sc trace.SpanContext) string {
	var b [55]byte
	tid, sid := sc.TraceID(), sc.SpanID()
	flags := byte(sc.TraceFlags() & (trace.FlagsSampled | trace.FlagsRandom))
	b[0], b[1], b[2] = '0', '0', '-'
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52] = '-'
	hex.Encode(b[53:55], []byte{flags})
	return string(b[:])
}

// TraceID returns the hex trace id of the span in ctx, or "" when there is
// none; the access log uses it to link lines to traces.
func TraceID(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}

// GenAIRequest holds the request-side GenAI attributes. Zero fields are
// left out.
type GenAIRequest struct {
	System        string   // "openai", "anthropic", "aws.bedrock", ...
	Operation     string   // "chat", "embeddings", "text_completion"
	Model         string   // as requested
	MaxTokens     int      // 0 = not set
	Temperature   *float64 // nil = not set
	ServerAddress string   // upstream host
}

// GenAIResponse holds the response-side GenAI attributes.
type GenAIResponse struct {
	Model         string
	InputTokens   int
	OutputTokens  int
	FinishReasons []string
}

// SetRequest records the GenAI request attributes.
func (s *Span) SetRequest(g GenAIRequest) {
	if !s.Recording() {
		return
	}
	s.addStr(AttrGenAISystem, g.System)
	s.addStr(AttrGenAIOperation, g.Operation)
	s.addStr(AttrGenAIRequestModel, g.Model)
	s.addStr(AttrServerAddress, g.ServerAddress)
	if g.MaxTokens > 0 {
		s.add(attribute.Int(AttrGenAIMaxTokens, g.MaxTokens))
	}
	if g.Temperature != nil {
		s.add(attribute.Float64(AttrGenAITemperature, *g.Temperature))
	}
}

// SetResponse records the GenAI response attributes.
func (s *Span) SetResponse(g GenAIResponse) {
	if !s.Recording() {
		return
	}
	s.addStr(AttrGenAIResponseModel, g.Model)
	if g.InputTokens > 0 {
		s.add(attribute.Int(AttrGenAIInputTokens, g.InputTokens))
	}
	if g.OutputTokens > 0 {
		s.add(attribute.Int(AttrGenAIOutputTokens, g.OutputTokens))
	}
	if len(g.FinishReasons) > 0 {
		s.add(finishReasons(g.FinishReasons))
	}
}

// SetFinishReason records a single finish reason; it is SetResponse's
// FinishReasons without the caller building a one-element slice.
func (s *Span) SetFinishReason(reason string) {
	if reason == "" || !s.Recording() {
		return
	}
	if kv, ok := commonFinish[reason]; ok {
		s.add(kv)
		return
	}
	s.add(attribute.StringSlice(AttrGenAIFinishReasons, []string{reason}))
}

// commonFinish holds the finish_reasons attribute for the OpenAI reasons,
// built once: a string-slice attribute copies its slice on every build.
var commonFinish = func() map[string]attribute.KeyValue {
	m := map[string]attribute.KeyValue{}
	for _, r := range []string{"stop", "length", "tool_calls", "content_filter", "function_call"} {
		m[r] = attribute.StringSlice(AttrGenAIFinishReasons, []string{r})
	}
	return m
}()

func finishReasons(rs []string) attribute.KeyValue {
	if len(rs) == 1 {
		if kv, ok := commonFinish[rs[0]]; ok {
			return kv
		}
	}
	return attribute.StringSlice(AttrGenAIFinishReasons, rs)
}

// SetRoute records the router and target chosen and the attempt number
// (1-based; 0 leaves it out).
func (s *Span) SetRoute(router, target string, attempt int) {
	if !s.Recording() {
		return
	}
	s.addStr(AttrRouter, router)
	s.addStr(AttrTarget, target)
	if attempt > 0 {
		s.add(attribute.Int(AttrAttempt, attempt))
	}
}

// SetCacheStatus records "hit", "miss", "bypass" or "store".
func (s *Span) SetCacheStatus(status string) { s.SetString(AttrCacheStatus, status) }

// SetRateLimitTier records the tier that decided (or rejected) the request.
func (s *Span) SetRateLimitTier(tier string) { s.SetString(AttrRateLimitTier, tier) }

// SetPlugin records which plugin hook this span covers.
func (s *Span) SetPlugin(name, hook string) {
	if !s.Recording() {
		return
	}
	s.add(attribute.String(AttrPluginName, name), attribute.String(AttrPluginHook, hook))
}

// SetString sets one string attribute; empty values are skipped.
func (s *Span) SetString(key, value string) {
	if value == "" || !s.Recording() {
		return
	}
	s.add(attribute.String(key, value))
}

// SetInt sets one integer attribute.
func (s *Span) SetInt(key string, value int64) {
	if !s.Recording() {
		return
	}
	s.add(attribute.Int64(key, value))
}

// SetBool sets one boolean attribute.
func (s *Span) SetBool(key string, value bool) {
	if !s.Recording() {
		return
	}
	s.add(attribute.Bool(key, value))
}

// SetHTTPStatus records the response status; 5xx marks the span as an
// error (4xx on a server span is the client's fault, per HTTP semconv).
func (s *Span) SetHTTPStatus(code int) {
	if !s.Recording() {
		return
	}
	s.add(attribute.Int(AttrHTTPStatus, code))
	if code >= 500 {
		s.add(attribute.String(AttrErrorType, statusCodeString(code)))
		s.s.SetStatus(codes.Error, http.StatusText(code))
	}
}

// status5xx holds "500".."599", so an error span does not format its code.
var status5xx = func() (t [100]string) {
	for i := range t {
		t[i] = strconv.Itoa(500 + i)
	}
	return t
}()

func statusCodeString(code int) string {
	if code >= 500 && code < 600 {
		return status5xx[code-500]
	}
	return strconv.Itoa(code)
}

// Fail marks the span as failed with err's message and records errType
// (e.g. "timeout", "upstream_5xx") as error.type. A nil err does nothing.
func (s *Span) Fail(err error, errType string) {
	if err == nil || !s.Recording() {
		return
	}
	s.addStr(AttrErrorType, errType)
	s.s.SetStatus(codes.Error, err.Error())
}

// End hands the queued attributes to the SDK in one call and finishes the
// span. Calling End on a nil span is fine.
func (s *Span) End() {
	if s == nil {
		return
	}
	if s.kv != nil {
		s.s.SetAttributes(*s.kv...)
		clear(*s.kv) // drop string references before the buffer is reused
		*s.kv = (*s.kv)[:0]
		kvPool.Put(s.kv)
		s.kv = nil
	}
	s.s.End()
}

// TraceID is the span's hex trace id, "" for a nil span.
func (s *Span) TraceID() string {
	if s == nil {
		return ""
	}
	return s.s.SpanContext().TraceID().String()
}
