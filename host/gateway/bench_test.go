package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system CPU time so far: on a shared machine it varies
// much less than wall time per op.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchServe sends one request through the whole gateway (a real upstream socket, an
// in-memory client side) per iteration.
func benchServe(b *testing.B, tb *testbed, body string, header ...string) {
	tb.gw.stageHook = nil // the test hook records; the server has none
	b.ReportAllocs()
	cpu0 := cpuTime()
	defer func() { b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op") }()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		rec := httptest.NewRecorder()
		tb.gw.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
}

func BenchmarkGatewayPlain(b *testing.B) {
	tb := newTestbed(b, "")
	benchServe(b, tb, chatBody("a/m", false))
}

func BenchmarkGatewayStream(b *testing.B) {
	tb := newTestbed(b, "")
	benchServe(b, tb, chatBody("a/m", true))
}

// Every stage on: a virtual key, a limit tier and the cache (misses: no-store keeps it cold).
func BenchmarkGatewayFull(b *testing.B) {
	tb := newTestbed(b, strings.NewReplacer(`"100/minute"`, `"1000000/minute"`, "burst = 100", "burst = 1000000").Replace(fullConfig))
	benchServe(b, tb, chatBody("a/m", false), "Authorization", "Bearer sk-test-1", "Cache-Control", "no-store")
}

// A stream of 100 chunks that reaches the gateway in one piece: the relay's cost per chunk.
func BenchmarkGatewayStreamBurst(b *testing.B) {
	var body strings.Builder
	for range 100 {
		body.WriteString("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"word \"},\"finish_reason\":null}]}\n\n")
	}
	body.WriteString("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n")
	body.WriteString("data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":100,\"total_tokens\":103}}\n\ndata: [DONE]\n\n")
	stream := []byte(body.String())
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write(stream)
	}))
	defer up.Close()
	tb := newTestbed(b, "[providers.burst]\nkind = \"openai\"\nbase_url = \""+up.URL+"\"\napi_key = \"k\"\n")
	benchServe(b, tb, chatBody("burst/m", true))
}
