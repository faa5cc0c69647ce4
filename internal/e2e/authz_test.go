package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
)

// TestAuthzServedTargets: a key's model allow-list is checked against the targets that will
// serve the request, whatever name (router path, router name, alias) the client used.
func TestAuthzServedTargets(t *testing.T) {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123"))
	s := startSluice(t, upstreamConfig(up.URL, `
[aliases]
cheap = "up/gpt-test"

[routers.prod]
targets = [{ model = "up/gpt-test" }]

[routers.mixed]
strategy = "priority"
targets = [{ model = "up/gpt-test", priority = 0 }, { model = "demo/echo", priority = 1 }]

[auth]
required = true

[[auth.keys]]
id = "demo-only"
key = "sk-demo-only-key"
models = ["demo/*"]

[[auth.keys]]
id = "no-lab"
key = "sk-no-lab-key"
routers = ["mixed"]
`))
	demo := []string{"Authorization", "Bearer sk-demo-only-key"}
	refused := func(t *testing.T, code int, body, want string) {
		t.Helper()
		typ, c, _ := openaiError(t, body)
		if code != 403 || c != want || typ != "permission_error" {
			t.Fatalf("want 403 %s, got %d %s", want, code, body)
		}
	}
	for _, tc := range []struct{ name, url, model string }{
		{"router path", s.URL + "/router/prod/v1/chat/completions", "demo/echo"},
		{"router by model name", s.URL + "/v1/chat/completions", "prod"},
		{"global alias", s.URL + "/v1/chat/completions", "cheap"},
		{"plain target", s.URL + "/v1/chat/completions", "up/gpt-test"},
		{"messages api", s.URL + "/router/prod/v1/messages", "demo/echo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := up.Count()
			body := fmt.Sprintf(chatHi, tc.model)
			if strings.HasSuffix(tc.url, "/messages") {
				body = fmt.Sprintf(`{"model":%q,"max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`, tc.model)
				code, _, got := post(t, tc.url, body, demo...)
				if code != 403 || !strings.Contains(got, "permission_error") {
					t.Fatalf("messages: %d %s", code, got)
				}
			} else {
				code, _, got := post(t, tc.url, body, demo...)
				refused(t, code, got, "model_not_allowed")
			}
			if up.Count() != before {
				t.Fatal("the paid upstream received the request")
			}
		})
	}
	t.Run("mixed router filtered to allowed targets", func(t *testing.T) {
		before := up.Count()
		code, h, body := post(t, s.URL+"/router/mixed/v1/chat/completions", fmt.Sprintf(chatHi, "anything"), demo...)
		if code != 200 || h.Get("X-Sluice-Provider") != "demo" {
			t.Fatalf("%d %s %s", code, h.Get("X-Sluice-Provider"), body)
		}
		if up.Count() != before {
			t.Fatal("the paid upstream received the request")
		}
		// An unrestricted key is served by the first choice.
		code, h, body = post(t, s.URL+"/router/mixed/v1/chat/completions", fmt.Sprintf(chatHi, "anything"), "Authorization", "Bearer sk-no-lab-key")
		if code != 200 || h.Get("X-Sluice-Provider") != "up" {
			t.Fatalf("unrestricted: %d %s %s", code, h.Get("X-Sluice-Provider"), body)
		}
	})
	t.Run("model list", func(t *testing.T) {
		code, _ := get(t, s.URL+"/v1/models")
		if code != 401 {
			t.Fatalf("model list without a key: %d", code)
		}
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/v1/models", nil)
		req.Header.Set("Authorization", "Bearer sk-demo-only-key")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var list struct {
			Data []struct{ ID string } `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range list.Data {
			got = append(got, m.ID)
		}
		if strings.Join(got, ",") != "mixed,demo/echo,demo/lorem" {
			t.Fatalf("demo-only key lists %v", got)
		}
	})
	t.Run("router globs on every way of naming a router", func(t *testing.T) {
		nolab := []string{"Authorization", "Bearer sk-no-lab-key"}
		code, _, body := post(t, s.URL+"/router/prod/v1/chat/completions", fmt.Sprintf(chatHi, "up/gpt-test"), nolab...)
		refused(t, code, body, "router_not_allowed")
		code, _, body = post(t, s.URL+"/v1/chat/completions", fmt.Sprintf(chatHi, "prod"), nolab...)
		refused(t, code, body, "router_not_allowed")
	})
}

// TestAuthzIdentityHeaders: with keys configured, x-sluice-user/team do not name a caller
// without a key (they would spend another team's limits), unless the operator trusts them.
func TestAuthzIdentityHeaders(t *testing.T) {
	up := fakeprovider.NewOpenAI(t)
	cfg := func(trust bool) string {
		return upstreamConfig(up.URL, fmt.Sprintf(`
[[limits]]
name = "red-team"
scope = "team"
match = "red"
unit = "requests"
rate = "1/hour"
burst = 1

[auth]
trust_identity_headers = %v

[[auth.keys]]
id = "red-key"
key = "sk-red-team-key"
team = "red"
`, trust))
	}
	send := func(s *Sluice, h ...string) int {
		code, _, _ := post(t, s.URL+"/v1/chat/completions", fmt.Sprintf(chatHi, "up/gpt-test"), h...)
		return code
	}
	s := startSluice(t, cfg(false))
	for i := 0; i < 3; i++ {
		if code := send(s, "X-Sluice-Team", "red", "X-Sluice-User", "victim"); code != 200 {
			t.Fatalf("anonymous request %d with a spoofed team header: %d (the header was trusted)", i, code)
		}
	}
	if code := send(s, "Authorization", "Bearer sk-red-team-key"); code != 200 {
		t.Fatalf("the red team's own key: %d (its limit was spent by spoofed headers)", code)
	}
	if code := send(s, "Authorization", "Bearer sk-red-team-key"); code != 429 {
		t.Fatalf("the red team's limit does not apply to its key: %d", code)
	}
	trusting := startSluice(t, cfg(true))
	if a, b := send(trusting, "X-Sluice-Team", "red"), send(trusting, "X-Sluice-Team", "red"); a != 200 || b != 429 {
		t.Fatalf("trusted headers: %d then %d, want 200 then 429", a, b)
	}
}

// TestAuthzBYOK: a client's own provider key goes only to the provider it is for, never to
// another target on failover, and answers paid with it are cached apart.
func TestAuthzBYOK(t *testing.T) {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123"))
	b1 := fakeprovider.NewOpenAI(t)
	b2 := fakeprovider.NewOpenAI(t)
	s := startSluice(t, upstreamConfig(up.URL, fmt.Sprintf(`
[providers.byo1]
kind = "openai"
base_url = %q
byok = true
auth = "bearer"

[providers.byo2]
kind = "openai"
base_url = %q
byok = true
auth = "bearer"

[routers.fail]
strategy = "priority"
targets = [{ model = "byo1/gpt-test", priority = 0 }, { model = "up/gpt-test", priority = 1 }, { model = "demo/echo", priority = 2 }]

[routers.two]
targets = [{ model = "byo1/gpt-test" }, { model = "byo2/gpt-test" }]

[cache]
enabled = true
share_across_tenants = true

[[auth.keys]]
id = "byok-key"
key = "sk-byok-key"
byok = true
`, b1.URL, b2.URL)))
	chat := s.URL + "/v1/chat/completions"
	t.Run("no failover away from the key's provider", func(t *testing.T) {
		for i := 0; i < 5; i++ {
			b1.Enqueue(fakeprovider.Reply{Status: 500})
		}
		code, h, body := post(t, s.URL+"/router/fail/v1/chat/completions", fmt.Sprintf(chatHi, "x"), "X-Sluice-Provider-Key", "sk-client-one", "X-Sluice-Cache", "no-store")
		if code != 500 || h.Get("X-Sluice-Provider") == "up" {
			t.Fatalf("%d %s %s", code, h.Get("X-Sluice-Provider"), body)
		}
		if up.Count() != 0 || b2.Count() != 0 {
			t.Fatalf("the request failed over off byo1: up %d, byo2 %d", up.Count(), b2.Count())
		}
		for _, r := range b1.Requests() {
			if r.Header.Get("Authorization") != "Bearer sk-client-one" {
				t.Fatalf("byo1 saw %q", r.Header.Get("Authorization"))
			}
		}
	})
	t.Run("ambiguous provider refused", func(t *testing.T) {
		code, _, body := post(t, s.URL+"/router/two/v1/chat/completions", fmt.Sprintf(chatHi, "x"), "X-Sluice-Provider-Key", "sk-client-one")
		if _, c, _ := openaiError(t, body); code != 400 || c != "byok_ambiguous" {
			t.Fatalf("%d %s", code, body)
		}
		// Naming the provider the key is for resolves it, for a virtual key without overrides too.
		b2.ClearRequests()
		code, h, body := post(t, s.URL+"/router/two/v1/chat/completions", fmt.Sprintf(chatHi, "x"), "Authorization", "Bearer sk-byok-key", "X-Sluice-Provider-Key", "sk-client-one", "X-Sluice-Provider", "byo2", "X-Sluice-Cache", "no-store")
		if code != 200 || h.Get("X-Sluice-Provider") != "byo2" {
			t.Fatalf("pinned byok: %d %s %s", code, h.Get("X-Sluice-Provider"), body)
		}
		if r := b2.Requests(); len(r) != 1 || r[0].Header.Get("Authorization") != "Bearer sk-client-one" {
			t.Fatalf("byo2 saw %+v", r)
		}
		code, _, body = post(t, s.URL+"/router/two/v1/chat/completions", fmt.Sprintf(chatHi, "x"), "Authorization", "Bearer sk-byok-key", "X-Sluice-Provider", "byo2")
		if _, c, _ := openaiError(t, body); code != 403 || c != "overrides_not_allowed" {
			t.Fatalf("a pin without a client key needs overrides: %d %s", code, body)
		}
		code, _, body = post(t, chat, fmt.Sprintf(chatHi, "up/gpt-test"), "X-Sluice-Provider-Key", "sk-client-one")
		if _, c, _ := openaiError(t, body); code != 400 || c != "byok_not_supported" {
			t.Fatalf("client key to a provider without byok: %d %s", code, body)
		}
	})
	t.Run("cache namespaced by the client key", func(t *testing.T) {
		b2.ClearRequests()
		req := fmt.Sprintf(chatHi, "byo2/gpt-test")
		code, h, body := post(t, chat, req, "X-Sluice-Provider-Key", "sk-client-one")
		if code != 200 || h.Get("X-Sluice-Cache") != "MISS" {
			t.Fatalf("first: %d %s %s", code, h.Get("X-Sluice-Cache"), body)
		}
		if _, h, _ = post(t, chat, req, "X-Sluice-Provider-Key", "sk-client-one"); h.Get("X-Sluice-Cache") != "HIT" {
			t.Fatalf("same key: %s", h.Get("X-Sluice-Cache"))
		}
		if _, h, _ = post(t, chat, req, "X-Sluice-Provider-Key", "sk-client-two"); h.Get("X-Sluice-Cache") != "MISS" {
			t.Fatalf("another client's key got %s", h.Get("X-Sluice-Cache"))
		}
		if n := len(b2.Requests()); n != 2 {
			t.Fatalf("byo2 saw %d requests, want 2", n)
		}
	})
}

// TestAuthzPassthrough: passthrough needs the provider's path list and the key's permission,
// relays only allow-listed headers, applies the model allow-list and counts tokens.
func TestAuthzPassthrough(t *testing.T) {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123"))
	cfg := strings.Replace(upstreamConfig(up.URL, `
[auth]
required = true

[[auth.keys]]
id = "filer"
key = "sk-filer-key"
passthrough = ["up:/files*"]

[[auth.keys]]
id = "plain"
key = "sk-plain-key"

[[auth.keys]]
id = "chatter"
key = "sk-chatter-key"
models = ["up/gpt-test"]
passthrough = ["up:/chat/completions", "up:/files*"]
[[auth.keys.limits]]
name = "chatter-tokens"
unit = "tokens"
rate = "1000/hour"
burst = 1000
`), "idle_timeout = \"500ms\"\n", "idle_timeout = \"500ms\"\npassthrough = [\"/files*\", \"/chat/completions\"]\n", 1)
	s := startSluice(t, cfg)
	pt := func(path, body, key string, h ...string) (int, string) {
		t.Helper()
		code, _, b := post(t, s.URL+"/passthrough/up"+path, body, append([]string{"Authorization", "Bearer " + key}, h...)...)
		return code, b
	}
	t.Run("key permission", func(t *testing.T) {
		before := up.Count()
		code, body := pt("/files", `{}`, "sk-plain-key")
		if _, c, _ := openaiError(t, body); code != 403 || c != "passthrough_not_allowed" {
			t.Fatalf("key without passthrough: %d %s", code, body)
		}
		code, body = pt("/chat/completions", fmt.Sprintf(chatHi, "gpt-test"), "sk-filer-key")
		if _, c, _ := openaiError(t, body); code != 403 || c != "passthrough_not_allowed" {
			t.Fatalf("path outside the key's list: %d %s", code, body)
		}
		code, body = pt("/batches", `{}`, "sk-chatter-key")
		if _, c, _ := openaiError(t, body); code != 403 || c != "passthrough_not_allowed" {
			t.Fatalf("path outside the provider's list: %d %s", code, body)
		}
		if up.Count() != before {
			t.Fatal("a refused passthrough reached the upstream")
		}
	})
	t.Run("headers stripped", func(t *testing.T) {
		up.ClearRequests()
		code, body := pt("/files?purpose=batch", `{"x":1}`, "sk-filer-key",
			"Cookie", "session=s3cr3t", "X-Sluice-User", "mallory", "X-Sluice-Provider-Key", "sk-client-own", "X-Forwarded-For", "10.0.0.1",
			"X-Custom-Thing", "leak", "OpenAI-Beta", "assistants=v2", "Api-Key", "sk-other")
		if code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		r := up.Requests()[0]
		if r.Path != "/v1/files" || r.RawQuery != "purpose=batch" || r.Header.Get("Authorization") != "Bearer sk-upstream-secret-123" {
			t.Fatalf("upstream saw %s?%s auth %q", r.Path, r.RawQuery, r.Header.Get("Authorization"))
		}
		if r.Header.Get("OpenAI-Beta") != "assistants=v2" {
			t.Errorf("allow-listed header dropped: %v", r.Header)
		}
		for k := range r.Header {
			switch strings.ToLower(k) {
			case "authorization", "content-type", "content-length", "openai-beta", "user-agent", "x-request-id", "accept-encoding":
			default:
				t.Errorf("header %s reached the upstream", k)
			}
		}
	})
	t.Run("model allow-list and usage", func(t *testing.T) {
		before := up.Count()
		code, body := pt("/chat/completions", fmt.Sprintf(chatHi, "gpt-expensive"), "sk-chatter-key")
		if _, c, _ := openaiError(t, body); code != 403 || c != "model_not_allowed" {
			t.Fatalf("disallowed model: %d %s", code, body)
		}
		code, body = pt("/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`, "sk-chatter-key")
		if _, c, _ := openaiError(t, body); code != 403 || c != "model_not_allowed" {
			t.Fatalf("no model: %d %s", code, body)
		}
		if up.Count() != before {
			t.Fatal("a refused passthrough reached the upstream")
		}
		code, body = pt("/chat/completions", fmt.Sprintf(chatHi, "gpt-test"), "sk-chatter-key")
		if code != 200 {
			t.Fatalf("allowed model: %d %s", code, body)
		}
		var ans struct {
			Usage struct {
				Total int64 `json:"total_tokens"`
			} `json:"usage"`
		}
		if err := json.Unmarshal([]byte(body), &ans); err != nil || ans.Usage.Total == 0 {
			t.Fatalf("answer has no usage: %s", body)
		}
		// Settlement follows the answer: poll briefly.
		waitUsed := func(want int64) int64 {
			t.Helper()
			used := int64(0)
			for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				resp, err := http.Get(s.Admin + "/admin/ratelimit?key=chatter")
				if err != nil {
					t.Fatal(err)
				}
				var peek struct {
					Rules []struct {
						Rule      string `json:"rule"`
						Remaining int64  `json:"remaining"`
					} `json:"rules"`
				}
				err = json.NewDecoder(resp.Body).Decode(&peek)
				resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range peek.Rules {
					if r.Rule == "chatter-tokens" {
						used = 1000 - r.Remaining
					}
				}
				if used >= want {
					break
				}
			}
			return used
		}
		used := waitUsed(ans.Usage.Total)
		if used < ans.Usage.Total {
			t.Fatalf("passthrough tokens not counted: %d used, answer had %d", used, ans.Usage.Total)
		}
		// A streamed answer's usage chunk is read on the way too.
		code, body = pt("/chat/completions", `{"model":"gpt-test","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"count these words please"}]}`, "sk-chatter-key")
		if code != 200 || !strings.Contains(body, "data: [DONE]") {
			t.Fatalf("stream: %d %s", code, body)
		}
		var streamed int64
		for _, ev := range strings.Split(body, "\n\n") {
			var ch struct {
				Usage *struct {
					Total int64 `json:"total_tokens"`
				} `json:"usage"`
			}
			if json.Unmarshal([]byte(strings.TrimPrefix(strings.TrimSpace(ev), "data: ")), &ch) == nil && ch.Usage != nil {
				streamed = ch.Usage.Total
			}
		}
		if streamed == 0 {
			t.Fatalf("the stream has no usage chunk: %s", body)
		}
		if got := waitUsed(used + streamed); got < used+streamed {
			t.Fatalf("streamed passthrough tokens not counted: %d used, want %d", got, used+streamed)
		}
	})
}
