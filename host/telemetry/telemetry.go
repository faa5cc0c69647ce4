// Package telemetry owns sluice's observability: OpenTelemetry request traces
// (W3C propagation in and out, GenAI semantic-convention attributes), the
// Prometheus metric registry served on /metrics and optionally pushed over
// OTLP, access-log records exported as OTLP logs, the in-process live
// aggregator behind the admin dashboard, and the redaction helper used by
// the access log.
//
// Everything is nil-safe: a nil *Telemetry, or one with tracing off, turns
// every call into a cheap no-op, so the gateway calls it unconditionally.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Exporter names accepted by Traces.Exporter.
const (
	ExporterNone     = "none"
	ExporterOTLPGRPC = "otlp-grpc"
	ExporterOTLPHTTP = "otlp-http"
	ExporterStdout   = "stdout"
)

// Config selects what telemetry does. The zero value gives Prometheus
// metrics and the live aggregator with tracing decided by OTEL_* env vars
// (off when none is set).
type Config struct {
	// ServiceName is the resource service.name; OTEL_SERVICE_NAME, then
	// "sluice", when empty.
	ServiceName string
	// Version is reported as service.version when set.
	Version string
	Traces  Traces
	Metrics Metrics
	Logs    Logs
}

// Traces configures span export.
type Traces struct {
	// Exporter is "none", "otlp-grpc", "otlp-http" or "stdout". Empty means
	// decide from OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER,
	// OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT and OTEL_EXPORTER_OTLP_PROTOCOL.
	Exporter string
	// Endpoint is a URL ("http://collector:4318") or host:port. Empty lets
	// the OTLP exporter read OTEL_EXPORTER_OTLP_ENDPOINT or use its default.
	Endpoint string
	// Insecure disables TLS for host:port endpoints (a URL's scheme decides
	// on its own).
	Insecure bool
	// Headers are sent with every export (e.g. an auth token).
	Headers map[string]string
	// SampleRatio in [0,1] is the parent-based ratio sampler's argument:
	// a caller's sampled traceparent is always followed, so 0 traces only
	// what callers ask for. Nil means OTEL_TRACES_SAMPLER (always_on,
	// always_off, traceidratio and their parentbased_ forms) with
	// OTEL_TRACES_SAMPLER_ARG, then parent-based 1.0.
	SampleRatio *float64
	// Recorder, when set, receives every span in memory (tests) and turns
	// tracing on even if Exporter is "none".
	Recorder *Recorder
}

// Metrics configures the metric registry and optional OTLP push.
type Metrics struct {
	// OTLP pushes the Prometheus registry's contents over OTLP every
	// Interval; OTEL_METRICS_EXPORTER=otlp turns it on too and
	// OTEL_SDK_DISABLED=true off. /metrics is served either way.
	OTLP bool
	// Protocol is "grpc" or "http"; empty reads OTEL_EXPORTER_OTLP_PROTOCOL
	// (default http).
	Protocol string
	Endpoint string
	Insecure bool
	Headers  map[string]string
	// Interval between pushes; OTEL_METRIC_EXPORT_INTERVAL (ms), then 60s.
	Interval time.Duration
	// MaxModels caps distinct model label values; later models are counted
	// as "other". Default 200. The same cap applies to teams.
	MaxModels int
	// DisableRuntime leaves the Go runtime and process collectors out.
	DisableRuntime bool
}

// Telemetry is the handle the gateway holds. A nil *Telemetry is valid and
// does nothing.
type Telemetry struct {
	tracer    trace.Tracer
	logger    otellog.Logger
	tp        *sdktrace.TracerProvider
	prop      propagation.TextMapPropagator
	metrics   *metrics
	live      *Live
	shutdowns []func(context.Context) error
}

