package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
)

// routingConfig declares one OpenAI-kind provider per fake, named p0, p1, ..., and appends
// extra (routers, pricing, auth).
func routingConfig(ups []*fakeprovider.Server, extra string) string {
	var b strings.Builder
	b.WriteString(baseConfig)
	for i, up := range ups {
		fmt.Fprintf(&b, "\n[providers.p%d]\nkind = \"openai\"\nbase_url = %q\napi_key = \"sk-p%d\"\nidle_timeout = \"2s\"\n", i, up.URL, i)
	}
	return b.String() + "\n" + extra
}

func fakes(t *testing.T, n int, opts ...fakeprovider.Option) []*fakeprovider.Server {
	ups := make([]*fakeprovider.Server, n)
	for i := range ups {
		ups[i] = fakeprovider.NewOpenAI(t, opts...)
	}
	return ups
}

func chat(model string, stream bool) string {
	return fmt.Sprintf(`{"model":%q,"stream":%v,"messages":[{"role":"user","content":"hello there"}]}`, model, stream)
}

// quietPost is post without t.Fatal, for use from many goroutines.
func quietPost(url, body string, headers ...string) (int, http.Header, string, error) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b), err
}

// targetStatus is the part of the admin /admin/routers snapshot the tests read.
type targetStatus struct {
	Target struct {
		ID string
	}
	State     string
	Ejections uint64
	Attempts  uint64
	Failovers uint64
}

func routerSnapshot(t *testing.T, s *Sluice, router string) map[string]targetStatus {
	t.Helper()
	code, body := get(t, s.Admin+"/admin/routers")
	if code != 200 {
		t.Fatalf("/admin/routers: %d %s", code, body)
	}
	var all map[string][]targetStatus
	if err := json.Unmarshal([]byte(body), &all); err != nil {
		t.Fatalf("/admin/routers: %v\n%s", err, body)
	}
	out := map[string]targetStatus{}
	for _, ts := range all[router] {
		out[ts.Target.ID] = ts
	}
	return out
}

func wantServed(t *testing.T, what string, code int, h http.Header, body, target string, attempts int) {
	t.Helper()
	if code != 200 {
		t.Fatalf("%s: status %d: %s", what, code, body)
	}
	if got := h.Get("X-Sluice-Target"); got != target {
		t.Errorf("%s: X-Sluice-Target %q, want %q", what, got, target)
	}
	if got := h.Get("X-Sluice-Attempts"); got != strconv.Itoa(attempts) {
		t.Errorf("%s: X-Sluice-Attempts %q, want %d", what, got, attempts)
	}
}

