package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
)

const bedrockClaude = "anthropic.claude-3-5-haiku-20241022-v1:0"

// messagesCall posts a Messages request to sluice and returns the status and body.
func messagesCall(t *testing.T, url string, body []byte, header map[string]string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/v1/messages", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("anthropic-version", "2023-06-01")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, got
}

// sseEvents splits an SSE body into event names and their data.
func sseEvents(body []byte) (names []string, data []string) {
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
			names = append(names, n)
		}
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			data = append(data, d)
		}
	}
	return names, data
}

func jsonObject(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, b)
	}
	return m
}

// TestMessagesBedrockInvokeWhole: /v1/messages to Claude on Bedrock goes through InvokeModel with
// the client's body whole (model and stream moved to the path, the version and beta features
// into the body), and the answer comes back as Anthropic's message or event stream.
func TestMessagesBedrockInvokeWhole(t *testing.T) {
	f := startTranslateFakes(t)
	s := startSluice(t, translateConfig(f))
	const beta = "interleaved-thinking-2025-05-14, context-management-2025-06-27"
	for _, stream := range []bool{false, true} {
		f.bed.ClearRequests()
		extra := ""
		if stream {
			extra = `,"stream":true`
		}
		body := []byte(strings.Replace(strings.Replace(claudeCodeLike, "%s", extra, 1),
			`"anthropic/claude-sonnet-4-5"`, `"bedrock/`+bedrockClaude+`"`, 1))
		st, got := messagesCall(t, s.URL, body, map[string]string{"anthropic-beta": beta})
		if st != 200 {
			t.Fatalf("stream=%v: status %d: %s", stream, st, got)
		}
		rs := f.bed.Requests()
		if len(rs) != 1 {
			t.Fatalf("stream=%v: bedrock got %d requests", stream, len(rs))
		}
		up := rs[0]
		op := "/invoke"
		if stream {
			op = "/invoke-with-response-stream"
		}
		if up.Path != "/model/"+bedrockClaude+op || up.Invalid != "" {
			t.Errorf("stream=%v: bedrock path %s, invalid %q", stream, up.Path, up.Invalid)
		}
		if msg := bedrockHeaders(up); msg != "" {
			t.Errorf("stream=%v: %s", stream, msg)
		}
		want := jsonObject(t, body)
		delete(want, "model")
		delete(want, "stream")
		want["anthropic_version"] = "bedrock-2023-05-31"
		want["anthropic_beta"] = []any{"interleaved-thinking-2025-05-14", "context-management-2025-06-27"}
		if gotBody := jsonObject(t, up.Body); !reflect.DeepEqual(gotBody, want) {
			t.Errorf("stream=%v: bedrock body differs from the client's:\n got %s\nwant %s", stream, up.Body, mustMarshalBytes(want))
		}
		for _, h := range []string{"anthropic-beta", "anthropic-version", "x-api-key"} {
			if v := up.Header.Get(h); v != "" {
				t.Errorf("stream=%v: header %s: %q reached bedrock", stream, h, v)
			}
		}
		if !stream {
			m := jsonObject(t, got)
			if m["type"] != "message" || m["role"] != "assistant" || m["stop_reason"] != "end_turn" {
				t.Errorf("answer is not an Anthropic message: %s", got)
			}
			if c, _ := m["content"].([]any); len(c) == 0 || c[0].(map[string]any)["text"] != "list the files" {
				t.Errorf("answer content %v", m["content"])
			}
			continue
		}
		names, data := sseEvents(got)
		if len(names) < 5 || names[0] != "message_start" || names[len(names)-2] != "message_delta" || names[len(names)-1] != "message_stop" {
			t.Fatalf("stream events %v\n%s", names, got)
		}
		text := ""
		for i, d := range data {
			ev := jsonObject(t, []byte(d))
			if ev["type"] != names[i] {
				t.Errorf("event %q carries type %v", names[i], ev["type"])
			}
			if delta, _ := ev["delta"].(map[string]any); delta["type"] == "text_delta" {
				text += delta["text"].(string)
			}
		}
		if text != "list the files" {
			t.Errorf("streamed text %q", text)
		}
	}
	// The access line is written once the handler returns, which may be just after the client
	// has read the last byte.
	waitFor(t, func() bool {
		return strings.Count(s.Logs(), "path=/v1/messages status=200") == 2
	}, "two access log lines for /v1/messages")
	for _, line := range strings.Split(s.Logs(), "\n") {
		if strings.Contains(line, "path=/v1/messages status=200") && !strings.Contains(line, "completion_tokens=") {
			t.Errorf("access log line lacks the native answer's usage: %s", line)
		}
	}
}

