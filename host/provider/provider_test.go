package provider

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/sluice-gw/sluice/host/config"
)

// seen is one request as the upstream received it.
type seen struct {
	Method, Path, RawPath, Query, Host string
	Header                             http.Header
	Body                               []byte
	ContentLength                      int64
}

// recorder is an upstream on a real socket that records what it receives and answers an
// empty chat completion.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, seen{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Query: r.URL.RawQuery,
			Host: r.Host, Header: r.Header.Clone(), Body: b, ContentLength: r.ContentLength})
		rec.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","choices":[]}`)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) last(t *testing.T) seen {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		t.Fatal("the upstream received nothing")
	}
	return r.reqs[len(r.reqs)-1]
}

// pathTranslator stands in for a translator plugin: it sends the body to the path a real
// translator of its kind chooses, so the test sees how the provider composes the URL.
type pathTranslator struct{ path, query string }

func (pathTranslator) Name() string { return "fake" }
func (f pathTranslator) TranslateRequest(_ context.Context, in []byte) ([]byte, error) {
	var env struct {
		Model string `json:"model"`
	}
	if err := json.Unmarshal(in, &env); err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"path": strings.ReplaceAll(f.path, "{model}", env.Model), "query": f.query, "body": map[string]any{"m": env.Model}})
}
func (pathTranslator) TranslateResponse(_ context.Context, in []byte) ([]byte, error) {
	return []byte(`{"status":200,"body":{"id":"x","object":"chat.completion","choices":[]}}`), nil
}
func (pathTranslator) TranslateChunk(context.Context, []byte) ([]byte, error) {
	return []byte(`{"chunks":[]}`), nil
}

// translatorPaths are the paths the first-party translators address, per kind.
var translatorPaths = map[string]pathTranslator{
	"anthropic": {path: "/v1/messages"},
	"gemini":    {path: "/models/{model}:generateContent"},
	"bedrock":   {path: "/model/{model}/converse"},
}