// TestRoutingFailoverFaults sends one request per fault to a priority router whose first target
// misbehaves: every fault that happens before a byte reached the client moves the request to
// the healthy second target, and the headers say which target served after how many attempts.
// The router opts in to retries after the request was sent (retries.after_send); the default,
// which does not resend those, is TestRoutingNoDoubleBilling's.
func TestRoutingFailoverFaults(t *testing.T) {
	ups := fakes(t, 2)
	bad, good := ups[0], ups[1]
	s := startSluice(t, routingConfig(ups, `
[routers.chain]
strategy = "priority"
targets = [{ model = "p0/m", priority = 0 }, { model = "p1/m", priority = 1 }]
attempt_timeout = "400ms"
health = { min_requests = 1000 }
retries = { after_send = true }
`))
	url := s.URL + "/router/chain/v1/chat/completions"
	cases := []struct {
		name   string
		reply  fakeprovider.Reply
		stream bool
	}{
		{"500", fakeprovider.Reply{Status: 500, Message: "boom"}, false},
		{"503 stream", fakeprovider.Reply{Status: 503}, true},
		{"reset", fakeprovider.Reply{Fault: fakeprovider.Reset()}, false},
		{"reset stream", fakeprovider.Reply{Fault: fakeprovider.Reset()}, true},
		{"hanging headers", fakeprovider.Reply{Fault: fakeprovider.Hang()}, false},
		{"hanging headers stream", fakeprovider.Reply{HeaderDelay: 5 * time.Second}, true},
		{"cut before the first chunk", fakeprovider.Reply{Fault: fakeprovider.CutAfter(0)}, true},
	}
	for _, c := range cases {
		bad.Enqueue(c.reply)
		before := good.Count()
		start := time.Now()
		code, h, body := post(t, url, chat("any", c.stream))
		wantServed(t, c.name, code, h, body, "p1/m#1", 2)
		if h.Get("X-Sluice-Router") != "chain" {
			t.Errorf("%s: X-Sluice-Router %q", c.name, h.Get("X-Sluice-Router"))
		}
		if good.Count() != before+1 {
			t.Errorf("%s: healthy target got %d requests, want 1", c.name, good.Count()-before)
		}
		if c.stream && !strings.Contains(body, "data: [DONE]") {
			t.Errorf("%s: stream not completed: %q", c.name, body)
		}
		if strings.HasPrefix(c.name, "hanging") && time.Since(start) > 3*time.Second {
			t.Errorf("%s: took %s; attempt_timeout is 400ms", c.name, time.Since(start))
		}
	}

	// A cut after the first chunk cannot move: the client gets the chunks and an in-stream error.
	bad.Enqueue(fakeprovider.Reply{Fault: fakeprovider.CutAfter(2)})
	before := good.Count()
	code, h, body := post(t, url, chat("any", true))
	if code != 200 || h.Get("X-Sluice-Target") != "p0/m#0" || h.Get("X-Sluice-Attempts") != "1" {
		t.Fatalf("mid-stream cut: %d target %q attempts %q", code, h.Get("X-Sluice-Target"), h.Get("X-Sluice-Attempts"))
	}
	if !strings.Contains(body, `"error"`) || strings.Contains(body, "[DONE]") || !strings.Contains(body, "chat.completion.chunk") {
		t.Errorf("mid-stream cut: want chunks then an error event and no [DONE]:\n%s", body)
	}
	if good.Count() != before {
		t.Errorf("mid-stream cut failed over after bytes were sent")
	}

	// A 429 moves on at once and cools the target for its Retry-After: the next request skips it.
	bad.Enqueue(fakeprovider.RetryAfter(2 * time.Second))
	code, h, body = post(t, url, chat("any", false))
	wantServed(t, "429", code, h, body, "p1/m#1", 2)
	badBefore := bad.Count()
	code, h, body = post(t, url, chat("any", false))
	wantServed(t, "while cooling", code, h, body, "p1/m#1", 1)
	if bad.Count() != badBefore {
		t.Errorf("a cooling target got traffic")
	}
	if st := routerSnapshot(t, s, "chain")["p0/m#0"]; st.State != "cooling" {
		t.Errorf("after a 429 the target is %q, want cooling", st.State)
	}
}

