package e2e

import (
	"fmt"
	"net"
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
	"github.com/sluice-gw/sluice/internal/redistest"
)

// checkLimitHeaders fails unless the OpenAI rate-limit headers of unit are present and sane.
func checkLimitHeaders(t *testing.T, h http.Header, unit string) (limit, remaining int64) {
	t.Helper()
	var err error
	if limit, err = strconv.ParseInt(h.Get("X-Ratelimit-Limit-"+unit), 10, 64); err != nil {
		t.Fatalf("x-ratelimit-limit-%s %q", unit, h.Get("X-Ratelimit-Limit-"+unit))
	}
	if remaining, err = strconv.ParseInt(h.Get("X-Ratelimit-Remaining-"+unit), 10, 64); err != nil || remaining < 0 || remaining > limit {
		t.Fatalf("x-ratelimit-remaining-%s %q (limit %d)", unit, h.Get("X-Ratelimit-Remaining-"+unit), limit)
	}
	if _, err := time.ParseDuration(h.Get("X-Ratelimit-Reset-" + unit)); err != nil {
		t.Fatalf("x-ratelimit-reset-%s %q", unit, h.Get("X-Ratelimit-Reset-"+unit))
	}
	return limit, remaining
}

// check429 fails unless the answer is an OpenAI 429 naming the tier and unit, with retry-after.
func check429(t *testing.T, code int, h http.Header, body, errCode, tier, unit string) {
	t.Helper()
	if code != 429 {
		t.Fatalf("want 429, got %d %s", code, body)
	}
	typ, c, msg := openaiError(t, body)
	if c != errCode || typ == "" || !strings.Contains(msg, tier) || !strings.Contains(msg, unit) {
		t.Fatalf("429 should name %s and %s with code %s: %s", tier, unit, errCode, body)
	}
	if ra, err := strconv.Atoi(h.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("retry-after %q", h.Get("Retry-After"))
	}
}

// TestLimitTiers: request limits at the router, team, user and key tiers each refuse on their
// own, and every answer carries the request and token headers.
func TestLimitTiers(t *testing.T) {
	up := fakeprovider.NewOpenAI(t)
	s := startSluice(t, upstreamConfig(up.URL, `
[routers.tight]
targets = [{ model = "up/gpt-test" }]

[[limits]]
name = "all-requests"
scope = "global"
unit = "requests"
rate = "1000/hour"
burst = 1000

[[limits]]
name = "all-tokens"
scope = "global"
unit = "tokens"
rate = "10000000/hour"
burst = 1000000

[[limits]]
name = "tight-router"
scope = "router"
match = "tight"
unit = "requests"
rate = "2/hour"
burst = 2

[[limits]]
name = "team-t1"
scope = "team"
match = "t1"
unit = "requests"
rate = "2/hour"
burst = 2

[[limits]]
name = "user-u1"
scope = "user"
match = "u1"
unit = "requests"
rate = "2/hour"
burst = 2

[auth]
required = false
# Keys are configured, so the identity headers count only when trusted explicitly.
trust_identity_headers = true

[[auth.keys]]
id = "k1"
key = "sk-k1-secret"
limits = [{ name = "k1-requests", scope = "key", unit = "requests", rate = "2/hour", burst = 2 }]
`))
	body := fmt.Sprintf(chatHi, "up/gpt-test")
	cases := []struct {
		tier    string
		url     string
		headers []string
	}{
		{"router:tight", s.URL + "/router/tight/v1/chat/completions", nil},
		{"team:t1", s.URL + "/v1/chat/completions", []string{"X-Sluice-Team", "t1"}},
		{"user:u1", s.URL + "/v1/chat/completions", []string{"X-Sluice-User", "u1"}},
		{"key:k1", s.URL + "/v1/chat/completions", []string{"Authorization", "Bearer sk-k1-secret"}},
	}
	for _, c := range cases {
		t.Run(c.tier, func(t *testing.T) {
			for i := int64(0); i < 2; i++ {
				code, h, b := post(t, c.url, body, c.headers...)
				if code != 200 {
					t.Fatalf("request %d: %d %s", i, code, b)
				}
				// The tightest requests tier is reported: this one, with 2-i-1 left.
				if lim, rem := checkLimitHeaders(t, h, "Requests"); lim != 2 || rem != 1-i {
					t.Fatalf("request %d: limit %d remaining %d", i, lim, rem)
				}
				checkLimitHeaders(t, h, "Tokens")
			}
			code, h, b := post(t, c.url, body, c.headers...)
			check429(t, code, h, b, "rate_limit_exceeded", c.tier, "requests")
			if _, rem := checkLimitHeaders(t, h, "Requests"); rem != 0 {
				t.Fatalf("denied with remaining %d", rem)
			}
			checkLimitHeaders(t, h, "Tokens")
		})
	}
	// An anonymous caller with no team or user meets only the global tiers.
	if code, _, b := post(t, s.URL+"/v1/chat/completions", body); code != 200 {
		t.Fatalf("unlimited caller: %d %s", code, b)
	}
}

