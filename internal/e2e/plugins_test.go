package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
	"github.com/sluice-gw/sluice/sdk/conformance"
)

// buildRepoPlugin compiles a plugin folder of this repository (examples/..., policies/...) with
// `sluice plugin build`, as a user would.
func buildRepoPlugin(t *testing.T, rel string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(rel)+".wasm")
	cmd := exec.Command(binPath, "plugin", "build", filepath.Join(repo, rel), "-o", out)
	cmd.Dir = repo
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sluice plugin build %s: %v\n%s", rel, err, b)
	}
	return out
}

// guestWasm builds the host tests' misbehaving SDK guest (host/plugin/testdata/guests/good):
// on_request panics, loops or errors on demand by model; on_response answers
// {"version":"<version>"}.
func guestWasm(t *testing.T, version string) []byte {
	t.Helper()
	path, err := conformance.BuildGuest(filepath.Join(repo, "host", "plugin", "testdata", "guests", "good"), "-X main.version="+version)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pchat(model string) string {
	return fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"hi"}]}`, model)
}

// openAIError decodes an OpenAI error body.
func openAIError(t *testing.T, body string) (msg, typ, code string) {
	t.Helper()
	var e struct {
		Error struct{ Message, Type, Code string }
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Message == "" {
		t.Fatalf("not an OpenAI error: %s", body)
	}
	return e.Error.Message, e.Error.Type, e.Error.Code
}

func twoModelUpstream(t *testing.T) *fakeprovider.Server {
	return fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123"))
}

func upstreamModels(up *fakeprovider.Server) map[string]int {
	n := map[string]int{}
	for _, r := range up.Requests() {
		n[r.Model]++
	}
	return n
}

func TestPluginRouteByHeader(t *testing.T) {
	wasm := buildRepoPlugin(t, "examples/route-by-header")
	up := twoModelUpstream(t)
	s := startSluice(t, upstreamConfig(up.URL, fmt.Sprintf(`
[plugins.route-by-header]
path = %q
config = { header = "x-tenant", targets = ["acme=up/gpt-b", "beta=up/gpt-a"] }

[routers.prod]
strategy = "plugin"
plugin = "route-by-header"
targets = [{ model = "up/gpt-a" }, { model = "up/gpt-b" }]
`, wasm)))
	for _, tc := range []struct{ tenant, want string }{{"acme", "gpt-b"}, {"beta", "gpt-a"}} {
		before := upstreamModels(up)[tc.want]
		for range 10 {
			code, _, body := post(t, s.URL+"/v1/chat/completions", pchat("prod"), "X-Tenant", tc.tenant)
			if code != 200 {
				t.Fatalf("tenant %s: %d %s", tc.tenant, code, body)
			}
		}
		if got := upstreamModels(up)[tc.want] - before; got != 10 {
			t.Fatalf("tenant %s: %d of 10 requests reached %s; upstream saw %v", tc.tenant, got, tc.want, upstreamModels(up))
		}
	}
	// No header: the host's order, still answered.
	if code, _, body := post(t, s.URL+"/v1/chat/completions", pchat("prod")); code != 200 {
		t.Fatalf("no tenant: %d %s", code, body)
	}
}

func TestPluginABSplit(t *testing.T) {
	wasm := buildRepoPlugin(t, "examples/ab-split")
	up := twoModelUpstream(t)
	s := startSluice(t, upstreamConfig(up.URL, fmt.Sprintf(`
[plugins.ab-split]
path = %q
config = { a = "up/gpt-a", b = "up/gpt-b", percent_b = 30 }

[routers.ab]
strategy = "plugin"
plugin = "ab-split"
targets = [{ model = "up/gpt-a" }, { model = "up/gpt-b" }]
`, wasm)))
	const n = 200
	for range n {
		if code, _, body := post(t, s.URL+"/v1/chat/completions", pchat("ab")); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
	}
	got := upstreamModels(up)
	// The arm is FNV-1a of the gateway's random request id mod 100: B's share is binomial
	// (n=200, p=0.3, sd ~6.5), so 30% +- 10 points is more than 3 sd.
	if got["gpt-a"]+got["gpt-b"] != n || got["gpt-b"] < 40 || got["gpt-b"] > 80 {
		t.Fatalf("split over %d requests: %v, want about 30%% gpt-b", n, got)
	}
}

func TestPolicyModelAllowlist(t *testing.T) {
	wasm := buildRepoPlugin(t, "policies/model-allowlist")
	up := twoModelUpstream(t)
	s := startSluice(t, `policies = ["model-allowlist"]`+upstreamConfig(up.URL, fmt.Sprintf(`

[plugins.model-allowlist]
path = %q
config = { models = ["up/gpt-a", "demo/*"] }
`, wasm)))
	for _, m := range []string{"up/gpt-a", "demo/echo"} {
		if code, _, body := post(t, s.URL+"/v1/chat/completions", pchat(m)); code != 200 {
			t.Fatalf("%s: %d %s", m, code, body)
		}
	}
	code, _, body := post(t, s.URL+"/v1/chat/completions", pchat("up/gpt-b"))
	msg, typ, ecode := openAIError(t, body)
	if code != 403 || ecode != "model_not_allowed" || typ != "permission_error" || !strings.Contains(msg, `"up/gpt-b"`) {
		t.Fatalf("disallowed model: %d %s", code, body)
	}
	if got := upstreamModels(up); got["gpt-b"] != 0 || got["gpt-a"] != 1 {
		t.Fatalf("upstream saw %v", got)
	}
}

func TestPolicyMaxTokens(t *testing.T) {
	wasm := buildRepoPlugin(t, "policies/max-tokens")
	up := twoModelUpstream(t)
	cfg := func(mode string) string {
		return `policies = ["max-tokens"]` + upstreamConfig(up.URL, fmt.Sprintf(`