// TestRoutingEjectionAndRecovery ejects a failing target, checks that it gets no traffic while
// ejected, and that after its cool-down a single trial request brings it back.
func TestRoutingEjectionAndRecovery(t *testing.T) {
	ups := fakes(t, 2)
	bad, good := ups[0], ups[1]
	bad.Script(func(fakeprovider.Received) fakeprovider.Reply { return fakeprovider.Reply{Status: 500} })
	s := startSluice(t, routingConfig(ups, `
[routers.r]
strategy = "priority"
targets = [{ model = "p0/m", priority = 0 }, { model = "p1/m", priority = 1 }]
health = { window = "10s", threshold = 0.5, min_requests = 4, cooldown = "1s" }
`))
	url := s.URL + "/router/r/v1/chat/completions"
	for i := range 8 {
		code, _, body := post(t, url, chat("x", false))
		if code != 200 {
			t.Fatalf("request %d: %d %s", i, code, body)
		}
	}
	snap := routerSnapshot(t, s, "r")
	if st := snap["p0/m#0"]; st.State != "ejected" || st.Ejections != 1 {
		t.Fatalf("failing target: state %q ejections %d, want ejected once", st.State, st.Ejections)
	}
	if n := bad.Count(); n != 4 {
		t.Errorf("the failing target got %d requests before ejection, want min_requests=4", n)
	}
	ejectedAt := bad.Count()
	for range 5 {
		code, h, body := post(t, url, chat("x", false))
		wantServed(t, "while ejected", code, h, body, "p1/m#1", 1)
	}
	if bad.Count() != ejectedAt {
		t.Fatalf("an ejected target got %d requests", bad.Count()-ejectedAt)
	}

	bad.Script(nil) // the upstream recovers
	time.Sleep(1200 * time.Millisecond)
	code, h, body := post(t, url, chat("x", false))
	wantServed(t, "trial", code, h, body, "p0/m#0", 1)
	if bad.Count() != ejectedAt+1 {
		t.Errorf("trial: the recovered target got %d requests, want 1", bad.Count()-ejectedAt)
	}
	if st := routerSnapshot(t, s, "r")["p0/m#0"]; st.State != "healthy" {
		t.Errorf("after a successful trial the target is %q", st.State)
	}
	goodBefore := good.Count()
	for range 5 {
		code, h, body := post(t, url, chat("x", false))
		wantServed(t, "recovered", code, h, body, "p0/m#0", 1)
	}
	if good.Count() != goodBefore {
		t.Errorf("the recovered first choice lost traffic")
	}
}

// TestRoutingEjectionFailedTrial checks that a failed trial re-ejects with a longer cool-down.
func TestRoutingEjectionFailedTrial(t *testing.T) {
	ups := fakes(t, 2)
	bad := ups[0]
	bad.Script(func(fakeprovider.Received) fakeprovider.Reply { return fakeprovider.Reply{Fault: fakeprovider.Reset()} })
	s := startSluice(t, routingConfig(ups, `
[routers.r]
strategy = "priority"
targets = [{ model = "p0/m", priority = 0 }, { model = "p1/m", priority = 1 }]
health = { window = "10s", min_requests = 2, cooldown = "500ms" }
retries = { after_send = true }
`))
	url := s.URL + "/router/r/v1/chat/completions"
	for range 3 {
		post(t, url, chat("x", false))
	}
	time.Sleep(600 * time.Millisecond)
	n := bad.Count()
	code, h, body := post(t, url, chat("x", false))
	wantServed(t, "failed trial", code, h, body, "p1/m#1", 2)
	if bad.Count() != n+1 {
		t.Fatalf("trial requests %d, want 1", bad.Count()-n)
	}
	st := routerSnapshot(t, s, "r")["p0/m#0"]
	if st.State != "ejected" || st.Ejections != 2 {
		t.Fatalf("after a failed trial: state %q ejections %d, want ejected twice", st.State, st.Ejections)
	}
	time.Sleep(600 * time.Millisecond) // the doubled cool-down (1s) has not passed
	post(t, url, chat("x", false))
	if bad.Count() != n+1 {
		t.Errorf("the target got traffic before its doubled cool-down ended")
	}
}