// TestMessagesBedrockInvokeErrors: Bedrock's errors reach the client in Anthropic's shape, whole
// or mid-stream, and a Bedrock model that is not Claude is still bridged through Converse.
func TestMessagesBedrockInvokeErrors(t *testing.T) {
	f := startTranslateFakes(t)
	s := startSluice(t, translateConfig(f)+`
[routers.claude-on-aws]
strategy = "priority"
targets = [{ model = "bedrock/`+bedrockClaude+`" }, { model = "anthropic/claude-haiku-4-5" }]
`)
	call := func(model, extra string) (int, []byte) {
		body := `{"model":"bedrock/` + model + `","max_tokens":64` + extra + `,"messages":[{"role":"user","content":"hello there"}]}`
		return messagesCall(t, s.URL, []byte(body), nil)
	}
	wantError := func(name string, st int, got []byte, status int, typ, msg string) {
		t.Helper()
		m := jsonObject(t, got)
		e, _ := m["error"].(map[string]any)
		if st != status || m["type"] != "error" || e["type"] != typ || !strings.Contains(e["message"].(string), msg) {
			t.Errorf("%s: status %d body %s, want %d %s naming %q", name, st, got, status, typ, msg)
		}
	}

	// A scripted ValidationException and one the fake's validator raises.
	f.bed.Enqueue(fakeprovider.Reply{Status: 400, Message: "the upstream refused this request"})
	st, got := call(bedrockClaude, "")
	wantError("scripted 400", st, got, 400, "invalid_request_error", "the upstream refused this request")
	st, got = call(bedrockClaude, `,"metadata":{"user_id":"u","tags":["x"]}`)
	wantError("validated 400", st, got, 400, "invalid_request_error", "metadata.tags")
	if rs := f.bed.Requests(); len(rs) != 2 || rs[1].Invalid == "" || !strings.HasSuffix(rs[1].Path, "/invoke") {
		t.Errorf("bedrock requests %+v", rs)
	}

	// A stream cut after two events ends with Anthropic's error event.
	f.bed.Enqueue(fakeprovider.Reply{Fault: fakeprovider.CutAfter(2)})
	st, got = call(bedrockClaude, `,"stream":true`)
	names, data := sseEvents(got)
	if st != 200 || len(names) != 3 || names[0] != "message_start" || names[2] != "error" {
		t.Errorf("cut stream: status %d events %v", st, names)
	} else if e := jsonObject(t, []byte(data[2])); e["type"] != "error" || e["error"].(map[string]any)["type"] != "api_error" {
		t.Errorf("cut stream error event %s", data[2])
	}

	// An exception inside the stream becomes an Anthropic error event.
	f.bed.Enqueue(fakeprovider.Reply{Chunks: []string{
		`{"type":"message_start","message":{"id":"msg_bdrk_1","type":"message","role":"assistant","model":"claude-3-5-haiku-20241022","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}`,
		`{"throttlingException":{"message":"Too many tokens, please wait before trying again."}}`,
	}})
	st, got = call(bedrockClaude, `,"stream":true`)
	names, data = sseEvents(got)
	if st != 200 || len(names) != 2 || names[1] != "error" || !strings.Contains(data[1], "Too many tokens") {
		t.Errorf("stream exception: status %d events %v\n%s", st, names, got)
	} else if e := jsonObject(t, []byte(data[1])); e["error"].(map[string]any)["type"] != "rate_limit_error" {
		t.Errorf("stream exception error event %s", data[1])
	}

	// A throttled Claude on Bedrock fails over to the next target, whole or streamed (after the
	// first 429 the balancer may skip Bedrock altogether).
	f.bed.ClearRequests()
	f.ant.ClearRequests()
	f.bed.Script(func(fakeprovider.Received) fakeprovider.Reply {
		return fakeprovider.Reply{Status: 429, Message: "Too many requests, please wait before trying again."}
	})
	for _, extra := range []string{"", `,"stream":true`} {
		body := `{"model":"claude-on-aws","max_tokens":64` + extra + `,"messages":[{"role":"user","content":"fail over"}]}`
		st, got = messagesCall(t, s.URL, []byte(body), nil)
		if st != 200 || !strings.Contains(string(got), "over") || (extra != "" && !strings.Contains(string(got), "event: message_stop")) {
			t.Errorf("failover%s: status %d body %s", extra, st, got)
		}
	}
	if n := len(f.bed.Requests()); n < 1 {
		t.Errorf("bedrock got %d requests, want at least 1", n)
	}
	if n := len(f.ant.Requests()); n != 2 {
		t.Errorf("the fallback got %d requests, want 2", n)
	}
	f.bed.Script(nil)

	// Not Claude: bridged through the Converse translator.
	f.bed.ClearRequests()
	st, got = call("amazon.nova-lite-v1:0", "")
	if m := jsonObject(t, got); st != 200 || m["type"] != "message" {
		t.Errorf("non-Claude model: status %d body %s", st, got)
	}
	if rs := f.bed.Requests(); len(rs) != 1 || rs[0].Path != "/model/amazon.nova-lite-v1:0/converse" || rs[0].Invalid != "" {
		t.Errorf("non-Claude model reached bedrock as %+v", rs)
	}
}

func mustMarshalBytes(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
