package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
)

const adminToken = "adm-token-0123456789abcdef"

// adminDo sends one admin request and returns status and body.
func adminDo(t *testing.T, method, url string, h ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(h); i += 2 {
		if h[i] == "Host" {
			req.Host = h[i+1]
			continue
		}
		req.Header.Set(h[i], h[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAdminGuard: the admin API needs its token, answers only loopback (or configured) Host
// names, refuses cross-origin state changes, hides pprof unless asked, has a metrics-only
// listener, and never shows a secret: not in the config view, not in a refused reload.
func TestAdminGuard(t *testing.T) {
	wasm := buildRepoPlugin(t, "policies/deny-words")
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-SECRET-123"))
	secrets := []string{"sk-upstream-SECRET-123", adminToken, "redis-pw-SECRET", "plugin-SECRET-xyz", "opt-SECRET-456", "baseurl-SECRET", "vkey-SECRET-789"}
	good := fmt.Sprintf(`
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
admin_token = %q
metrics_listen = "127.0.0.1:0"

[log]
level = "debug"

[providers.up]
kind = "openai"
base_url = %q
api_key = "sk-upstream-SECRET-123"
options = { org = "opt-SECRET-456" }

[providers.creds]
kind = "openai"
base_url = "http://svc:baseurl-SECRET@127.0.0.1:9/v1"
api_key = "sk-other-key"

[plugins.deny-words]
path = %q
config = { words = ["zebra"], api_token = "plugin-SECRET-xyz" }

[[auth.keys]]
id = "k1"
key = "vkey-SECRET-789"

[redis]
url = "redis://:redis-pw-SECRET@127.0.0.1:6390"
`, adminToken, up.URL, wasm)
	path := filepath.Join(t.TempDir(), "sluice.toml")
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startSluiceArgs(t, []string{"serve", "-c", path})
	bearer := []string{"Authorization", "Bearer " + adminToken}
	noSecret := func(t *testing.T, what, body string) {
		t.Helper()
		for _, sec := range secrets {
			if strings.Contains(body, sec) {
				t.Errorf("%s shows %q: %s", what, sec, body)
			}
		}
	}

	t.Run("token", func(t *testing.T) {
		for _, h := range [][]string{nil, {"Authorization", "Bearer wrong-token-0123456789"}, {"Authorization", adminToken}} {
			code, body := adminDo(t, http.MethodGet, s.Admin+"/admin/config", h...)
			if code != 401 || !strings.Contains(body, "admin_token_required") {
				t.Fatalf("%v: %d %s", h, code, body)
			}
			noSecret(t, "401 answer", body)
		}
		if code, body := adminDo(t, http.MethodPost, s.Admin+"/admin/reload"); code != 401 {
			t.Fatalf("reload without token: %d %s", code, body)
		}
		if code, _ := adminDo(t, http.MethodGet, s.Admin+"/health", bearer...); code != 200 {
			t.Fatalf("with token: %d", code)
		}
		// The dashboard page loads; its data needs the token.
		if code, _ := adminDo(t, http.MethodGet, s.Admin+"/dashboard"); code != 200 {
			t.Fatalf("dashboard page: %d", code)
		}
		if code, _ := adminDo(t, http.MethodGet, s.Admin+"/dashboard/data.json"); code != 401 {
			t.Fatalf("dashboard data without token: %d", code)
		}
	})
	t.Run("dns rebinding host", func(t *testing.T) {
		for _, host := range []string{"evil.example", "evil.example:9090", "10.1.2.3"} {
			code, body := adminDo(t, http.MethodGet, s.Admin+"/admin/config", append([]string{"Host", host}, bearer...)...)
			if code != 403 || !strings.Contains(body, "host_not_allowed") {
				t.Fatalf("Host %s: %d %s", host, code, body)
			}
		}
		if code, _ := adminDo(t, http.MethodGet, s.Admin+"/health", append([]string{"Host", "localhost"}, bearer...)...); code != 200 {
			t.Fatalf("Host localhost: %d", code)
		}
	})
	t.Run("cross-origin post", func(t *testing.T) {
		for _, h := range [][]string{{"Origin", "http://evil.example"}, {"Origin", "null"}, {"Sec-Fetch-Site", "cross-site"}} {
			code, body := adminDo(t, http.MethodPost, s.Admin+"/admin/cache/purge", append(h, bearer...)...)
			if code != 403 || !strings.Contains(body, "cross_origin_refused") {
				t.Fatalf("%v: %d %s", h, code, body)
			}
		}
		// The admin API's own origin passes the guard (no cache is configured: 404).
		origin := strings.Replace(s.Admin, "http://", "http://", 1)
		if code, body := adminDo(t, http.MethodPost, s.Admin+"/admin/cache/purge", append([]string{"Origin", origin, "Sec-Fetch-Site", "same-origin"}, bearer...)...); code != 404 || !strings.Contains(body, "cache_disabled") {
			t.Fatalf("same origin: %d %s", code, body)
		}
	})
	t.Run("pprof off by default", func(t *testing.T) {
		if code, _ := adminDo(t, http.MethodGet, s.Admin+"/debug/pprof/", bearer...); code != 404 {
			t.Fatalf("pprof: %d", code)
		}
	})
	t.Run("metrics-only listener", func(t *testing.T) {
		m := regexp.MustCompile(`metrics=(\S+)`).FindStringSubmatch(s.Logs())
		if m == nil || m[1] == "" {
			t.Fatalf("no metrics address in the log:\n%s", s.Logs())
		}
		mu := "http://" + m[1]
		if code, body := adminDo(t, http.MethodGet, mu+"/metrics"); code != 200 || !strings.Contains(body, "# TYPE") {
			t.Fatalf("/metrics: %d %.200s", code, body)
		}
		for _, p := range []string{"/admin/config", "/health", "/dashboard", "/debug/pprof/"} {
			if code, _ := adminDo(t, http.MethodGet, mu+p, bearer...); code != 404 {
				t.Fatalf("metrics listener served %s: %d", p, code)
			}
		}
	})
	t.Run("config view redacted", func(t *testing.T) {
		code, body := adminDo(t, http.MethodGet, s.Admin+"/admin/config", bearer...)
		if code != 200 || !strings.Contains(body, "deny-words") {
			t.Fatalf("%d %s", code, body)
		}
		noSecret(t, "config view", body)
		for _, want := range []string{`redis://:***@127.0.0.1:6390`, `http://svc:***@127.0.0.1:9/v1`, `"api_token": "[redacted]"`, `"org": "[redacted]"`} {
			if !strings.Contains(body, want) {
				t.Errorf("config view lacks %s", want)
			}
		}
	})
	t.Run("refused reloads", func(t *testing.T) {
		bad := []string{
			// Refused by validation, whose message quotes the URL.
			strings.Replace(good, "base_url = \"http://svc:baseurl-SECRET@127.0.0.1:9/v1\"", "base_url = \"ftp://svc:baseurl-SECRET@127.0.0.1:9/v1\"", 1),
			// Refused while building: a Redis URL that does not parse, used by a limit.
			strings.Replace(good, "127.0.0.1:6390", "127.0.0.1:notaport", 1) + "\n[[limits]]\nscope = \"global\"\nunit = \"requests\"\nrate = \"10/s\"\n",
		}
		for i, cfg := range bad {
			if err := os.WriteFile(path+".new", []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(path+".new", path); err != nil {
				t.Fatal(err)
			}
			code, body := adminDo(t, http.MethodPost, s.Admin+"/admin/reload", bearer...)
			if code != 422 || !strings.Contains(body, "reload_refused") {
				t.Fatalf("bad config %d: %d %s", i, code, body)
			}
			noSecret(t, fmt.Sprintf("refused reload %d", i), body)
			if i == 0 && !strings.Contains(body, "svc:***@") {
				t.Errorf("the validation message should name the URL with its password hidden: %s", body)
			}
		}
		noSecret(t, "the log", s.Logs())
	})
}

// TestAdminGuardBinds: an admin listener beyond loopback needs a token (a config error
// otherwise) and is warned about.
func TestAdminGuardBinds(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "open.toml")
	if err := os.WriteFile(path, []byte("[server]\nadmin_listen = \"0.0.0.0:0\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binPath, "check", "-c", path).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "admin_token is required") {
		t.Fatalf("check accepted a non-loopback admin listener without a token: %v\n%s", err, out)
	}
	s := startSluice(t, fmt.Sprintf("[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"0.0.0.0:0\"\nadmin_token = %q\n", adminToken))
	if !strings.Contains(s.Logs(), "listens beyond loopback") {
		t.Fatalf("no warning for a non-loopback admin listener:\n%s", s.Logs())
	}
	// The listener reports [::]:port (or 0.0.0.0:port); that Host is not loopback and is refused.
	if code, _ := adminDo(t, http.MethodGet, s.Admin+"/health", "Authorization", "Bearer "+adminToken); code != 403 {
		t.Fatalf("Host %s: %d", s.Admin, code)
	}
	port := s.Admin[strings.LastIndex(s.Admin, ":")+1:]
	local := "http://127.0.0.1:" + port
	if code, _ := adminDo(t, http.MethodGet, local+"/health"); code != 401 {
		t.Fatalf("no token: %d", code)
	}
	if code, _ := adminDo(t, http.MethodGet, local+"/health", "Authorization", "Bearer "+adminToken); code != 200 {
		t.Fatalf("token: %d", code)
	}
}
