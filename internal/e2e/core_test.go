package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
)

func upstreamConfig(url string, extra string) string {
	return baseConfig + fmt.Sprintf(`
[providers.up]
kind = "openai"
base_url = %q
api_key = "sk-upstream-secret-123"
models = ["gpt-test"]
idle_timeout = "500ms"

[providers.demo]
chunk_delay = "0s"

[providers.openai]
api_key = "${OPENAI_API_KEY}"
`, url) + extra
}

// reject400 makes the fake upstream answer 400 to model "reject-400".
func reject400(up *fakeprovider.Server) {
	up.Script(func(r fakeprovider.Received) fakeprovider.Reply {
		if r.Model == "reject-400" {
			return fakeprovider.Reply{Status: 400, Body: []byte(`{"error":{"message":"rejected by upstream","type":"invalid_request_error","param":null,"code":"bad"}}`)}
		}
		return fakeprovider.Reply{}
	})
}

func TestNodeSDKCore(t *testing.T) {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123"))
	reject400(up)
	s := startSluice(t, upstreamConfig(up.URL, ""))
	out := node(t, "core.test.mjs", "SLUICE_URL="+s.URL)
	if !strings.Contains(out, "pass 11") {
		t.Fatalf("expected 11 passing node tests:\n%s", out)
	}
	// The gateway strips the injected usage chunk but did ask upstream for usage.
	var injected bool
	for _, r := range up.Requests() {
		if r.Stream && strings.Contains(string(r.Body), `"include_usage":true`) {
			injected = true
		}
		if r.Header.Get("Authorization") != "Bearer sk-upstream-secret-123" {
			t.Errorf("upstream got Authorization %q", r.Header.Get("Authorization"))
		}
		if strings.Contains(string(r.Body), "up/") {
			t.Errorf("provider prefix leaked upstream: %s", r.Body)
		}
	}
	if !injected {
		t.Error("no streamed request asked the upstream for usage")
	}
	if strings.Contains(s.Logs(), "sk-upstream-secret-123") {
		t.Error("the provider key appears in the log")
	}
	if !strings.Contains(s.Logs(), "msg=request") || !strings.Contains(s.Logs(), "prompt_tokens=") {
		t.Error("no access-log line with tokens")
	}
}

func TestNoKeysDefaultConfig(t *testing.T) {
	s := startSluiceArgs(t, []string{"serve", "--listen", "127.0.0.1:0"}, "SLUICE_ADMIN_LISTEN=127.0.0.1:0")
	if code, body := get(t, s.URL+"/health"); code != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("/health: %d %s", code, body)
	}
	code, _, body := post(t, s.URL+"/v1/chat/completions", `{"model":"anthropic/claude-haiku-4-5","messages":[{"role":"user","content":"x"}]}`)
	if code != 503 || !strings.Contains(body, "ANTHROPIC_API_KEY") || !strings.Contains(body, `"error"`) {
		t.Fatalf("unconfigured provider: %d %s", code, body)
	}
	if !strings.Contains(s.Logs(), "OPENAI_API_KEY") {
		t.Fatalf("the start-up log does not say which keys are missing:\n%s", s.Logs())
	}
	code, _, body = post(t, s.URL+"/v1/chat/completions", `{"model":"demo/echo","messages":[{"role":"user","content":"hi"}]}`)
	if code != 200 || !strings.Contains(body, "You said: hi") {
		t.Fatalf("demo: %d %s", code, body)
	}
}

func TestStreamFaults(t *testing.T) {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123"), fakeprovider.WithChunks(6))
	s := startSluice(t, upstreamConfig(up.URL, ""))
	stream := `{"model":"up/gpt-test","stream":true,"messages":[{"role":"user","content":"one two three four five six"}]}`

	// A cut after the first byte reached the client: an error event, no [DONE].
	up.Enqueue(fakeprovider.Reply{Fault: fakeprovider.CutAfter(3)})
	code, _, body := post(t, s.URL+"/v1/chat/completions", stream)
	if code != 200 || strings.Contains(body, "data: [DONE]") || !strings.Contains(body, `"error"`) || !strings.Contains(body, "stream_broken") {
		t.Fatalf("cut stream: %d %s", code, body)
	}

	// A reset after the upstream read the whole request: it may have started the work, so the
	// request is not sent again (no double billing); the client gets a 502.
	n := up.Count()
	up.Enqueue(fakeprovider.Reply{Fault: fakeprovider.Reset()})
	code, _, body = post(t, s.URL+"/v1/chat/completions", stream)
	if code != 502 || !strings.Contains(body, `"error"`) || up.Count() != n+1 {
		t.Fatalf("reset after the request was sent: %d, upstream saw %d requests: %s", code, up.Count()-n, body)
	}

	// A stream's headers past the idle timeout: a timeout error, quickly, and not resent.
	n = up.Count()
	up.Enqueue(fakeprovider.Reply{HeaderDelay: 3 * time.Second})
	start := time.Now()
	code, _, body = post(t, s.URL+"/v1/chat/completions", stream)
	if code < 500 || !strings.Contains(body, `"error"`) || time.Since(start) > 2500*time.Millisecond || up.Count() != n+1 {
		t.Fatalf("slow stream headers: %d after %s, upstream saw %d: %s", code, time.Since(start), up.Count()-n, body)
	}

	// 429 with Retry-After on both attempts: the client sees 429 and the Retry-After.
	up.Enqueue(fakeprovider.RetryAfter(7*time.Second), fakeprovider.RetryAfter(7*time.Second))
	code, h, body := post(t, s.URL+"/v1/chat/completions", `{"model":"up/gpt-test","messages":[{"role":"user","content":"x"}]}`)
	if code != 429 || h.Get("Retry-After") != "7" {
		t.Fatalf("429: %d retry-after=%q %s", code, h.Get("Retry-After"), body)
	}
}

