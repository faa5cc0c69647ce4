package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sluice-gw/sluice/host/redisclient"
	"github.com/sluice-gw/sluice/internal/fakeprovider"
	"github.com/sluice-gw/sluice/internal/redistest"
)

// scrape reads /metrics from the admin listener and parses it as Prometheus text.
func scrape(t *testing.T, s *Sluice) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(s.Admin + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// metric sums the series of family name whose labels include want (pairs of name, value):
// counter and gauge values, or a histogram's sample count.
func metric(fams map[string]*dto.MetricFamily, name string, want ...string) (float64, bool) {
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	sum, found := 0.0, false
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum, found
}

// wantMetric fails unless the summed series satisfy ok.
func wantMetric(t *testing.T, fams map[string]*dto.MetricFamily, ok func(float64) bool, what, name string, labels ...string) {
	t.Helper()
	v, found := metric(fams, name, labels...)
	if !found || !ok(v) {
		t.Errorf("%s%v = %v (found %v), want %s", name, labels, v, found, what)
	}
}

func eq(n float64) (func(float64) bool, string) {
	return func(v float64) bool { return v == n }, fmt.Sprintf("== %v", n)
}

func atLeast(n float64) (func(float64) bool, string) {
	return func(v float64) bool { return v >= n }, fmt.Sprintf(">= %v", n)
}

func observeConfig(a, b, ant string) string {
	return baseConfig + fmt.Sprintf(`
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

[providers.demo]
chunk_delay = "0s"

[pricing."a/gpt-test"]
input = 1.0
output = 2.0

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

[auth]
required = false

[[auth.keys]]
id = "k1"
key = "sk-k1-secret"
team = "acme"
limits = [{ name = "k1-rpm", unit = "requests", rate = "5/min", burst = 5 }]
`, a, b, ant)
}

func ochat(model, text string, stream bool) string {
	return fmt.Sprintf(`{"model":%q,"stream":%v,"messages":[{"role":"user","content":%q}]}`, model, stream, text)
}

// TestMetricsScrape drives each kind of request through the real binary and checks what
// /metrics on the admin listener says about them.
func TestMetricsScrape(t *testing.T) {
	upA := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-a"))
	upB := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-b"))
	ant := fakeprovider.NewAnthropic(t, fakeprovider.WithKey("sk-ant"))
	s := startSluice(t, observeConfig(upA.URL, upB.URL, ant.URL))
	url := s.URL + "/v1/chat/completions"

	for i := range 3 {
		if code, _, b := post(t, url, ochat("a/gpt-test", fmt.Sprintf("one two %d", i), false)); code != 200 {
			t.Fatalf("plain: %d %s", code, b)
		}
	}
	// A slow stream: both in-flight gauges count it while it is open.
	upA.Enqueue(fakeprovider.Reply{ChunkDelay: 150 * time.Millisecond})
	streamDone := make(chan string, 1)
	go func() {
		_, _, b := post(t, url, ochat("a/gpt-test", "slow stream of several words here", true))
		streamDone <- b
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		fams := scrape(t, s)
		r, _ := metric(fams, "sluice_requests_in_flight")
		st, _ := metric(fams, "sluice_streams_in_flight")
		if r >= 1 && st >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("in-flight gauges never showed the open stream (requests %v, streams %v)", r, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if b := <-streamDone; !strings.Contains(b, "data: [DONE]") {
		t.Fatalf("slow stream: %s", b)
	}

	cached := ochat("cached", "cache this", false)
	post(t, url, cached)
	if _, h, _ := post(t, url, cached); h.Get("X-Sluice-Cache") != "HIT" {
		t.Fatalf("second cached call: %q", h.Get("X-Sluice-Cache"))
	}
	upA.Enqueue(fakeprovider.Reply{Status: 500, Message: "boom"})
	if code, h, b := post(t, url, ochat("fo", "fail over", false)); code != 200 || h.Get("X-Sluice-Attempts") != "2" {
		t.Fatalf("failover: %d %s", code, b)
	}
	post(t, url, ochat("limited", "x", false))
	if code, _, _ := post(t, url, ochat("limited", "x", false)); code != 429 {
		t.Fatalf("limited: %d", code)
	}
	if code, _, b := post(t, url, ochat("anthropic/claude-haiku-4-5", "hello there", false)); code != 200 {
		t.Fatalf("anthropic: %d %s", code, b)
	}

	// Target health is published by a 2 s ticker.
	var fams map[string]*dto.MetricFamily
	deadline = time.Now().Add(6 * time.Second)
	for {
		fams = scrape(t, s)
		if _, ok := metric(fams, "sluice_target_healthy", "target", "b/gpt-test#1"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sluice_target_healthy never appeared")
		}
		time.Sleep(200 * time.Millisecond)
	}
	const route = "/v1/chat/completions"
	// Three plain calls, the stream, the cache miss and the admitted limited call.
	ok, what := eq(6)
	wantMetric(t, fams, ok, what, "sluice_requests_total", "route", route, "provider", "a", "model", "a/gpt-test", "status", "200")
	wantMetric(t, fams, ok, what, "sluice_request_duration_seconds", "route", route, "provider", "a", "model", "a/gpt-test", "status", "200")
	ok, what = eq(1)
	wantMetric(t, fams, ok, what, "sluice_requests_total", "route", route, "provider", "cache", "status", "200")
	wantMetric(t, fams, ok, what, "sluice_requests_total", "route", route, "provider", "b", "model", "b/gpt-test", "status", "200")
	wantMetric(t, fams, ok, what, "sluice_requests_total", "route", route, "status", "429")
	wantMetric(t, fams, ok, what, "sluice_requests_total", "route", route, "provider", "anthropic", "status", "200")
	wantMetric(t, fams, ok, what, "sluice_time_to_first_token_seconds", "provider", "a")
	// OpenAI's first chunk (and the fake's) is role-only.
	wantMetric(t, fams, ok, what, "sluice_time_to_first_token_seconds", "provider", "a", "event", "role")
	wantMetric(t, fams, ok, what, "sluice_cache_hits_total")
	wantMetric(t, fams, ok, what, "sluice_cache_misses_total")
	wantMetric(t, fams, ok, what, "sluice_ratelimit_rejections_total", "tier", "router", "unit", "requests")
	wantMetric(t, fams, ok, what, "sluice_upstream_attempts_total", "provider", "a", "target", "a/gpt-test#0", "outcome", "5xx")
	wantMetric(t, fams, ok, what, "sluice_upstream_failovers_total", "provider", "a", "target", "a/gpt-test#0")
	wantMetric(t, fams, ok, what, "sluice_upstream_attempts_total", "provider", "b", "target", "b/gpt-test#1", "outcome", "ok")
	wantMetric(t, fams, ok, what, "sluice_target_healthy", "provider", "b", "target", "b/gpt-test#1")
	ok, what = atLeast(1)
	wantMetric(t, fams, ok, what, "sluice_upstream_attempt_duration_seconds", "provider", "b")
	wantMetric(t, fams, ok, what, "sluice_plugin_calls_total", "plugin", "anthropic", "hook", "translate_request")
	wantMetric(t, fams, ok, what, "sluice_plugin_calls_total", "plugin", "anthropic", "hook", "translate_response")
	wantMetric(t, fams, ok, what, "sluice_plugin_call_duration_seconds", "plugin", "anthropic", "hook", "translate_request")
	wantMetric(t, fams, ok, what, "sluice_target_healthy", "provider", "a")
	// Token counts equal the fake's word counts: 3 words in, 3 out, three times, plus the
	// stream, the cache miss, the limited call and the failed-over attempt's neighbour.
	ok, what = atLeast(9)
	wantMetric(t, fams, ok, what, "sluice_input_tokens_total", "provider", "a")
	wantMetric(t, fams, ok, what, "sluice_output_tokens_total", "provider", "a")
	ok, what = atLeast(1e-6)
	wantMetric(t, fams, ok, what, "sluice_cost_usd_total", "provider", "a")
	ok, what = eq(0)
	wantMetric(t, fams, ok, what, "sluice_requests_in_flight")
	wantMetric(t, fams, ok, what, "sluice_streams_in_flight")
	if t.Failed() {
		_, body := get(t, s.Admin+"/metrics")
		var own []string
		for _, l := range strings.Split(body, "\n") {
			if strings.HasPrefix(l, "sluice_") {
				own = append(own, l)
			}
		}
		t.Logf("/metrics (sluice_ series):\n%s", strings.Join(own, "\n"))
	}
}

func adminJSON(t *testing.T, method, url string, v any) int {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s %s: %d, body not JSON: %v", method, url, resp.StatusCode, err)
	}
	return resp.StatusCode
}

type peekAnswer struct {
	Subject map[string]string `json:"subject"`
	Rules   []struct {
		Rule      string `json:"rule"`
		Scope     string `json:"scope"`
		Key       string `json:"key"`
		Unit      string `json:"unit"`
		Kind      string `json:"kind"`
		Limit     int64  `json:"limit"`
		Remaining int64  `json:"remaining"`
		ResetMs   int64  `json:"reset_ms"`
		Allowed   bool   `json:"allowed"`
	} `json:"rules"`
	Error *struct {
		Code string `json:"code"`
	} `json:"error"`
}

func peek(t *testing.T, s *Sluice, query string) peekAnswer {
	t.Helper()
	var p peekAnswer
	if code := adminJSON(t, http.MethodGet, s.Admin+"/admin/ratelimit?"+query, &p); code != 200 {
		t.Fatalf("peek %s: %d %+v", query, code, p.Error)
	}
	return p
}

// checkAdminOps exercises the cache purge and the rate-limit peek against a running sluice
// using observeConfig (memory or Redis stores alike).
func checkAdminOps(t *testing.T, s *Sluice) {
	url := s.URL + "/v1/chat/completions"
	cached := ochat("cached", "purge me", false)
	if _, h, _ := post(t, url, cached); h.Get("X-Sluice-Cache") != "MISS" {
		t.Fatalf("first: %q", h.Get("X-Sluice-Cache"))
	}
	if _, h, _ := post(t, url, cached); h.Get("X-Sluice-Cache") != "HIT" {
		t.Fatalf("second: %q", h.Get("X-Sluice-Cache"))
	}
	var purged struct {
		Status  string `json:"status"`
		Removed int    `json:"removed"`
	}
	if code := adminJSON(t, http.MethodPost, s.Admin+"/admin/cache/purge", &purged); code != 200 || purged.Status != "purged" || purged.Removed < 1 {
		t.Fatalf("purge: %d %+v", code, purged)
	}
	if _, h, _ := post(t, url, cached); h.Get("X-Sluice-Cache") != "MISS" {
		t.Fatalf("after purge: %q, want MISS", h.Get("X-Sluice-Cache"))
	}
	if resp, err := http.Get(s.Admin + "/admin/cache/purge"); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET purge: %v %v", resp, err)
	}

	// The key's own limit and its team; peeks never consume.
	p := peek(t, s, "key=k1")
	if p.Subject["team"] != "acme" || len(p.Rules) != 1 || p.Rules[0].Rule != "k1-rpm" || p.Rules[0].Limit != 5 || p.Rules[0].Remaining != 5 || !p.Rules[0].Allowed {
		t.Fatalf("idle key: %+v", p)
	}
	for range 2 {
		if code, _, b := post(t, url, ochat("a/gpt-test", "keyed", false), "Authorization", "Bearer sk-k1-secret"); code != 200 {
			t.Fatalf("keyed call: %d %s", code, b)
		}
	}
	for range 3 {
		p = peek(t, s, "key=k1")
		if r := p.Rules[0]; r.Remaining != 3 || r.Kind != "rate" || r.Unit != "requests" || r.ResetMs <= 0 || r.Key != "key:k1" {
			t.Fatalf("after two keyed calls: %+v", p.Rules)
		}
	}
	p = peek(t, s, "router=limited")
	if len(p.Rules) != 1 || p.Rules[0].Remaining != 1 || p.Rules[0].Scope != "router" {
		t.Fatalf("idle router: %+v", p)
	}
	post(t, url, ochat("limited", "x", false))
	p = peek(t, s, "router=limited")
	if p.Rules[0].Remaining != 0 || p.Rules[0].Allowed || p.Rules[0].ResetMs < 50_000 {
		t.Fatalf("spent router: %+v", p)
	}
	var e peekAnswer
	if code := adminJSON(t, http.MethodGet, s.Admin+"/admin/ratelimit", &e); code != 400 || e.Error == nil || e.Error.Code != "missing_subject" {
		t.Fatalf("no subject: %d %+v", code, e.Error)
	}
	if code := adminJSON(t, http.MethodGet, s.Admin+"/admin/ratelimit?key=nope", &e); code != 404 || e.Error.Code != "unknown_key" {
		t.Fatalf("unknown key: %d %+v", code, e.Error)
	}
}

func TestAdminCachePurgeAndRateLimitPeek(t *testing.T) {
	upA := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-a"))
	s := startSluice(t, observeConfig(upA.URL, upA.URL, upA.URL))
	checkAdminOps(t, s)
}

// TestAdminRedisPurgeAndPeek: with both stores on Redis the purge deletes the cache's keys
// (and nothing else) and the peek reads the shared limiter state.
func TestAdminRedisPurgeAndPeek(t *testing.T) {
	srv := redistest.Start(t)
	upA := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-a"))
	s := startSluice(t, observeConfig(upA.URL, upA.URL, upA.URL)+fmt.Sprintf(`
[cache]
enabled = false
store = "redis"

[redis]
url = %q
`, srv.URL))
	cl, err := redisclient.New(redisclient.Options{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	redisKeys := func(pattern string) ([]redisclient.Value, error) {
		v, err := cl.Do(ctx, "KEYS", pattern)
		if err != nil {
			return nil, err
		}
		return v.Array()
	}
	if _, err := cl.Do(ctx, "SET", "unrelated:key", "1"); err != nil {
		t.Fatal(err)
	}
	post(t, s.URL+"/v1/chat/completions", ochat("cached", "one", false))
	post(t, s.URL+"/v1/chat/completions", ochat("cached", "two", false))
	// The cache store runs after the client has its answer: wait for the second entry.
	keys, err := redisKeys("sluice:cache:*")
	for deadline := time.Now().Add(3 * time.Second); err == nil && len(keys) < 2 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		keys, err = redisKeys("sluice:cache:*")
	}
	if err != nil || len(keys) < 2 {
		t.Fatalf("cache keys in redis before purge: %v %v", keys, err)
	}
	checkAdminOps(t, s)
	// checkAdminOps stored one answer after its purge; purge again and look in Redis.
	var purged struct{ Removed int }
	if code := adminJSON(t, http.MethodPost, s.Admin+"/admin/cache/purge", &purged); code != 200 || purged.Removed < 1 {
		t.Fatalf("second purge: %d %+v", code, purged)
	}
	if keys, _ := redisKeys("sluice:cache:*"); len(keys) != 0 {
		t.Fatalf("cache keys left in redis: %v", keys)
	}
	if v, _ := cl.Do(ctx, "EXISTS", "unrelated:key"); v.String() != "1" {
		t.Fatal("the purge deleted a key outside the cache prefix")
	}
	if keys, _ := redisKeys("sluice:rl:*"); len(keys) == 0 {
		t.Fatal("no rate-limit state in redis: the peek did not read the shared store")
	}
}

// TestDashboardChromium loads the dashboard of the real gateway in headless Chromium while
// traffic flows, checks the live numbers are filled in and move, and saves a screenshot.
func TestDashboardChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (make test installs it)")
	}
	upA := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-a"), fakeprovider.WithoutRecording())
	s := startSluice(t, observeConfig(upA.URL, upA.URL, upA.URL))
	url := s.URL + "/v1/chat/completions"

	var sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		models := []string{"demo/echo", "a/gpt-test", "fo", "cached", "limited"}
		client := &http.Client{Timeout: 10 * time.Second}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Millisecond):
			}
			m := models[i%len(models)]
			body := ochat(m, fmt.Sprintf("dashboard traffic %d", i%7), i%3 == 0)
			resp, err := client.Post(url, "application/json", strings.NewReader(body))
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				sent.Add(1)
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	dir := t.TempDir()
	shots := os.Getenv("SLUICE_SCREENSHOT_DIR")
	if shots == "" {
		shots = dir
	}
	run := func(extra ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync",
			"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=4000"}, extra...)
		args = append(args, s.Admin+"/dashboard")
		cmd := exec.CommandContext(ctx, chromium, args...)
		cmd.Dir = dir
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", extra, err, errb.String())
		}
		return out.String()
	}
	for sent.Load() < 20 {
		time.Sleep(50 * time.Millisecond)
	}
	first := run("--dump-dom")
	n1 := dashNumbers(t, first)
	time.Sleep(1500 * time.Millisecond)
	second := run("--dump-dom")
	n2 := dashNumbers(t, second)
	if n1["total-requests"] <= 0 || n2["total-requests"] <= n1["total-requests"] {
		t.Errorf("total requests did not move with traffic: %v then %v", n1["total-requests"], n2["total-requests"])
	}
	if n2["total-tokens-in"] <= 0 || n2["kpi-rps"] <= 0 {
		t.Errorf("live numbers missing: %v", n2)
	}
	if !strings.Contains(second, ">live<") {
		t.Errorf("the status pill does not say live")
	}
	for _, want := range []string{"demo/echo", "a/gpt-test", "b/gpt-test#1", "router"} {
		if !strings.Contains(second, want) {
			t.Errorf("the dashboard does not show %q", want)
		}
	}
	png := filepath.Join(shots, "dashboard.png")
	run("--screenshot="+png, "--window-size=1280,900", "--hide-scrollbars")
	if st, err := os.Stat(png); err != nil || st.Size() < 10_000 {
		t.Fatalf("screenshot %s: %v", png, err)
	}
	t.Logf("screenshot: %s (requests %v -> %v)", png, n1["total-requests"], n2["total-requests"])
}

var dashField = regexp.MustCompile(`id="(kpi-rps|total-requests|total-tokens-in|total-tokens-out|kpi-inflight|kpi-cache|kpi-rl)"[^>]*>([^<]*)<`)

// dashNumbers reads the KPI fields out of a dumped DOM; "1.2k" style suffixes are expanded.
func dashNumbers(t *testing.T, dom string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, m := range dashField.FindAllStringSubmatch(dom, -1) {
		out[m[1]] = parseShort(m[2])
	}
	if len(out) < 5 {
		t.Fatalf("KPI fields not found in the dashboard DOM (%d found):\n%.2000s", len(out), dom)
	}
	return out
}

func parseShort(s string) float64 {
	s = strings.TrimSpace(strings.NewReplacer(",", "", "$", "", "%", "", "/s", "").Replace(s))
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1e3, strings.TrimSuffix(s, "k")
	case strings.HasSuffix(s, "M"):
		mult, s = 1e6, strings.TrimSuffix(s, "M")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return -1
	}
	return v * mult
}
