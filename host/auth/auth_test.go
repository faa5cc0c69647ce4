package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/host/ratelimit"
)

func req(headers ...string) *http.Request {
	r := httptest.NewRequest("POST", "/v1/chat/completions", nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	return r
}

func TestIdentifyRequired(t *testing.T) {
	plain, hash := NewKey()
	a, err := New(Options{Required: true, Keys: []KeySpec{
		{ID: "k1", KeyHash: hash, User: "alice", Team: "acme", Models: []string{"openai/*", "anthropic/claude-*-4-5"}, Routers: []string{"prod"}},
		{ID: "k2", Key: "sk-literal", User: "bob", BYOK: true,
			Limits: []ratelimit.Spec{{Unit: "requests", Rate: "10/min"}, {Name: "daily", Unit: "cost", Budget: "$5/day"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.Identify(req("Authorization", "Bearer "+plain))
	if err != nil || id.KeyID != "k1" || id.User != "alice" || id.Team != "acme" || id.Anonymous {
		t.Fatalf("bearer: %+v, %v", id, err)
	}
	if !id.AllowsModel("openai/gpt-4o-mini") || !id.AllowsModel("anthropic/claude-haiku-4-5") ||
		id.AllowsModel("anthropic/claude-3-opus") || !id.AllowsRouter("prod") || id.AllowsRouter("dev") {
		t.Fatal("globs")
	}
	if err := id.CheckModel("gemini/gemini-2.5-pro"); !errors.Is(err, ErrModelNotAllowed) {
		t.Fatalf("CheckModel: %v", err)
	} else if e := err.(*Error); e.Status != 403 || !strings.Contains(e.Message, "gemini") {
		t.Fatalf("CheckModel error %+v", e)
	}
	if err := id.CheckRouter("dev"); !errors.Is(err, ErrRouterNotAllowed) {
		t.Fatalf("CheckRouter: %v", err)
	}
	id, err = a.Identify(req("x-api-key", "sk-literal"))
	if err != nil || id.KeyID != "k2" || !id.BYOK || !id.AllowsModel("anything/at-all") {
		t.Fatalf("x-api-key: %+v, %v", id, err)
	}
	if len(id.Limits) != 2 || id.Limits[0].Scope != ratelimit.Key || id.Limits[0].Rate != 10 || id.Limits[1].Budget != 5_000_000 {
		t.Fatalf("limits %+v", id.Limits)
	}
	if _, err := a.Identify(req()); !errors.Is(err, ErrMissingKey) {
		t.Fatalf("missing: %v", err)
	}
	for _, h := range [][]string{{"Authorization", "Bearer sk-nope"}, {"x-api-key", plain + "x"}, {"Authorization", "Bearer " + hash}} {
		_, err := a.Identify(req(h...))
		var ae *Error
		if !errors.Is(err, ErrInvalidKey) || !errors.As(err, &ae) || ae.Status != 401 || ae.Code != "invalid_api_key" {
			t.Fatalf("%v: %v", h, err)
		}
	}
	// Headers do not pick identity when auth is required.
	if _, err := a.Identify(req("x-sluice-user", "mallory")); !errors.Is(err, ErrMissingKey) {
		t.Fatal("header identity accepted with auth required")
	}
}

func TestIdentifyOptional(t *testing.T) {
	a, err := New(Options{Keys: []KeySpec{{ID: "k", Key: "sk-1", User: "u"}}, UserHeader: "x-user"})
	if err != nil {
		t.Fatal(err)
	}
	// Keys are configured: a caller without one is anonymous, and its identity headers are
	// ignored unless the operator trusts them.
	id, err := a.Identify(req("x-user", "carol", "x-sluice-team", "t1"))
	if err != nil || !id.Anonymous || id.User != "" || id.Team != "" {
		t.Fatalf("anonymous with keys configured: %+v %v", id, err)
	}
	trusting, err := New(Options{Keys: []KeySpec{{ID: "k", Key: "sk-1", User: "u"}}, UserHeader: "x-user", TrustIdentityHeaders: true})
	if err != nil {
		t.Fatal(err)
	}
	id, err = trusting.Identify(req("x-user", "carol", "x-sluice-team", "t1"))
	if err != nil || !id.Anonymous || id.User != "carol" || id.Team != "t1" {
		t.Fatalf("anonymous, headers trusted: %+v %v", id, err)
	}
	// Without keys the headers are the identity.
	open, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := open.Identify(req("x-sluice-user", "dan")); id.User != "dan" {
		t.Fatalf("auth off: %+v", id)
	}
	// A keyed caller is named by its key, never by the headers.
	id, _ = trusting.Identify(req("Authorization", "Bearer sk-1", "x-user", "mallory"))
	if id.User != "u" {
		t.Fatalf("keyed caller renamed by header: %+v", id)
	}
	// A provider key passed through is not an error when auth is off.
	id, err = a.Identify(req("Authorization", "Bearer sk-proj-openai"))
	if err != nil || !id.Anonymous {
		t.Fatalf("passthrough key: %+v %v", id, err)
	}
	id, err = a.Identify(req("Authorization", "bearer sk-1"))
	if err != nil || id.KeyID != "k" || id.Anonymous {
		t.Fatalf("known key with auth off: %+v %v", id, err)
	}
}

func TestNewErrors(t *testing.T) {
	_, h := NewKey()
	bad := map[string][]KeySpec{
		"missing id":        {{Key: "a"}},
		"not both":          {{ID: "a", Key: "a", KeyHash: h}},
		"needs key":         {{ID: "a"}},
		"64 hex":            {{ID: "a", KeyHash: "sha256:abc"}},
		"duplicate id":      {{ID: "a", Key: "1"}, {ID: "a", Key: "2"}},
		"same secret":       {{ID: "a", Key: "1"}, {ID: "b", KeyHash: Hash("1")}},
		"empty pattern":     {{ID: "a", Key: "1", Models: []string{""}}},
		"scope must be key": {{ID: "a", Key: "1", Limits: []ratelimit.Spec{{Scope: "team", Unit: "requests", Rate: "1/s"}}}},
		"unknown unit":      {{ID: "a", Key: "1", Limits: []ratelimit.Spec{{Unit: "beans", Rate: "1/s"}}}},
	}
	for want, keys := range bad {
		if _, err := New(Options{Keys: keys}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
	}
	if _, err := New(Options{Required: true}); err == nil {
		t.Error("required auth with no keys accepted")
	}
}

func TestGlob(t *testing.T) {
	cases := []struct {
		p, s string
		ok   bool
	}{
		{"*", "", true}, {"*", "openai/gpt-4o", true}, {"openai/*", "openai/gpt-4o", true},
		{"openai/*", "anthropic/x", false}, {"*/gpt-4o*", "azure/gpt-4o-mini", true},
		{"gpt-?o", "gpt-4o", true}, {"gpt-?o", "gpt-4oo", false}, {"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false}, {"exact", "exact", true}, {"exact", "exactly", false},
		{"**", "x", true}, {"*a", "bbbba", true}, {"*a", "bbbb", false},
	}
	for _, c := range cases {
		if got := Glob(c.p, c.s); got != c.ok {
			t.Errorf("Glob(%q, %q) = %v", c.p, c.s, got)
		}
	}
}

func TestNewKeyAndRedaction(t *testing.T) {
	p1, h1 := NewKey()
	p2, _ := NewKey()
	if p1 == p2 || !strings.HasPrefix(p1, "sk-sluice-") || len(p1) != len("sk-sluice-")+43 {
		t.Fatalf("keys %q %q", p1, p2)
	}
	if h1 != Hash(p1) || !strings.HasPrefix(h1, "sha256:") || len(h1) != 7+64 {
		t.Fatalf("hash %q", h1)
	}
	k := KeySpec{ID: "k", Key: "sk-secret-value", User: "u"}
	var sb strings.Builder
	slog.New(slog.NewTextHandler(&sb, nil)).Info("loaded", "spec", k)
	for _, s := range []string{k.String(), fmt.Sprint(k), fmt.Sprintf("%v", k), sb.String()} {
		if strings.Contains(s, "sk-secret-value") {
			t.Fatalf("secret leaked: %s", s)
		}
	}
	if !strings.Contains(k.String(), "REDACTED") {
		t.Fatal("no redaction marker")
	}
}

// TestLookupTimingDoesNotDependOnPrefix: comparing a wrong key that shares a long prefix with
// a real one costs the same as a wholly different key (the secret is hashed first and the
// hashes compared in constant time), within generous noise bounds.
func TestLookupTimingDoesNotDependOnPrefix(t *testing.T) {
	plain, hash := NewKey()
	a, err := New(Options{Required: true, Keys: []KeySpec{{ID: "k", KeyHash: hash}}})
	if err != nil {
		t.Fatal(err)
	}
	near := plain[:len(plain)-1] + "x"
	far := strings.Repeat("z", len(plain))
	measure := func(s string) time.Duration {
		best := time.Duration(1 << 62)
		for round := 0; round < 5; round++ {
			start := time.Now()
			for i := 0; i < 2000; i++ {
				if _, ok := a.lookup(s); ok {
					t.Fatal("wrong key accepted")
				}
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	dn, df := measure(near), measure(far)
	ratio := float64(dn) / float64(df)
	if ratio > 2 || ratio < 0.5 {
		t.Fatalf("near-miss %v vs far-miss %v", dn, df)
	}
	if _, ok := a.lookup(plain); !ok {
		t.Fatal("right key refused")
	}
}

func TestLoadKeysFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	_, h := NewKey()
	good := write("keys.toml", `
[[keys]]
id = "ci"
key_hash = "`+h+`"
team = "platform"
models = ["openai/*"]
limits = [{ unit = "tokens", rate = "100000/min", burst = 20000 }]

[[keys]]
id = "dev"
key = "sk-dev"
`)
	keys, err := LoadKeysFile(good)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Options{Required: true, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := a.Identify(req("x-api-key", "sk-dev")); err != nil || id.KeyID != "dev" {
		t.Fatalf("%+v %v", id, err)
	}
	if len(keys[0].Limits) != 1 || keys[0].Limits[0].Burst != 20000 {
		t.Fatalf("limits %+v", keys[0].Limits)
	}
	jl := write("keys.jsonl", "# team keys\n\n{\"id\":\"a\",\"key_hash\":\""+h+"\",\"models\":[\"*\"]}\n{\"id\":\"b\",\"key\":\"sk-b\",\"limits\":[{\"unit\":\"requests\",\"rate\":\"5/s\"}]}\n")
	if keys, err := LoadKeysFile(jl); err != nil || len(keys) != 2 {
		t.Fatalf("jsonl: %v %v", keys, err)
	}
	bad := []struct{ name, body, want string }{
		{"syntax.toml", "[[keys]]\nid = \"a\"\nkey = \n", "syntax.toml:3:"},
		{"unknown.toml", "[[keys]]\nid = \"a\"\nkey = \"x\"\nteam_name = \"t\"\n", "unknown key \"keys.team_name\""},
		{"invalid.toml", "[[keys]]\nid = \"a\"\nkey = \"x\"\n[[keys]]\nid = \"b\"\n", "keys[1]: key \"b\": needs key or key_hash"},
		{"syntax.jsonl", "{\"id\":\"a\",\"key\":\"x\"}\n\n{\"id\":\"b\",\n", "syntax.jsonl:3:"},
		{"unknown.jsonl", "{\"id\":\"a\",\"key\":\"x\",\"teem\":\"t\"}\n", "unknown.jsonl:1: json: unknown field \"teem\""},
		{"invalid.jsonl", "{\"id\":\"a\",\"key\":\"x\"}\n{\"id\":\"b\",\"key_hash\":\"md5:00\"}\n", "invalid.jsonl:2: key \"b\": key_hash"},
		{"badlimit.jsonl", "{\"id\":\"a\",\"key\":\"x\",\"limits\":[{\"unit\":\"tokens\",\"rate\":\"5/fortnight\"}]}\n", "badlimit.jsonl:1: key \"a\": limits[0]"},
	}
	for _, b := range bad {
		_, err := LoadKeysFile(write(b.name, b.body))
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s: got %v, want %q", b.name, err, b.want)
		}
	}
	if _, err := LoadKeysFile(filepath.Join(dir, "absent.toml")); err == nil {
		t.Error("absent file accepted")
	}
}

func BenchmarkIdentify(b *testing.B) {
	plain, hash := NewKey()
	a, err := New(Options{Required: true, Keys: []KeySpec{{ID: "k", KeyHash: hash}}})
	if err != nil {
		b.Fatal(err)
	}
	r := req("Authorization", "Bearer "+plain)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Identify(r); err != nil {
			b.Fatal(err)
		}
	}
}

func TestPassthroughPermission(t *testing.T) {
	a, err := New(Options{Keys: []KeySpec{
		{ID: "files", Key: "sk-f", Passthrough: []string{"openai:/files*", "anth*:/messages/batches*"}},
		{ID: "none", Key: "sk-n"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := a.Identify(req("Authorization", "Bearer sk-f"))
	n, _ := a.Identify(req("Authorization", "Bearer sk-n"))
	anon, _ := a.Identify(req())
	for _, c := range []struct {
		id         Identity
		prov, path string
		want       bool
	}{
		{f, "openai", "/files", true},
		{f, "openai", "/files/abc/content", true},
		{f, "openai", "/chat/completions", false},
		{f, "azure", "/files", false},
		{f, "anthropic", "/messages/batches/1", true},
		{n, "openai", "/files", false},
		{anon, "openai", "/anything", true},
	} {
		if got := c.id.AllowsPassthrough(c.prov, c.path); got != c.want {
			t.Errorf("%s %s:%s = %v", c.id.KeyID, c.prov, c.path, got)
		}
	}
	if _, err := New(Options{Keys: []KeySpec{{ID: "x", Key: "sk-x", Passthrough: []string{"/files*"}}}}); err == nil {
		t.Fatal("a passthrough entry without a provider was accepted")
	}
}