func TestLimitGlobal(t *testing.T) {
	up := fakeprovider.NewOpenAI(t)
	s := startSluice(t, upstreamConfig(up.URL, `
[[limits]]
scope = "global"
unit = "requests"
rate = "3/hour"
burst = 3
`))
	body := fmt.Sprintf(chatHi, "up/gpt-test")
	for i := 0; i < 3; i++ {
		if code, _, b := post(t, s.URL+"/v1/chat/completions", body, "X-Sluice-Team", fmt.Sprint("team", i)); code != 200 {
			t.Fatalf("request %d: %d %s", i, code, b)
		}
	}
	code, h, b := post(t, s.URL+"/v1/chat/completions", body, "X-Sluice-Team", "another")
	check429(t, code, h, b, "rate_limit_exceeded", "global", "requests")
	if up.Count() != 3 {
		t.Fatalf("upstream saw %d requests", up.Count())
	}
}

// settleWait lets the gateway settle a finished request: settlement runs right after the last
// byte is written, so a client can be quicker than it.
func settleWait() { time.Sleep(60 * time.Millisecond) }

// TestLimitTokenSettlement: tokens are reserved from the estimate and settled from the real
// usage, for plain responses and for streams (usage from the final chunk, which the gateway
// asks for itself).
func TestLimitTokenSettlement(t *testing.T) {
	up := fakeprovider.NewOpenAI(t)
	up.Script(func(r fakeprovider.Received) fakeprovider.Reply {
		if r.Stream {
			return fakeprovider.Reply{Usage: fakeprovider.Usage{Input: 10, Output: 7}}
		}
		return fakeprovider.Reply{Usage: fakeprovider.Usage{Input: 10, Output: 5}}
	})
	s := startSluice(t, upstreamConfig(up.URL, `
[[limits]]
scope = "team"
unit = "tokens"
rate = "1000/day"
burst = 2000
`))
	const messages = `[{"role":"user","content":"hi there"}]`
	est := int64(len(messages)+3)/4 + 100 // the gateway's estimate: ~4 bytes a token, plus max_tokens
	plain := `{"model":"up/gpt-test","max_tokens":100,"messages":` + messages + `}`
	stream := `{"model":"up/gpt-test","max_tokens":100,"stream":true,"messages":` + messages + `}`
	remaining := func(body string) int64 {
		t.Helper()
		code, h, b := post(t, s.URL+"/v1/chat/completions", body, "X-Sluice-Team", "tok")
		if code != 200 {
			t.Fatalf("%d %s", code, b)
		}
		lim, rem := checkLimitHeaders(t, h, "Tokens")
		if lim != 2000 {
			t.Fatalf("token limit %d", lim)
		}
		settleWait()
		return rem
	}
	steps := []struct {
		body string
		used int64 // tokens settled by the previous steps
	}{
		{plain, 0},
		{stream, 15},
		{plain, 15 + 17},
		{plain, 15 + 17 + 15},
	}
	for i, st := range steps {
		if got, want := remaining(st.body), 2000-st.used-est; got != want {
			t.Fatalf("step %d: remaining %d, want %d (estimate %d, settled %d)", i, got, want, est, st.used)
		}
	}
	var asked bool
	for _, r := range up.Requests() {
		asked = asked || (r.Stream && strings.Contains(string(r.Body), `"include_usage":true`))
	}
	if !asked {
		t.Fatal("the stream request did not ask upstream for usage")
	}
}

