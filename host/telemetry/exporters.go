package telemetry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// endpoint is a parsed Endpoint setting: host:port plus, for URLs, the
// path prefix and whether the scheme asks for plain text.
type endpoint struct {
	hostport string
	path     string
	insecure bool
}

// parseEndpoint accepts "host:port" or "http(s)://host:port[/prefix]".
// OTLP/HTTP appends the signal path ("/v1/traces") to a URL, as
// OTEL_EXPORTER_OTLP_ENDPOINT does, unless it is already there.
func parseEndpoint(raw string, insecure bool, signalPath string) (endpoint, error) {
	if !strings.Contains(raw, "://") {
		return endpoint{hostport: raw, path: signalPath, insecure: insecure}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, fmt.Errorf("endpoint %q: %w", raw, err)
	}
	if u.Host == "" {
		return endpoint{}, fmt.Errorf("endpoint %q: no host", raw)
	}
	p := strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(p, signalPath) {
		p += signalPath
	}
	return endpoint{hostport: u.Host, path: p, insecure: u.Scheme == "http"}, nil
}

func newSpanExporter(ctx context.Context, kind string, cfg Traces) (sdktrace.SpanExporter, error) {
	switch kind {
	case ExporterStdout:
		return &stdoutExporter{w: os.Stdout}, nil
	case ExporterOTLPHTTP:
		var opts []otlptracehttp.Option
		if cfg.Endpoint != "" {
			ep, err := parseEndpoint(cfg.Endpoint, cfg.Insecure, "/v1/traces")
			if err != nil {
				return nil, fmt.Errorf("telemetry: traces: %w", err)
			}
			opts = append(opts, otlptracehttp.WithEndpoint(ep.hostport), otlptracehttp.WithURLPath(ep.path))
			if ep.insecure {
				opts = append(opts, otlptracehttp.WithInsecure())
			}
		} else if cfg.Insecure {
			opts = append(opts, otlptracehttp.WithInsecure())
		}
		if len(cfg.Headers) > 0 {
			opts = append(opts, otlptracehttp.WithHeaders(cfg.Headers))
		}
		exp, err := otlptracehttp.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("telemetry: traces: otlp-http: %w", err)
		}
		return exp, nil
	case ExporterOTLPGRPC:
		var opts []otlptracegrpc.Option
		if cfg.Endpoint != "" {
			ep, err := parseEndpoint(cfg.Endpoint, cfg.Insecure, "")
			if err != nil {
				return nil, fmt.Errorf("telemetry: traces: %w", err)
			}
			opts = append(opts, otlptracegrpc.WithEndpoint(ep.hostport))
			if ep.insecure {
				opts = append(opts, otlptracegrpc.WithInsecure())
			}
		} else if cfg.Insecure {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		if len(cfg.Headers) > 0 {
			opts = append(opts, otlptracegrpc.WithHeaders(cfg.Headers))
		}
		exp, err := otlptracegrpc.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("telemetry: traces: otlp-grpc: %w", err)
		}
		return exp, nil
	}
	return nil, fmt.Errorf("telemetry: traces: unknown exporter %q", kind)
}

// stdoutExporter writes one JSON object per span. It is ours rather than
// the upstream stdouttrace module to keep the dependency set unchanged and
// the output compact enough to grep.
type stdoutExporter struct {
	mu sync.Mutex
	w  io.Writer
}

type stdoutSpan struct {
	Name       string         `json:"name"`
	TraceID    string         `json:"trace_id"`
	SpanID     string         `json:"span_id"`
	ParentID   string         `json:"parent_id,omitempty"`
	Kind       string         `json:"kind"`
	StartUnix  int64          `json:"start_unix_nano"`
	DurationUS float64        `json:"duration_us"`
	Status     string         `json:"status"`
	Message    string         `json:"status_message,omitempty"`
	Attributes map[string]any `json:"attributes,omitempty"`
}

func (e *stdoutExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	enc := json.NewEncoder(e.w)
	for _, s := range spans {
		out := stdoutSpan{
			Name:       s.Name(),
			TraceID:    s.SpanContext().TraceID().String(),
			SpanID:     s.SpanContext().SpanID().String(),
			Kind:       s.SpanKind().String(),
			StartUnix:  s.StartTime().UnixNano(),
			DurationUS: float64(s.EndTime().Sub(s.StartTime()).Nanoseconds()) / 1e3,
			Status:     statusName(s.Status().Code),
			Message:    s.Status().Description,
			Attributes: attrMap(s.Attributes()),
		}
		if s.Parent().IsValid() {
			out.ParentID = s.Parent().SpanID().String()
		}
		if err := enc.Encode(out); err != nil {
			return fmt.Errorf("telemetry: stdout exporter: %w", err)
		}
	}
	return nil
}

func (e *stdoutExporter) Shutdown(context.Context) error { return nil }