// providersFor parses a config (defaults per kind applied by host/config) and builds every
// provider it declares, translators faked by kind.
func providersFor(t *testing.T, toml string) map[string]*Provider {
	t.Helper()
	cfg, err := config.Parse("test.toml", []byte(toml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*Provider{}
	for name, pc := range cfg.Providers {
		kind := pc.Kind
		p, err := New(pc, func(string) (Translator, error) { return translatorPaths[kind], nil }, Options{})
		if err != nil {
			t.Fatalf("provider %s: %v", name, err)
		}
		out[name] = p
	}
	return out
}

func kindsConfig(base string) string {
	return fmt.Sprintf(`
[providers.openai]
base_url = "%[1]s/v1"
api_key = "sk-openai"
headers = { "OpenAI-Organization" = "org-1" }

[providers.groq]
base_url = "%[1]s/openai/v1"
api_key = "gsk-groq"

[providers.local]
kind = "openai"
base_url = "%[1]s/local/v1"

[providers.azure]
base_url = "%[1]s/openai"
api_key = "az-key"
api_version = "2024-10-21"
deployments = { "gpt-4o" = "prod-4o" }

[providers.anthropic]
base_url = "%[1]s"
api_key = "sk-ant"

[providers.gemini]
base_url = "%[1]s/v1beta"
api_key = "g-key"

[providers.bedrock]
base_url = "%[1]s"
region = "eu-west-3"
access_key_id = "AKIDTEST"
secret_access_key = "secret-test"
session_token = "session-test"
`, base)
}

// TestURLAndAuthPerKind sends one chat completion through a provider of each kind to a real
// socket and checks the URL it reached and the credentials it carried.
func TestURLAndAuthPerKind(t *testing.T) {
	up := newRecorder(t)
	ps := providersFor(t, kindsConfig(up.URL))
	for _, tc := range []struct {
		provider, model string
		path, query     string
		auth            map[string]string // header -> value ("" must be absent)
	}{
		{"openai", "gpt-4o-mini", "/v1/chat/completions", "",
			map[string]string{"Authorization": "Bearer sk-openai", "Openai-Organization": "org-1", "X-Api-Key": ""}},
		{"groq", "llama-3.3-70b", "/openai/v1/chat/completions", "",
			map[string]string{"Authorization": "Bearer gsk-groq"}},
		// A compatible server on loopback with no key gets no credentials at all.
		{"local", "qwen", "/local/v1/chat/completions", "",
			map[string]string{"Authorization": "", "Api-Key": ""}},
		{"azure", "gpt-4o", "/openai/deployments/prod-4o/chat/completions", "api-version=2024-10-21",
			map[string]string{"Api-Key": "az-key", "Authorization": ""}},
		// A model without a deployment entry is its own deployment name.
		{"azure", "gpt-4.1", "/openai/deployments/gpt-4.1/chat/completions", "api-version=2024-10-21",
			map[string]string{"Api-Key": "az-key"}},
		{"anthropic", "claude-haiku-4-5", "/v1/messages", "",
			map[string]string{"X-Api-Key": "sk-ant", "Authorization": ""}},
		{"gemini", "gemini-2.5-flash", "/v1beta/models/gemini-2.5-flash:generateContent", "",
			map[string]string{"X-Goog-Api-Key": "g-key", "Authorization": ""}},
		{"bedrock", "amazon.nova-lite-v1", "/model/amazon.nova-lite-v1/converse", "",
			map[string]string{"X-Amz-Security-Token": "session-test", "Api-Key": ""}},
	} {
		t.Run(tc.provider+"/"+tc.model, func(t *testing.T) {
			p := ps[tc.provider]
			body := []byte(`{"model":"` + tc.model + `","messages":[{"role":"user","content":"hi"}]}`)
			resp, err := p.Do(t.Context(), &Request{Endpoint: ChatCompletions, Model: tc.model, Body: body, RequestID: "req-1"})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != 200 {
				t.Fatalf("status %d: %s", resp.Status, resp.Body)
			}
			got := up.last(t)
			if got.Method != http.MethodPost || got.Path != tc.path || got.Query != tc.query {
				t.Errorf("reached %s %s?%s, want POST %s?%s", got.Method, got.Path, got.Query, tc.path, tc.query)
			}
			for h, want := range tc.auth {
				if v := got.Header.Get(h); v != want {
					t.Errorf("header %s = %q, want %q", h, v, want)
				}
			}
			if ct := got.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if p.Kind == "bedrock" {
				if a := got.Header.Get("Authorization"); !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential=AKIDTEST/") || !strings.Contains(a, "/eu-west-3/bedrock/aws4_request") {
					t.Errorf("Authorization %q is not a SigV4 signature for eu-west-3 bedrock", a)
				}
			}
		})
	}
}

// TestClientKeyReplacesProviderKey: a caller's own key (bring-your-own-key) is the one sent,
// in the kind's own header.
func TestClientKeyReplacesProviderKey(t *testing.T) {
	up := newRecorder(t)
	ps := providersFor(t, fmt.Sprintf(`
[providers.openai]
base_url = "%[1]s/v1"
byok = true

[providers.anthropic]
base_url = "%[1]s"
byok = true
`, up.URL))
	for name, h := range map[string]string{"openai": "Authorization", "anthropic": "X-Api-Key"} {
		p := ps[name]
		if _, err := p.Do(t.Context(), &Request{Endpoint: ChatCompletions, Model: "m", Body: []byte(`{"model":"m","messages":[]}`)}); err == nil {
			t.Errorf("%s: sent without any key", name)
		}
		if _, err := p.Do(t.Context(), &Request{Endpoint: ChatCompletions, Model: "m", Body: []byte(`{"model":"m","messages":[]}`), ClientKey: "client-key"}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := "client-key"
		if h == "Authorization" {
			want = "Bearer client-key"
		}
		if v := up.last(t).Header.Get(h); v != want {
			t.Errorf("%s: %s = %q, want %q", name, h, v, want)
		}
	}
}

// TestSigV4ReferenceVector checks the reference signer below against AWS's published
// get-vanilla example (fixed clock, example key), and the AWS signer sluice uses against it.
func TestSigV4ReferenceVector(t *testing.T) {
	const want = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
	at := time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)
	emptyHash := hex.EncodeToString(sha256Sum(nil))
	got := sigv4Signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", at, "us-east-1", "service",
		"GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"+emptyHash)
	if got != want {
		t.Fatalf("reference signer: %s, want %s", got, want)
	}
	req, _ := http.NewRequest(http.MethodGet, "https://example.amazonaws.com/", nil)
	creds := aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	if err := v4.NewSigner().SignHTTP(t.Context(), creds, req, emptyHash, "service", "us-east-1", at); err != nil {
		t.Fatal(err)
	}
	if a := req.Header.Get("Authorization"); !strings.HasSuffix(a, "Signature="+want) ||
		!strings.Contains(a, "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request") {
		t.Fatalf("AWS signer: %s", a)
	}
}