// TestLimitBudgetCost: a team's daily dollar budget is charged the real cost from the price
// table (overridden here to round numbers) and refuses once spent.
func TestLimitBudgetCost(t *testing.T) {
	up := fakeprovider.NewOpenAI(t)
	up.Script(func(fakeprovider.Received) fakeprovider.Reply {
		return fakeprovider.Reply{Usage: fakeprovider.Usage{Input: 1000, Output: 2000}}
	})
	s := startSluice(t, upstreamConfig(up.URL, `
[pricing."up/gpt-test"]
input = 1.0
output = 2.0

[[limits]]
name = "team-daily-spend"
scope = "team"
unit = "cost"
budget = "$0.02/day"
`))
	const messages = `[{"role":"user","content":"hi there"}]`
	estIn := int64(len(messages)+3) / 4 // micro-dollars at $1/1M input tokens
	req := func(maxTokens int) (int, http.Header, string) {
		b := fmt.Sprintf(`{"model":"up/gpt-test","max_tokens":%d,"messages":%s}`, maxTokens, messages)
		code, h, body := post(t, s.URL+"/v1/chat/completions", b, "X-Sluice-Team", "spend")
		settleWait()
		return code, h, body
	}
	// Each answer costs 1000*$1/1M + 2000*$2/1M = $0.005: three spend $0.015 of $0.02.
	for i := 0; i < 3; i++ {
		if code, _, b := req(0); code != 200 {
			t.Fatalf("request %d: %d %s", i, code, b)
		}
	}
	// $0.005 is left. The reservation is estIn + 2*max_tokens micro-dollars: one micro-dollar
	// too many is refused (and consumes nothing), the exact remainder passes.
	m := int((5000 - estIn) / 2)
	if (5000-estIn)%2 != 0 {
		t.Fatalf("estimate %d leaves an odd remainder; change the message", estIn)
	}
	code, h, b := req(m + 1)
	check429(t, code, h, b, "insufficient_quota", "team:spend", "cost")
	if code, _, b := req(m); code != 200 {
		t.Fatalf("exact remainder: %d %s", code, b)
	}
	// Spent: even the smallest request is refused until the day ends.
	code, h, b = req(0)
	check429(t, code, h, b, "insufficient_quota", "team:spend", "cost budget")
	ra, _ := strconv.Atoi(h.Get("Retry-After"))
	if ra > 86400 {
		t.Fatalf("retry-after %d is past the end of the day", ra)
	}
	// Other teams have their own budget.
	if code, _, b := post(t, s.URL+"/v1/chat/completions", fmt.Sprintf(chatHi, "up/gpt-test"), "X-Sluice-Team", "other"); code != 200 {
		t.Fatalf("other team: %d %s", code, b)
	}
}

// TestLimitNodeSDK: the official OpenAI Node SDK sees the limit headers on success and a
// RateLimitError with readable headers on a 429.
func TestLimitNodeSDK(t *testing.T) {
	up := fakeprovider.NewOpenAI(t)
	s := startSluice(t, upstreamConfig(up.URL, `
[[limits]]
scope = "global"
unit = "tokens"
rate = "1000000/hour"
burst = 100000

[auth]
required = true

[[auth.keys]]
id = "node-key"
key = "sk-node-secret"
team = "node"
limits = [{ name = "node-requests", scope = "key", unit = "requests", rate = "2/hour", burst = 2 }]

[[auth.keys]]
id = "budget-key"
key = "sk-budget-secret"
limits = [{ name = "budget-requests", scope = "key", unit = "requests", budget = "1/day" }]
`))
	out := node(t, "limits.test.mjs", "SLUICE_URL="+s.URL)
	if !strings.Contains(out, "pass 2") || !strings.Contains(out, "fail 0") {
		t.Fatalf("expected 2 passing node tests:\n%s", out)
	}
}

