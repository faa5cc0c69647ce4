package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
	"github.com/sluice-gw/sluice/internal/redistest"
)

// cacheConfig fronts the fake upstream with the given [cache] table body and extra TOML.
func cacheConfig(upURL, cacheTable, extra string) string {
	return upstreamConfig(upURL, "\n[cache]\nenabled = true\n"+cacheTable+"\n"+extra)
}

func chatBody(model, user string) string {
	b, _ := json.Marshal(map[string]any{"model": model, "messages": []map[string]string{{"role": "user", "content": user}}})
	return string(b)
}

func streamBody(model, user string) string {
	b, _ := json.Marshal(map[string]any{"model": model, "stream": true, "messages": []map[string]string{{"role": "user", "content": user}}})
	return string(b)
}

// numbered makes the fake answer "answer-N" to its Nth request, so tests can tell answers apart.
func numbered(up *fakeprovider.Server) *atomic.Int64 {
	var n atomic.Int64
	up.Script(func(fakeprovider.Received) fakeprovider.Reply {
		return fakeprovider.Reply{Text: fmt.Sprintf("answer-%d", n.Add(1))}
	})
	return &n
}

// content is the assistant text of a chat completion body, or of an SSE chat stream.
func content(t *testing.T, body string) string {
	t.Helper()
	if strings.HasPrefix(body, "data: ") {
		var sb strings.Builder
		for _, line := range strings.Split(body, "\n") {
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok || data == "[DONE]" {
				continue
			}
			var c struct {
				Choices []struct {
					Delta struct{ Content string } `json:"delta"`
				} `json:"choices"`
			}
			if err := json.Unmarshal([]byte(data), &c); err != nil {
				t.Fatalf("bad chunk %q: %v", data, err)
			}
			for _, ch := range c.Choices {
				sb.WriteString(ch.Delta.Content)
			}
		}
		return sb.String()
	}
	var c struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal([]byte(body), &c); err != nil || len(c.Choices) == 0 {
		t.Fatalf("not a chat completion: %v\n%s", err, body)
	}
	return c.Choices[0].Message.Content
}

// want posts body and checks the status and the x-sluice-cache header; it returns the body.
func want(t *testing.T, url, body, cacheStatus string, headers ...string) (string, map[string]string) {
	t.Helper()
	code, h, out := post(t, url+"/v1/chat/completions", body, headers...)
	if code != 200 {
		t.Fatalf("status %d: %s", code, out)
	}
	if got := h.Get("X-Sluice-Cache"); got != cacheStatus {
		t.Fatalf("x-sluice-cache = %q, want %q (headers %v)", got, cacheStatus, headers)
	}
	return out, map[string]string{"bucket": h.Get("X-Sluice-Cache-Bucket"), "age": h.Get("Age"), "provider": h.Get("X-Sluice-Provider")}
}

func wantCount(t *testing.T, up *fakeprovider.Server, n int) {
	t.Helper()
	if got := up.Count(); got != n {
		t.Fatalf("upstream saw %d requests, want %d", got, n)
	}
}