// New builds telemetry from cfg. On error nothing is left running.
func New(ctx context.Context, cfg Config) (*Telemetry, error) {
	t := &Telemetry{prop: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})}
	maxModels := cfg.Metrics.MaxModels
	if maxModels <= 0 {
		maxModels = 200
	}
	t.live = newLive()
	t.metrics = newMetrics(maxModels, !cfg.Metrics.DisableRuntime, t.live)

	sdkDisabled := envBool("OTEL_SDK_DISABLED")
	res, err := buildResource(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	if err := t.setupTraces(ctx, cfg.Traces, res, sdkDisabled); err != nil {
		return nil, err
	}
	if cfg.Logs.OTLP && !sdkDisabled {
		kind := cfg.Traces.Exporter
		if kind == "" {
			kind = exporterFromEnv(false)
		}
		if err := t.setupLogs(ctx, cfg.Logs, kind, res); err != nil {
			_ = t.Shutdown(ctx)
			return nil, err
		}
	}
	pushMetrics := cfg.Metrics.OTLP || strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_METRICS_EXPORTER")), "otlp")
	if pushMetrics && !sdkDisabled {
		stop, err := startMetricPush(ctx, cfg.Metrics, res, t.metrics.reg)
		if err != nil {
			_ = t.Shutdown(ctx)
			return nil, err
		}
		t.shutdowns = append(t.shutdowns, stop)
	}
	return t, nil
}

// Shutdown flushes pending spans, log records and metric pushes and stops exporters.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	var errs []error
	for i := len(t.shutdowns) - 1; i >= 0; i-- {
		if err := t.shutdowns[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	t.shutdowns = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("telemetry: shutdown: %w", err)
	}
	return nil
}

// Ratio returns a pointer to r, for Traces.SampleRatio.
func Ratio(r float64) *float64 { return &r }

// TracingEnabled reports whether spans are being produced.
func (t *Telemetry) TracingEnabled() bool { return t != nil && t.tracer != nil }

func (t *Telemetry) setupTraces(ctx context.Context, cfg Traces, res *resource.Resource, sdkDisabled bool) error {
	kind := cfg.Exporter
	if kind == "" {
		kind = exporterFromEnv(sdkDisabled)
	}
	if kind == ExporterNone && cfg.Recorder == nil {
		return nil
	}
	// Decided before any exporter exists, so a bad setting leaks nothing.
	sampler, err := samplerFor(cfg.SampleRatio)
	if err != nil {
		return err
	}
	if kind == ExporterOTLPHTTP && leanConfigured(cfg) {
		if ratio, ok := leanSampling(cfg.SampleRatio); ok {
			ep, err := parseEndpoint(cfg.Endpoint, cfg.Insecure, "/v1/traces")
			if err != nil {
				return fmt.Errorf("telemetry: traces: %w", err)
			}
			scheme := "https"
			if ep.insecure {
				scheme = "http"
			}
			b := newSpanBatcher(scheme+"://"+ep.hostport+ep.path, cfg.Headers, res, tracerName)
			t.tracer = newLeanTracer(ratio, b)
			t.shutdowns = append(t.shutdowns, b.Shutdown)
			return nil
		}
	}
	var opts []sdktrace.TracerProviderOption
	switch kind {
	case ExporterNone:
	case ExporterOTLPGRPC, ExporterOTLPHTTP, ExporterStdout:
		exp, err := newSpanExporter(ctx, kind, cfg)
		if err != nil {
			return err
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	default:
		return fmt.Errorf("telemetry: traces: unknown exporter %q (want none, otlp-grpc, otlp-http or stdout)", kind)
	}
	if cfg.Recorder != nil {
		opts = append(opts, sdktrace.WithSpanProcessor(cfg.Recorder.rec))
	}
	if len(opts) == 0 {
		return nil
	}
	opts = append(opts, sdktrace.WithResource(res), sdktrace.WithSampler(sampler))
	t.tp = sdktrace.NewTracerProvider(opts...)
	t.tracer = t.tp.Tracer(tracerName)
	t.shutdowns = append(t.shutdowns, t.tp.Shutdown)
	return nil
}

// flushTraces exports the spans queued so far and waits for the export.
func (t *Telemetry) flushTraces(ctx context.Context) error {
	if lt, ok := t.tracer.(*leanTracer); ok {
		return lt.out.Flush(ctx)
	}
	if t.tp != nil {
		return t.tp.ForceFlush(ctx)
	}
	return nil
}

// tracerName is the instrumentation scope of sluice's spans.
const tracerName = "github.com/sluice-gw/sluice/host/telemetry"

// leanConfigured reports whether the lean tracer (lean.go) can serve an OTLP/HTTP config:
// the endpoint comes from the config, no test Recorder is attached, and the environment tunes
// neither the OTLP exporter (headers, TLS, compression, timeouts) nor the batch processor,
// which only the SDK reads. SLUICE_TRACES_SDK=true always picks the SDK.
func leanConfigured(cfg Traces) bool {
	if cfg.Recorder != nil || cfg.Endpoint == "" || envBool("SLUICE_TRACES_SDK") {
		return false
	}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "OTEL_EXPORTER_OTLP_ENDPOINT", k == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
			k == "OTEL_EXPORTER_OTLP_PROTOCOL", k == "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL":
		case strings.HasPrefix(k, "OTEL_EXPORTER_OTLP_"), strings.HasPrefix(k, "OTEL_BSP_"):
			return false
		}
	}
	return true
}