// TestRoutingWeightedConvergence: weights 3:1 over 400 requests land within ±5% of 75%.
func TestRoutingWeightedConvergence(t *testing.T) {
	ups := fakes(t, 2)
	s := startSluice(t, routingConfig(ups, `
[routers.w]
strategy = "weighted"
targets = [{ model = "p0/m", weight = 3 }, { model = "p1/m", weight = 1 }]
`))
	const n = 400
	var wg sync.WaitGroup
	var fails atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n / 4 {
				code, _, _, err := quietPost(s.URL+"/router/w/v1/chat/completions", chat("x", false))
				if err != nil || code != 200 {
					fails.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if fails.Load() > 0 {
		t.Fatalf("%d requests failed", fails.Load())
	}
	share := float64(ups[0].Count()) / n
	t.Logf("weight 3:1 -> %d:%d (share %.3f)", ups[0].Count(), ups[1].Count(), share)
	if share < 0.70 || share > 0.80 {
		t.Errorf("weight-3 target share %.3f, want 0.75 ± 0.05", share)
	}
}

// TestRoutingLatencyShift: the latency strategy moves traffic to the faster of two targets.
func TestRoutingLatencyShift(t *testing.T) {
	slow := fakeprovider.NewOpenAI(t, fakeprovider.WithDelay(30*time.Millisecond))
	fast := fakeprovider.NewOpenAI(t)
	ups := []*fakeprovider.Server{slow, fast}
	s := startSluice(t, routingConfig(ups, `
[routers.lat]
strategy = "latency"
targets = [{ model = "p0/m" }, { model = "p1/m" }]
decay = "10s"
`))
	url := s.URL + "/router/lat/v1/chat/completions"
	run := func(n int) {
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range n / 4 {
					if code, _, body, err := quietPost(url, chat("x", false)); err != nil || code != 200 {
						t.Errorf("request: %d %v %s", code, err, body)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	run(40) // warm-up: both get samples
	s0, f0 := slow.Count(), fast.Count()
	const n = 200
	run(n)
	slowN, fastN := slow.Count()-s0, fast.Count()-f0
	share := float64(fastN) / float64(slowN+fastN)
	t.Logf("after warm-up: fast %d, slow (30ms) %d: fast share %.3f", fastN, slowN, share)
	if share < 0.8 {
		t.Errorf("fast target share %.3f, want >= 0.8", share)
	}
}

// TestRoutingRetryBudget: with every target failing, the retry budget keeps upstream attempts
// near (1+budget) x requests instead of attempts x requests.
func TestRoutingRetryBudget(t *testing.T) {
	ups := fakes(t, 3)
	for _, up := range ups {
		up.Script(func(fakeprovider.Received) fakeprovider.Reply { return fakeprovider.Reply{Status: 500} })
	}
	s := startSluice(t, routingConfig(ups, `
[routers.b]
strategy = "round_robin"
targets = [{ model = "p0/m" }, { model = "p1/m" }, { model = "p2/m" }]
retries = { attempts = 3, budget = 0.2, backoff = "1ms" }
`))
	const n = 600
	start := time.Now()
	var wg sync.WaitGroup
	var non500 atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n / 8 {
				code, _, _, err := quietPost(s.URL+"/router/b/v1/chat/completions", chat("x", false))
				if err != nil || code != 500 {
					non500.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	total := 0
	for _, up := range ups {
		total += up.Count()
	}
	// The budget allows 0.2 retries per request plus a floor of 10 retries per second over its
	// 10 s window.
	limit := int(1.2*n) + int(10*max(10, elapsed.Seconds()+1))
	t.Logf("%d requests, %d upstream attempts (limit %d, without a budget %d) in %s", n, total, limit, 3*n, elapsed.Round(time.Millisecond))
	if non500.Load() > 0 {
		t.Errorf("%d requests did not get the upstream's 500", non500.Load())
	}
	if total > limit {
		t.Errorf("upstream attempts %d exceed the budget's %d", total, limit)
	}
	if total < n {
		t.Errorf("upstream attempts %d < requests %d", total, n)
	}
}

// TestRoutingPriorityChain: a priority chain is walked in order within one request.
func TestRoutingPriorityChain(t *testing.T) {
	ups := fakes(t, 3)
	ups[2].Enqueue(fakeprovider.Reply{Status: 502})
	ups[0].Enqueue(fakeprovider.Reply{Status: 500})
	s := startSluice(t, routingConfig(ups, `
[routers.chain]
strategy = "priority"
targets = [{ model = "p0/m", priority = 1 }, { model = "p1/m", priority = 2 }, { model = "p2/m", priority = 0 }]
`))
	code, h, body := post(t, s.URL+"/router/chain/v1/chat/completions", chat("x", false))
	wantServed(t, "chain", code, h, body, "p1/m#1", 3)
	a, b, c := ups[2].Requests(), ups[0].Requests(), ups[1].Requests()
	if len(a) != 1 || len(b) != 1 || len(c) != 1 {
		t.Fatalf("requests per rung: %d %d %d", len(a), len(b), len(c))
	}
	if !(a[0].At.Before(b[0].At) && b[0].At.Before(c[0].At)) {
		t.Errorf("rungs not tried in priority order: p2 %s, p0 %s, p1 %s", a[0].At, b[0].At, c[0].At)
	}
	// With everything healthy again the first rung serves.
	code, h, body = post(t, s.URL+"/router/chain/v1/chat/completions", chat("x", false))
	wantServed(t, "healthy chain", code, h, body, "p2/m#2", 1)
}

// TestRoutingCostStrategy: the cheapest target by [pricing] serves; failover goes to the next
// cheapest.
func TestRoutingCostStrategy(t *testing.T) {
	ups := fakes(t, 3)
	s := startSluice(t, routingConfig(ups, `
[routers.c]
strategy = "cost"
targets = [{ model = "p0/big" }, { model = "p1/small" }, { model = "p2/mid" }]

[pricing]
"p0/big" = { input = 5.0, output = 15.0 }
"p1/small" = { input = 0.1, output = 0.4 }
"p2/mid" = { input = 1.0, output = 2.0 }
`))
	url := s.URL + "/router/c/v1/chat/completions"
	for range 5 {
		code, h, body := post(t, url, chat("x", false))
		wantServed(t, "cheapest", code, h, body, "p1/small#1", 1)
	}
	ups[1].Enqueue(fakeprovider.Reply{Status: 500})
	code, h, body := post(t, url, chat("x", false))
	wantServed(t, "next cheapest", code, h, body, "p2/mid#2", 2)
	if ups[0].Count() != 0 {
		t.Errorf("the most expensive target got %d requests", ups[0].Count())
	}
	if got := ups[1].Requests()[0].Model; got != "small" {
		t.Errorf("upstream model %q, want the target's model", got)
	}
}

// TestRoutingPinExclude: X-Sluice-Provider pins, X-Sluice-Exclude excludes, and with auth on
// only keys with overrides may use them.
func TestRoutingPinExclude(t *testing.T) {
	ups := fakes(t, 2)
	s := startSluice(t, routingConfig(ups, `
[routers.r]
strategy = "priority"
targets = [{ model = "p0/m" }, { model = "p1/m" }]

[auth]
required = true
keys = [
  { id = "ops", key = "sk-ops-1", overrides = true },
  { id = "app", key = "sk-app-1" },
]
`))
	url := s.URL + "/router/r/v1/chat/completions"
	ops := []string{"Authorization", "Bearer sk-ops-1"}
	code, h, body := post(t, url, chat("x", false), ops...)
	wantServed(t, "no override", code, h, body, "p0/m#0", 1)
	code, h, body = post(t, url, chat("x", false), append(ops, "X-Sluice-Provider", "p1")...)
	wantServed(t, "pin provider", code, h, body, "p1/m#1", 1)
	code, h, body = post(t, url, chat("x", false), append(ops, "X-Sluice-Provider", "p1/m")...)
	wantServed(t, "pin provider/model", code, h, body, "p1/m#1", 1)
	code, h, body = post(t, url, chat("x", false), append(ops, "X-Sluice-Exclude", "p0")...)
	wantServed(t, "exclude", code, h, body, "p1/m#1", 1)
	// A pinned request stays pinned through failures: it repeats its target, never the other.
	ups[1].Enqueue(fakeprovider.Reply{Status: 500})
	code, h, body = post(t, url, chat("x", false), append(ops, "X-Sluice-Provider", "p1")...)
	wantServed(t, "pinned failover", code, h, body, "p1/m#1", 2)
	code, _, body = post(t, url, chat("x", false), append(ops, "X-Sluice-Exclude", "p0,p1")...)
	if code != 503 || !strings.Contains(body, "no_target") {
		t.Errorf("everything excluded: %d %s", code, body)
	}
	code, _, body = post(t, url, chat("x", false), "Authorization", "Bearer sk-app-1", "X-Sluice-Provider", "p1")
	if code != 403 || !strings.Contains(body, "overrides_not_allowed") {
		t.Errorf("pin without permission: %d %s", code, body)
	}
	if ups[0].Count() != 1 {
		t.Errorf("p0 got %d requests, want 1", ups[0].Count())
	}
}

// TestRoutingAliases: a router's alias pins the request to its target, on the router's path and
// when the alias alone picks the router.
func TestRoutingAliases(t *testing.T) {
	ups := fakes(t, 2)
	s := startSluice(t, routingConfig(ups, `
[routers.chat]
strategy = "priority"
targets = [{ model = "p0/big" }, { model = "p1/small" }]
aliases = { fast = "p1/small", smart = "p0/big" }
`))
	code, h, body := post(t, s.URL+"/router/chat/v1/chat/completions", chat("fast", false))
	wantServed(t, "alias on the router path", code, h, body, "p1/small#1", 1)
	if got := ups[1].Requests()[0].Model; got != "small" {
		t.Errorf("upstream model %q, want small", got)
	}
	code, h, body = post(t, s.URL+"/v1/chat/completions", chat("fast", true))
	wantServed(t, "alias picks the router", code, h, body, "p1/small#1", 1)
	if h.Get("X-Sluice-Router") != "chat" {
		t.Errorf("X-Sluice-Router %q", h.Get("X-Sluice-Router"))
	}
	// The pin holds through a failure: the aliased target is repeated, the other is not tried.
	ups[1].Enqueue(fakeprovider.Reply{Status: 500})
	code, h, body = post(t, s.URL+"/v1/chat/completions", chat("fast", false))
	wantServed(t, "alias pin on failure", code, h, body, "p1/small#1", 2)
	code, h, body = post(t, s.URL+"/router/chat/v1/chat/completions", chat("anything", false))
	wantServed(t, "no alias", code, h, body, "p0/big#0", 1)
	code, h, body = post(t, s.URL+"/v1/chat/completions", chat("smart", false))
	wantServed(t, "other alias", code, h, body, "p0/big#0", 1)
	if n := ups[0].Count(); n != 2 {
		t.Errorf("p0 got %d requests, want 2", n)
	}
}

// buildRoutePremium builds the example route plugin with the sluice CLI.
func buildRoutePremium(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "route-premium.wasm")
	cmd := exec.Command(binPath, "plugin", "build", filepath.Join(repo, "examples", "route-premium"), "-o", out)
	cmd.Dir = repo
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("plugin build: %v\n%s", err, b)
	}
	return out
}

// TestRoutingPluginRoutePremium drives the plugin strategy with the route-premium example.
func TestRoutingPluginRoutePremium(t *testing.T) {
	wasm := buildRoutePremium(t)
	ups := fakes(t, 3) // p0 mini, p1 strong, p2 long-context
	s := startSluice(t, routingConfig(ups, fmt.Sprintf(`
[plugins.premium]
path = %q
config = { premium_model = "p1/strong", long_context_model = "p2/wide", long_prompt_tokens = 50 }

[routers.assist]
strategy = "plugin"
plugin = "premium"
fallback_strategy = "priority"
targets = [{ model = "p0/mini" }, { model = "p1/strong" }, { model = "p2/wide" }]
`, wasm)))
	url := s.URL + "/router/assist/v1/chat/completions"
	code, h, body := post(t, url, chat("x", false))
	wantServed(t, "standard tenant", code, h, body, "p0/mini#0", 1)
	code, h, body = post(t, url, chat("x", false), "X-Tenant-Tier", "premium")
	wantServed(t, "premium tenant", code, h, body, "p1/strong#1", 1)
	long := fmt.Sprintf(`{"model":"x","messages":[{"role":"user","content":%q}]}`, strings.Repeat("many words of context ", 100))
	code, h, body = post(t, url, long)
	wantServed(t, "long prompt", code, h, body, "p2/wide#2", 1)
	// Premium failover continues down the plugin's order.
	ups[1].Enqueue(fakeprovider.Reply{Status: 500})
	code, h, body = post(t, url, chat("x", false), "X-Tenant-Tier", "premium")
	wantServed(t, "premium failover", code, h, body, "p0/mini#0", 2)
	if got := ups[2].Requests()[0].Model; got != "wide" {
		t.Errorf("long-context upstream model %q", got)
	}
}

// TestRoutingProbes: an active probe (GET base_url/models with the provider's key) ejects an
// upstream that answers 5xx to it, with no client traffic at all.
func TestRoutingProbes(t *testing.T) {
	ups := fakes(t, 2)
	ups[0].Script(func(r fakeprovider.Received) fakeprovider.Reply {
		return fakeprovider.Reply{Status: 503}
	})
	s := startSluice(t, routingConfig(ups, `
[routers.r]
strategy = "priority"
targets = [{ model = "p0/m" }, { model = "p1/m" }]
health = { probe = "100ms", min_requests = 3, window = "10s" }
`))
	deadline := time.Now().Add(5 * time.Second)
	for routerSnapshot(t, s, "r")["p0/m#0"].State != "ejected" {
		if time.Now().After(deadline) {
			t.Fatalf("probes did not eject the failing upstream: %+v", routerSnapshot(t, s, "r"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	var probe *fakeprovider.Received
	for _, r := range ups[0].Requests() {
		if r.Method == http.MethodGet && r.Path == "/v1/models" {
			probe = &r
			break
		}
	}
	if probe == nil {
		t.Fatal("no GET /v1/models probe reached the upstream")
	}
	if probe.Header.Get("Authorization") != "Bearer sk-p0" {
		t.Errorf("probe Authorization %q", probe.Header.Get("Authorization"))
	}
	if st := routerSnapshot(t, s, "r")["p1/m#1"]; st.State != "healthy" {
		t.Errorf("the healthy upstream is %q", st.State)
	}
	code, h, body := post(t, s.URL+"/router/r/v1/chat/completions", chat("x", false))
	wantServed(t, "after probe ejection", code, h, body, "p1/m#1", 1)
}

// exampleEnv points an example config's providers at fakes and its listeners at free ports.
func exampleEnv(kv ...string) []string {
	return append([]string{"SLUICE_LISTEN=127.0.0.1:0", "SLUICE_ADMIN_LISTEN=127.0.0.1:0"}, kv...)
}

func checkExample(t *testing.T, dir string, env []string) string {
	t.Helper()
	path := filepath.Join(repo, "examples", dir, "sluice.toml")
	cmd := exec.Command(binPath, "check", "-c", path)
	cmd.Dir = repo
	cmd.Env = append(cleanEnv(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "is valid") {
		t.Fatalf("sluice check -c %s: %v\n%s", path, err, out)
	}
	return path
}

// TestRoutingExamples checks each routing example with `sluice check` and serves it against fakes.
func TestRoutingExamples(t *testing.T) {
	t.Run("failover-chain", func(t *testing.T) {
		ups := fakes(t, 3)
		ups[0].Script(func(fakeprovider.Received) fakeprovider.Reply { return fakeprovider.Reply{Status: 500} })
		env := exampleEnv("PRIMARY_BASE_URL="+ups[0].URL, "PRIMARY_API_KEY=sk-a", "SECONDARY_BASE_URL="+ups[1].URL, "SECONDARY_API_KEY=sk-b", "FALLBACK_BASE_URL="+ups[2].URL)
		s := startSluiceArgs(t, []string{"serve", "-c", checkExample(t, "failover-chain", env)}, env...)
		code, h, body := post(t, s.URL+"/router/chat/v1/chat/completions", chat("x", false))
		wantServed(t, "primary down", code, h, body, "secondary/llama-3.1-8b-instant#1", 2)
		code, h, body = post(t, s.URL+"/v1/chat/completions", chat("local", false))
		wantServed(t, "alias local", code, h, body, "fallback/llama3.1#2", 1)
	})
	t.Run("latency-pool", func(t *testing.T) {
		slow := fakeprovider.NewOpenAI(t, fakeprovider.WithDelay(40*time.Millisecond))
		a, c := fakeprovider.NewOpenAI(t), fakeprovider.NewOpenAI(t)
		env := exampleEnv("GPU_A_BASE_URL="+a.URL, "GPU_B_BASE_URL="+slow.URL, "GPU_C_BASE_URL="+c.URL)
		s := startSluiceArgs(t, []string{"serve", "-c", checkExample(t, "latency-pool", env)}, env...)
		for i := range 60 {
			code, _, body := post(t, s.URL+"/router/pool/v1/chat/completions", chat("x", false))
			if code != 200 {
				t.Fatalf("request %d: %d %s", i, code, body)
			}
		}
		if slow.Count() > 15 {
			t.Errorf("the slow replica got %d of 60 requests", slow.Count())
		}
		t.Logf("fast %d + %d, slow %d", a.Count(), c.Count(), slow.Count())
	})
	t.Run("cost-router", func(t *testing.T) {
		oa, ds, tg := fakeprovider.NewOpenAI(t), fakeprovider.NewOpenAI(t), fakeprovider.NewOpenAI(t)
		env := exampleEnv("OPENAI_BASE_URL="+oa.URL, "OPENAI_API_KEY=sk-o", "DEEPSEEK_BASE_URL="+ds.URL, "DEEPSEEK_API_KEY=sk-d", "TOGETHER_BASE_URL="+tg.URL, "TOGETHER_API_KEY=sk-t")
		s := startSluiceArgs(t, []string{"serve", "-c", checkExample(t, "cost-router", env)}, env...)
		code, h, body := post(t, s.URL+"/router/cheap/v1/chat/completions", chat("x", false))
		wantServed(t, "cheapest", code, h, body, "deepseek/deepseek-chat#1", 1)
		ds.Enqueue(fakeprovider.Reply{Status: 503})
		code, h, body = post(t, s.URL+"/router/cheap/v1/chat/completions", chat("x", false))
		wantServed(t, "next cheapest", code, h, body, "together/meta-llama/Llama-3.3-70B-Instruct-Turbo#2", 2)
		if oa.Count() != 0 {
			t.Errorf("the dearest target got %d requests", oa.Count())
		}
	})
	t.Run("route-premium", func(t *testing.T) {
		wasm := buildRoutePremium(t)
		oa := fakeprovider.NewOpenAI(t)
		gm := fakeprovider.NewGemini(t)
		env := exampleEnv("ROUTE_PREMIUM_WASM="+wasm, "OPENAI_BASE_URL="+oa.URL, "OPENAI_API_KEY=sk-o", "GEMINI_BASE_URL="+gm.URL+"/v1beta", "GEMINI_API_KEY=g-key")
		s := startSluiceArgs(t, []string{"serve", "-c", checkExample(t, "route-premium", env)}, env...)
		url := s.URL + "/router/assistant/v1/chat/completions"
		code, h, body := post(t, url, chat("x", false))
		if code != 200 || h.Get("X-Sluice-Target") == "openai/gpt-4o#1" {
			t.Errorf("standard tenant: %d target %q: %s", code, h.Get("X-Sluice-Target"), body)
		}
		code, h, body = post(t, url, chat("x", false), "X-Tenant-Tier", "premium")
		wantServed(t, "premium", code, h, body, "openai/gpt-4o#1", 1)
		long := fmt.Sprintf(`{"model":"x","messages":[{"role":"user","content":%q}]}`, strings.Repeat("a long document line ", 3000))
		code, h, body = post(t, url, long)
		wantServed(t, "long prompt", code, h, body, "gemini/gemini-2.5-flash#2", 1)
		if gm.Count() != 1 {
			t.Errorf("gemini got %d requests", gm.Count())
		}
	})
}
