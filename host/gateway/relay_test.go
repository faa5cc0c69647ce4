package gateway

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type countingWriter struct {
	*httptest.ResponseRecorder
	writes, flushes int
}

func (c *countingWriter) Write(b []byte) (int, error) { c.writes++; return c.ResponseRecorder.Write(b) }
func (c *countingWriter) Flush()                      { c.flushes++ }

// Chunks that reach the gateway together leave in one write and one flush; the client sees
// them all, in order, with the usage chunk sluice asked for stripped.
func TestStreamBurstOneWrite(t *testing.T) {
	var body strings.Builder
	for i := range 5 {
		fmt.Fprintf(&body, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"w%d \"},\"finish_reason\":null}]}\n\n", i)
	}
	body.WriteString("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n")
	body.WriteString("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":5,\"total_tokens\":8}}\n\n")
	body.WriteString("data: [DONE]\n\n")
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte(body.String())) // one write: the whole stream arrives at once
	}))
	defer up.Close()
	tb := newTestbed(t, fmt.Sprintf("[providers.burst]\nkind = \"openai\"\nbase_url = %q\napi_key = \"k\"\n", up.URL))
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(chatBody("burst/m", true)))
	req.Header.Set("Content-Type", "application/json")
	cw := &countingWriter{ResponseRecorder: httptest.NewRecorder()}
	tb.gw.ServeHTTP(cw, req)
	out := cw.Body.String()
	if cw.Code != 200 || strings.Count(out, "data: ") != 7 || !strings.HasSuffix(out, "data: [DONE]\n\n") || strings.Contains(out, `"usage"`) {
		t.Fatalf("%d, stream:\n%s", cw.Code, out)
	}
	for i := range 5 {
		if j := strings.Index(out, fmt.Sprintf("w%d ", i)); j < 0 || i > 0 && j < strings.Index(out, fmt.Sprintf("w%d ", i-1)) {
			t.Fatalf("chunk %d missing or out of order:\n%s", i, out)
		}
	}
	if cw.writes != 1 {
		t.Errorf("%d writes for a stream that arrived at once, want 1", cw.writes)
	}
	if !strings.Contains(tb.access.String(), "completion_tokens=5") {
		t.Errorf("usage from the stripped chunk not accounted:\n%s", tb.access.String())
	}
}