func TestCacheExactHit(t *testing.T) {
	up := fakeprovider.NewOpenAI(t)
	s := startSluice(t, cacheConfig(up.URL, "", ""))
	body := chatBody("up/gpt-test", "what is a sluice?")
	first, h1 := want(t, s.URL, body, "MISS")
	second, h2 := want(t, s.URL, body, "HIT")
	wantCount(t, up, 1)
	if first != second {
		t.Fatalf("hit differs from the original:\n%s\n%s", first, second)
	}
	if h1["bucket"] != "0" || h2["bucket"] != "0" || h2["age"] == "" || h2["provider"] != "cache" {
		t.Fatalf("headers: miss %v hit %v", h1, h2)
	}
	// The access line is written after the answer; give the log pipe a moment.
	for i := 0; !strings.Contains(s.Logs(), "provider=cache") || !strings.Contains(s.Logs(), "cache=HIT"); i++ {
		if i == 50 {
			t.Fatal("the access log does not note the hit")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCacheCanonicalKey(t *testing.T) {
	up := fakeprovider.NewOpenAI(t)
	s := startSluice(t, cacheConfig(up.URL, "", `
[aliases]
fast = "up/gpt-test"
`))
	want(t, s.URL, `{"model":"up/gpt-test","messages":[{"role":"user","content":"hi there"}],"max_tokens":50}`, "MISS")
	variants := []string{
		"{\n  \"max_tokens\": 50,\n  \"messages\": [ { \"content\": \"hi there\", \"role\": \"user\" } ],\n  \"model\": \"up/gpt-test\"\n}",
		`{"model":"up/gpt-test","messages":[{"role":"user","content":"hi\u0020there"}],"max_tokens":50,"temperature":1.0,"n":1,"top_p":1e0}`,
		`{"model":"up/gpt-test","messages":[{"role":"user","content":"hi there"}],"max_tokens":50,"user":"someone","metadata":{"a":"b"},"seed":null}`,
		// The body's model is replaced by the resolved target: an alias shares the entry.
		`{"model":"fast","messages":[{"role":"user","content":"hi there"}],"max_tokens":50}`,
	}
	for _, v := range variants {
		want(t, s.URL, v, "HIT")
	}
	wantCount(t, up, 1)
	want(t, s.URL, `{"model":"up/gpt-test","messages":[{"role":"user","content":"hi there"}],"max_tokens":51}`, "MISS")
	want(t, s.URL, `{"model":"up/gpt-test","messages":[{"role":"user","content":"Hi there"}],"max_tokens":50}`, "MISS")
	wantCount(t, up, 3)
}

func TestCacheTenantIsolation(t *testing.T) {
	body := chatBody("up/gpt-test", "tenant question")
	t.Run("teams by header", func(t *testing.T) {
		for _, shared := range []bool{false, true} {
			up := fakeprovider.NewOpenAI(t)
			s := startSluice(t, cacheConfig(up.URL, fmt.Sprintf("share_across_tenants = %v", shared), ""))
			want(t, s.URL, body, "MISS", "X-Sluice-Team", "red")
			want(t, s.URL, body, "HIT", "X-Sluice-Team", "red")
			if shared {
				want(t, s.URL, body, "HIT", "X-Sluice-Team", "blue")
				want(t, s.URL, body, "HIT")
				wantCount(t, up, 1)
			} else {
				want(t, s.URL, body, "MISS", "X-Sluice-Team", "blue")
				want(t, s.URL, body, "MISS")
				wantCount(t, up, 3)
			}
		}
	})
	t.Run("virtual keys", func(t *testing.T) {
		keys := `
[auth]
required = true
keys = [
  { id = "k-red", key = "sk-red-0123456789", team = "red" },
  { id = "k-blue", key = "sk-blue-0123456789", team = "blue" },
  { id = "k-red2", key = "sk-red2-0123456789", team = "red" },
]
`
		for _, shared := range []bool{false, true} {
			up := fakeprovider.NewOpenAI(t)
			s := startSluice(t, cacheConfig(up.URL, fmt.Sprintf("share_across_tenants = %v", shared), keys))
			red := []string{"Authorization", "Bearer sk-red-0123456789"}
			want(t, s.URL, body, "MISS", red...)
			want(t, s.URL, body, "HIT", red...)
			// A team header cannot move a keyed caller into another namespace.
			want(t, s.URL, body, "HIT", append(red, "X-Sluice-Team", "blue")...)
			if shared {
				want(t, s.URL, body, "HIT", "Authorization", "Bearer sk-blue-0123456789")
				want(t, s.URL, body, "HIT", "Authorization", "Bearer sk-red2-0123456789")
				wantCount(t, up, 1)
			} else {
				want(t, s.URL, body, "MISS", "Authorization", "Bearer sk-blue-0123456789")
				want(t, s.URL, body, "MISS", "Authorization", "Bearer sk-red2-0123456789")
				wantCount(t, up, 3)
			}
		}
	})
}

func TestCacheBuckets(t *testing.T) {
	up := fakeprovider.NewOpenAI(t)
	numbered(up)
	s := startSluice(t, cacheConfig(up.URL, "", ""))
	body := chatBody("up/gpt-test", "tell me a joke")
	hdr := []string{"X-Sluice-Cache-Buckets", "3"}
	answers := map[string]string{} // bucket -> answer
	for i := range 3 {
		out, h := want(t, s.URL, body, "MISS", hdr...)
		if h["bucket"] != fmt.Sprint(i) {
			t.Fatalf("fill %d went to bucket %s", i, h["bucket"])
		}
		answers[h["bucket"]] = content(t, out)
	}
	wantCount(t, up, 3)
	seen := map[string]int{}
	for range 30 {
		out, h := want(t, s.URL, body, "HIT", hdr...)
		got := content(t, out)
		if answers[h["bucket"]] != got {
			t.Fatalf("bucket %s served %q, filled with %q", h["bucket"], got, answers[h["bucket"]])
		}
		seen[got]++
	}
	wantCount(t, up, 3)
	// 30 uniform draws among 3 all landing on one bucket has probability 3^-29.
	if len(seen) < 2 {
		t.Fatalf("draws are not random: %v", seen)
	}
	// A single-bucket request is its own key space entry 0, already filled.
	out, _ := want(t, s.URL, body, "HIT")
	if content(t, out) != answers["0"] {
		t.Fatalf("buckets=1 served %q, want bucket 0's %q", content(t, out), answers["0"])
	}
	// Asking for more buckets than are filled misses into the first empty one.
	_, h := want(t, s.URL, body, "MISS", "X-Sluice-Cache-Buckets", "4")
	if h["bucket"] != "3" {
		t.Fatalf("4th bucket fill went to %s", h["bucket"])
	}
}

func TestCacheStreamReplay(t *testing.T) {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithChunks(6))
	s := startSluice(t, cacheConfig(up.URL, "", ""))
	sb := streamBody("up/gpt-test", "stream me five short words")
	orig, _ := want(t, s.URL, sb, "MISS")
	replay, _ := want(t, s.URL, sb, "HIT")
	if orig != replay {
		t.Fatalf("replay differs from the original stream:\n--- original\n%s\n--- replay\n%s", orig, replay)
	}
	if !strings.HasSuffix(replay, "data: [DONE]\n\n") || strings.Count(replay, "data: ") < 4 {
		t.Fatalf("replay is not a full stream:\n%s", replay)
	}
	wantCount(t, up, 1)

	// The same prompt without stream is served from the streamed entry.
	full, _ := want(t, s.URL, chatBody("up/gpt-test", "stream me five short words"), "HIT")
	if content(t, full) != content(t, orig) {
		t.Fatalf("non-stream from stream: %q, stream said %q", content(t, full), content(t, orig))
	}
	// Asking for usage in a replay gets a usage chunk.
	withUsage := `{"model":"up/gpt-test","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"stream me five short words"}]}`
	u, _ := want(t, s.URL, withUsage, "HIT")
	if !strings.Contains(u, `"usage":{`) || strings.Contains(orig, `"usage":{`) {
		t.Fatalf("usage chunk: asked %v, not asked %v", strings.Contains(u, `"usage":{`), strings.Contains(orig, `"usage":{`))
	}

	// The reverse: a non-stream answer replayed as a stream.
	nb := chatBody("up/gpt-test", "answer me plainly")
	plain, _ := want(t, s.URL, nb, "MISS")
	asStream, _ := want(t, s.URL, streamBody("up/gpt-test", "answer me plainly"), "HIT")
	if content(t, asStream) != content(t, plain) || !strings.HasSuffix(asStream, "data: [DONE]\n\n") {
		t.Fatalf("stream from non-stream: %q vs %q\n%s", content(t, asStream), content(t, plain), asStream)
	}
	wantCount(t, up, 2)
}

func TestCacheControlHeaders(t *testing.T) {
	up := fakeprovider.NewOpenAI(t)
	numbered(up)
	s := startSluice(t, cacheConfig(up.URL, `ttl = "10m"`, ""))
	body := chatBody("up/gpt-test", "cache control")

	t.Run("no-store", func(t *testing.T) {
		want(t, s.URL, body, "BYPASS", "Cache-Control", "no-store")
		want(t, s.URL, body, "MISS") // nothing was stored: answer-2 goes in now
		wantCount(t, up, 2)
		out, _ := want(t, s.URL, body, "BYPASS", "Cache-Control", "no-store")
		if content(t, out) != "answer-3" {
			t.Fatalf("no-store served %q from the cache", content(t, out))
		}
	})
	t.Run("no-cache refreshes", func(t *testing.T) {
		out, _ := want(t, s.URL, body, "MISS", "Cache-Control", "no-cache")
		if content(t, out) != "answer-4" {
			t.Fatalf("no-cache served %q", content(t, out))
		}
		out, _ = want(t, s.URL, body, "HIT")
		if content(t, out) != "answer-4" {
			t.Fatalf("after no-cache the entry is %q, want the refreshed answer-4", content(t, out))
		}
		want(t, s.URL, body, "MISS", "Cache-Control", "max-age=0")
		wantCount(t, up, 5)
	})
	t.Run("max-age", func(t *testing.T) {
		want(t, s.URL, body, "HIT", "Cache-Control", "max-age=60")
		time.Sleep(1100 * time.Millisecond)
		want(t, s.URL, body, "MISS", "Cache-Control", "max-age=1")
		_, h := want(t, s.URL, body, "HIT", "Cache-Control", "max-age=1")
		if h["age"] != "0" {
			t.Fatalf("fresh entry has Age %q", h["age"])
		}
		// The entry stored under max-age=1 lives one second, not the configured ten minutes.
		time.Sleep(1100 * time.Millisecond)
		want(t, s.URL, body, "MISS")
		wantCount(t, up, 7)
	})
}

func TestCacheSeed(t *testing.T) {
	up := fakeprovider.NewOpenAI(t)
	s := startSluice(t, cacheConfig(up.URL, "", ""))
	body := chatBody("up/gpt-test", "seeded")
	want(t, s.URL, body, "MISS")
	want(t, s.URL, body, "MISS", "X-Sluice-Cache-Seed", "one")
	want(t, s.URL, body, "HIT", "X-Sluice-Cache-Seed", "one")
	want(t, s.URL, body, "MISS", "X-Sluice-Cache-Seed", "two")
	want(t, s.URL, body, "HIT")
	wantCount(t, up, 3)
}

func TestCacheNeverStoresFailures(t *testing.T) {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithChunks(8))
	var failing atomic.Bool
	failing.Store(true)
	up.Script(func(r fakeprovider.Received) fakeprovider.Reply {
		if !failing.Load() {
			return fakeprovider.Reply{}
		}
		if r.Stream {
			return fakeprovider.Reply{Fault: fakeprovider.CutAfter(2)}
		}
		return fakeprovider.Reply{Status: 500, Message: "upstream broke"}
	})
	s := startSluice(t, cacheConfig(up.URL, "", ""))
	body := chatBody("up/gpt-test", "fragile")
	for range 2 {
		code, h, out := post(t, s.URL+"/v1/chat/completions", body)
		if code < 500 || h.Get("X-Sluice-Cache") != "MISS" {
			t.Fatalf("status %d cache %q: %s", code, h.Get("X-Sluice-Cache"), out)
		}
	}
	sb := streamBody("up/gpt-test", "fragile stream")
	for range 2 {
		_, h, out := post(t, s.URL+"/v1/chat/completions", sb)
		if h.Get("X-Sluice-Cache") != "MISS" || strings.Contains(out, "[DONE]") || !strings.Contains(out, `"error"`) {
			t.Fatalf("cut stream: cache %q\n%s", h.Get("X-Sluice-Cache"), out)
		}
	}
	n := up.Count()
	failing.Store(false)
	want(t, s.URL, body, "MISS")
	want(t, s.URL, body, "HIT")
	want(t, s.URL, sb, "MISS")
	want(t, s.URL, sb, "HIT")
	wantCount(t, up, n+2)
}

// buildPlugin compiles an example plugin with `sluice plugin build`.
func buildPlugin(t *testing.T, name string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name+".wasm")
	cmd := exec.Command(binPath, "plugin", "build", filepath.Join(repo, "examples", name), "-o", out)
	cmd.Dir = repo
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sluice plugin build %s: %v\n%s", name, err, b)
	}
	return out
}

