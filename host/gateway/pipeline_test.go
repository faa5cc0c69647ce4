package gateway

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
)

const fullConfig = `
[auth]
required = true
[[auth.keys]]
id = "k1"
key = "sk-test-1"
team = "t"
[[limits]]
scope = "global"
unit = "requests"
rate = "100/minute"
burst = 100
[cache]
enabled = true
[routers.duo]
strategy = "priority"
targets = [{ model = "a/m", priority = 0 }, { model = "b/m", priority = 1 }]
health = { min_requests = 1000 }
`

// The pipeline runs its request half, then its response half, in the order doc.go states, on
// every path: a relayed answer, a cache replay, a stream, a refusal.
func TestStageOrder(t *testing.T) {
	tb := newTestbed(t, fullConfig)
	auth := []string{"Authorization", "Bearer sk-test-1"}
	respHalf := []string{"flush", "cache_store", "settle", "metrics", "access_log", "plugin_log"}
	full := append([]string{"auth", "ratelimit", "cache", "dispatch"}, respHalf...)

	resp, _ := tb.post(t, "/router/duo/v1/chat/completions", chatBody("duo", false), auth...)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := tb.takeStages(); !slices.Equal(got, full) {
		t.Errorf("relayed answer: stages %v, want %v", got, full)
	}
	resp, _ = tb.post(t, "/router/duo/v1/chat/completions", chatBody("duo", false), auth...)
	if resp.Header.Get("X-Sluice-Provider") != "cache" {
		t.Fatalf("second request not served from the cache: %v", resp.Header)
	}
	hit := append([]string{"auth", "ratelimit", "cache"}, respHalf...)
	if got := tb.takeStages(); !slices.Equal(got, hit) {
		t.Errorf("cache hit: stages %v, want %v", got, hit)
	}
	resp, _ = tb.post(t, "/router/duo/v1/chat/completions", strings.Replace(chatBody("duo", true), "hello", "stream", 1), auth...)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %v", resp.StatusCode, resp.Header)
	}
	if got := tb.takeStages(); !slices.Equal(got, full) {
		t.Errorf("stream: stages %v, want %v", got, full)
	}
	resp, _ = tb.post(t, "/router/duo/v1/chat/completions", chatBody("duo", false))
	if resp.StatusCode != 401 {
		t.Fatalf("no key: status %d", resp.StatusCode)
	}
	refused := append([]string{"auth"}, respHalf...)
	if got := tb.takeStages(); !slices.Equal(got, refused) {
		t.Errorf("refused: stages %v, want %v", got, refused)
	}
	// The access line of each request was written, after settlement priced it.
	tb.inflight.Wait()
	if n := strings.Count(tb.access.String(), "msg=request"); n != 4 {
		t.Errorf("%d access lines, want 4:\n%s", n, tb.access.String())
	}
}

// The client has its answer before the accounting runs: the response half flushes first, on
// the plain path and on a dialect's, whose writer converts the answer before the flush.
func TestAnswerFlushedBeforeAccounting(t *testing.T) {
	for _, tc := range []struct{ name, path, body, want string }{
		{"chat", "/router/duo/v1/chat/completions", chatBody("duo", false), "chat.completion"},
		{"messages bridged", "/router/duo/v1/messages", `{"model":"duo","max_tokens":16,"messages":[{"role":"user","content":"hello there"}]}`, "message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb := newTestbed(t, fullConfig)
			answerFlushedFirst(t, tb, tc.path, tc.body, tc.want)
		})
	}
}

