package config_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/host/config"
)

func mustParse(t *testing.T, text string, env map[string]string) *config.Config {
	t.Helper()
	c, err := config.Parse("test.toml", []byte(text), mapEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func warnings(c *config.Config) string {
	var s []string
	for _, w := range c.Warnings {
		s = append(s, w.String())
	}
	return strings.Join(s, "\n")
}

// The goldens pin whole configurations; these pin the few facts each golden is there for, so
// that a careless -update cannot hide a regression.
func TestDefaultWarnings(t *testing.T) {
	c, err := config.Parse(config.DefaultName, config.Default(), mapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if w := warnings(c); !strings.Contains(w, "openai (set OPENAI_API_KEY)") || !strings.Contains(w, "anthropic (set ANTHROPIC_API_KEY)") {
		t.Errorf("warnings do not name the missing keys: %s", w)
	}
	c, err = config.Parse(config.DefaultName, config.Default(), mapEnv(map[string]string{"OPENAI_API_KEY": "sk-1"}))
	if err != nil {
		t.Fatal(err)
	}
	if w := warnings(c); strings.Contains(w, "openai ") || !strings.Contains(w, "anthropic (set ANTHROPIC_API_KEY)") {
		t.Errorf("with OPENAI_API_KEY set: %s", w)
	}
	if got := c.Providers["openai"].APIKey; got != "sk-1" {
		t.Errorf("openai key = %q", got)
	}
}

func TestEnvEscaping(t *testing.T) {
	for _, val := range []string{
		`plain`, `a"b`, `a\b`, `\"`, `"\\"`, "tab\there", "new\nline", "cr\r", "bell\x07nul\x00", "del\x7f", "ünï", `${NESTED}`, `'single'`,
	} {
		c := mustParse(t, "[providers.openai]\napi_key = \"${K}\"\n", map[string]string{"K": val})
		if got := c.Providers["openai"].APIKey; got != val {
			t.Errorf("env %q came out as %q", val, got)
		}
	}
}

func TestEnvDefaultAndLiteral(t *testing.T) {
	c := mustParse(t, `[server]
listen = "${HOST:-127.0.0.1}:${PORT:-8081}"
`, map[string]string{"PORT": "9000"})
	if c.Server.Listen != "127.0.0.1:9000" {
		t.Errorf("listen = %q", c.Server.Listen)
	}
	// admin_listen "${X}" is then not host:port; the literal must not have been expanded to "".
	_, err := config.Parse("t.toml", []byte("[server]\nadmin_listen = \"$${X}\"\n"), mapEnv(map[string]string{"X": "127.0.0.1:1"}))
	if err == nil || !strings.Contains(err.Error(), `"${X}" is not host:port`) {
		t.Errorf("$${ was expanded: %v", err)
	}
	// A reference in a comment is left alone.
	mustParse(t, "# ${NOT_SET}\n[server]\n", nil)
}

func TestBedrockAndLoopback(t *testing.T) {
	c := mustParse(t, `[providers.bedrock]
region = "ap-south-1"
[providers.local]
kind = "openai"
base_url = "http://127.0.0.1:1234/v1"
[providers.remote]
kind = "openai"
base_url = "https://example.com/v1"
`, nil)
	if got := c.Providers["bedrock"].BaseURL; got != "https://bedrock-runtime.ap-south-1.amazonaws.com" {
		t.Errorf("bedrock base_url = %q", got)
	}
	if got := c.Providers["bedrock"].Auth; got != "sigv4" {
		t.Errorf("bedrock auth = %q", got)
	}
	if got := c.Providers["local"].Auth; got != "none" {
		t.Errorf("loopback auth = %q, want none", got)
	}
	if got := c.Providers["remote"].Auth; got != "bearer" {
		t.Errorf("remote auth = %q, want bearer", got)
	}
	if w := warnings(c); !strings.Contains(w, "remote (set api_key)") || strings.Contains(w, "local") {
		t.Errorf("warnings: %s", w)
	}
}

func TestRouterDefaults(t *testing.T) {
	c := mustParse(t, `[providers.openai]
api_key = "k"
[routers.r]
targets = [{ model = "openai/a" }, { model = "openai/b", weight = 2 }, { model = "openai/c" }, { model = "openai/d" }]
`, nil)
	r := c.Routers["r"]
	if r.Retries.Attempts != 3 || r.Retries.Backoff.D() != 25*time.Millisecond || r.Retries.Budget != 0.2 {
		t.Errorf("retries = %+v", r.Retries)
	}
	if r.Targets[0].Weight != 1 || r.Targets[1].Weight != 2 {
		t.Errorf("weights = %+v", r.Targets)
	}
	if r.Health.Threshold != 0.5 || r.Health.MinRequests != 5 || r.Health.Window.D() != 30*time.Second {
		t.Errorf("health = %+v", r.Health)
	}
}

func TestRedacted(t *testing.T) {
	secrets := []string{
		"sk-openai-SECRET1", "AKIA-SECRET2", "aws-SECRET3", "session-SECRET4", "header-SECRET5",
		"vkey-SECRET6", "redispass-SECRET7", "otlp-SECRET8",
	}
	c := mustParse(t, `[providers.openai]
api_key = "sk-openai-SECRET1"
headers = { "x-extra-auth" = "header-SECRET5" }
[providers.bedrock]
region = "us-east-1"
access_key_id = "AKIA-SECRET2"
secret_access_key = "aws-SECRET3"
session_token = "session-SECRET4"
[auth]
required = true
[[auth.keys]]
id = "k1"
key = "vkey-SECRET6"
[redis]
url = "redis://default:redispass-SECRET7@127.0.0.1:6379/0"
[telemetry]
headers = { authorization = "otlp-SECRET8" }
`, nil)
	r := c.Redacted()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if strings.Contains(string(b), s) {
			t.Errorf("redacted config shows %q: %s", s, b)
		}
	}
	if r.Providers["openai"].APIKey != "[redacted]" || r.Auth.Keys[0].Key != "[redacted]" {
		t.Errorf("secrets should show as present: %+v %+v", r.Providers["openai"], r.Auth.Keys[0])
	}
	if want := "redis://default:***@127.0.0.1:6379/0"; r.Redis.URL != want {
		t.Errorf("redis url = %q, want %q", r.Redis.URL, want)
	}
	// The original is untouched.
	if c.Providers["openai"].APIKey != "sk-openai-SECRET1" || c.Auth.Keys[0].Key != "vkey-SECRET6" ||
		c.Telemetry.Headers["authorization"] != "otlp-SECRET8" || !strings.Contains(c.Redis.URL, "SECRET7") ||
		c.Providers["openai"].Headers["x-extra-auth"] != "header-SECRET5" {
		t.Error("Redacted changed the original configuration")
	}
}

// TestRedisTLSAndSentinel: the TLS and Sentinel keys are read, the sentinel password is
// redacted and scrubbed, and skipping verification is warned about.
func TestRedisTLSAndSentinel(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, []byte("-"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, `[redis]
url = "rediss://:master-SECRET1@/0"
tls_ca_file = "`+ca+`"
tls_server_name = "redis.internal"
tls_insecure_skip_verify = true
sentinel_addrs = ["10.0.0.1:26379", "10.0.0.2:26379"]
sentinel_master = "main"
sentinel_password = "sentinel-SECRET2"
`, nil)
	r := c.Redis
	if r.TLSCAFile != ca || r.TLSServerName != "redis.internal" || !r.TLSInsecureSkipVerify ||
		len(r.SentinelAddrs) != 2 || r.SentinelMaster != "main" || r.SentinelPassword != "sentinel-SECRET2" {
		t.Fatalf("redis = %+v", r)
	}
	b, _ := json.Marshal(c.Redacted())
	if strings.Contains(string(b), "SECRET") {
		t.Errorf("redacted config shows a secret: %s", b)
	}
	if c.Redacted().Redis.SentinelPassword != "[redacted]" {
		t.Errorf("sentinel password shows as %q", c.Redacted().Redis.SentinelPassword)
	}
	if got := c.Scrub("dial: AUTH sentinel-SECRET2 refused"); strings.Contains(got, "SECRET") {
		t.Errorf("Scrub = %q", got)
	}
	warned := false
	for _, w := range c.Warnings {
		warned = warned || w.Key == "redis.tls_insecure_skip_verify"
	}
	if !warned {
		t.Errorf("no warning for tls_insecure_skip_verify: %+v", c.Warnings)
	}
}

func TestRedactedRedisURLs(t *testing.T) {
	for _, u := range []string{
		"redis://:SECRET@127.0.0.1:6379",
		"rediss://user:SECRET@cache.example.com:6380/1",
		"redis://:SECRET@host:notaport",      // url.Parse fails
		"redis://:p%zzSECRET@127.0.0.1:6379", // bad escape
		"redis://u:SEC RET@127.0.0.1",
	} {
		c := &config.Config{Redis: config.Redis{URL: u}}
		if got := c.Redacted().Redis.URL; strings.Contains(got, "SECRET") || strings.Contains(got, "SEC RET") || got == "" {
			t.Errorf("%q redacted to %q", u, got)
		}
	}
	c := &config.Config{Redis: config.Redis{URL: "redis://127.0.0.1:6379/0"}}
	if got := c.Redacted().Redis.URL; got != "redis://127.0.0.1:6379/0" {
		t.Errorf("a URL without a password changed: %q", got)
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"250ms", 250 * time.Millisecond, true},
		{"1m30s", 90 * time.Second, true},
		{" 2h ", 2 * time.Hour, true},
		{"0", 0, true},
		{"0s", 0, true},
		{"1.5s", 1500 * time.Millisecond, true},
		{"-1s", 0, false},
		{"30", 0, false},
		{"1d", 0, false},
		{"", 0, false},
		{"5 s", 0, false},
		{"9999999h", 0, false},
	} {
		var d config.Duration
		err := d.UnmarshalText([]byte(tc.in))
		if (err == nil) != tc.ok {
			t.Errorf("%q: err = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && d.D() != tc.want {
			t.Errorf("%q = %v, want %v", tc.in, d.D(), tc.want)
		}
		if tc.ok {
			back, _ := d.MarshalText()
			var again config.Duration
			if err := again.UnmarshalText(back); err != nil || again != d {
				t.Errorf("%q does not round-trip: %s", tc.in, back)
			}
		}
	}
}

func TestParseByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"4096", 4096, true},
		{"0", 0, true},
		{"512B", 512, true},
		{"1K", 1 << 10, true},
		{"1KiB", 1 << 10, true},
		{"1KB", 1000, true},
		{"10MB", 10_000_000, true},
		{"256MiB", 256 << 20, true},
		{"2M", 2 << 20, true},
		{"1GiB", 1 << 30, true},
		{"3GB", 3_000_000_000, true},
		{"1G", 1 << 30, true},
		{" 1.5 MiB ", 3 << 19, true},
		{"0.5KiB", 512, true},
		{"", 0, false},
		{"MiB", 0, false},
		{"-1", 0, false},
		{"-1MiB", 0, false},
		{"10mb", 0, false},
		{"ten", 0, false},
		{"1TiB", 0, false},
		{"NaN", 0, false},
		{"NaNMiB", 0, false},
		{"Inf", 0, false},
		{"+InfGiB", 0, false},
		{"1e30GiB", 0, false},
		{"9223372036854775807", 0, false}, // rounds above MaxInt64 as a float64
		{"8EiB", 0, false},
	} {
		got, err := config.ParseByteSize(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("%q: = %d, err = %v, want ok=%v", tc.in, got, err, tc.ok)
			continue
		}
		if tc.ok && got != tc.want {
			t.Errorf("%q = %d, want %d", tc.in, got, tc.want)
		}
		if got < 0 {
			t.Errorf("%q gave a negative size %d", tc.in, got)
		}
	}
	var s config.ByteSize
	if err := s.UnmarshalText([]byte("64MiB")); err != nil || s != 64<<20 {
		t.Errorf("UnmarshalText = %d, %v", s, err)
	}
	if b, _ := s.MarshalText(); string(b) != "67108864" {
		t.Errorf("MarshalText = %s", b)
	}
}