// TestLimitReplicaRedis: three replicas sharing one Redis hold a global limit together within
// 1% under concurrent load spread across them.
func TestLimitReplicaRedis(t *testing.T) {
	rd := redistest.Start(t)
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithoutRecording())
	const rate, burst = 200, 50 // per second
	cfg := upstreamConfig(up.URL, fmt.Sprintf(`
[redis]
url = %q
timeout = "1s"
fail_open = false

[[limits]]
name = "global-rps"
scope = "global"
unit = "requests"
rate = "%d/s"
burst = %d
`, rd.URL, rate, burst))
	cfg = strings.Replace(cfg, `level = "debug"`, `level = "info"`+"\naccess = \"off\"", 1)
	var replicas []*Sluice
	for i := 0; i < 3; i++ {
		replicas = append(replicas, startSluice(t, cfg))
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	body := fmt.Sprintf(chatHi, "up/gpt-test")
	const workers = 12
	const window = 3 * time.Second
	var admitted, denied, other atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(window)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; time.Now().Before(deadline); i++ {
				url := replicas[i%len(replicas)].URL + "/v1/chat/completions"
				resp, err := client.Post(url, "application/json", strings.NewReader(body))
				if err != nil {
					other.Add(1)
					continue
				}
				resp.Body.Close()
				switch resp.StatusCode {
				case 200:
					admitted.Add(1)
				case 429:
					denied.Add(1)
				default:
					other.Add(1)
				}
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	want := float64(rate)*elapsed.Seconds() + burst
	got := float64(admitted.Load())
	t.Logf("admitted %d, denied %d, other %d in %s across 3 replicas; rate*window+burst = %.1f (%.2f%%)",
		admitted.Load(), denied.Load(), other.Load(), elapsed.Round(time.Millisecond), want, 100*(got-want)/want)
	if other.Load() != 0 {
		t.Fatalf("%d answers were neither 200 nor 429", other.Load())
	}
	if denied.Load() < admitted.Load() {
		t.Fatalf("the load did not saturate the limit (admitted %d, denied %d)", admitted.Load(), denied.Load())
	}
	if got > want*1.01 || got < want*0.99 {
		t.Fatalf("admitted %.0f, want %.1f within 1%%", got, want)
	}
}

// deadRedisURL is a loopback address nothing listens on.
func deadRedisURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "redis://" + addr + "/0"
}

