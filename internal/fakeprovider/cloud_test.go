package fakeprovider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

func sendRaw(t *testing.T, method, u, body string, h map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The Vertex fake refuses what Vertex would: no token, a token it did not issue, another
// project, a Claude body with a model or without Vertex's version, a token request that is not
// a signed JWT-bearer grant.
func TestVertexRefusals(t *testing.T) {
	s := NewVertex(t, WithVertex("p1", "us-east5"), WithTokenTTL(2*time.Second))
	form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {"a.b.c"}}
	if st, b := sendRaw(t, "POST", s.Root+"/token", form.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); st != 400 || !strings.Contains(b, "invalid_grant") {
		t.Errorf("forged assertion: %d %s", st, b)
	}
	if st, _ := sendRaw(t, "POST", s.Root+"/token", "grant_type=client_credentials", nil); st != 400 {
		t.Errorf("other grant: %d", st)
	}
	path := s.Root + "/v1/projects/p1/locations/us-east5/publishers/anthropic/models/claude-x:rawPredict"
	body := `{"anthropic_version":"vertex-2023-10-16","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`
	if st, _ := sendRaw(t, "POST", path, body, nil); st != 401 {
		t.Errorf("no token: %d", st)
	}
	if st, _ := sendRaw(t, "POST", path, body, map[string]string{"Authorization": "Bearer ya29.made-up"}); st != 401 {
		t.Errorf("unknown token: %d", st)
	}
	// A real token, through the same grant the client library uses.
	s.vertex.mu.Lock()
	s.vertex.tokens["ya29.test"] = time.Now().Add(time.Minute)
	s.vertex.mu.Unlock()
	auth := map[string]string{"Authorization": "Bearer ya29.test"}
	if st, b := sendRaw(t, "POST", path, body, auth); st != 200 || !strings.Contains(b, `"type":"message"`) {
		t.Errorf("valid: %d %s", st, b)
	}
	for _, c := range []struct{ path, body, want string }{
		{strings.Replace(path, "/p1/", "/p2/", 1), body, "not under"},
		{path, strings.Replace(body, `"max_tokens"`, `"model":"claude-x","max_tokens"`, 1), "model: Extra inputs"},
		{path, strings.Replace(body, "vertex-2023-10-16", "bedrock-2023-05-31", 1), "anthropic_version"},
		{path, strings.Replace(body, `"max_tokens"`, `"stream":true,"max_tokens"`, 1), "stream=true"},
		{strings.Replace(path, "anthropic/models/claude-x:rawPredict", "google/models/gemini-embedding-001:predict", 1), `{"instances":[{"content":"a"},{"content":"b"}]}`, "only 1 instance"},
	} {
		if st, b := sendRaw(t, "POST", c.path, c.body, auth); st < 400 || !strings.Contains(b, c.want) {
			t.Errorf("%s %s: %d %s", c.path, c.body, st, b)
		}
	}
	s.vertex.mu.Lock()
	s.vertex.tokens["ya29.test"] = time.Now().Add(-time.Second)
	s.vertex.mu.Unlock()
	if st, _ := sendRaw(t, "POST", path, body, auth); st != 401 {
		t.Errorf("expired token: %d", st)
	}
}

// Embedding bodies are checked field by field.
func TestEmbedRefusals(t *testing.T) {
	g := NewGemini(t)
	key := map[string]string{"X-Goog-Api-Key": "k"}
	base := g.Root + "/v1beta/models/gemini-embedding-001"
	for _, c := range []struct{ path, body, want string }{
		{":embedContent", `{"content":{"parts":[{"text":"a"}]},"dimensions":5}`, `Unknown name \"dimensions\"`},
		{":embedContent", `{"content":{"parts":[]}}`, "must not be empty"},
		{":embedContent", `{"content":{"parts":[{"text":"a"}]},"taskType":"retrieval_query"}`, "Invalid value"},
		{":embedContent", `{"content":{"parts":[{"text":"a"}]},"outputDimensionality":4000}`, "between 1 and 3072"},
		{":batchEmbedContents", `{"requests":[{"content":{"parts":[{"text":"a"}]}}]}`, "model is required"},
		{":batchEmbedContents", `{"requests":[{"model":"models/text-embedding-004","content":{"parts":[{"text":"a"}]}}]}`, "does not match"},
	} {
		if st, b := sendRaw(t, "POST", base+c.path, c.body, key); st != 400 || !strings.Contains(b, c.want) {
			t.Errorf("%s %s: %d %s", c.path, c.body, st, b)
		}
	}
	if st, b := sendRaw(t, "POST", base+":embedContent", `{"content":{"parts":[{"text":"a"}]},"outputDimensionality":3}`, key); st != 200 || !strings.Contains(b, `"values"`) {
		t.Errorf("valid: %d %s", st, b)
	}

	b := NewBedrock(t, WithCredentials("AKIDTEST", "secret"))
	signer := v4.NewSigner()
	for _, c := range []struct{ model, body, want string }{
		{"amazon.titan-embed-text-v2:0", `{"inputText":"a","dimensions":300}`, "not a valid enum value"},
		{"amazon.titan-embed-text-v2:0", `{"inputText":"a","input_type":"x"}`, "extraneous key [input_type]"},
		{"amazon.titan-embed-text-v1", `{"inputText":"a","normalize":true}`, "extraneous key [normalize]"},
		{"cohere.embed-english-v3", `{"texts":["a"]}`, "[input_type] not found"},
		{"cohere.embed-english-v3", `{"texts":["a"],"input_type":"search_document","output_dimension":256}`, "extraneous key [output_dimension]"},
		{"cohere.embed-v4:0", `{"texts":["a"],"input_type":"search_document","output_dimension":300}`, "not a valid enum value"},
	} {
		req, _ := http.NewRequest("POST", b.Root+"/model/"+url.PathEscape(c.model)+"/invoke", strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		_ = signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret"}, req, sha256Hex(c.body), "bedrock", "us-east-1", time.Now())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(out), c.want) {
			t.Errorf("%s %s: %d %s", c.model, c.body, resp.StatusCode, out)
		}
	}
}

// A session token that does not belong to the key, or an expired one, is refused.
func TestStoredCredentials(t *testing.T) {
	set := NewAWSCredentials()
	set.Add("ASIA1", "s1", "tok1", time.Now().Add(time.Minute))
	set.Add("ASIA2", "s2", "tok2", time.Now().Add(-time.Second))
	b := NewBedrock(t, WithAWSCredentials(set))
	body := `{"inputText":"a"}`
	for _, c := range []struct {
		creds aws.Credentials
		want  int
	}{
		{aws.Credentials{AccessKeyID: "ASIA1", SecretAccessKey: "s1", SessionToken: "tok1"}, 200},
		{aws.Credentials{AccessKeyID: "ASIA1", SecretAccessKey: "s1", SessionToken: "tok2"}, 403},
		{aws.Credentials{AccessKeyID: "ASIA1", SecretAccessKey: "wrong", SessionToken: "tok1"}, 403},
		{aws.Credentials{AccessKeyID: "ASIA2", SecretAccessKey: "s2", SessionToken: "tok2"}, 403},
	} {
		req, _ := http.NewRequest("POST", b.Root+"/model/amazon.titan-embed-text-v1/invoke", strings.NewReader(body))
		_ = v4.NewSigner().SignHTTP(context.Background(), c.creds, req, sha256Hex(body), "bedrock", "us-east-1", time.Now())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%+v: %d, want %d", c.creds, resp.StatusCode, c.want)
		}
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
