package e2e

import (
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
)

// otlpCollector is a fake OTLP/HTTP collector on a real socket: it decodes the protobuf
// export requests for logs and traces and keeps what it got.
type otlpCollector struct {
	srv   *httptest.Server
	mu    sync.Mutex
	logs  []accessRecord
	spans map[string]string // span id -> trace id, both hex
}

// accessRecord is one received log record, flattened.
type accessRecord struct {
	Service, Event, Body, Severity string
	TraceID, SpanID                string
	Attrs                          map[string]any
}

func newOTLPCollector(t *testing.T) *otlpCollector {
	c := &otlpCollector{spans: map[string]string{}}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *otlpCollector) serve(w http.ResponseWriter, r *http.Request) {
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
	if err != nil || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want an application/x-protobuf body", 400)
		return
	}
	var resp proto.Message
	switch r.URL.Path {
	case "/v1/logs":
		var req collogspb.ExportLogsServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		c.mu.Lock()
		for _, rl := range req.ResourceLogs {
			service := ""
			for _, kv := range rl.GetResource().GetAttributes() {
				if kv.Key == "service.name" {
					service = kv.Value.GetStringValue()
				}
			}
			for _, sl := range rl.ScopeLogs {
				for _, lr := range sl.LogRecords {
					rec := accessRecord{Service: service, Event: lr.EventName, Body: lr.GetBody().GetStringValue(), Severity: lr.SeverityText,
						TraceID: hex.EncodeToString(lr.TraceId), SpanID: hex.EncodeToString(lr.SpanId), Attrs: map[string]any{}}
					for _, kv := range lr.Attributes {
						rec.Attrs[kv.Key] = anyValue(kv.Value)
					}
					c.logs = append(c.logs, rec)
				}
			}
		}
		c.mu.Unlock()
		resp = &collogspb.ExportLogsServiceResponse{}
	case "/v1/traces":
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		c.mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					c.spans[hex.EncodeToString(s.SpanId)] = hex.EncodeToString(s.TraceId)
				}
			}
		}
		c.mu.Unlock()
		resp = &coltracepb.ExportTraceServiceResponse{}
	default:
		http.NotFound(w, r)
		return
	}
	out, _ := proto.Marshal(resp)
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

func anyValue(v *commonpb.AnyValue) any {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		return x.DoubleValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	}
	return fmt.Sprint(v)
}

func (c *otlpCollector) records() []accessRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]accessRecord(nil), c.logs...)
}

func (c *otlpCollector) traceOf(spanID string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.spans[spanID]
}