func TestClientDisconnectCancelsUpstream(t *testing.T) {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123"), fakeprovider.WithChunks(50), fakeprovider.WithChunkDelay(100*time.Millisecond))
	s := startSluice(t, upstreamConfig(up.URL, ""))
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"up/gpt-test","stream":true,"messages":[{"role":"user","content":"long"}]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(s.Logs(), "status=499") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the gateway did not record the client going away:\n%s", s.Logs())
}

func TestGracefulShutdownDrainsStreams(t *testing.T) {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123"), fakeprovider.WithChunks(10), fakeprovider.WithChunkDelay(100*time.Millisecond))
	s := startSluice(t, upstreamConfig(up.URL, ""))
	var wg sync.WaitGroup
	var body string
	var err error
	wg.Add(1)
	started := make(chan struct{})
	go func() {
		defer wg.Done()
		resp, e := http.Post(s.URL+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"up/gpt-test","stream":true,"messages":[{"role":"user","content":"drain me"}]}`))
		if e != nil {
			err = e
			close(started)
			return
		}
		close(started)
		b, e := io.ReadAll(resp.Body)
		body, err = string(b), e
	}()
	<-started
	time.Sleep(200 * time.Millisecond)
	s.Stop(t)
	wg.Wait()
	if err != nil || !strings.Contains(body, "data: [DONE]") {
		t.Fatalf("stream not drained: %v %q", err, body)
	}
}

func TestRequestLimitsAndPassthrough(t *testing.T) {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123"))
	s := startSluice(t, upstreamConfig(up.URL, ""))
	big := `{"model":"up/gpt-test","messages":[{"role":"user","content":"` + strings.Repeat("x", 17<<20) + `"}]}`
	code, _, body := post(t, s.URL+"/v1/chat/completions", big)
	if code != 413 || !strings.Contains(body, "request_too_large") {
		t.Fatalf("oversized body: %d %.200s", code, body)
	}
	code, _, body = post(t, s.URL+"/passthrough/up/files?purpose=batch", `{"x":1}`, "Authorization", "Bearer client-key")
	if code != 200 {
		t.Fatalf("passthrough: %d %s", code, body)
	}
	reqs := up.Requests()
	last := reqs[len(reqs)-1]
	if last.Path != "/v1/files" || last.RawQuery != "purpose=batch" || last.Header.Get("Authorization") != "Bearer sk-upstream-secret-123" {
		t.Fatalf("passthrough sent %s %s?%s auth=%q", last.Method, last.Path, last.RawQuery, last.Header.Get("Authorization"))
	}
	if code, body := get(t, s.URL+"/ready"); code != 200 || !strings.Contains(body, `"up":"ok"`) {
		t.Fatalf("/ready: %d %s", code, body)
	}
}

func TestAccessLogBodyCapture(t *testing.T) {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123"))
	logFile := filepath.Join(t.TempDir(), "access.jsonl")
	// The [log] table is already in the base config: capture is switched on there.
	cfg := strings.Replace(upstreamConfig(up.URL, ""), "[log]\n", fmt.Sprintf("[log]\naccess = %q\ncapture_bodies = true\nmax_body_bytes = \"2KiB\"\nredact_fields = [\"ssn\"]\n", logFile), 1)
	s2 := startSluice(t, cfg)
	code, _, body := post(t, s2.URL+"/v1/chat/completions",
		`{"model":"up/gpt-test","messages":[{"role":"user","content":"visible words"}],"metadata":{"ssn":"123-45-6789","password":"hunter2"}}`,
		"Authorization", "Bearer client-secret-abc")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	s2.Stop(t)
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	line := string(b)
	for _, want := range []string{`"request_body"`, "visible words", `"response_body"`, "chatcmpl-fake"} {
		if !strings.Contains(line, want) && !strings.Contains(line, strings.ToLower(want)) {
			t.Errorf("access line lacks %q:\n%s", want, line)
		}
	}
	for _, secret := range []string{"123-45-6789", "hunter2", "client-secret-abc", "sk-upstream-secret-123"} {
		if strings.Contains(line, secret) {
			t.Errorf("access line leaks %q:\n%s", secret, line)
		}
	}
}
