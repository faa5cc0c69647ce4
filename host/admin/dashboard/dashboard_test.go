package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// changingFeed returns snapshots whose numbers grow with every call and
// remembers every request total it served.
type changingFeed struct {
	mu     sync.Mutex
	calls  int
	served map[int64]bool
}

func (f *changingFeed) snapshot() Snapshot {
	f.mu.Lock()
	f.calls++
	n := f.calls
	total := int64(100000 + 1234*n)
	f.served[total] = true
	f.mu.Unlock()

	now := time.Now()
	const w = 300
	s := Snapshot{
		GeneratedAt:   now,
		UptimeSeconds: 3723 + float64(n),
		WindowSeconds: w,
		Totals: Totals{
			Requests: total, Errors: 321 + int64(n), RequestsPerSec: 41.7 + float64(n), ErrorsPerSec: 0.4,
			P50Ms: 182.5, P90Ms: 410, P99Ms: 1250, TokensIn: 4_812_000, TokensOut: 1_203_400, CostUSD: 18.42,
			CacheHitRate: 0.37, RateLimited: 57, InFlight: 12, Streams: 5,
		},
		Series: Series{Start: now.Unix() - w + 1},
		Models: []Model{
			{Model: "gpt-4o-mini", Provider: "openai", Requests: 9000 + int64(n), Errors: 12, TokensIn: 3_100_000, TokensOut: 800_000, CostUSD: 0.94, MeanMs: 212},
			{Model: "claude-haiku-4-5", Provider: "anthropic", Requests: 3100, Errors: 0, TokensIn: 1_700_000, TokensOut: 400_000, CostUSD: 3.70, MeanMs: 340},
		},
		Targets: []Target{
			{Router: "prod", Target: "openai/gpt-4o-mini#0", Provider: "openai", Healthy: true, EWMAMs: 198.4, InFlight: 7, ErrorRate: 0.002},
			{Router: "prod", Target: "anthropic/claude-haiku-4-5#1", Provider: "anthropic", Healthy: false, EWMAMs: 1210, InFlight: 0, ErrorRate: 0.31},
		},
		Plugins: []Plugin{
			{Plugin: "anthropic", Hook: "translate_request", Calls: 3100, MeanUs: 18.2, P99Us: 61},
			{Plugin: "tenant-router", Hook: "route", Calls: 12100, Errors: 3, MeanUs: 2.1, P99Us: 7.5},
		},
		RateLimits: []RateLimit{{Tier: "team", Unit: "tokens", Rejections: 41}, {Tier: "key", Unit: "requests", Rejections: 16}},
	}
	series := []*[]float64{&s.Series.Requests, &s.Series.Errors, &s.Series.P50Ms, &s.Series.P90Ms, &s.Series.P99Ms,
		&s.Series.TokensIn, &s.Series.TokensOut, &s.Series.CostUSD, &s.Series.CacheHits, &s.Series.CacheMisses, &s.Series.RateLimited}
	for k, p := range series {
		*p = make([]float64, w)
		for i := range w {
			phase := float64(i+n) / 17
			base := []float64{40, 0.5, 180, 400, 1200, 20000, 5000, 0.06, 15, 25, 0.2}[k]
			(*p)[i] = math.Max(0, base*(1+0.35*math.Sin(phase+float64(k))+0.1*math.Sin(phase*3.1)))
		}
	}
	return s
}

func TestHandlerServesPageAssetsAndFeed(t *testing.T) {
	f := &changingFeed{served: map[int64]bool{}}
	srv := httptest.NewServer(Handler(f.snapshot))
	defer srv.Close()

	for path, ctype := range map[string]string{
		"/dashboard":           "text/html",
		"/dashboard/":          "text/html",
		"/dashboard/app.js":    "text/javascript",
		"/dashboard/style.css": "text/css",
		"/dashboard/data.json": "application/json",
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) {
			t.Errorf("%s: status %d type %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	resp, err := http.Get(srv.URL + "/dashboard/data.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s Snapshot
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	if !f.served[s.Totals.Requests] || len(s.Series.Requests) != 300 || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("feed not passed through: %+v", s.Totals)
	}
	for _, p := range []string{"/dashboard/nope", "/other", "/dashboard/../etc/passwd"} {
		r, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 404 {
			t.Errorf("%s: status %d, want 404", p, r.StatusCode)
		}
	}
	page, _ := static.ReadFile("static/index.html")
	if regexp.MustCompile(`(?i)(src|href)="https?://`).Match(page) {
		t.Error("page references an external asset")
	}
}

var totalRE = regexp.MustCompile(`id="total-requests">([0-9,]+)<`)

func TestDashboardInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed (apt-get install -y chromium); skipping the browser test")
	}
	f := &changingFeed{served: map[int64]bool{}}
	srv := httptest.NewServer(Handler(f.snapshot))
	defer srv.Close()
	url := srv.URL + "/dashboard"

	first := dumpTotal(t, bin, url, f)
	second := dumpTotal(t, bin, url, f)
	if second <= first {
		t.Errorf("numbers did not change between loads: %d then %d", first, second)
	}

	dir := os.Getenv("SLUICE_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, theme := range []string{"light", "dark"} {
		shot := filepath.Join(dir, "dashboard-"+theme+".png")
		runChromium(t, bin, "--screenshot="+shot, "--window-size=1280,900", url+"?theme="+theme)
		st, err := os.Stat(shot)
		if err != nil || st.Size() < 10_000 {
			t.Fatalf("screenshot missing or blank: %v", err)
		}
		t.Logf("screenshot: %s", shot)
	}
}

// TestDashboardEmptyFeedInChromium checks the page copes with a process
// that has seen no traffic (and with a zero Snapshot's null slices).
func TestDashboardEmptyFeedInChromium(t *testing.T) {
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed (apt-get install -y chromium); skipping the browser test")
	}
	srv := httptest.NewServer(Handler(func() Snapshot { return Snapshot{} }))
	defer srv.Close()
	dom := runChromium(t, bin, "--dump-dom", srv.URL+"/dashboard")
	for _, want := range []string{"No requests in the last 5 minutes", "No targets reported", "No plugin calls yet", "No rejections",
		`id="total-requests">0<`, `class="pill pill-ok"`} {
		if !strings.Contains(dom, want) {
			t.Errorf("DOM lacks %q", want)
		}
	}
}

func dumpTotal(t *testing.T, bin, url string, f *changingFeed) int64 {
	t.Helper()
	dom := runChromium(t, bin, "--dump-dom", url)
	m := totalRE.FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("request total not rendered; DOM:\n%.3000s", dom)
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(m[1], ",", ""), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	ok := f.served[v]
	f.mu.Unlock()
	if !ok {
		t.Fatalf("DOM shows %d, which the feed never served", v)
	}
	for _, want := range []string{"gpt-4o-mini", "claude-haiku-4-5", "openai/gpt-4o-mini#0", "tenant-router", "translate_request", `class="pill pill-ok"`, "1.25 s", "37.0%"} {
		if !strings.Contains(dom, want) {
			t.Errorf("DOM lacks %q", want)
		}
	}
	if strings.Contains(dom, "No requests in the last 5 minutes") {
		t.Error("models table still empty")
	}
	return v
}

func runChromium(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=4000"}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return fmt.Sprint(string(out))
}