// samplerFor picks the sampler: a configured ratio (parent-based), else
// OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG, else parent-based 1.0.
// Parent-based means a caller's sampled flag in traceparent is obeyed.
func samplerFor(ratio *float64) (sdktrace.Sampler, error) {
	if ratio != nil {
		if !(*ratio >= 0 && *ratio <= 1) { // NaN fails too
			return nil, fmt.Errorf("telemetry: traces: sample ratio %v outside [0,1]", *ratio)
		}
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(*ratio)), nil
	}
	arg := 1.0
	if raw := strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER_ARG")); raw != "" {
		v, err := strconv.ParseFloat(raw, 64)
		if err != nil || v < 0 || v > 1 {
			return nil, fmt.Errorf("telemetry: traces: OTEL_TRACES_SAMPLER_ARG %q is not a ratio in [0,1]", raw)
		}
		arg = v
	}
	switch name := strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_SAMPLER"))); name {
	case "", "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(arg)), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(arg), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	default:
		return nil, fmt.Errorf("telemetry: traces: OTEL_TRACES_SAMPLER %q not supported", name)
	}
}

// exporterFromEnv maps the standard variables onto an exporter name when
// the config does not choose one.
func exporterFromEnv(sdkDisabled bool) string {
	if sdkDisabled {
		return ExporterNone
	}
	switch strings.ToLower(strings.TrimSpace(os.Getenv("OTEL_TRACES_EXPORTER"))) {
	case "none":
		return ExporterNone
	case "console", "stdout":
		return ExporterStdout
	case "otlp":
		return otlpKindFromEnv()
	}
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" {
		return otlpKindFromEnv()
	}
	return ExporterNone
}

func otlpKindFromEnv() string {
	p := os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if p == "" {
		p = os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	if strings.TrimSpace(strings.ToLower(p)) == "grpc" {
		return ExporterOTLPGRPC
	}
	return ExporterOTLPHTTP
}

func buildResource(ctx context.Context, cfg Config) (*resource.Resource, error) {
	name := cfg.ServiceName
	if name == "" {
		name = os.Getenv("OTEL_SERVICE_NAME")
	}
	if name == "" {
		name = "sluice"
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", name)}
	if cfg.Version != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.Version))
	}
	// Env first so the resolved name above (config beats env) wins.
	return resource.New(ctx, resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithAttributes(attrs...))
}

func envBool(name string) bool {
	v, err := strconv.ParseBool(strings.TrimSpace(os.Getenv(name)))
	return err == nil && v
}
