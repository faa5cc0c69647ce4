package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/host/telemetry"
	"github.com/sluice-gw/sluice/internal/fakeprovider"
)

// served is one in-process sluice started by serve.
type served struct {
	url, admin string
	rec        *telemetry.Recorder
}

// serve runs app.Run on loopback with an in-memory span recorder until the test ends.
func serve(t *testing.T, cfg string) *served {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sluice.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &served{rec: telemetry.NewRecorder()}
	ready := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, Options{
			ConfigPath: path, Listen: "127.0.0.1:0", Stdout: io.Discard, Stderr: io.Discard,
			PluginCacheDir: filepath.Join(os.TempDir(), "sluice-app-test-wasm-cache"),
			SpanRecorder:   s.rec,
			Ready: func(addr, admin string) {
				s.url, s.admin = "http://"+addr, "http://"+admin
				close(ready)
			},
		})
	}()
	select {
	case <-ready:
	case err := <-errc:
		cancel()
		t.Fatalf("app.Run: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("app.Run did not become ready within 30s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("app.Run returned %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("app.Run did not return within 15s of cancel")
		}
	})
	return s
}

func (s *served) post(t *testing.T, body string, headers ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.url+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	before := s.serverSpans()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	// The request span ends in the accounting stages, after the client has its answer: wait
	// for it, so that the next request's spans are the only new ones.
	for deadline := time.Now().Add(5 * time.Second); s.serverSpans() == before && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// serverSpans counts the request (server) spans recorded so far.
func (s *served) serverSpans() int {
	n := 0
	for _, sp := range s.rec.Spans() {
		if sp.Kind == "server" {
			n++
		}
	}
	return n
}

// trace waits until the server span of the trace that holds upstream or client id has ended
// (it ends after the response is written) and returns every span of that trace.
func (s *served) trace(t *testing.T, traceID string) (root telemetry.RecordedSpan, all []telemetry.RecordedSpan) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		all = all[:0]
		found := false
		for _, sp := range s.rec.Spans() {
			if sp.TraceID != traceID {
				continue
			}
			all = append(all, sp)
			if sp.Kind == "server" {
				root, found = sp, true
			}
		}
		if found {
			return root, all
		}
		if time.Now().After(deadline) {
			t.Fatalf("no server span for trace %s among %d spans", traceID, len(s.rec.Spans()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lastTrace returns the trace id of the most recent server span (for requests without a
// client traceparent).
func (s *served) lastTrace(t *testing.T, before int) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		spans := s.rec.Spans()
		for i := len(spans) - 1; i >= before; i-- {
			if spans[i].Kind == "server" {
				return spans[i].TraceID
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no new server span")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func children(all []telemetry.RecordedSpan, parent telemetry.RecordedSpan) []telemetry.RecordedSpan {
	var out []telemetry.RecordedSpan
	for _, sp := range all {
		if sp.ParentID == parent.SpanID {
			out = append(out, sp)
		}
	}
	return out
}

func names(spans []telemetry.RecordedSpan) []string {
	out := make([]string, len(spans))
	for i, sp := range spans {
		out[i] = sp.Name
	}
	return out
}

func named(spans []telemetry.RecordedSpan, name string) []telemetry.RecordedSpan {
	var out []telemetry.RecordedSpan
	for _, sp := range spans {
		if sp.Name == name {
			out = append(out, sp)
		}
	}
	return out
}

// attr compares an attribute loosely: recorded ints are int64, slices are []string.
func attr(t *testing.T, sp telemetry.RecordedSpan, key string, want any) {
	t.Helper()
	got, ok := sp.Attributes[key]
	if !ok {
		t.Errorf("span %q has no %s (attributes %v)", sp.Name, key, sp.Attributes)
		return
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("span %q %s = %v, want %v", sp.Name, key, got, want)
	}
}

func observeConfig(a, b, ant string) string {
	return fmt.Sprintf(`
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"

[log]
level = "error"

[providers.a]
kind = "openai"
base_url = %q
api_key = "sk-a"
models = ["gpt-test"]

[providers.b]
kind = "openai"
base_url = %q
api_key = "sk-b"
models = ["gpt-test"]

[providers.anthropic]
base_url = %q
api_key = "sk-ant"

[routers.fo]
strategy = "priority"
targets = [{ model = "a/gpt-test", priority = 0 }, { model = "b/gpt-test", priority = 1 }]
retries = { attempts = 2, backoff = "1ms", max_backoff = "1ms", budget = 1.0 }

[routers.cached]
targets = [{ model = "a/gpt-test" }]
cache = { enabled = true, ttl = "1m" }

[routers.limited]
targets = [{ model = "a/gpt-test" }]

[[limits]]
name = "limited-requests"
scope = "router"
match = "limited"
unit = "requests"
rate = "1/min"
burst = 1
`, a, b, ant)
}

const (
	clientTrace  = "4bf92f3577b34da6a3ce929d0e0e4736"
	clientParent = "00f067aa0ba902b7"
)

// TestSpanTrees checks the span tree and attributes of streamed, cached, failed-over and
// rate-limited requests, the GenAI attributes, and W3C trace context in from the client and
// out to the upstream.
func TestSpanTrees(t *testing.T) {
	upA := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-a"))
	upB := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-b"))
	ant := fakeprovider.NewAnthropic(t, fakeprovider.WithKey("sk-ant"))
	s := serve(t, observeConfig(upA.URL, upB.URL, ant.URL))

	t.Run("streamed with client traceparent", func(t *testing.T) {
		upA.ClearRequests()
		code, _, body := s.post(t, `{"model":"a/gpt-test","stream":true,"max_tokens":50,"messages":[{"role":"user","content":"one two three"}]}`,
			"traceparent", "00-"+clientTrace+"-"+clientParent+"-01")
		if code != 200 || !strings.Contains(body, "data: [DONE]") {
			t.Fatalf("stream: %d %s", code, body)
		}
		root, all := s.trace(t, clientTrace)
		if root.ParentID != clientParent {
			t.Errorf("server span parent %q, want the client's %q", root.ParentID, clientParent)
		}
		if root.Name != "POST /v1/chat/completions" {
			t.Errorf("server span name %q", root.Name)
		}
		attr(t, root, telemetry.AttrHTTPRoute, "/v1/chat/completions")
		attr(t, root, telemetry.AttrHTTPStatus, 200)
		attr(t, root, telemetry.AttrGenAISystem, "a")
		attr(t, root, telemetry.AttrGenAIOperation, "chat")
		attr(t, root, telemetry.AttrGenAIRequestModel, "a/gpt-test")
		attr(t, root, telemetry.AttrGenAIResponseModel, "gpt-test")
		attr(t, root, telemetry.AttrGenAIInputTokens, 3)
		attr(t, root, telemetry.AttrGenAIOutputTokens, 3)
		attr(t, root, telemetry.AttrGenAIFinishReasons, []string{"stop"})
		attr(t, root, telemetry.AttrGenAIMaxTokens, 50)
		attr(t, root, telemetry.AttrStream, true)
		attr(t, root, telemetry.AttrTarget, "a/gpt-test")
		kids := children(all, root)
		if got := strings.Join(names(kids), ","); got != "ratelimit,upstream" { // no auth span: no keys are configured
			t.Errorf("children of the server span: %s", got)
		}
		ups := named(kids, "upstream")
		if len(ups) != 1 {
			t.Fatalf("upstream spans: %v", names(all))
		}
		up := ups[0]
		if up.Kind != "client" {
			t.Errorf("upstream span kind %q", up.Kind)
		}
		attr(t, up, telemetry.AttrAttempt, 1)
		attr(t, up, telemetry.AttrTarget, "a/gpt-test")
		attr(t, up, "sluice.outcome", "ok")
		// The upstream saw a traceparent in the same trace whose parent is the attempt span.
		got := upA.Requests()
		if len(got) != 1 {
			t.Fatalf("upstream got %d requests", len(got))
		}
		tp := got[0].Header.Get("Traceparent")
		if want := "00-" + clientTrace + "-" + up.SpanID + "-01"; tp != want {
			t.Errorf("upstream traceparent %q, want %q", tp, want)
		}
	})

	t.Run("cache hit", func(t *testing.T) {
		body := `{"model":"gpt-test","messages":[{"role":"user","content":"cache me"}]}`
		if code, h, b := s.post(t, strings.Replace(body, "gpt-test", "cached", 1)); code != 200 || h.Get("X-Sluice-Cache") != "MISS" {
			t.Fatalf("first: %d cache=%q %s", code, h.Get("X-Sluice-Cache"), b)
		}
		n := len(s.rec.Spans())
		code, h, b := s.post(t, strings.Replace(body, "gpt-test", "cached", 1))
		if code != 200 || h.Get("X-Sluice-Cache") != "HIT" {
			t.Fatalf("second: %d cache=%q %s", code, h.Get("X-Sluice-Cache"), b)
		}
		root, all := s.trace(t, s.lastTrace(t, n))
		attr(t, root, telemetry.AttrCacheStatus, "HIT")
		attr(t, root, telemetry.AttrHTTPStatus, 200)
		attr(t, root, telemetry.AttrGenAIRequestModel, "cached")
		attr(t, root, telemetry.AttrRouter, "cached")
		kids := children(all, root)
		if got := strings.Join(names(kids), ","); got != "ratelimit,cache" {
			t.Errorf("children of a cache hit: %s", got)
		}
		if c := named(kids, "cache"); len(c) == 1 {
			attr(t, c[0], telemetry.AttrCacheStatus, "HIT")
		}
		if len(named(all, "upstream")) != 0 {
			t.Errorf("a cache hit has an upstream span: %v", names(all))
		}
	})

	t.Run("failover", func(t *testing.T) {
		upA.Enqueue(fakeprovider.Reply{Status: 500, Message: "boom"})
		upB.ClearRequests()
		n := len(s.rec.Spans())
		code, h, b := s.post(t, `{"model":"fo","messages":[{"role":"user","content":"fail over"}]}`)
		if code != 200 || h.Get("X-Sluice-Attempts") != "2" {
			t.Fatalf("failover: %d attempts=%q %s", code, h.Get("X-Sluice-Attempts"), b)
		}
		id := s.lastTrace(t, n)
		root, all := s.trace(t, id)
		ups := named(children(all, root), "upstream")
		if len(ups) != 2 {
			t.Fatalf("upstream spans under the request: %d (%v)", len(ups), names(all))
		}
		attr(t, ups[0], telemetry.AttrAttempt, 1)
		attr(t, ups[0], telemetry.AttrTarget, "a/gpt-test#0")
		attr(t, ups[0], "sluice.outcome", "5xx")
		if ups[0].Status != "error" {
			t.Errorf("failed attempt status %q", ups[0].Status)
		}
		attr(t, ups[1], telemetry.AttrAttempt, 2)
		attr(t, ups[1], telemetry.AttrTarget, "b/gpt-test#1")
		attr(t, ups[1], "sluice.outcome", "ok")
		if ups[1].Status == "error" {
			t.Errorf("good attempt status %q", ups[1].Status)
		}
		attr(t, root, telemetry.AttrRouter, "fo")
		attr(t, root, telemetry.AttrTarget, "b/gpt-test#1")
		attr(t, root, telemetry.AttrAttempt, 2)
		attr(t, root, telemetry.AttrGenAISystem, "b")
		attr(t, root, telemetry.AttrHTTPStatus, 200)
		if root.Status == "error" {
			t.Errorf("a request that failed over and succeeded is an error span")
		}
		got := upB.Requests()
		if len(got) != 1 || !strings.Contains(got[0].Header.Get("Traceparent"), id) {
			t.Errorf("second target traceparent: %v", got)
		}
	})

	t.Run("rate limited", func(t *testing.T) {
		body := `{"model":"limited","messages":[{"role":"user","content":"x"}]}`
		if code, _, b := s.post(t, body); code != 200 {
			t.Fatalf("first limited call: %d %s", code, b)
		}
		n := len(s.rec.Spans())
		code, _, b := s.post(t, body)
		if code != 429 {
			t.Fatalf("second limited call: %d %s", code, b)
		}
		root, all := s.trace(t, s.lastTrace(t, n))
		attr(t, root, telemetry.AttrRateLimitTier, "router")
		attr(t, root, telemetry.AttrHTTPStatus, 429)
		if root.Status == "error" {
			t.Errorf("a 429 marks the server span as an error")
		}
		kids := children(all, root)
		if got := strings.Join(names(kids), ","); got != "ratelimit" {
			t.Errorf("children of a rejected request: %s", got)
		}
		if rl := named(kids, "ratelimit"); len(rl) == 1 {
			attr(t, rl[0], telemetry.AttrHTTPStatus, 429)
		}
		if len(named(all, "upstream")) != 0 {
			t.Errorf("a rejected request reached upstream: %v", names(all))
		}
	})

	t.Run("translator plugin spans", func(t *testing.T) {
		n := len(s.rec.Spans())
		code, _, b := s.post(t, `{"model":"anthropic/claude-haiku-4-5","messages":[{"role":"user","content":"hello there"}]}`)
		if code != 200 {
			t.Fatalf("anthropic: %d %s", code, b)
		}
		root, all := s.trace(t, s.lastTrace(t, n))
		attr(t, root, telemetry.AttrGenAISystem, "anthropic")
		ups := named(children(all, root), "upstream")
		if len(ups) != 1 {
			t.Fatalf("upstream spans: %v", names(all))
		}
		got := strings.Join(names(children(all, ups[0])), ",")
		if got != "plugin anthropic translate_request,plugin anthropic translate_response" {
			t.Fatalf("children of the attempt: %s", got)
		}
		for _, sp := range children(all, ups[0]) {
			attr(t, sp, telemetry.AttrPluginName, "anthropic")
		}
		attr(t, children(all, ups[0])[0], telemetry.AttrPluginHook, "translate_request")
	})
}