// TestSigV4SignsWhatIsSent recomputes, on the upstream's side, the signature of a Bedrock
// request from what actually arrived (method, path, headers, body) and the shared secret: the
// signature covers the body hash, the session token and the headers it lists.
func TestSigV4SignsWhatIsSent(t *testing.T) {
	up := newRecorder(t)
	p := providersFor(t, kindsConfig(up.URL))["bedrock"]
	body := []byte(`{"model":"amazon.nova-lite-v1","messages":[{"role":"user","content":"hi"}]}`)
	if _, err := p.Do(t.Context(), &Request{Endpoint: ChatCompletions, Model: "amazon.nova-lite-v1", Body: body}); err != nil {
		t.Fatal(err)
	}
	got := up.last(t)
	at, err := time.Parse("20060102T150405Z", got.Header.Get("X-Amz-Date"))
	if err != nil {
		t.Fatalf("X-Amz-Date: %v", err)
	}
	if d := time.Since(at); d < -time.Minute || d > time.Minute {
		t.Errorf("signed at %s, %s away from now", at, d)
	}
	if h := got.Header.Get("X-Amz-Content-Sha256"); h != hex.EncodeToString(sha256Sum(got.Body)) {
		t.Errorf("X-Amz-Content-Sha256 %s does not hash the body that arrived", h)
	}
	auth := got.Header.Get("Authorization")
	signed := between(auth, "SignedHeaders=", ",")
	sig := auth[strings.LastIndex(auth, "Signature=")+len("Signature="):]
	names := strings.Split(signed, ";")
	for _, must := range []string{"host", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token", "content-type"} {
		if !contains(names, must) {
			t.Errorf("SignedHeaders %q lacks %s", signed, must)
		}
	}
	var canon strings.Builder
	canon.WriteString(got.Method + "\n" + canonicalPath(got.RawPath) + "\n" + got.Query + "\n")
	sort.Strings(names)
	for _, n := range names {
		v := got.Header.Get(n)
		switch n {
		case "host":
			v = got.Host
		case "content-length":
			v = fmt.Sprint(got.ContentLength)
		}
		canon.WriteString(n + ":" + strings.TrimSpace(v) + "\n")
	}
	canon.WriteString("\n" + signed + "\n" + got.Header.Get("X-Amz-Content-Sha256"))
	if want := sigv4Signature("secret-test", at, "eu-west-3", "bedrock", canon.String()); sig != want {
		t.Errorf("signature %s, recomputed %s over\n%s", sig, want, canon.String())
	}
}

// sigv4Signature is AWS Signature Version 4 written out from its specification: the string to
// sign over the canonical request's hash, signed with the key derived from the secret, the
// date, the region and the service.
func sigv4Signature(secret string, at time.Time, region, service, canonicalRequest string) string {
	day := at.UTC().Format("20060102")
	scope := day + "/" + region + "/" + service + "/aws4_request"
	toSign := "AWS4-HMAC-SHA256\n" + at.UTC().Format("20060102T150405Z") + "\n" + scope + "\n" + hex.EncodeToString(sha256Sum([]byte(canonicalRequest)))
	k := hmacSum([]byte("AWS4"+secret), day)
	k = hmacSum(k, region)
	k = hmacSum(k, service)
	k = hmacSum(k, "aws4_request")
	return hex.EncodeToString(hmacSum(k, toSign))
}

// canonicalPath escapes an already escaped path once more, as SigV4 does for every service
// but S3.
func canonicalPath(escaped string) string {
	return strings.ReplaceAll(escaped, "%", "%25")
}

func hmacSum(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

func between(s, from, to string) string {
	_, after, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, to)
	return v
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
