package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/host/auth"
	"github.com/sluice-gw/sluice/internal/fakeprovider"
)

const chatHi = `{"model":%q,"messages":[{"role":"user","content":"hi there"}]}`

// openaiError decodes an OpenAI-shaped error body and fails unless it has that shape.
func openaiError(t *testing.T, body string) (typ, code, msg string) {
	t.Helper()
	var e struct {
		Error *struct {
			Message string `json:"message"`
			Type    string `json:"type"`
			Code    string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == nil || e.Error.Message == "" || e.Error.Type == "" {
		t.Fatalf("not an OpenAI error body: %s", body)
	}
	return e.Error.Type, e.Error.Code, e.Error.Message
}

func TestAuthRequiredKeys(t *testing.T) {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123"))
	byo := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-client-own-777"))
	const bobKey = "sk-bob-hashed-secret"
	cfg := upstreamConfig(up.URL, fmt.Sprintf(`
[providers.byo]
kind = "openai"
base_url = %q
byok = true
# Explicit: a keyless loopback provider otherwise defaults to auth = "none".
auth = "bearer"

[routers.prod]
targets = [{ model = "up/gpt-test" }]

[routers.lab]
targets = [{ model = "up/gpt-test" }]

[auth]
required = true

[[auth.keys]]
id = "alice-key"
key = "sk-alice-plain-secret"
user = "alice"
team = "acme"
models = ["up/gpt-*", "byo/*", "prod"]
routers = ["prod"]

[[auth.keys]]
id = "bob-key"
key_hash = %q
user = "bob"
team = "beta"
byok = true
`, byo.URL, auth.Hash(bobKey)))
	s := startSluice(t, cfg)
	chat := s.URL + "/v1/chat/completions"

	t.Run("missing key", func(t *testing.T) {
		code, _, body := post(t, chat, fmt.Sprintf(chatHi, "up/gpt-test"))
		typ, c, _ := openaiError(t, body)
		if code != 401 || c != "missing_api_key" || typ != "invalid_request_error" {
			t.Fatalf("%d %s", code, body)
		}
	})
	t.Run("invalid key", func(t *testing.T) {
		for _, h := range [][]string{{"Authorization", "Bearer sk-nope"}, {"x-api-key", "sk-nope"}} {
			code, _, body := post(t, chat, fmt.Sprintf(chatHi, "up/gpt-test"), h...)
			if _, c, _ := openaiError(t, body); code != 401 || c != "invalid_api_key" {
				t.Fatalf("%s: %d %s", h[0], code, body)
			}
		}
	})
	t.Run("valid keys", func(t *testing.T) {
		up.ClearRequests()
		code, _, body := post(t, chat, fmt.Sprintf(chatHi, "up/gpt-test"), "Authorization", "Bearer sk-alice-plain-secret")
		if code != 200 {
			t.Fatalf("alice: %d %s", code, body)
		}
		code, _, body = post(t, chat, fmt.Sprintf(chatHi, "up/gpt-test"), "x-api-key", bobKey)
		if code != 200 {
			t.Fatalf("bob (hashed key, x-api-key): %d %s", code, body)
		}
		reqs := up.Requests()
		if len(reqs) != 2 {
			t.Fatalf("upstream saw %d requests", len(reqs))
		}
		for _, r := range reqs {
			if got := r.Header.Get("Authorization"); got != "Bearer sk-upstream-secret-123" {
				t.Errorf("upstream Authorization %q", got)
			}
			for k, vs := range r.Header {
				for _, v := range vs {
					if strings.Contains(v, "sk-alice") || strings.Contains(v, bobKey) {
						t.Errorf("client key forwarded upstream in %s", k)
					}
				}
			}
		}
	})
	t.Run("model and router globs", func(t *testing.T) {
		alice := []string{"Authorization", "Bearer sk-alice-plain-secret"}
		code, _, body := post(t, chat, fmt.Sprintf(chatHi, "up/other-model"), alice...)
		if typ, c, _ := openaiError(t, body); code != 403 || c != "model_not_allowed" || typ != "permission_error" {
			t.Fatalf("model outside the glob: %d %s", code, body)
		}
		code, _, body = post(t, s.URL+"/router/lab/v1/chat/completions", fmt.Sprintf(chatHi, "up/gpt-test"), alice...)
		if _, c, _ := openaiError(t, body); code != 403 || c != "router_not_allowed" {
			t.Fatalf("router lab: %d %s", code, body)
		}
		code, _, body = post(t, s.URL+"/router/prod/v1/chat/completions", fmt.Sprintf(chatHi, "up/gpt-test"), alice...)
		if code != 200 {
			t.Fatalf("router prod: %d %s", code, body)
		}
		code, _, body = post(t, chat, fmt.Sprintf(chatHi, "prod"), alice...)
		if code != 200 {
			t.Fatalf("router prod by model name: %d %s", code, body)
		}
	})
	t.Run("byok", func(t *testing.T) {
		code, _, body := post(t, chat, fmt.Sprintf(chatHi, "byo/gpt-test"), "Authorization", "Bearer "+bobKey, "X-Sluice-Provider-Key", "sk-client-own-777")
		if code != 200 {
			t.Fatalf("bob byok: %d %s", code, body)
		}
		reqs := byo.Requests()
		if len(reqs) != 1 || reqs[0].Header.Get("Authorization") != "Bearer sk-client-own-777" || reqs[0].Invalid != "" {
			t.Fatalf("byok upstream saw %+v", reqs)
		}
		// A key without byok may not bring provider credentials.
		code, _, body = post(t, chat, fmt.Sprintf(chatHi, "byo/gpt-test"), "Authorization", "Bearer sk-alice-plain-secret", "X-Sluice-Provider-Key", "sk-client-own-777")
		if _, c, _ := openaiError(t, body); code != 403 || c != "byok_not_allowed" {
			t.Fatalf("alice byok: %d %s", code, body)
		}
		// A byok provider without a client key has no credentials of its own: the gateway
		// refuses it, and nothing (neither the virtual key nor another key) goes upstream.
		before := byo.Count()
		code, _, body = post(t, chat, fmt.Sprintf(chatHi, "byo/gpt-test"), "Authorization", "Bearer "+bobKey)
		if _, c, _ := openaiError(t, body); code != 401 || c != "provider_key_required" {
			t.Fatalf("byok provider without a key answered %d %s", code, body)
		}
		if byo.Count() != before {
			t.Fatalf("a keyless byok request reached the upstream")
		}
		// The byok provider's client key never reaches the other provider.
		for _, r := range up.Requests() {
			if strings.Contains(fmt.Sprint(r.Header), "sk-client-own") {
				t.Fatal("client provider key reached the gateway's provider")
			}
		}
	})
	logs := s.Logs()
	for _, secret := range []string{"sk-alice-plain-secret", bobKey, "sk-upstream-secret-123", "sk-client-own-777"} {
		if strings.Contains(logs, secret) {
			t.Errorf("secret %q appears in the log", secret)
		}
	}
}

// TestAuthOffHeaderIdentity: with auth off, x-sluice-user and x-sluice-team name the caller and
// drive the team and user tiers.
func TestAuthOffHeaderIdentity(t *testing.T) {
	up := fakeprovider.NewOpenAI(t)
	s := startSluice(t, upstreamConfig(up.URL, `
[[limits]]
name = "team-req"
scope = "team"
unit = "requests"
rate = "3/hour"
burst = 3

[[limits]]
name = "carol-req"
scope = "user"
match = "carol"
unit = "requests"
rate = "1/hour"
burst = 1
`))
	chat := s.URL + "/v1/chat/completions"
	send := func(team, user string) (int, string) {
		code, _, body := post(t, chat, fmt.Sprintf(chatHi, "up/gpt-test"), "X-Sluice-Team", team, "X-Sluice-User", user)
		return code, body
	}
	if code, body := send("red", "carol"); code != 200 {
		t.Fatalf("carol 1: %d %s", code, body)
	}
	code, body := send("red", "carol")
	if _, c, msg := openaiError(t, body); code != 429 || c != "rate_limit_exceeded" || !strings.Contains(msg, "user:carol") {
		t.Fatalf("carol 2: %d %s", code, body)
	}
	// carol's denial consumed nothing at the team tier: two more red requests pass.
	for i := 0; i < 2; i++ {
		if code, body := send("red", "dave"); code != 200 {
			t.Fatalf("dave %d: %d %s", i, code, body)
		}
	}
	code, body = send("red", "erin")
	if _, _, msg := openaiError(t, body); code != 429 || !strings.Contains(msg, "team:red") || !strings.Contains(msg, "requests") {
		t.Fatalf("team red exhausted: %d %s", code, body)
	}
	if code, body := send("blue", "erin"); code != 200 {
		t.Fatalf("team blue: %d %s", code, body)
	}
}

// TestAuthKeysNew: `sluice keys new` prints a key and its hash; the hash in a config admits the key.
func TestAuthKeysNew(t *testing.T) {
	out, err := exec.Command(binPath, "keys", "new", "--id", "ci-bot").CombinedOutput()
	if err != nil {
		t.Fatalf("keys new: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^key: (sk-sluice-\S+)\nkey_hash: (sha256:[0-9a-f]{64})$`).FindStringSubmatch(string(out))
	if m == nil || !strings.Contains(string(out), "[[auth.keys]]\nid = \"ci-bot\"\nkey_hash = \""+m[2]+"\"") {
		t.Fatalf("unexpected output:\n%s", out)
	}
	if auth.Hash(m[1]) != m[2] {
		t.Fatal("printed hash is not the key's hash")
	}
	out2, err := exec.Command(binPath, "keys", "new").CombinedOutput()
	if err != nil || strings.Contains(string(out2), m[1]) {
		t.Fatalf("second key: %v\n%s", err, out2)
	}
	up := fakeprovider.NewOpenAI(t)
	s := startSluice(t, upstreamConfig(up.URL, fmt.Sprintf("[auth]\nrequired = true\n[[auth.keys]]\nid = \"ci-bot\"\nkey_hash = %q\n", m[2])))
	if code, _, body := post(t, s.URL+"/v1/chat/completions", fmt.Sprintf(chatHi, "up/gpt-test"), "Authorization", "Bearer "+m[1]); code != 200 {
		t.Fatalf("minted key: %d %s", code, body)
	}
	if code, _, _ := post(t, s.URL+"/v1/chat/completions", fmt.Sprintf(chatHi, "up/gpt-test"), "Authorization", "Bearer "+m[1]+"x"); code != 401 {
		t.Fatalf("altered key: %d", code)
	}
}
