package telemetry

import (
	"context"
	"net"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
)

// grpcSink is an OTLP/gRPC receiver on a real socket.
type grpcSink struct {
	coltracepb.UnimplementedTraceServiceServer
	mu      sync.Mutex
	spans   []string
	metrics []string
}

func (g *grpcSink) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				g.spans = append(g.spans, s.GetName())
			}
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// metricService receives OTLP/gRPC metrics into the same sink.
type metricService struct {
	colmetricpb.UnimplementedMetricsServiceServer
	g *grpcSink
}

func (m *metricService) Export(_ context.Context, req *colmetricpb.ExportMetricsServiceRequest) (*colmetricpb.ExportMetricsServiceResponse, error) {
	m.g.mu.Lock()
	defer m.g.mu.Unlock()
	for _, rm := range req.GetResourceMetrics() {
		for _, sm := range rm.GetScopeMetrics() {
			for _, x := range sm.GetMetrics() {
				m.g.metrics = append(m.g.metrics, x.GetName())
			}
		}
	}
	return &colmetricpb.ExportMetricsServiceResponse{}, nil
}

func TestOTLPGRPCExport(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sink := &grpcSink{}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, sink)
	colmetricpb.RegisterMetricsServiceServer(srv, &metricService{g: sink})
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	tel, err := New(context.Background(), Config{
		Traces:  Traces{Exporter: ExporterOTLPGRPC, Endpoint: lis.Addr().String(), Insecure: true, SampleRatio: Ratio(1)},
		Metrics: Metrics{OTLP: true, Protocol: "grpc", Endpoint: "http://" + lis.Addr().String(), Interval: time.Hour, DisableRuntime: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/v1/chat/completions", nil)
	ctx, s := tel.StartRequest(r.Context(), r, "/v1/chat/completions")
	_, up := tel.StartUpstream(ctx, "openai/gpt-4o-mini#0", 1)
	up.End()
	s.End()
	tel.RecordCache(true)
	// Shutdown flushes both the span batch and a final metric collection.
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.spans) != 2 || sink.spans[0] != "upstream" {
		t.Errorf("spans over gRPC: %v", sink.spans)
	}
	found := false
	for _, m := range sink.metrics {
		found = found || m == "sluice_cache_hits_total"
	}
	if !found {
		t.Errorf("metrics over gRPC: %v", sink.metrics)
	}
}