func TestCacheKeyPlugins(t *testing.T) {
	normalize := buildPlugin(t, "cache-key-normalize")
	template := buildPlugin(t, "cache-key-template")

	t.Run("normalize", func(t *testing.T) {
		up := fakeprovider.NewOpenAI(t)
		s := startSluice(t, cacheConfig(up.URL, `key_plugin = "norm"`, fmt.Sprintf("[plugins.norm]\npath = %q\n", normalize)))
		want(t, s.URL, chatBody("up/gpt-test", "Hello  World"), "MISS")
		want(t, s.URL, chatBody("up/gpt-test", "hello world"), "HIT")
		want(t, s.URL, chatBody("up/gpt-test", "  HELLO\tworld "), "HIT")
		sys := func(day, user string) string {
			return fmt.Sprintf(`{"model":"up/gpt-test","messages":[{"role":"system","content":"Be brief.\nToday is %s."},{"role":"user","content":%q}]}`, day, user)
		}
		want(t, s.URL, sys("Monday", "Hello world"), "MISS")
		want(t, s.URL, sys("Tuesday", "hello  WORLD"), "HIT")
		want(t, s.URL, chatBody("up/gpt-test", "goodbye world"), "MISS")
		// The plugin key is still namespaced by tenant.
		want(t, s.URL, chatBody("up/gpt-test", "hello world"), "MISS", "X-Sluice-Team", "other")
		wantCount(t, up, 4)
	})
	t.Run("template", func(t *testing.T) {
		up := fakeprovider.NewOpenAI(t)
		s := startSluice(t, cacheConfig(up.URL, `key_plugin = "tpl"`,
			fmt.Sprintf("[plugins.tpl]\npath = %q\nconfig = { buckets = 2 }\n", template)))
		render := func(version, name string) string {
			return fmt.Sprintf(`{"model":"up/gpt-test","metadata":{"template_id":"welcome","name":%q},"messages":[{"role":"system","content":"Template %s"},{"role":"user","content":"Write a welcome note for %s."}]}`, name, version, name)
		}
		// buckets = 2 from the plugin config: two fills, then hits.
		want(t, s.URL, render("v1", "Ann"), "MISS")
		want(t, s.URL, render("v2", "Ann"), "MISS")
		_, h := want(t, s.URL, render("v3", "Ann"), "HIT")
		if h["bucket"] != "0" && h["bucket"] != "1" {
			t.Fatalf("bucket %q", h["bucket"])
		}
		want(t, s.URL, render("v1", "Bob"), "MISS")
		wantCount(t, up, 3)
		// The header form: the variables are the last user message.
		hdr := []string{"X-Template-Id", "faq", "X-Sluice-Cache-Buckets", "1"}
		want(t, s.URL, `{"model":"up/gpt-test","messages":[{"role":"system","content":"FAQ v1"},{"role":"user","content":"shipping"}]}`, "MISS", hdr...)
		want(t, s.URL, `{"model":"up/gpt-test","messages":[{"role":"system","content":"FAQ v2"},{"role":"user","content":"shipping"}]}`, "HIT", hdr...)
		want(t, s.URL, `{"model":"up/gpt-test","messages":[{"role":"system","content":"FAQ v2"},{"role":"user","content":"returns"}]}`, "MISS", hdr...)
		// No template id: the host's canonical key.
		want(t, s.URL, chatBody("up/gpt-test", "plain"), "MISS")
		want(t, s.URL, chatBody("up/gpt-test", "plain"), "HIT")
		want(t, s.URL, chatBody("up/gpt-test", "Plain"), "MISS")
		wantCount(t, up, 7)
	})
}

