package gateway

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/host/auth"
	"github.com/sluice-gw/sluice/host/balance"
	"github.com/sluice-gw/sluice/host/cache"
	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/host/provider"
	"github.com/sluice-gw/sluice/host/ratelimit"
	"github.com/sluice-gw/sluice/internal/fakeprovider"
)

// testbed is a Gateway served over a real socket (httptest) with fake OpenAI upstreams "a"
// and "b" behind it, built from a TOML configuration as the server builds it: providers,
// declared routers, limits, the cache, virtual keys.
type testbed struct {
	gw     *Gateway
	srv    *httptest.Server
	a, b   *fakeprovider.Server
	access *syncBuf

	mu     sync.Mutex
	stages []string
	// inflight counts handlers still running: the accounting runs after the client has its
	// answer, so a test waits for it before it reads what the accounting did.
	inflight sync.WaitGroup
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newTestbed starts the upstreams and a gateway; extra is appended to a configuration that
// declares the providers a and b (kind openai, pointing at the fakes).
func newTestbed(t testing.TB, extra string) *testbed {
	t.Helper()
	tb := &testbed{a: fakeprovider.NewOpenAI(t), b: fakeprovider.NewOpenAI(t), access: &syncBuf{}}
	toml := fmt.Sprintf("[providers.a]\nkind = \"openai\"\nbase_url = %q\napi_key = \"ka\"\n[providers.b]\nkind = \"openai\"\nbase_url = %q\napi_key = \"kb\"\n",
		tb.a.URL, tb.b.URL) + extra
	cfg, err := config.Parse("test.toml", []byte(toml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	reg := balance.NewRegistry()
	d := Deps{Config: cfg, Providers: map[string]*provider.Provider{}, Routers: map[string]*balance.Router{}, Registry: reg,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Access: slog.New(slog.NewTextHandler(tb.access, nil))}
	for name, pc := range cfg.Providers {
		p, err := provider.New(pc, nil, provider.Options{})
		if err != nil {
			t.Fatal(err)
		}
		d.Providers[name] = p
	}
	for name, rc := range cfg.Routers {
		targets := make([]balance.Target, len(rc.Targets))
		for i, tc := range rc.Targets {
			prov, model, _ := strings.Cut(tc.Model, "/")
			targets[i] = balance.Target{ID: fmt.Sprintf("%s#%d", tc.Model, i), Provider: prov, Model: model, Weight: int(math.Round(tc.Weight)), Priority: tc.Priority}
		}
		r, err := balance.NewRouter(balance.Config{
			Name: rc.Name, Strategy: balance.Strategy(rc.Strategy), Targets: targets, Registry: reg,
			Retries: balance.Retries{Attempts: rc.Retries.Attempts, Backoff: rc.Retries.Backoff.D(), MaxBackoff: rc.Retries.MaxBackoff.D(), Budget: rc.Retries.Budget, AfterSend: rc.Retries.AfterSend},
			Health: balance.Health{Window: rc.Health.Window.D(), Threshold: rc.Health.Threshold, MinRequests: rc.Health.MinRequests,
				Cooldown: rc.Health.Cooldown.D(), MaxCooldown: rc.Health.MaxCooldown.D()},
			DefaultRTT: rc.DefaultRTT.D(), Decay: rc.Decay.D(), Timeout: rc.Timeout.D(), AttemptTimeout: rc.AttemptTimeout.D(),
			FallbackStrategy: balance.Strategy(rc.FallbackStrategy),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		d.Routers[name] = r
	}
	var keys []auth.KeySpec
	for _, k := range cfg.Auth.Keys {
		keys = append(keys, auth.KeySpec{ID: k.ID, Key: k.Key, Team: k.Team, Models: k.Models})
	}
	if d.Auth, err = auth.New(auth.Options{Required: cfg.Auth.Required, Keys: keys}); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Limits) > 0 {
		var rules []ratelimit.Rule
		for i, l := range cfg.Limits {
			r, err := ratelimit.Spec{Name: fmt.Sprintf("l%d", i), Scope: l.Scope, Match: l.Match, Unit: l.Unit, Rate: l.Rate, Burst: float64(l.Burst), Budget: l.Budget}.Rule()
			if err != nil {
				t.Fatal(err)
			}
			rules = append(rules, r)
		}
		if d.Limiter, err = ratelimit.New(ratelimit.Config{Rules: rules, Store: ratelimit.NewMemoryStore()}); err != nil {
			t.Fatal(err)
		}
	}
	if cfg.Cache.On() {
		st, err := cache.NewMemoryStore(cache.MemoryOptions{MaxBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		cc, err := cache.New(cache.Options{Store: st, Policy: cache.Policy{Enabled: true, TTL: time.Minute}})
		if err != nil {
			t.Fatal(err)
		}
		d.Caches = map[string]*cache.Cache{"": cc}
	}
	if tb.gw, err = New(d); err != nil {
		t.Fatal(err)
	}
	tb.gw.stageHook = func(s string) {
		tb.mu.Lock()
		tb.stages = append(tb.stages, s)
		tb.mu.Unlock()
	}
	tb.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer tb.inflight.Done()
		tb.gw.ServeHTTP(w, r)
	}))
	t.Cleanup(tb.srv.Close)
	t.Cleanup(tb.gw.Close)
	return tb
}

// takeStages returns the stages run since the last call.
func (tb *testbed) takeStages() []string {
	tb.inflight.Wait()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	s := tb.stages
	tb.stages = nil
	return s
}

// post sends a chat request and reads the whole answer.
func (tb *testbed) post(t *testing.T, path, body string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, tb.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	tb.inflight.Add(1)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func chatBody(model string, stream bool) string {
	s := ""
	if stream {
		s = `,"stream":true`
	}
	return `{"model":"` + model + `","messages":[{"role":"user","content":"hello there"}]` + s + `}`
}