func TestLimitReplicaRedisDown(t *testing.T) {
	limits := `
[[limits]]
scope = "team"
unit = "requests"
rate = "100/s"
`
	body := fmt.Sprintf(chatHi, "up/gpt-test")
	t.Run("fail open", func(t *testing.T) {
		up := fakeprovider.NewOpenAI(t)
		s := startSluice(t, upstreamConfig(up.URL, fmt.Sprintf("[redis]\nurl = %q\ntimeout = \"200ms\"\nfail_open = true\n", deadRedisURL(t))+limits))
		for i := 0; i < 3; i++ {
			if code, _, b := post(t, s.URL+"/v1/chat/completions", body, "X-Sluice-Team", "a"); code != 200 {
				t.Fatalf("request %d: %d %s", i, code, b)
			}
		}
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(s.Logs(), `level=WARN msg="ratelimit: store failed"`) || !strings.Contains(s.Logs(), "fail_open=true") {
			if time.Now().After(deadline) {
				t.Fatal("no warning about the failed store in the log")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	t.Run("fail closed", func(t *testing.T) {
		up := fakeprovider.NewOpenAI(t)
		s := startSluice(t, upstreamConfig(up.URL, fmt.Sprintf("[redis]\nurl = %q\ntimeout = \"200ms\"\nfail_open = false\n", deadRedisURL(t))+limits))
		for i := 0; i < 3; i++ {
			begin := time.Now()
			code, _, b := post(t, s.URL+"/v1/chat/completions", body, "X-Sluice-Team", "a")
			took := time.Since(begin)
			if _, c, _ := openaiError(t, b); code != 503 || c != "rate_limit_unavailable" {
				t.Fatalf("request %d: %d %s", i, code, b)
			}
			// One Redis timeout at most (200ms), then the store fails fast while it cools down.
			if took > time.Second {
				t.Fatalf("request %d took %s to be refused", i, took)
			}
		}
		if up.Count() != 0 {
			t.Fatalf("upstream saw %d requests while fail-closed", up.Count())
		}
	})
}

// TestLimitExamples: each rate-limit example passes `sluice check` and behaves as its README says.
func TestLimitExamples(t *testing.T) {
	listen := []string{"SLUICE_LISTEN=127.0.0.1:0", "SLUICE_ADMIN_LISTEN=127.0.0.1:0"}
	start := func(t *testing.T, name string, env ...string) []*Sluice {
		t.Helper()
		path := filepath.Join(repo, "examples", name, "sluice.toml")
		cmd := exec.Command(binPath, "check", "-c", path)
		cmd.Env = append(cleanEnv(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sluice check -c %s: %v\n%s", path, err, out)
		}
		return []*Sluice{startSluiceArgs(t, []string{"serve", "-c", path}, append(listen, env...)...)}
	}
	chat := func(s *Sluice, body string, headers ...string) (int, http.Header, string) {
		return post(t, s.URL+"/v1/chat/completions", body, append([]string{"Content-Type", "application/json"}, headers...)...)
	}
	echo := fmt.Sprintf(chatHi, "demo/echo")

	t.Run("limits-tiers", func(t *testing.T) {
		s := start(t, "limits-tiers")[0]
		free := []string{"Authorization", "Bearer sk-demo-acme-free"}
		for i := 0; i < 5; i++ {
			if code, _, b := chat(s, echo, free...); code != 200 {
				t.Fatalf("free request %d: %d %s", i, code, b)
			}
		}
		code, h, b := chat(s, echo, free...)
		check429(t, code, h, b, "rate_limit_exceeded", "team:acme", "requests")
		for i := 0; i < 10; i++ {
			code, h, b := chat(s, echo, "Authorization", "Bearer sk-demo-globex-pro")
			if code != 200 {
				t.Fatalf("pro request %d: %d %s", i, code, b)
			}
			checkLimitHeaders(t, h, "Requests")
			checkLimitHeaders(t, h, "Tokens")
		}
		if code, _, _ := chat(s, echo); code != 401 {
			t.Fatalf("no key: %d", code)
		}
	})

	t.Run("token-budget", func(t *testing.T) {
		s := start(t, "token-budget")[0]
		ask := func(key string, maxTokens int) (int, http.Header, string) {
			code, h, b := chat(s, fmt.Sprintf(`{"model":"demo/echo","max_tokens":%d,"messages":[{"role":"user","content":"hello"}]}`, maxTokens), "Authorization", "Bearer "+key)
			settleWait()
			return code, h, b
		}
		// Reserves ~4,000 of bob's 5,000 daily tokens, then settles to the few really used.
		code, h, b := ask("sk-demo-bob", 4000)
		if code != 200 {
			t.Fatalf("bob: %d %s", code, b)
		}
		if lim, _ := checkLimitHeaders(t, h, "Tokens"); lim != 5000 {
			t.Fatalf("tightest token tier for bob has limit %d, want his 5000/day", lim)
		}
		if code, _, b := ask("sk-demo-bob", 4000); code != 200 {
			t.Fatalf("bob after settlement: %d %s", code, b)
		}
		code, h, b = ask("sk-demo-bob", 4990)
		check429(t, code, h, b, "insufficient_quota", "key:bob", "tokens budget")
		if code, _, b := ask("sk-demo-alice", 4995); code != 200 {
			t.Fatalf("alice: %d %s", code, b)
		}
		// Larger than the whole 20,000 burst: it could never pass, so it is refused at once
		// naming the tier and unit, with no Retry-After (docs/decisions.md, oversize demand).
		code, h, b = ask("sk-demo-alice", 25000)
		if _, c, msg := openaiError(t, b); code != 429 || c != "rate_limit_exceeded" || !strings.Contains(msg, "user:alice") || !strings.Contains(msg, "tokens rate limit of 20000") || h.Get("Retry-After") != "" {
			t.Fatalf("alice oversized: %d retry-after=%q %s", code, h.Get("Retry-After"), b)
		}
		if code, _, b := ask("sk-demo-alice", 100); code != 200 {
			t.Fatalf("alice after the oversized refusal: %d %s", code, b)
		}
	})

	t.Run("multi-replica-redis", func(t *testing.T) {
		rd := redistest.Start(t)
		env := "REDIS_URL=" + rd.URL
		replicas := append(start(t, "multi-replica-redis", env), startSluiceArgs(t, []string{"serve", "-c", filepath.Join(repo, "examples", "multi-replica-redis", "sluice.toml")}, append(listen, env)...))
		var ok, refused int
		for i := 0; i < 16; i++ {
			code, h, b := chat(replicas[i%2], echo, "X-Sluice-Team", "a")
			switch code {
			case 200:
				ok++
			case 429:
				refused++
				check429(t, code, h, b, "rate_limit_exceeded", "team:a", "requests")
			default:
				t.Fatalf("%d %s", code, b)
			}
		}
		// 10 burst across both replicas, plus at most a refill or two during the loop.
		if ok < 10 || ok > 12 || refused == 0 {
			t.Fatalf("two replicas admitted %d and refused %d of team a's 16 requests; want one shared 10-request burst", ok, refused)
		}
	})
}