func TestCacheRedisSharedAcrossProcesses(t *testing.T) {
	rd := redistest.Start(t)
	up := fakeprovider.NewOpenAI(t)
	cfg := cacheConfig(up.URL, `store = "redis"`, fmt.Sprintf("[redis]\nurl = %q\n", rd.URL))
	a := startSluice(t, cfg)
	b := startSluice(t, cfg)
	body := chatBody("up/gpt-test", "shared between replicas")
	orig, _ := want(t, a.URL, body, "MISS")
	got, _ := want(t, b.URL, body, "HIT")
	if orig != got {
		t.Fatalf("replica B served a different answer:\n%s\n%s", orig, got)
	}
	sb := streamBody("up/gpt-test", "streamed between replicas")
	origS, _ := want(t, b.URL, sb, "MISS")
	gotS, _ := want(t, a.URL, sb, "HIT")
	if origS != gotS {
		t.Fatalf("replayed stream differs across replicas:\n%s\n%s", origS, gotS)
	}
	wantCount(t, up, 2)
}

func TestCacheTieredStore(t *testing.T) {
	rd := redistest.Start(t)
	up := fakeprovider.NewOpenAI(t)
	cfg := cacheConfig(up.URL, `store = "tiered"`, fmt.Sprintf("[redis]\nurl = %q\ntimeout = \"200ms\"\n", rd.URL))
	a := startSluice(t, cfg)
	b := startSluice(t, cfg)
	body := chatBody("up/gpt-test", "two levels")
	want(t, a.URL, body, "MISS")
	want(t, b.URL, body, "HIT") // from Redis, now also in B's memory
	rd.Stop()
	want(t, b.URL, body, "HIT") // from B's memory with Redis gone
	want(t, a.URL, body, "HIT") // A kept its own copy too
	// A key only Redis could answer is a bypass while it is down: served, not stored.
	want(t, a.URL, chatBody("up/gpt-test", "new while redis is down"), "BYPASS")
	wantCount(t, up, 2)
}