func answerFlushedFirst(t *testing.T, tb *testbed, path, body, want string) {
	got := make(chan struct{})
	released := make(chan struct{})
	tb.gw.stageHook = func(s string) {
		if s == "cache_store" {
			// Hold the accounting until the client has read the whole answer.
			select {
			case <-got:
			case <-time.After(5 * time.Second):
				t.Error("the client did not get its answer while the accounting waited")
			}
			close(released)
		}
	}
	defer func() {
		select {
		case <-got:
		default:
			close(got)
		}
	}()
	tb.inflight.Add(1)
	conn, err := net.Dial("tcp", tb.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = conn.Write([]byte("POST " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk-test-1\r\nContent-Type: application/json\r\nContent-Length: " +
		itoa(len(body)) + "\r\n\r\n" + body))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Object string `json:"object"`
		Type   string `json:"type"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Object+out.Type != want {
		t.Fatalf("answer %+v, want %q: %v", out, want, err)
	}
	close(got)
	<-released
	tb.inflight.Wait()
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// Each refusal the pipeline makes has its status, type and code.
func TestErrorMapping(t *testing.T) {
	tb := newTestbed(t, fullConfig+`
[routers.solo]
strategy = "priority"
targets = [{ model = "a/m" }]
health = { min_requests = 1000 }
`)
	auth := []string{"Authorization", "Bearer sk-test-1"}
	noStore := append([]string{"Cache-Control", "no-store"}, auth...)
	for _, tc := range []struct {
		name       string
		path, body string
		header     []string
		reply      *fakeprovider.Reply
		status     int
		typ, code  string
	}{
		{"no key", "/v1/chat/completions", chatBody("a/m", false), nil, nil, 401, "invalid_request_error", "missing_api_key"},
		{"wrong key", "/v1/chat/completions", chatBody("a/m", false), []string{"Authorization", "Bearer sk-nope"}, nil, 401, "invalid_request_error", "invalid_api_key"},
		{"bad json", "/v1/chat/completions", `{"model":`, auth, nil, 400, "invalid_request_error", "invalid_json"},
		{"unknown router", "/router/nope/v1/chat/completions", chatBody("x", false), auth, nil, 404, "not_found_error", "router_not_found"},
		{"bad sluice header", "/v1/chat/completions", chatBody("a/m", false), append([]string{"X-Sluice-Exclude", strings.Repeat("x", maxPinBytes+1)}, auth...), nil, 400, "invalid_request_error", "invalid_header"},
		{"upstream 400 relayed", "/router/solo/v1/chat/completions", chatBody("solo", false), noStore, &fakeprovider.Reply{Status: 400, Message: "bad thing"}, 400, "invalid_request_error", ""},
		{"upstream 500", "/router/solo/v1/chat/completions", chatBody("solo", false), noStore, &fakeprovider.Reply{Status: 500, Message: "boom"}, 500, "server_error", ""},
		{"upstream reset", "/router/solo/v1/chat/completions", chatBody("solo", false), noStore, &fakeprovider.Reply{Fault: fakeprovider.Reset()}, 502, "api_error", "upstream_unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.reply != nil {
				reply := *tc.reply
				tb.a.Script(func(fakeprovider.Received) fakeprovider.Reply { return reply })
				defer tb.a.Script(nil)
			}
			resp, body := tb.post(t, tc.path, tc.body, tc.header...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			var e struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Code    *string `json:"code"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Message == "" {
				t.Fatalf("not an OpenAI-shaped error: %s", body)
			}
			code := "<nil>"
			if e.Error.Code != nil {
				code = *e.Error.Code
			}
			t.Logf("%s: %d %s %s", tc.name, resp.StatusCode, e.Error.Type, code)
			if tc.typ != "" && e.Error.Type != tc.typ {
				t.Errorf("type %q, want %q", e.Error.Type, tc.typ)
			}
			if tc.code != "" && (e.Error.Code == nil || *e.Error.Code != tc.code) {
				t.Errorf("code %v, want %q: %s", e.Error.Code, tc.code, body)
			}
			if resp.Header.Get("Content-Length") == "" {
				t.Errorf("error without a Content-Length: %v", resp.Header)
			}
		})
	}
}