// A plugin's config and a provider's options are free-form: nested tables are the plugin's
// business, not unknown keys.
func TestFreeFormTablesNest(t *testing.T) {
	dir := t.TempDir()
	wasm := filepath.Join(dir, "p.wasm")
	if err := os.WriteFile(wasm, []byte("\x00asm"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(`
[plugins.p]
path = %q
config = { targets = { acme = "x/y" }, n = 3 }
[plugins.p.config.deep]
a = { b = 1 }
[providers.anthropic]
api_key = "k"
options = { beta = { tools = true } }
`, wasm)
	c, err := config.Parse("nest.toml", []byte(src), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	targets, _ := c.Plugins["p"].Config["targets"].(map[string]any)
	if targets["acme"] != "x/y" {
		t.Fatalf("nested config lost: %#v", c.Plugins["p"].Config)
	}
}

func TestRedactedFreeFormAndScrub(t *testing.T) {
	wasm := filepath.Join(t.TempDir(), "p.wasm")
	if err := os.WriteFile(wasm, []byte("\x00asm"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := mustParse(t, strings.Replace(`[server]
admin_token = "admin-SECRET-0123456789"
[providers.up]
kind = "openai"
base_url = "https://svc:base-SECRET@llm.example.com/v1"
api_key = "sk-up-SECRET"
options = { org = "opt-SECRET", nested = { list = ["opt-list-SECRET"] }, retries = 3 }
[plugins.p]
path = "p.wasm"
config = { token = "plugin-SECRET", words = ["a"], n = 2, on = true }
[telemetry]
endpoint = "https://otel:otlp-url-SECRET@collector:4318"
`, "p.wasm", wasm, 1), nil)
	b, err := json.Marshal(c.Redacted())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "SECRET") {
		t.Fatalf("redacted config shows a secret: %s", b)
	}
	for _, want := range []string{`"BaseURL":"https://svc:***@llm.example.com/v1"`, `"retries":3`, `"n":2`, `"on":true`, `"Endpoint":"https://otel:***@collector:4318"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("redacted config lacks %s: %s", want, b)
		}
	}
	msg := c.Scrub(`dial https://svc:base-SECRET@llm.example.com/v1: token plugin-SECRET and sk-up-SECRET, redis://:pw-SECRET@r:6379, admin-SECRET-0123456789`)
	if strings.Contains(msg, "SECRET") || !strings.Contains(msg, "redis://:***@r:6379") {
		t.Fatalf("scrubbed: %s", msg)
	}
	var nilCfg *config.Config
	if got := nilCfg.Scrub("x redis://u:p@h y"); got != "x redis://u:***@h y" {
		t.Fatalf("nil config scrub: %s", got)
	}
}

func TestAdminListenNeedsToken(t *testing.T) {
	for _, tc := range []struct {
		toml string
		ok   bool
	}{
		{"[server]\nadmin_listen = \"127.0.0.1:9090\"\n", true},
		{"[server]\nadmin_listen = \"[::1]:9090\"\n", true},
		{"[server]\nadmin_listen = \"localhost:9090\"\n", true},
		{"[server]\nadmin_listen = \"0.0.0.0:9090\"\n", false},
		{"[server]\nadmin_listen = \":9090\"\n", false},
		{"[server]\nadmin_listen = \"10.0.0.5:9090\"\n", false},
		{"[server]\nadmin_listen = \"0.0.0.0:9090\"\nadmin_token = \"0123456789abcdef0123\"\n", true},
		{"[server]\nadmin_token = \"short\"\n", false},
	} {
		_, err := config.Parse("t.toml", []byte(tc.toml), mapEnv(nil))
		if (err == nil) != tc.ok {
			t.Errorf("%q: err %v", tc.toml, err)
		}
	}
}