func TestCacheRedisDownBypasses(t *testing.T) {
	rd := redistest.Start(t)
	up := fakeprovider.NewOpenAI(t)
	s := startSluice(t, cacheConfig(up.URL, `store = "redis"`, fmt.Sprintf("[redis]\nurl = %q\ntimeout = \"200ms\"\n", rd.URL)))
	body := chatBody("up/gpt-test", "redis outage")
	want(t, s.URL, body, "MISS")
	want(t, s.URL, body, "HIT")
	rd.Stop()
	for range 3 {
		start := time.Now()
		out, _ := want(t, s.URL, body, "BYPASS")
		if !strings.Contains(out, `"choices"`) {
			t.Fatalf("not an answer: %s", out)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("a bypass took %s with Redis down", d)
		}
	}
	want(t, s.URL, streamBody("up/gpt-test", "redis outage"), "BYPASS")
	wantCount(t, up, 5)
}

func TestCachePerRouterConfig(t *testing.T) {
	up := fakeprovider.NewOpenAI(t)
	s := startSluice(t, cacheConfig(up.URL, `ttl = "10m"`, `
[routers.plain]
targets = [{ model = "up/gpt-test" }]

[routers.off]
targets = [{ model = "up/gpt-test" }]
[routers.off.cache]
enabled = false

[routers.short]
targets = [{ model = "up/gpt-test" }]
[routers.short.cache]
ttl = "1s"

[routers.multi]
targets = [{ model = "up/gpt-test" }]
[routers.multi.cache]
buckets = 2
`))
	q := "per router"
	want(t, s.URL, chatBody("plain", q), "MISS")
	want(t, s.URL, chatBody("plain", q), "HIT")

	for range 2 {
		code, h, out := post(t, s.URL+"/v1/chat/completions", chatBody("off", q))
		if code != 200 || h.Get("X-Sluice-Cache") == "HIT" || h.Get("X-Sluice-Cache") == "MISS" {
			t.Fatalf("router with the cache off: %d %q %s", code, h.Get("X-Sluice-Cache"), out)
		}
	}
	wantCount(t, up, 3)

	want(t, s.URL, chatBody("short", q), "MISS")
	want(t, s.URL, chatBody("short", q), "HIT")
	time.Sleep(1200 * time.Millisecond)
	want(t, s.URL, chatBody("short", q), "MISS")
	want(t, s.URL, chatBody("plain", q), "HIT") // the global ten minutes still hold
	wantCount(t, up, 5)

	want(t, s.URL, chatBody("multi", q), "MISS")
	want(t, s.URL, chatBody("multi", q), "MISS")
	want(t, s.URL, chatBody("multi", q), "HIT")
	wantCount(t, up, 7)
}

