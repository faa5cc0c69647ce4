package telemetry

import (
	"context"
	"net"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
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
type Span struct {
	s trace.Span
}

// StartRequest starts the server span for an inbound request, continuing
// the client's W3C traceparent/tracestate when present. route is the
// matched route template ("/v1/chat/completions"), never the raw path with
// ids in it. With tracing off it returns ctx unchanged and a nil span.
func (t *Telemetry) StartRequest(ctx context.Context, r *http.Request, route string) (context.Context, *Span) {
	if t == nil || t.tracer == nil {
		return ctx, nil
	}
	ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
	name := r.Method
	if route != "" {
		name += " " + route
	}
	ctx, s := t.tracer.Start(ctx, name,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String(AttrHTTPMethod, r.Method),
			attribute.String(AttrHTTPRoute, route),
			attribute.String(AttrURLPath, r.URL.Path),
			attribute.String(AttrClientAddress, hostOnly(r.RemoteAddr)),
			attribute.String(AttrUserAgent, r.UserAgent()),
		))
	return ctx, &Span{s: s}
}

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
	ctx, s := t.tracer.Start(ctx, spanNameUpstreamAttempt,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String(AttrTarget, target), attribute.Int(AttrAttempt, attempt)))
	return ctx, &Span{s: s}
}

// Inject writes traceparent/tracestate for ctx's span into h, so the
// upstream call joins the trace. It does nothing with tracing off.
func (t *Telemetry) Inject(ctx context.Context, h http.Header) {
	if t == nil || t.tracer == nil {
		return
	}
	t.prop.Inject(ctx, propagation.HeaderCarrier(h))
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
	if s == nil || !s.s.IsRecording() {
		return
	}
	kv := make([]attribute.KeyValue, 0, 6)
	kv = appendStr(kv, AttrGenAISystem, g.System)
	kv = appendStr(kv, AttrGenAIOperation, g.Operation)
	kv = appendStr(kv, AttrGenAIRequestModel, g.Model)
	kv = appendStr(kv, AttrServerAddress, g.ServerAddress)
	if g.MaxTokens > 0 {
		kv = append(kv, attribute.Int(AttrGenAIMaxTokens, g.MaxTokens))
	}
	if g.Temperature != nil {
		kv = append(kv, attribute.Float64(AttrGenAITemperature, *g.Temperature))
	}
	s.s.SetAttributes(kv...)
}

// SetResponse records the GenAI response attributes.
func (s *Span) SetResponse(g GenAIResponse) {
	if s == nil || !s.s.IsRecording() {
		return
	}
	kv := make([]attribute.KeyValue, 0, 4)
	kv = appendStr(kv, AttrGenAIResponseModel, g.Model)
	if g.InputTokens > 0 {
		kv = append(kv, attribute.Int(AttrGenAIInputTokens, g.InputTokens))
	}
	if g.OutputTokens > 0 {
		kv = append(kv, attribute.Int(AttrGenAIOutputTokens, g.OutputTokens))
	}
	if len(g.FinishReasons) > 0 {
		kv = append(kv, attribute.StringSlice(AttrGenAIFinishReasons, g.FinishReasons))
	}
	s.s.SetAttributes(kv...)
}

// SetRoute records the router and target chosen and the attempt number
// (1-based; 0 leaves it out).
func (s *Span) SetRoute(router, target string, attempt int) {
	if s == nil || !s.s.IsRecording() {
		return
	}
	kv := make([]attribute.KeyValue, 0, 3)
	kv = appendStr(kv, AttrRouter, router)
	kv = appendStr(kv, AttrTarget, target)
	if attempt > 0 {
		kv = append(kv, attribute.Int(AttrAttempt, attempt))
	}
	s.s.SetAttributes(kv...)
}

// SetCacheStatus records "hit", "miss", "bypass" or "store".
func (s *Span) SetCacheStatus(status string) { s.SetString(AttrCacheStatus, status) }

// SetRateLimitTier records the tier that decided (or rejected) the request.
func (s *Span) SetRateLimitTier(tier string) { s.SetString(AttrRateLimitTier, tier) }

// SetPlugin records which plugin hook this span covers.
func (s *Span) SetPlugin(name, hook string) {
	if s == nil || !s.s.IsRecording() {
		return
	}
	s.s.SetAttributes(attribute.String(AttrPluginName, name), attribute.String(AttrPluginHook, hook))
}

// SetString sets one string attribute; empty values are skipped.
func (s *Span) SetString(key, value string) {
	if s == nil || value == "" || !s.s.IsRecording() {
		return
	}
	s.s.SetAttributes(attribute.String(key, value))
}

// SetInt sets one integer attribute.
func (s *Span) SetInt(key string, value int64) {
	if s == nil || !s.s.IsRecording() {
		return
	}
	s.s.SetAttributes(attribute.Int64(key, value))
}

// SetBool sets one boolean attribute.
func (s *Span) SetBool(key string, value bool) {
	if s == nil || !s.s.IsRecording() {
		return
	}
	s.s.SetAttributes(attribute.Bool(key, value))
}

// SetHTTPStatus records the response status; 5xx marks the span as an
// error (4xx on a server span is the client's fault, per HTTP semconv).
func (s *Span) SetHTTPStatus(code int) {
	if s == nil || !s.s.IsRecording() {
		return
	}
	s.s.SetAttributes(attribute.Int(AttrHTTPStatus, code))
	if code >= 500 {
		s.s.SetAttributes(attribute.String(AttrErrorType, strconv.Itoa(code)))
		s.s.SetStatus(codes.Error, http.StatusText(code))
	}
}

// Fail marks the span as failed with err's message and records errType
// (e.g. "timeout", "upstream_5xx") as error.type. A nil err does nothing.
func (s *Span) Fail(err error, errType string) {
	if s == nil || err == nil || !s.s.IsRecording() {
		return
	}
	if errType != "" {
		s.s.SetAttributes(attribute.String(AttrErrorType, errType))
	}
	s.s.SetStatus(codes.Error, err.Error())
}

// End finishes the span. Calling End on a nil span is fine.
func (s *Span) End() {
	if s == nil {
		return
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

func appendStr(kv []attribute.KeyValue, k, v string) []attribute.KeyValue {
	if v == "" {
		return kv
	}
	return append(kv, attribute.String(k, v))
}
