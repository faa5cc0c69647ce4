package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
)

// boundsConfig serves provider "paid" (any model name, no list) from url, plus extra settings
// under [server].
func boundsConfig(url, server string) string {
	return fmt.Sprintf(`
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
%s
[log]
level = "info"
format = "text"
access = "off"

[providers.paid]
kind = "openai"
base_url = %q
api_key = "sk-paid"
`, server, url)
}

// metricsSize is the byte size of one /metrics scrape.
func metricsSize(t *testing.T, s *Sluice) int {
	t.Helper()
	resp, err := http.Get(s.Admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// routerCount is how many routers /admin/routers lists (configured and implicit).
func routerCount(t *testing.T, s *Sluice) int {
	t.Helper()
	code, body := get(t, s.Admin+"/admin/routers")
	if code != 200 {
		t.Fatalf("/admin/routers: %d %s", code, body)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatal(err)
	}
	return len(m)
}

// openAIErr decodes an OpenAI error body, failing the test unless it is valid JSON.
func openAIErr(t *testing.T, body string) (msg, typ, param, code string) {
	t.Helper()
	var e struct {
		Error struct {
			Message string  `json:"message"`
			Type    string  `json:"type"`
			Param   *string `json:"param"`
			Code    *string `json:"code"`
		} `json:"error"`
	}
	if !utf8.ValidString(body) || json.Unmarshal([]byte(body), &e) != nil {
		t.Fatalf("error body is not valid JSON: %.300q", body)
	}
	if e.Error.Param != nil {
		param = *e.Error.Param
	}
	if e.Error.Code != nil {
		code = *e.Error.Code
	}
	return e.Error.Message, e.Error.Type, param, code
}

// TestBoundsModelNameFlood sends 300 requests naming models of 20 KB each. They are refused
// with a 400 naming model before anything is built: /metrics stays small, no router is kept
// and the process does not grow.
func TestBoundsModelNameFlood(t *testing.T) {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-paid"))
	s := startSluice(t, boundsConfig(up.URL, ""))
	url := s.URL + "/v1/chat/completions"
	if code, _, b := post(t, url, ochat("paid/gpt-test", "warm up", false)); code != 200 {
		t.Fatalf("warm-up: %d %s", code, b)
	}
	pid := s.cmd.Process.Pid
	rssBefore := rssMB(t, pid)
	sizeBefore := metricsSize(t, s)
	long := "paid/" + strings.Repeat("x", 20<<10)
	var wg sync.WaitGroup
	errs := make(chan string, 300)
	for w := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 300; i += 10 {
				body := fmt.Sprintf(`{"model":"%s%d","messages":[{"role":"user","content":"hi"}]}`, long, i)
				resp, err := http.Post(url, "application/json", strings.NewReader(body))
				if err != nil {
					errs <- err.Error()
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 400 || !json.Valid(b) || !strings.Contains(string(b), `"param":"model"`) {
					errs <- fmt.Sprintf("%d %.200s", resp.StatusCode, b)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("long model name: %s", e)
	}
	time.Sleep(2500 * time.Millisecond) // one target-health tick
	sizeAfter := metricsSize(t, s)
	rssAfter := rssMB(t, pid)
	t.Logf("/metrics %d -> %d bytes; RSS %.1f -> %.1f MB; routers %d", sizeBefore, sizeAfter, rssBefore, rssAfter, routerCount(t, s))
	if sizeAfter > 1<<20 {
		t.Errorf("/metrics is %d bytes after the flood", sizeAfter)
	}
	if rssAfter-rssBefore > 40 {
		t.Errorf("RSS grew %.1f MB under the flood", rssAfter-rssBefore)
	}
	if n := routerCount(t, s); n != 1 {
		t.Errorf("%d routers kept, want only paid/gpt-test's", n)
	}
	_, _, b := post(t, url, `{"model":"paid/bad name\u0001é","messages":[]}`)
	if _, _, param, code := openAIErr(t, b); param != "model" || code != "invalid_model" {
		t.Errorf("control characters in the model: param %q code %q", param, code)
	}
}

// TestBoundsImplicitRouters floods distinct valid names: the implicit routers kept, and the
// model and target labels in /metrics, stay bounded to the recently used ones.
func TestBoundsImplicitRouters(t *testing.T) {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-paid"))
	s := startSluice(t, boundsConfig(up.URL, "max_implicit_routers = 16"))
	url := s.URL + "/v1/chat/completions"
	const names = 260
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []string
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < names; i += 8 {
				resp, err := http.Post(url, "application/json", strings.NewReader(ochat(fmt.Sprintf("paid/model-%03d", i), "x", false)))
				if err != nil {
					mu.Lock()
					failed = append(failed, err.Error())
					mu.Unlock()
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					mu.Lock()
					failed = append(failed, fmt.Sprint(resp.StatusCode))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d requests failed: %v", len(failed), failed[:min(5, len(failed))])
	}
	if n := routerCount(t, s); n > 16 {
		t.Errorf("%d implicit routers kept, want at most 16", n)
	}
	time.Sleep(2500 * time.Millisecond) // one target-health tick
	fams := scrape(t, s)
	models := map[string]bool{}
	for _, m := range fams["sluice_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "model" {
				models[l.GetValue()] = true
			}
		}
	}
	// A dropped router takes its series along, so the labels are those of recent models: the
	// 16 kept, give or take the few that were in flight when their router was dropped.
	if len(models) > 16+8 || len(models) < 16 {
		t.Errorf("%d model labels, want about the 16 routers kept", len(models))
	}
	_, body := get(t, s.Admin+"/admin/routers")
	var kept map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &kept); err != nil {
		t.Fatal(err)
	}
	for name := range kept {
		if !models[name] {
			t.Errorf("model %s has a router but no label", name)
		}
	}
	if n := len(fams["sluice_target_healthy"].GetMetric()); n == 0 || n > 16 {
		t.Errorf("%d target health gauges, want one for each of the (at most 16) routers kept", n)
	}
	t.Logf("routers %d, model labels %d, health gauges %d, /metrics %d bytes", routerCount(t, s), len(models), len(fams["sluice_target_healthy"].GetMetric()), metricsSize(t, s))
}

// TestBoundsRequestShape: sizes a client chooses are capped with a 400 naming the parameter,
// duplicate keys are refused on both dialects, and every refusal is valid JSON.
func TestBoundsRequestShape(t *testing.T) {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-paid"))
	s := startSluice(t, boundsConfig(up.URL, "max_messages = 3\nmax_tools = 2\nmax_header_bytes = \"8KiB\""))
	url := s.URL + "/v1/chat/completions"
	msg := `{"role":"user","content":"x"}`
	tool := `{"type":"function","function":{"name":"f","parameters":{}}}`
	for _, tc := range []struct {
		name, body, param, code string
		headers                 []string
	}{
		{"duplicate model", `{"model":"paid/a","messages":[` + msg + `],"model":"paid/b"}`, "model", "duplicate_key", nil},
		{"duplicate stream", `{"model":"paid/a","stream":false,"messages":[` + msg + `],"stream":true}`, "stream", "duplicate_key", nil},
		{"messages", `{"model":"paid/a","messages":[` + strings.Repeat(msg+",", 3) + msg + `]}`, "messages", "too_many_messages", nil},
		{"tools", `{"model":"paid/a","messages":[` + msg + `],"tools":[` + tool + "," + tool + "," + tool + `]}`, "tools", "too_many_tools", nil},
		{"long model", `{"model":"paid/` + strings.Repeat("m", 300) + `","messages":[` + msg + `]}`, "model", "invalid_model", nil},
		{"non-ASCII model", `{"model":"paid/caf\u00e9","messages":[` + msg + `]}`, "model", "invalid_model", nil},
		{"deep", `{"model":"paid/a","messages":[` + msg + `],"metadata":` + strings.Repeat("[", 600) + strings.Repeat("]", 600) + `}`, "", "invalid_json", nil},
		{"exclude list", `{"model":"paid/a","messages":[` + msg + `]}`, "", "invalid_header", []string{"X-Sluice-Exclude", strings.Repeat("p,", 100) + "p"}},
	} {
		code, _, body := post(t, url, tc.body, tc.headers...)
		_, _, param, ecode := openAIErr(t, body)
		if code != 400 || param != tc.param || ecode != tc.code {
			t.Errorf("%s: %d param %q code %q, want 400 %q %q: %.300s", tc.name, code, param, ecode, tc.param, tc.code, body)
		}
	}
	if n := len(up.Requests()); n != 0 {
		t.Errorf("%d refused requests reached the upstream", n)
	}
	// Just under each cap is served.
	code, _, body := post(t, url, `{"model":"paid/a","messages":[`+msg+","+msg+","+msg+`],"tools":[`+tool+","+tool+`]}`)
	if code != 200 {
		t.Fatalf("at the caps: %d %s", code, body)
	}

	// The Messages API refuses duplicates in its own (Anthropic) shape.
	code, _, body = post(t, s.URL+"/v1/messages", `{"model":"paid/a","max_tokens":5,"messages":[`+msg+`],"model":"paid/b"}`)
	var ae struct {
		Type  string `json:"type"`
		Error struct{ Type, Message string }
	}
	if code != 400 || json.Unmarshal([]byte(body), &ae) != nil || ae.Type != "error" || !strings.Contains(ae.Error.Message, `"model"`) {
		t.Errorf("/v1/messages duplicate: %d %s", code, body)
	}
	code, _, body = post(t, s.URL+"/v1/messages", `{"model":"paid/a","max_tokens":5,"messages":[`+strings.Repeat(msg+",", 3)+msg+`]}`)
	if code != 400 || json.Unmarshal([]byte(body), &ae) != nil || ae.Type != "error" || !strings.Contains(ae.Error.Message, "messages") {
		t.Errorf("/v1/messages too many: %d %s", code, body)
	}

	// The header block is bounded by the server itself.
	code, _, _ = post(t, url, `{"model":"paid/a","messages":[]}`, "X-Filler", strings.Repeat("h", 16<<10))
	if code != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("16 KiB header: %d, want 431", code)
	}
}

// TestBoundsUpstreamJSON: whatever an upstream sends, what sluice writes as JSON is valid: an
// error body of control characters, invalid UTF-8 and a multi-byte rune across the 200-byte
// snippet cut; an SSE event of many short lines past the event bound, or one that is not
// JSON, ends the stream with a valid in-stream error instead of being relayed.
func TestBoundsUpstreamJSON(t *testing.T) {
	bad := strings.Repeat("a", 199) + "€ tail \x00\x01\"\\ \xff\xfe <html>"
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model  string `json:"model"`
			Stream bool   `json:"stream"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		switch req.Model {
		case "garbage-400", "garbage-500":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(map[string]int{"garbage-400": 400, "garbage-500": 500}[req.Model])
			io.WriteString(w, bad)
		case "fake-json-error":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			io.WriteString(w, `{"error":{"message":"cut`+"\x01")
		case "bad-event":
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(200)
			io.WriteString(w, `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hi"}}]}`+"\n\n")
			io.WriteString(w, "data: {\"cut\x01\n\ndata: [DONE]\n\n")
		case "huge-event":
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(200)
			io.WriteString(w, `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hi"}}]}`+"\n\n")
			line := "data: " + strings.Repeat("z", 1000) + "\n"
			for i := 0; i < 5000; i++ { // 5 MB in one event, 1 KB a line
				if _, err := io.WriteString(w, line); err != nil {
					return
				}
			}
			io.WriteString(w, "\n")
		}
	}))
	t.Cleanup(up.Close)
	s := startSluice(t, boundsConfig(up.URL+"/v1", ""))
	url := s.URL + "/v1/chat/completions"
	for _, m := range []string{"garbage-400", "garbage-500", "fake-json-error"} {
		code, _, body := post(t, url, ochat("paid/"+m, "x", false))
		msg, _, _, _ := openAIErr(t, body)
		if code < 400 {
			t.Errorf("%s: status %d", m, code)
		}
		// The cut at 200 bytes falls inside "€": the partial rune is dropped, not mangled.
		if m != "fake-json-error" && (!strings.HasSuffix(msg, "a...") || strings.ContainsRune(msg, utf8.RuneError)) {
			t.Errorf("%s: snippet %q", m, msg)
		}
	}
	for m, want := range map[string]string{"huge-event": "event too long", "bad-event": "not valid JSON"} {
		code, _, body := post(t, url, ochat("paid/"+m, "x", true))
		if code != 200 {
			t.Fatalf("%s: %d %s", m, code, body)
		}
		var last string
		for _, line := range strings.Split(body, "\n") {
			if d, ok := strings.CutPrefix(line, "data: "); ok {
				if !json.Valid([]byte(d)) {
					t.Fatalf("%s: invalid JSON event %.200q", m, d)
				}
				last = d
			}
		}
		if !strings.Contains(last, `"error"`) || !strings.Contains(last, want) {
			t.Errorf("%s: stream did not end with %q: %.300s", m, want, last)
		}
	}
}

// TestBoundsDeclaredLength: a client declaring a large Content-Length and sending a few bytes
// is not given a buffer of the declared size.
func TestBoundsDeclaredLength(t *testing.T) {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-paid"))
	s := startSluice(t, boundsConfig(up.URL, ""))
	host := strings.TrimPrefix(s.URL, "http://")
	pid := s.cmd.Process.Pid
	before := rssMB(t, pid)
	var conns []net.Conn
	for range 40 {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"model\":", 16<<20-1)
	}
	time.Sleep(time.Second)
	after := rssMB(t, pid)
	for _, c := range conns {
		c.Close()
	}
	t.Logf("RSS %.1f -> %.1f MB with 40 bodies declared as 16 MiB each", before, after)
	if after-before > 100 {
		t.Errorf("RSS grew %.1f MB for 40 stalled bodies", after-before)
	}
}