// A stream that fails before its first byte moves to the next target; one that breaks after
// it ends in-stream, on the target that started it.
func TestStreamFailover(t *testing.T) {
	tb := newTestbed(t, strings.Replace(fullConfig, "health = { min_requests = 1000 }", "health = { min_requests = 1000 }\nretries = { after_send = true }", 1))
	auth := []string{"Authorization", "Bearer sk-test-1", "Cache-Control", "no-store"}

	tb.a.Enqueue(fakeprovider.Reply{Status: 503})
	resp, body := tb.post(t, "/router/duo/v1/chat/completions", chatBody("duo", true), auth...)
	if resp.StatusCode != 200 || resp.Header.Get("X-Sluice-Provider") != "b" || resp.Header.Get("X-Sluice-Attempts") != "2" {
		t.Fatalf("before the first byte: %d %v", resp.StatusCode, resp.Header)
	}
	if !strings.Contains(body, "data: [DONE]") {
		t.Errorf("failed-over stream did not end with [DONE]:\n%s", body)
	}

	tb.a.Enqueue(fakeprovider.Reply{Fault: fakeprovider.CutAfter(1)})
	resp, body = tb.post(t, "/router/duo/v1/chat/completions", chatBody("duo", true), auth...)
	if resp.StatusCode != 200 || resp.Header.Get("X-Sluice-Provider") != "a" || resp.Header.Get("X-Sluice-Attempts") != "1" {
		t.Fatalf("after the first byte: %d %v", resp.StatusCode, resp.Header)
	}
	if strings.Contains(body, "[DONE]") || !strings.Contains(body, `"error"`) {
		t.Errorf("a stream cut after its first byte should end with an error event, not [DONE]:\n%s", body)
	}
	if tb.b.Count() != 1 {
		t.Errorf("b served %d requests, want 1 (only the failover before the first byte)", tb.b.Count())
	}
}

// Answers carry sluice's headers and the reservation's rate-limit headers.
func TestResponseHeaders(t *testing.T) {
	tb := newTestbed(t, fullConfig)
	resp, _ := tb.post(t, "/router/duo/v1/chat/completions", chatBody("duo", false), "Authorization", "Bearer sk-test-1", "X-Request-Id", "req-42")
	h := resp.Header
	for k, want := range map[string]string{
		"X-Sluice-Provider": "a", "X-Sluice-Model": "a/m", "X-Sluice-Target": "a/m#0",
		"X-Sluice-Attempts": "1", "X-Sluice-Router": "duo", "X-Request-Id": "req-42",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if h.Get("X-Sluice-Cache") == "" {
		t.Errorf("no cache status header: %v", h)
	}
	found := false
	for k := range h {
		found = found || strings.HasPrefix(strings.ToLower(k), "x-ratelimit-")
	}
	if !found {
		t.Errorf("no rate-limit headers: %v", h)
	}
}

// A request over its limit is refused with OpenAI's rate-limit error and the headers that say
// when to come back; the refusal runs the response half like any answer.
func TestRateLimitRefusal(t *testing.T) {
	tb := newTestbed(t, `
[[limits]]
scope = "global"
unit = "requests"
rate = "1/hour"
burst = 1
`)
	if resp, body := tb.post(t, "/v1/chat/completions", chatBody("a/m", false)); resp.StatusCode != 200 {
		t.Fatalf("first request: %d %s", resp.StatusCode, body)
	}
	tb.takeStages()
	resp, body := tb.post(t, "/v1/chat/completions", chatBody("a/m", false))
	var e struct {
		Error struct {
			Type string `json:"type"`
			Code string `json:"code"`
		} `json:"error"`
	}
	if resp.StatusCode != 429 || json.Unmarshal([]byte(body), &e) != nil || e.Error.Type != "rate_limit_error" || e.Error.Code != "rate_limit_exceeded" {
		t.Fatalf("over the limit: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Retry-After") == "" || resp.Header.Get("X-Ratelimit-Remaining-Requests") != "0" {
		t.Errorf("refusal headers: %v", resp.Header)
	}
	want := []string{"ratelimit", "flush", "cache_store", "settle", "metrics", "access_log", "plugin_log"}
	if got := tb.takeStages(); !slices.Equal(got, want) {
		t.Errorf("stages %v, want %v", got, want)
	}
	if tb.a.Count() != 1 {
		t.Errorf("the upstream got %d requests, want 1", tb.a.Count())
	}
}

// A passthrough call ends in the same response half: settled, then logged.
func TestPassthroughResponseHalf(t *testing.T) {
	tb := newTestbed(t, "")
	req, _ := http.NewRequest(http.MethodGet, tb.srv.URL+"/passthrough/a/models", nil)
	tb.inflight.Add(1)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("passthrough: %d", resp.StatusCode)
	}
	want := []string{"flush", "cache_store", "settle", "metrics", "access_log", "plugin_log"}
	if got := tb.takeStages(); !slices.Equal(got, want) {
		t.Errorf("stages %v, want %v", got, want)
	}
	if !strings.Contains(tb.access.String(), "path=/passthrough/a/models status=200") {
		t.Errorf("no access line:\n%s", tb.access.String())
	}
}
