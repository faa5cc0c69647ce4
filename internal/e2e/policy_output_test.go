package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
	"github.com/sluice-gw/sluice/internal/redistest"
)

// zebraUpstream answers "the zebra escaped" to prompts about animals, and echoes otherwise.
func zebraUpstream(t *testing.T) *fakeprovider.Server {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123"))
	up.Script(func(r fakeprovider.Received) fakeprovider.Reply {
		if strings.Contains(string(r.Body), "animals") {
			return fakeprovider.Reply{Text: "the zebra escaped from the zoo"}
		}
		return fakeprovider.Reply{}
	})
	return up
}

func animals(stream bool) string {
	return fmt.Sprintf(`{"model":"up/gpt-test","stream":%v,"messages":[{"role":"user","content":"tell me about animals"}]}`, stream)
}

// TestPolicyOutputStreams: an on_response guard sees streamed answers too; a stream it
// rejects sends the client nothing but the error.
func TestPolicyOutputStreams(t *testing.T) {
	wasm := buildRepoPlugin(t, "policies/deny-words")
	up := zebraUpstream(t)
	cfg := `policies = ["deny-words"]` + "\n" + strings.Replace(upstreamConfig(up.URL, fmt.Sprintf(`
[plugins.deny-words]
path = %q
config = { words = ["zebra"] }
`, wasm)), "idle_timeout = \"500ms\"\n", "idle_timeout = \"500ms\"\npassthrough = [\"/files*\", \"/chat/completions\"]\n", 1)
	s := startSluice(t, cfg)
	chat := s.URL + "/v1/chat/completions"
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			before := up.Count()
			code, h, body := post(t, chat, animals(stream))
			if _, c, _ := openaiError(t, body); code != 403 || c != "content_blocked" {
				t.Fatalf("%d %s", code, body)
			}
			if strings.Contains(body, "zebra") || strings.Contains(body, "data:") || strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") {
				t.Fatalf("the blocked answer leaked: %s %s", h.Get("Content-Type"), body)
			}
			reqs := up.Requests()
			if up.Count() != before+1 || reqs[len(reqs)-1].Stream != stream {
				t.Fatalf("upstream saw %d requests (stream %v)", up.Count()-before, reqs[len(reqs)-1].Stream)
			}
		})
	}
	t.Run("messages api stream", func(t *testing.T) {
		code, _, body := post(t, s.URL+"/v1/messages", `{"model":"up/gpt-test","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"tell me about animals"}]}`)
		if code != 403 || !strings.Contains(body, `"type":"error"`) || strings.Contains(body, "zebra") || strings.Contains(body, "event:") {
			t.Fatalf("%d %s", code, body)
		}
	})
	t.Run("allowed stream intact", func(t *testing.T) {
		code, h, body := post(t, chat, `{"model":"up/gpt-test","stream":true,"messages":[{"role":"user","content":"say horse please"}]}`)
		if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") || !strings.HasSuffix(strings.TrimSpace(body), "data: [DONE]") {
			t.Fatalf("%d %s %s", code, h.Get("Content-Type"), body)
		}
		if !strings.Contains(body, "horse") || strings.Contains(body, `"usage":{`) {
			t.Fatalf("stream content changed (or the injected usage chunk leaked): %s", body)
		}
	})
	t.Run("passthrough to inference refused", func(t *testing.T) {
		before := up.Count()
		code, _, body := post(t, s.URL+"/passthrough/up/chat/completions", animals(false))
		if _, c, _ := openaiError(t, body); code != 403 || c != "policy_bypass_refused" {
			t.Fatalf("%d %s", code, body)
		}
		if up.Count() != before {
			t.Fatal("the passthrough reached the upstream")
		}
	})
}