[plugins.max-tokens]
path = %q
config = { max = 100, mode = %q }
`, wasm, mode))
	}
	t.Run("cap", func(t *testing.T) {
		s := startSluice(t, cfg("cap"))
		code, _, body := post(t, s.URL+"/v1/chat/completions", `{"model":"up/gpt-a","max_tokens":5000,"max_completion_tokens":50,"messages":[{"role":"user","content":"hi"}]}`)
		if code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		reqs := up.Requests()
		var sent struct {
			MaxTokens           int `json:"max_tokens"`
			MaxCompletionTokens int `json:"max_completion_tokens"`
		}
		if err := json.Unmarshal(reqs[len(reqs)-1].Body, &sent); err != nil || sent.MaxTokens != 100 || sent.MaxCompletionTokens != 50 {
			t.Fatalf("upstream got %s (%v), want max_tokens capped to 100 and 50 kept", reqs[len(reqs)-1].Body, err)
		}
	})
	t.Run("reject", func(t *testing.T) {
		s := startSluice(t, cfg("reject"))
		n := len(up.Requests())
		code, _, body := post(t, s.URL+"/v1/chat/completions", `{"model":"up/gpt-a","max_tokens":5000,"messages":[{"role":"user","content":"hi"}]}`)
		msg, _, ecode := openAIError(t, body)
		if code != 400 || ecode != "max_tokens_exceeded" || !strings.Contains(msg, "5000") {
			t.Fatalf("%d %s", code, body)
		}
		if len(up.Requests()) != n {
			t.Fatal("a rejected request reached the upstream")
		}
		if code, _, body := post(t, s.URL+"/v1/chat/completions", `{"model":"up/gpt-a","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`); code != 200 {
			t.Fatalf("under the limit: %d %s", code, body)
		}
	})
}

// A policy that traps answers a 502 naming the plugin, logs the guest's stderr, and the next
// request is served by a fresh instance; a runaway one is stopped at its deadline (504). The
// admin listener then reports the calls, errors, traps and latency.
func TestPluginTrapTimeoutAndStats(t *testing.T) {
	dir := t.TempDir()
	wasm := filepath.Join(dir, "guard.wasm")
	if err := os.WriteFile(wasm, guestWasm(t, "v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startSluice(t, `policies = ["guard"]`+upstreamConfig("http://127.0.0.1:1", fmt.Sprintf(`

[plugins.guard]
path = %q
sandbox = "untrusted"
timeout = "100ms"
`, wasm)))
	code, _, body := post(t, s.URL+"/v1/chat/completions", pchat("panic"))
	msg, typ, ecode := openAIError(t, body)
	if code != 502 || ecode != "plugin_trapped" || typ != "api_error" || !strings.Contains(msg, `plugin "guard"`) || !strings.Contains(msg, "on_request") {
		t.Fatalf("trap: %d %s", code, body)
	}
	if strings.Contains(body, "nil map") {
		t.Fatalf("the guest's stderr leaked to the client: %s", body)
	}
	if code, _, body := post(t, s.URL+"/v1/chat/completions", pchat("demo/echo")); code != 200 || !strings.Contains(body, `"version":"v1"`) {
		t.Fatalf("after the trap: %d %s", code, body)
	}
	if logs := s.Logs(); !strings.Contains(logs, "plugin call failed") || !strings.Contains(logs, "assignment to entry in nil map") {
		t.Fatalf("log lacks the trap and the guest's stderr:\n%s", logs)
	}

	code, _, body = post(t, s.URL+"/v1/chat/completions", pchat("loop"))
	msg, _, ecode = openAIError(t, body)
	if code != 504 || ecode != "plugin_timeout" || !strings.Contains(msg, `plugin "guard"`) {
		t.Fatalf("timeout: %d %s", code, body)
	}
	code, _, body = post(t, s.URL+"/v1/chat/completions", pchat("error"))
	if _, _, ecode = openAIError(t, body); code != 403 || ecode != "model_not_allowed" {
		t.Fatalf("guest error: %d %s", code, body)
	}
	if code, _, body := post(t, s.URL+"/v1/chat/completions", pchat("demo/echo")); code != 200 {
		t.Fatalf("after the timeout: %d %s", code, body)
	}

	code, body = get(t, s.Admin+"/admin/plugins")
	var stats []struct {
		Plugin                         string
		Calls, Errors, Traps, Timeouts uint64
		Latency                        []struct{ UpperBound, Count int64 }
		P50, P99                       int64
	}
	if err := json.Unmarshal([]byte(body), &stats); code != 200 || err != nil {
		t.Fatalf("/admin/plugins: %d %v %s", code, err, body)
	}
	var found bool
	for _, st := range stats {
		if st.Plugin != "guard" {
			continue
		}
		found = true
		var counted int64
		for _, b := range st.Latency {
			counted += b.Count
		}
		// on_request: panic, echo, loop, error, echo; on_response: echo, echo.
		if st.Calls != 7 || st.Errors != 3 || st.Traps != 2 || st.Timeouts != 1 || counted != 7 || st.P50 <= 0 {
			t.Fatalf("guard stats: %+v\n%s", st, body)
		}
	}
	if !found {
		t.Fatalf("guard missing from /admin/plugins: %s", body)
	}
}
