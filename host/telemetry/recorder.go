package telemetry

import (
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// Recorder keeps finished spans in memory so tests can assert the span
// tree. Install it with Config.Traces.Recorder.
type Recorder struct {
	rec *tracetest.SpanRecorder
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{rec: tracetest.NewSpanRecorder()} }

// RecordedSpan is a finished span in plain types.
type RecordedSpan struct {
	Name string
	// Parent is the parent span's name when the parent was recorded too,
	// "" for a root or a span whose parent came from a remote caller.
	Parent     string
	TraceID    string
	SpanID     string
	ParentID   string // "" for a root span
	Kind       string // "server", "client", "internal", ...
	Attributes map[string]any
	Status     string // "unset", "ok" or "error"
	// StatusMessage is the error description when Status is "error".
	StatusMessage string
}

// Spans returns the spans finished so far, in the order they ended.
func (r *Recorder) Spans() []RecordedSpan {
	ended := r.rec.Ended()
	names := make(map[string]string, len(ended))
	for _, s := range ended {
		names[s.SpanContext().SpanID().String()] = s.Name()
	}
	out := make([]RecordedSpan, 0, len(ended))
	for _, s := range ended {
		rs := RecordedSpan{
			Name:          s.Name(),
			TraceID:       s.SpanContext().TraceID().String(),
			SpanID:        s.SpanContext().SpanID().String(),
			Kind:          s.SpanKind().String(),
			Attributes:    attrMap(s.Attributes()),
			Status:        statusName(s.Status().Code),
			StatusMessage: s.Status().Description,
		}
		if p := s.Parent(); p.IsValid() {
			rs.ParentID = p.SpanID().String()
			rs.Parent = names[rs.ParentID]
		}
		out = append(out, rs)
	}
	return out
}

func statusName(c codes.Code) string {
	switch c {
	case codes.Error:
		return "error"
	case codes.Ok:
		return "ok"
	}
	return "unset"
}

// attrMap converts attributes into plain Go values: string, bool, int64,
// float64 or a slice of one of those.
func attrMap(kvs []attribute.KeyValue) map[string]any {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.AsInterface()
	}
	return m
}