// TestPolicyOutputCacheReplay: a cached answer goes through on_response before it is sent,
// here one stored by a replica without the guard and replayed (whole and as a stream) by one
// with it, through a shared Redis cache.
func TestPolicyOutputCacheReplay(t *testing.T) {
	wasm := buildRepoPlugin(t, "policies/deny-words")
	rd := redistest.Start(t)
	up := zebraUpstream(t)
	shared := fmt.Sprintf(`
[cache]
enabled = true
store = "redis"

[redis]
url = %q
`, rd.URL)
	plain := startSluice(t, upstreamConfig(up.URL, shared))
	code, h, body := post(t, plain.URL+"/v1/chat/completions", animals(false))
	if code != 200 || !strings.Contains(body, "zebra") || h.Get("X-Sluice-Cache") != "MISS" {
		t.Fatalf("unguarded replica: %d %s %s", code, h.Get("X-Sluice-Cache"), body)
	}
	if _, h, _ = post(t, plain.URL+"/v1/chat/completions", animals(false)); h.Get("X-Sluice-Cache") != "HIT" {
		t.Fatalf("the answer was not cached: %s", h.Get("X-Sluice-Cache"))
	}
	guarded := startSluice(t, `policies = ["deny-words"]`+"\n"+upstreamConfig(up.URL, shared+fmt.Sprintf(`
[plugins.deny-words]
path = %q
config = { words = ["zebra"] }
`, wasm)))
	before := up.Count()
	for _, stream := range []bool{false, true} {
		code, h, body := post(t, guarded.URL+"/v1/chat/completions", animals(stream))
		if _, c, _ := openaiError(t, body); code != 403 || c != "content_blocked" || strings.Contains(body, "zebra") {
			t.Fatalf("cache replay (stream %v): %d %s %s", stream, code, h.Get("X-Sluice-Cache"), body)
		}
	}
	if up.Count() != before {
		t.Fatalf("the guarded replica went upstream (%d requests): the cache was not hit", up.Count()-before)
	}
}

// TestPolicyOutputIncremental: a policy with stream = "incremental" lets checked windows of a
// stream through; when it rejects after bytes were sent, the stream ends with an in-stream
// error event and no [DONE], and the rejected words never leave.
func TestPolicyOutputIncremental(t *testing.T) {
	wasm := buildRepoPlugin(t, "policies/deny-words")
	up := zebraUpstream(t)
	s := startSluice(t, `policies = ["deny-words"]`+"\n"+upstreamConfig(up.URL, fmt.Sprintf(`
[plugins.deny-words]
path = %q
config = { words = ["zebra"] }
stream = "incremental"
check_every = "1"
`, wasm)))
	chat := s.URL + "/v1/chat/completions"
	code, h, body := post(t, chat, animals(true))
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("%d %s %s", code, h.Get("Content-Type"), body)
	}
	if !strings.Contains(body, `"the`) || strings.Contains(body, "zebra") || strings.Contains(body, "[DONE]") {
		t.Fatalf("want the checked prefix, no blocked word and no [DONE]: %s", body)
	}
	events := strings.Split(strings.TrimSpace(body), "\n\n")
	last := strings.TrimPrefix(events[len(events)-1], "data: ")
	if _, c, _ := openaiError(t, last); c != "content_blocked" {
		t.Fatalf("last event %s", last)
	}
	// A clean answer streams whole.
	code, _, body = post(t, chat, `{"model":"up/gpt-test","stream":true,"messages":[{"role":"user","content":"say horse please"}]}`)
	if code != 200 || !strings.Contains(body, "horse") || !strings.HasSuffix(strings.TrimSpace(body), "data: [DONE]") {
		t.Fatalf("%d %s", code, body)
	}
	// Non-streamed answers are checked whole as always.
	code, _, body = post(t, chat, animals(false))
	if _, c, _ := openaiError(t, body); code != 403 || c != "content_blocked" {
		t.Fatalf("%d %s", code, body)
	}
}

// TestPolicyOutputNodeSDK: the official OpenAI client raises on a blocked stream, held or
// incremental.
func TestPolicyOutputNodeSDK(t *testing.T) {
	wasm := buildRepoPlugin(t, "policies/deny-words")
	up := zebraUpstream(t)
	cfg := func(extra string) string {
		return `policies = ["deny-words"]` + "\n" + upstreamConfig(up.URL, fmt.Sprintf(`
[plugins.deny-words]
path = %q
config = { words = ["zebra"] }
%s
`, wasm, extra))
	}
	held := startSluice(t, cfg(""))
	inc := startSluice(t, cfg("stream = \"incremental\"\ncheck_every = \"1\""))
	out := node(t, "policy.test.mjs", "SLUICE_URL="+held.URL, "SLUICE_INCREMENTAL_URL="+inc.URL)
	if !strings.Contains(out, "pass 2") {
		t.Fatalf("expected 2 passing node tests:\n%s", out)
	}
}
