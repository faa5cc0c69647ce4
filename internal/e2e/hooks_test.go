package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
	"github.com/sluice-gw/sluice/sdk/conformance"
)

// hooksWasm builds the v1 additions' test guest (host/plugin/testdata/guests/hooks);
// ldflags "-X main.noResponse=yes" leaves on_response out.
func hooksWasm(t *testing.T, ldflags string) string {
	t.Helper()
	path, err := conformance.BuildGuest(filepath.Join(repo, "host", "plugin", "testdata", "guests", "hooks"), ldflags)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func hooksConfig(up, wasm string, spin int) string {
	return `policies = ["hooks"]` + upstreamConfig(up, fmt.Sprintf(`

[plugins.hooks]
path = %q
timeout = "5s"
config = { banned = "BANNED", log_spin = %d }
upstream_headers = ["x-tenant-*"]
response_headers = ["x-policy-*"]
`, wasm, spin))
}

// waitLog waits until the gateway's log matches re.
func waitLog(t *testing.T, s *Sluice, re string) {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(10 * time.Second)
	for !rx.MatchString(s.Logs()) {
		if time.Now().After(deadline) {
			t.Fatalf("no log line matching %s in:\n%s", re, s.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hookStream posts a streamed request and returns the SSE data lines as they came.
func hookStream(t *testing.T, url, body string, headers ...string) (int, http.Header, []string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var lines []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if l, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			lines = append(lines, l)
		}
	}
	return resp.StatusCode, resp.Header, lines
}

// bannedStream makes the upstream stream 64 words 25 ms apart (1.6 s), the third one banned.
func bannedStream(up *fakeprovider.Server) {
	words := []string{"alpha", "beta", "BANNED", "gamma"}
	for i := 0; i < 60; i++ {
		words = append(words, fmt.Sprintf("tail%d", i))
	}
	up.Enqueue(fakeprovider.Reply{Text: strings.Join(words, " "), ChunkDelay: 25 * time.Millisecond})
}

// waitGone waits until the upstream saw its stream closed by the gateway.
func waitGone(t *testing.T, up *fakeprovider.Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for up.Stats().Gone == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the upstream stream was not closed at the cut (stats %+v)", up.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

const streamChat = `{"model":"up/gpt-test","stream":true,"messages":[{"role":"user","content":"hi"}]}`

// An on_stream policy cuts a stream at a banned word: the client has the text before it, then
// an OpenAI error event and no [DONE]; nothing after it is relayed and the upstream stream is
// closed long before its end.
func TestHookStreamGuard(t *testing.T) {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123"))
	bannedStream(up)
	s := startSluice(t, hooksConfig(up.URL, hooksWasm(t, "-X main.noResponse=yes"), 0))
	start := time.Now()
	code, _, lines := hookStream(t, s.URL+"/v1/chat/completions", streamChat)
	took := time.Since(start)
	all := strings.Join(lines, "\n")
	if code != 200 || !strings.Contains(all, "alpha") {
		t.Fatalf("%d: %s", code, all)
	}
	last := lines[len(lines)-1]
	if !strings.Contains(last, `"code":"content_blocked"`) || !strings.Contains(last, `"error"`) {
		t.Fatalf("last event %s, want the policy's error", last)
	}
	if strings.Contains(all, "[DONE]") || strings.Contains(all, "gamma") || strings.Contains(all, "tail") {
		t.Fatalf("relayed past the banned word: %s", all)
	}
	if took > time.Second {
		t.Fatalf("the stream took %s: the rest of the upstream was read", took)
	}
	waitGone(t, up)
	waitLog(t, s, `on_log request=\S+ outcome=rejected status=400 provider=up`)
}

// With an on_response policy too the stream is held, and on_stream still sees its batches as
// they arrive: the banned word ends the upstream stream at once and the client gets a plain
// error, since nothing was sent.
func TestHookStreamGuardHeld(t *testing.T) {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123"))
	bannedStream(up)
	s := startSluice(t, hooksConfig(up.URL, hooksWasm(t, ""), 0))
	start := time.Now()
	code, _, body := post(t, s.URL+"/v1/chat/completions", streamChat)
	if _, _, ecode := openAIError(t, body); code != 400 || ecode != "content_blocked" {
		t.Fatalf("%d %s", code, body)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("took %s: the rest of the upstream was read", took)
	}
	waitGone(t, up)
}

// State kept by on_request reaches on_response and on_log; on_log sees every request's
// outcome; a plugin answers requests itself, plain and streamed, with no upstream call.
func TestHookStateAnswerAndLog(t *testing.T) {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123"))
	s := startSluice(t, hooksConfig(up.URL, hooksWasm(t, ""), 0))
	chat := `{"model":"up/gpt-test","messages":[{"role":"user","content":"hi"}]}`

	code, h, body := post(t, s.URL+"/v1/chat/completions", chat, "X-Tag", "t-one", "X-Request-Id", "req-state")
	if code != 200 || h.Get("X-Policy-State") != "t-one" {
		t.Fatalf("%d state header %q: %s", code, h.Get("X-Policy-State"), body)
	}
	waitLog(t, s, `on_log request=req-state outcome=ok status=200 provider=up tag=t-one prompt=\d+ completion=\d+`)

	n := len(up.Requests())
	code, h, body = post(t, s.URL+"/v1/chat/completions", chat, "X-Answer", "yes", "X-Request-Id", "req-answer")
	if code != 200 || !strings.Contains(body, "answered by the plugin") || h.Get("X-Sluice-Provider") != "plugin:hooks" || h.Get("X-Policy-Answer") != "yes" {
		t.Fatalf("plugin answer: %d %v %s", code, h, body)
	}
	code, h, lines := hookStream(t, s.URL+"/v1/chat/completions", `{"model":"up/gpt-test","stream":true,"messages":[{"role":"user","content":"hi"}]}`, "X-Answer", "yes", "X-Request-Id", "req-answer-stream")
	all := strings.Join(lines, "\n")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") || !strings.Contains(all, "answered by the plugin") || lines[len(lines)-1] != "[DONE]" {
		t.Fatalf("streamed plugin answer: %d %v %s", code, h, all)
	}
	if len(up.Requests()) != n {
		t.Fatal("a request the plugin answered reached the upstream")
	}
	waitLog(t, s, `on_log request=req-answer outcome=plugin status=200 provider=plugin:hooks tag=up/gpt-test prompt=3 completion=4`)
	waitLog(t, s, `on_log request=req-answer-stream outcome=plugin status=200 provider=plugin:hooks`)
	waitLog(t, s, `request_id=req-answer .*provider=plugin:hooks`) // the access log names the plugin

	code, _, _ = post(t, s.URL+"/v1/chat/completions", `{"model":"nope/none","messages":[{"role":"user","content":"hi"}]}`, "X-Request-Id", "req-error")
	if code < 400 {
		t.Fatalf("unknown model answered %d", code)
	}
	waitLog(t, s, fmt.Sprintf(`on_log request=req-error outcome=error status=%d`, code))
}

// Header edits: a name the plugin's upstream_headers allow reaches the upstream; one outside
// them, or a reserved one, is a 502 naming the plugin and the header, and nothing is sent.
func TestHookHeaderEdits(t *testing.T) {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123"))
	s := startSluice(t, hooksConfig(up.URL, hooksWasm(t, ""), 0))
	chat := `{"model":"up/gpt-test","messages":[{"role":"user","content":"hi"}]}`
	if code, _, body := post(t, s.URL+"/v1/chat/completions", chat, "X-Set-Header", "x-tenant-id"); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	reqs := up.Requests()
	if got := reqs[len(reqs)-1].Header.Get("X-Tenant-Id"); got != "1" {
		t.Fatalf("upstream X-Tenant-Id = %q, want 1", got)
	}
	for _, name := range []string{"x-other", "authorization", "x-sluice-provider"} {
		n := len(up.Requests())
		code, _, body := post(t, s.URL+"/v1/chat/completions", chat, "X-Set-Header", name)
		msg, _, _ := openAIError(t, body)
		if code != 502 || !strings.Contains(msg, "plugin hooks") || !strings.Contains(msg, name) {
			t.Fatalf("%s: %d %s", name, code, body)
		}
		if len(up.Requests()) != n {
			t.Fatalf("%s: the refused request reached the upstream", name)
		}
	}
}

// A slow on_log does not slow requests: it runs on the plugin's own worker after the answer,
// and shutdown drains its queue.
func TestHookSlowLog(t *testing.T) {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123"))
	spin := 8_000_000
	if v := os.Getenv("SLUICE_TEST_LOG_SPIN"); v != "" {
		fmt.Sscan(v, &spin)
	}
	s := startSluice(t, hooksConfig(up.URL, hooksWasm(t, ""), spin))
	chat := `{"model":"up/gpt-test","messages":[{"role":"user","content":"hi"}]}`
	// The first on_log shows how long one takes.
	start := time.Now()
	post(t, s.URL+"/v1/chat/completions", chat, "X-Request-Id", "slow-0")
	waitLog(t, s, `on_log request=slow-0 outcome=ok`)
	logTook := time.Since(start)
	var worst time.Duration
	for i := 1; i <= 5; i++ {
		st := time.Now()
		code, _, body := post(t, s.URL+"/v1/chat/completions", chat, "X-Request-Id", fmt.Sprintf("slow-%d", i))
		if code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		worst = max(worst, time.Since(st))
	}
	t.Logf("one on_log took ~%s; the slowest of 5 requests behind it took %s", logTook, worst)
	if logTook < 100*time.Millisecond {
		t.Skipf("on_log took only %s here: not slow enough to tell", logTook)
	}
	if worst > logTook/2 {
		t.Fatalf("a request took %s while on_log takes %s: the request waited for it", worst, logTook)
	}
	// Shutdown delivers what is queued: the records are not dropped.
	s.Stop(t)
	for i := 1; i <= 5; i++ {
		if !strings.Contains(s.Logs(), fmt.Sprintf("on_log request=slow-%d outcome=ok", i)) {
			t.Fatalf("on_log of slow-%d not delivered by shutdown:\n%s", i, s.Logs())
		}
	}
}

// A Messages client streaming through an on_stream policy is covered too: the policy forces
// the bridged form, so it sees chat chunks, and the client gets the cut as an Anthropic error
// event.
func TestHookStreamGuardMessages(t *testing.T) {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123"))
	bannedStream(up)
	s := startSluice(t, hooksConfig(up.URL, hooksWasm(t, "-X main.noResponse=yes"), 0))
	code, _, lines := hookStream(t, s.URL+"/v1/messages", `{"model":"up/gpt-test","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
		"anthropic-version", "2023-06-01")
	all := strings.Join(lines, "\n")
	if code != 200 || !strings.Contains(all, "alpha") || strings.Contains(all, "gamma") || strings.Contains(all, "tail") {
		t.Fatalf("%d: %s", code, all)
	}
	last := lines[len(lines)-1]
	if !strings.Contains(last, `"type":"error"`) || !strings.Contains(last, "banned word") {
		t.Fatalf("last event %s, want an Anthropic error event", last)
	}
	waitGone(t, up)
}
