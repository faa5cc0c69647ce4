package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
)

// Logs configures OTLP export of log records (the access log).
type Logs struct {
	// OTLP turns the export on. Off, LogHandler returns nil.
	OTLP bool
	// Protocol is "grpc" or "http"; empty reads OTEL_EXPORTER_OTLP_LOGS_PROTOCOL, then
	// OTEL_EXPORTER_OTLP_PROTOCOL, then follows the traces exporter, then http.
	Protocol string
	// Endpoint, Insecure and Headers are as for Traces; an empty Endpoint lets the exporter read
	// OTEL_EXPORTER_OTLP_LOGS_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT.
	Endpoint string
	Insecure bool
	Headers  map[string]string
	// Interval is the longest a record waits in the batch; OTEL_BLRP_SCHEDULE_DELAY (ms), then 1s.
	Interval time.Duration
}

// accessEventName names access records for collectors that route on it.
const accessEventName = "sluice.access"

func (t *Telemetry) setupLogs(ctx context.Context, cfg Logs, traceKind string, res *resource.Resource) error {
	exp, err := newLogExporter(ctx, cfg, traceKind)
	if err != nil {
		return err
	}
	var opts []sdklog.BatchProcessorOption
	if cfg.Interval > 0 {
		opts = append(opts, sdklog.WithExportInterval(cfg.Interval))
	}
	// The batch processor queues in OnEmit and exports on its own goroutine, so a slow or
	// absent collector never holds a request up; Shutdown exports what is queued.
	lp := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(sdklog.NewBatchProcessor(exp, opts...)))
	t.logger = lp.Logger("github.com/sluice-gw/sluice/host/telemetry")
	t.shutdowns = append(t.shutdowns, lp.Shutdown)
	return nil
}

func logProtocol(cfg Logs, traceKind string) string {
	for _, p := range []string{cfg.Protocol, os.Getenv("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL"), os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL")} {
		if p = strings.ToLower(strings.TrimSpace(p)); p != "" {
			if p == "grpc" {
				return "grpc"
			}
			return "http"
		}
	}
	if traceKind == ExporterOTLPGRPC {
		return "grpc"
	}
	return "http"
}

func newLogExporter(ctx context.Context, cfg Logs, traceKind string) (sdklog.Exporter, error) {
	if logProtocol(cfg, traceKind) == "grpc" {
		var opts []otlploggrpc.Option
		if cfg.Endpoint != "" {
			ep, err := parseEndpoint(cfg.Endpoint, cfg.Insecure, "")
			if err != nil {
				return nil, fmt.Errorf("telemetry: logs: %w", err)
			}
			opts = append(opts, otlploggrpc.WithEndpoint(ep.hostport))
			if ep.insecure {
				opts = append(opts, otlploggrpc.WithInsecure())
			}
		} else if cfg.Insecure {
			opts = append(opts, otlploggrpc.WithInsecure())
		}
		if len(cfg.Headers) > 0 {
			opts = append(opts, otlploggrpc.WithHeaders(cfg.Headers))
		}
		exp, err := otlploggrpc.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("telemetry: logs: otlp-grpc: %w", err)
		}
		return exp, nil
	}
	var opts []otlploghttp.Option
	if cfg.Endpoint != "" {
		ep, err := parseEndpoint(cfg.Endpoint, cfg.Insecure, "/v1/logs")
		if err != nil {
			return nil, fmt.Errorf("telemetry: logs: %w", err)
		}
		opts = append(opts, otlploghttp.WithEndpoint(ep.hostport), otlploghttp.WithURLPath(ep.path))
		if ep.insecure {
			opts = append(opts, otlploghttp.WithInsecure())
		}
	} else if cfg.Insecure {
		opts = append(opts, otlploghttp.WithInsecure())
	}
	if len(cfg.Headers) > 0 {
		opts = append(opts, otlploghttp.WithHeaders(cfg.Headers))
	}
	exp, err := otlploghttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("telemetry: logs: otlp-http: %w", err)
	}
	return exp, nil
}

// AccessLogHandler is an slog.Handler that sends each record as an OTLP log record, its
// attributes as log attributes and the span of the context passed to the logging call as its
// trace and span ids. It is nil when OTLP log export is off.
func (t *Telemetry) AccessLogHandler() slog.Handler {
	if t == nil || t.logger == nil {
		return nil
	}
	return &otlpHandler{logger: t.logger}
}

type otlpHandler struct {
	logger otellog.Logger
	attrs  []attribute.KeyValue
	group  string
}

func (h *otlpHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *otlpHandler) Handle(ctx context.Context, r slog.Record) error {
	var rec otellog.Record
	rec.SetEventName(accessEventName)
	rec.SetTimestamp(r.Time)
	rec.SetObservedTimestamp(time.Now())
	rec.SetSeverity(severity(r.Level))
	rec.SetSeverityText(r.Level.String())
	rec.SetBody(attribute.StringValue(r.Message))
	kvs := make([]attribute.KeyValue, 0, len(h.attrs)+r.NumAttrs())
	kvs = append(kvs, h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		if kv, ok := h.keyValue(a); ok {
			kvs = append(kvs, kv)
		}
		return true
	})
	rec.AddAttributes(kvs...)
	h.logger.Emit(ctx, rec)
	return nil
}

func (h *otlpHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := &otlpHandler{logger: h.logger, group: h.group, attrs: append([]attribute.KeyValue(nil), h.attrs...)}
	for _, a := range as {
		if kv, ok := h.keyValue(a); ok {
			n.attrs = append(n.attrs, kv)
		}
	}
	return n
}

func (h *otlpHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	g := name
	if h.group != "" {
		g = h.group + "." + name
	}
	return &otlpHandler{logger: h.logger, attrs: h.attrs, group: g}
}

func (h *otlpHandler) keyValue(a slog.Attr) (attribute.KeyValue, bool) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return attribute.KeyValue{}, false
	}
	key := a.Key
	if h.group != "" {
		key = h.group + "." + key
	}
	return attribute.KeyValue{Key: attribute.Key(key), Value: logValue(a.Value)}, true
}

func logValue(v slog.Value) attribute.Value {
	switch v.Kind() {
	case slog.KindString:
		return attribute.StringValue(v.String())
	case slog.KindInt64:
		return attribute.Int64Value(v.Int64())
	case slog.KindUint64:
		return attribute.Int64Value(int64(v.Uint64()))
	case slog.KindFloat64:
		return attribute.Float64Value(v.Float64())
	case slog.KindBool:
		return attribute.BoolValue(v.Bool())
	case slog.KindDuration:
		return attribute.Float64Value(float64(v.Duration().Microseconds()) / 1000)
	case slog.KindTime:
		return attribute.StringValue(v.Time().UTC().Format(time.RFC3339Nano))
	case slog.KindGroup:
		as := v.Group()
		kvs := make([]attribute.KeyValue, 0, len(as))
		for _, a := range as {
			kvs = append(kvs, attribute.KeyValue{Key: attribute.Key(a.Key), Value: logValue(a.Value.Resolve())})
		}
		return attribute.MapValue(kvs...)
	default:
		return attribute.StringValue(v.String())
	}
}

func severity(l slog.Level) otellog.Severity {
	switch {
	case l >= slog.LevelError:
		return otellog.SeverityError
	case l >= slog.LevelWarn:
		return otellog.SeverityWarn
	case l >= slog.LevelInfo:
		return otellog.SeverityInfo
	default:
		return otellog.SeverityDebug
	}
}
