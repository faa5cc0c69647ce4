package telemetry_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/sluice-gw/sluice/host/telemetry"
)

// The gateway's use of the package for one request: a server span with
// stage and upstream children, propagation to the upstream, metrics and a
// correlated log line. Tests install a Recorder to see the spans.
func Example() {
	rec := telemetry.NewRecorder()
	tel, err := telemetry.New(context.Background(), telemetry.Config{
		ServiceName: "sluice",
		Traces:      telemetry.Traces{Exporter: telemetry.ExporterNone, Recorder: rec},
	})
	if err != nil {
		panic(err)
	}
	defer tel.Shutdown(context.Background())

	var logs bytes.Buffer
	log := slog.New(telemetry.LogHandler(slog.NewTextHandler(&logs, nil)))

	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	ctx, span := tel.StartRequest(r.Context(), r, "/v1/chat/completions")
	span.SetRequest(telemetry.GenAIRequest{System: "openai", Operation: "chat", Model: "gpt-4o-mini"})

	_, auth := tel.StartStage(ctx, "auth")
	auth.End()

	upCtx, up := tel.StartUpstream(ctx, "openai/gpt-4o-mini#0", 1)
	out := http.Header{}
	tel.Inject(upCtx, out) // sent with the upstream request
	up.SetHTTPStatus(200)
	up.End()

	span.SetResponse(telemetry.GenAIResponse{Model: "gpt-4o-mini", InputTokens: 12, OutputTokens: 30, FinishReasons: []string{"stop"}})
	span.SetHTTPStatus(200)
	span.End()
	tel.RecordRequest(telemetry.RequestRecord{Route: "/v1/chat/completions", Provider: "openai", Model: "gpt-4o-mini",
		Status: 200, Duration: 350 * time.Millisecond, InputTokens: 12, OutputTokens: 30, CostUSD: 0.00002})
	log.InfoContext(ctx, "request done")

	for _, s := range rec.Spans() {
		fmt.Printf("%s (parent %q)\n", s.Name, s.Parent)
	}
	fmt.Println("traceparent sent:", out.Get("traceparent") != "")
	fmt.Println("log has trace_id:", strings.Contains(logs.String(), "trace_id="+telemetry.TraceID(ctx)))
	fmt.Println("requests:", tel.Live().Snapshot().Totals.Requests)
	// Output:
	// auth (parent "POST /v1/chat/completions")
	// upstream (parent "POST /v1/chat/completions")
	// POST /v1/chat/completions (parent "")
	// traceparent sent: true
	// log has trace_id: true
	// requests: 1
}
