package telemetry

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpSink is a minimal OTLP/HTTP receiver on a real socket that keeps
// what it is sent.
type otlpSink struct {
	srv     *httptest.Server
	mu      sync.Mutex
	traces  []*coltracepb.ExportTraceServiceRequest
	metrics []*colmetricpb.ExportMetricsServiceRequest
	decode  bool
}

func newOTLPSink(tb testing.TB, decode bool) *otlpSink {
	s := &otlpSink{decode: decode}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.srv.Close)
	return s
}

func (s *otlpSink) serve(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		body = gz
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	if s.decode {
		switch r.URL.Path {
		case "/v1/traces":
			var req coltracepb.ExportTraceServiceRequest
			if err := proto.Unmarshal(b, &req); err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			s.mu.Lock()
			s.traces = append(s.traces, &req)
			s.mu.Unlock()
		case "/v1/metrics":
			var req colmetricpb.ExportMetricsServiceRequest
			if err := proto.Unmarshal(b, &req); err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			s.mu.Lock()
			s.metrics = append(s.metrics, &req)
			s.mu.Unlock()
		default:
			http.NotFound(w, r)
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.WriteHeader(http.StatusOK)
}

// spanNames returns every exported span name with its resource's
// service.name.
func (s *otlpSink) spanNames() (names []string, services []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, req := range s.traces {
		for _, rs := range req.GetResourceSpans() {
			svc := ""
			for _, a := range rs.GetResource().GetAttributes() {
				if a.GetKey() == "service.name" {
					svc = a.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, sp := range ss.GetSpans() {
					names = append(names, sp.GetName())
					services = append(services, svc)
				}
			}
		}
	}
	return names, services
}