// TestAccessLogOTLP: with [log] access_otlp = true every access record reaches an OTLP/HTTP
// collector as a log record carrying the line's fields as attributes and the request span's
// trace and span ids, while the local access log keeps writing (or alone, with access = "off");
// records still queued in the batch when SIGTERM arrives are exported before the process exits.
func TestAccessLogOTLP(t *testing.T) {
	up := fakeprovider.NewOpenAI(t)
	cfg := func(col *otlpCollector, access string) string {
		c := upstreamConfig(up.URL, fmt.Sprintf(`
[telemetry]
service_name = "sluice-access-test"
traces = "otlp-http"
endpoint = %q

[pricing."up/gpt-test"]
input = 1.0
output = 2.0
`, col.srv.URL))
		return strings.Replace(c, `level = "debug"`, `level = "info"`+"\naccess = \""+access+"\"\naccess_otlp = true", 1)
	}
	check := func(t *testing.T, col *otlpCollector, s *Sluice, prefix string, n int, local bool) {
		t.Helper()
		byID := map[string]accessRecord{}
		for _, r := range col.records() {
			if id, _ := r.Attrs["request_id"].(string); strings.HasPrefix(id, prefix) {
				if _, dup := byID[id]; dup {
					t.Errorf("record %s exported twice", id)
				}
				byID[id] = r
			}
		}
		if len(byID) != n {
			t.Fatalf("collector got %d of %d access records", len(byID), n)
		}
		for i := 0; i < n; i++ {
			id := fmt.Sprintf("%s-%d", prefix, i)
			r, ok := byID[id]
			if !ok {
				t.Fatalf("no record for %s", id)
			}
			if r.Service != "sluice-access-test" || r.Event != "sluice.access" || r.Body != "request" || r.Severity != "INFO" {
				t.Errorf("%s: service %q event %q body %q severity %q", id, r.Service, r.Event, r.Body, r.Severity)
			}
			a := r.Attrs
			if a["model"] != "up/gpt-test" || a["provider"] != "up" || a["upstream_model"] != "gpt-test" || a["status"] != int64(200) ||
				a["path"] != "/v1/chat/completions" || a["method"] != "POST" || a["team"] != "otlp-team" {
				t.Errorf("%s: attributes %v", id, a)
			}
			if lat, _ := a["latency_ms"].(float64); lat <= 0 {
				t.Errorf("%s: latency_ms %v", id, a["latency_ms"])
			}
			if p, _ := a["prompt_tokens"].(int64); p <= 0 {
				t.Errorf("%s: prompt_tokens %v", id, a["prompt_tokens"])
			}
			if c, _ := a["completion_tokens"].(int64); c <= 0 {
				t.Errorf("%s: completion_tokens %v", id, a["completion_tokens"])
			}
			if cost, _ := a["cost_usd"].(float64); cost <= 0 {
				t.Errorf("%s: cost_usd %v", id, a["cost_usd"])
			}
			if len(r.TraceID) != 32 || len(r.SpanID) != 16 || r.TraceID == strings.Repeat("0", 32) {
				t.Errorf("%s: trace %q span %q", id, r.TraceID, r.SpanID)
			}
			if !local && strings.Contains(s.Logs(), "request_id="+id) {
				t.Errorf("%s: a local access line with access = \"off\"", id)
			}
			if _, dup := a["trace_id"]; dup {
				t.Errorf("%s: trace_id duplicated as an attribute", id)
			}
			// The local access line still goes out, linked to the same span.
			if local && (!strings.Contains(s.Logs(), "request_id="+id+" ") || !strings.Contains(s.Logs(), "span_id="+r.SpanID)) {
				t.Errorf("%s: no local access line with span %s", id, r.SpanID)
			}
		}
	}
	send := func(t *testing.T, s *Sluice, prefix string, n int) {
		t.Helper()
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				id := fmt.Sprintf("%s-%d", prefix, i)
				code, _, b, err := quietPost(s.URL+"/v1/chat/completions", chatBody("up/gpt-test", id), "X-Request-Id", id, "X-Sluice-Team", "otlp-team")
				if err != nil || code != 200 {
					t.Errorf("%s: %d %s %v", id, code, b, err)
				}
			}(i)
		}
		wg.Wait()
	}

	t.Run("batched while serving", func(t *testing.T) {
		col := newOTLPCollector(t)
		s := startSluice(t, cfg(col, "stdout"), "OTEL_BLRP_SCHEDULE_DELAY=100", "OTEL_BSP_SCHEDULE_DELAY=100")
		const n = 40
		send(t, s, "live", n)
		deadline := time.Now().Add(10 * time.Second)
		for len(col.records()) < n && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		check(t, col, s, "live", n, true)
		// Each record names the request's own span, exported to the same collector.
		deadline = time.Now().Add(10 * time.Second)
		for _, r := range col.records() {
			for col.traceOf(r.SpanID) == "" && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if got := col.traceOf(r.SpanID); got != r.TraceID {
				t.Fatalf("record %v: span %s has trace %q in the exported spans, want %s", r.Attrs["request_id"], r.SpanID, got, r.TraceID)
			}
		}
	})

	t.Run("flushed on SIGTERM", func(t *testing.T) {
		col := newOTLPCollector(t)
		// A minute between exports: nothing leaves before shutdown unless it is flushed. The
		// local access log is off, so the export is the only record.
		s := startSluice(t, cfg(col, "off"), "OTEL_BLRP_SCHEDULE_DELAY=60000")
		const n = 60
		send(t, s, "drain", n)
		time.Sleep(300 * time.Millisecond)
		if got := len(col.records()); got != 0 {
			t.Fatalf("%d records exported before the batch was due", got)
		}
		s.Stop(t)
		if s.cmd.ProcessState == nil || !s.cmd.ProcessState.Success() {
			t.Fatalf("sluice did not exit cleanly: %v", s.cmd.ProcessState)
		}
		check(t, col, s, "drain", n, false)
	})
}