func TestCacheNodeSDK(t *testing.T) {
	up := fakeprovider.NewOpenAI(t)
	s := startSluice(t, cacheConfig(up.URL, "", ""))
	out := node(t, "cache.test.mjs", "SLUICE_URL="+s.URL)
	if !strings.Contains(out, "pass 2") || !strings.Contains(out, "fail 0") {
		t.Fatalf("expected 2 passing node tests:\n%s", out)
	}
	wantCount(t, up, 2)
}

// TestCacheHitRatioWorkload replays 1,000 requests drawn from 200 prompts, each sent in one of
// six case/whitespace spellings, with and without the normalising cache_key plugin. Without it
// only a repeated spelling hits; with it every repeat of a prompt does. The figures go to
// BENCHMARKS.md (go test ./internal/e2e/ -run CacheHitRatio -v).
func TestCacheHitRatioWorkload(t *testing.T) {
	const prompts, requests = 200, 1000
	spell := []func(string) string{
		func(s string) string { return s },
		strings.ToLower,
		strings.ToUpper,
		func(s string) string { return strings.ReplaceAll(s, " ", "  ") },
		func(s string) string { return " " + s + "\n" },
		func(s string) string { return strings.ReplaceAll(strings.ToLower(s), " ", "\t") },
	}
	rng := rand.New(rand.NewPCG(7, 11))
	bodies := make([]string, requests)
	exact, norm := map[string]bool{}, map[int]bool{}
	for i := range bodies {
		p, v := rng.IntN(prompts), rng.IntN(len(spell))
		text := spell[v](fmt.Sprintf("What is the Capital of Country number %d in the Atlas", p))
		bodies[i] = chatBody("up/gpt-test", text)
		exact[bodies[i]], norm[p] = true, true
	}
	plugin := buildPlugin(t, "cache-key-normalize")
	for _, tc := range []struct {
		name, cache, extra string
		misses             int
	}{
		{"canonical key", "", "", len(exact)},
		{"normalize plugin", `key_plugin = "norm"`, fmt.Sprintf("[plugins.norm]\npath = %q\n", plugin), len(norm)},
	} {
		up := fakeprovider.NewOpenAI(t, fakeprovider.WithoutRecording())
		s := startSluice(t, cacheConfig(up.URL, tc.cache, tc.extra))
		hits := 0
		for _, b := range bodies {
			code, h, out := post(t, s.URL+"/v1/chat/completions", b)
			if code != 200 {
				t.Fatalf("%s: %d %s", tc.name, code, out)
			}
			if h.Get("X-Sluice-Cache") == "HIT" {
				hits++
			}
		}
		t.Logf("%s: %d requests, %d hits, hit ratio %.1f%%, upstream calls %d", tc.name, requests, hits, 100*float64(hits)/requests, up.Count())
		if hits != requests-tc.misses || up.Count() != tc.misses {
			t.Fatalf("%s: %d hits and %d upstream calls, want %d misses", tc.name, hits, up.Count(), tc.misses)
		}
	}
}
