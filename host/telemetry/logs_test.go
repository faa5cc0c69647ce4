package telemetry

import (
	"context"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/grpc"
)

// logSink receives OTLP/gRPC logs and spans.
type logSink struct {
	collogspb.UnimplementedLogsServiceServer
	mu      sync.Mutex
	records []*logspb.LogRecord
	spans   map[string]string // span id -> trace id
}

func (s *logSink) Export(_ context.Context, req *collogspb.ExportLogsServiceRequest) (*collogspb.ExportLogsServiceResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rl := range req.GetResourceLogs() {
		for _, sl := range rl.GetScopeLogs() {
			s.records = append(s.records, sl.GetLogRecords()...)
		}
	}
	return &collogspb.ExportLogsServiceResponse{}, nil
}

type logSinkTraces struct {
	coltracepb.UnimplementedTraceServiceServer
	s *logSink
}

func (t logSinkTraces) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				t.s.spans[hex.EncodeToString(sp.GetSpanId())] = hex.EncodeToString(sp.GetTraceId())
			}
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// TestAccessLogHandlerGRPC: records logged through AccessLogHandler reach an OTLP/gRPC
// collector on Shutdown with typed attributes, groups flattened with dots, severity from the
// level and the trace and span ids of the request span in the context.
func TestAccessLogHandlerGRPC(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sink := &logSink{spans: map[string]string{}}
	srv := grpc.NewServer()
	collogspb.RegisterLogsServiceServer(srv, sink)
	coltracepb.RegisterTraceServiceServer(srv, logSinkTraces{s: sink})
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	// The logs follow the traces exporter's protocol when none is set.
	tel, err := New(context.Background(), Config{
		Traces: Traces{Exporter: ExporterOTLPGRPC, Endpoint: lis.Addr().String(), Insecure: true, SampleRatio: Ratio(1)},
		Logs:   Logs{OTLP: true, Endpoint: "http://" + lis.Addr().String(), Interval: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := tel.AccessLogHandler()
	if h == nil {
		t.Fatal("no handler with OTLP logs on")
	}
	r := httptest.NewRequest("POST", "/v1/chat/completions", nil)
	ctx, span := tel.StartRequest(r.Context(), r, "/v1/chat/completions")
	log := slog.New(h).With("replica", "a").WithGroup("call")
	log.LogAttrs(ctx, slog.LevelWarn, "request",
		slog.String("request_id", "r-1"), slog.Int("status", 502), slog.Float64("latency_ms", 12.5),
		slog.Bool("stream", true), slog.Duration("ttft", 1500*time.Microsecond), slog.Group("usage", slog.Int64("prompt_tokens", 7)))
	span.End()
	slog.New(h).Info("no span")
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.records) != 2 {
		t.Fatalf("got %d records, want 2", len(sink.records))
	}
	rec := sink.records[0]
	if rec.GetSeverityNumber() != logspb.SeverityNumber_SEVERITY_NUMBER_WARN || rec.GetSeverityText() != "WARN" || rec.GetBody().GetStringValue() != "request" || rec.GetEventName() != "sluice.access" {
		t.Errorf("record header: %v", rec)
	}
	got := map[string]any{}
	for _, kv := range rec.GetAttributes() {
		v := kv.GetValue()
		switch {
		case v.GetStringValue() != "":
			got[kv.GetKey()] = v.GetStringValue()
		case v.GetIntValue() != 0:
			got[kv.GetKey()] = v.GetIntValue()
		case v.GetDoubleValue() != 0:
			got[kv.GetKey()] = v.GetDoubleValue()
		default:
			got[kv.GetKey()] = v.GetBoolValue()
		}
	}
	want := map[string]any{
		"replica": "a", "call.request_id": "r-1", "call.status": int64(502), "call.latency_ms": 12.5,
		"call.stream": true, "call.ttft": 1.5,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("attribute %s = %#v, want %#v (all: %v)", k, got[k], w, got)
		}
	}
	var usage *logspb.LogRecord
	for _, kv := range rec.GetAttributes() {
		if kv.GetKey() == "call.usage" {
			usage = rec
			if m := kv.GetValue().GetKvlistValue().GetValues(); len(m) != 1 || m[0].GetKey() != "prompt_tokens" || m[0].GetValue().GetIntValue() != 7 {
				t.Errorf("group attribute: %v", kv)
			}
		}
	}
	if usage == nil {
		t.Errorf("no call.usage group in %v", got)
	}
	tid, sid := hex.EncodeToString(rec.GetTraceId()), hex.EncodeToString(rec.GetSpanId())
	if sink.spans[sid] != tid || tid == "" {
		t.Errorf("record trace %s span %s; exported spans %v", tid, sid, sink.spans)
	}
	if len(sink.records[1].GetTraceId()) != 0 {
		t.Errorf("a record without a span carries trace id %x", sink.records[1].GetTraceId())
	}
}

func TestAccessLogHandlerOff(t *testing.T) {
	tel, err := New(context.Background(), Config{Metrics: Metrics{DisableRuntime: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	if tel.AccessLogHandler() != nil {
		t.Fatal("a handler with OTLP logs off")
	}
	var nilTel *Telemetry
	if nilTel.AccessLogHandler() != nil {
		t.Fatal("a handler from nil telemetry")
	}
	t.Setenv("OTEL_SDK_DISABLED", "true")
	tel2, err := New(context.Background(), Config{Logs: Logs{OTLP: true}, Metrics: Metrics{DisableRuntime: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer tel2.Shutdown(context.Background())
	if tel2.AccessLogHandler() != nil {
		t.Fatal("OTEL_SDK_DISABLED did not turn the export off")
	}
}

func TestLogProtocol(t *testing.T) {
	for _, tc := range []struct {
		cfg, logsEnv, env, traces, want string
	}{
		{want: "http"},
		{traces: ExporterOTLPGRPC, want: "grpc"},
		{env: "grpc", want: "grpc"},
		{env: "grpc", logsEnv: "http/protobuf", want: "http"},
		{cfg: "grpc", logsEnv: "http/protobuf", want: "grpc"},
		{env: "http/protobuf", traces: ExporterOTLPGRPC, want: "http"},
	} {
		t.Setenv("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", tc.logsEnv)
		t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", tc.env)
		if got := logProtocol(Logs{Protocol: tc.cfg}, tc.traces); got != tc.want {
			t.Errorf("%+v: %s", tc, got)
		}
	}
}
