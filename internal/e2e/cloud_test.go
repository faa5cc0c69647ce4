package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
)

// TestCloudProvidersNodeSDK: the official OpenAI Node SDK chats with Gemini and Claude on
// Vertex AI (a service-account key whose token_uri is the fake's token endpoint) and with
// Bedrock whose credentials come from web identity at a fake STS (no keys in the config), and
// embeds on OpenAI, Gemini, Vertex and Bedrock (Titan, Cohere v3 and v4) in every encoding.
// Every vector is compared with what the fake sent; every upstream request passed its fake's
// checks (OAuth bearer token, SigV4 with the session token, strict bodies).
func TestCloudProvidersNodeSDK(t *testing.T) {
	dir := t.TempDir()
	vx := fakeprovider.NewVertex(t, fakeprovider.WithVertex("sluice-proj", "us-east5"))
	saPath := filepath.Join(dir, "sa.json")
	if err := os.WriteFile(saPath, vx.ServiceAccountJSON(), 0o600); err != nil {
		t.Fatal(err)
	}
	creds := fakeprovider.NewAWSCredentials()
	sts := fakeprovider.NewSTS(t, creds, time.Hour)
	bed := fakeprovider.NewBedrock(t, fakeprovider.WithAWSCredentials(creds), fakeprovider.WithRegion("eu-central-1"))
	gem := fakeprovider.NewGemini(t, fakeprovider.WithKey("gem-key"))
	oai := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-up"))
	ant := fakeprovider.NewAnthropic(t, fakeprovider.WithKey("ant-key"))
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("eyJ.irsa.token"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig + fmt.Sprintf(`
[providers.vertex]
base_url = %q
project = "sluice-proj"
location = "us-east5"
credentials_file = %q

[providers.bedrock]
base_url = %q
region = "eu-central-1"

[providers.gemini]
base_url = %q
api_key = "gem-key"

[providers.up]
kind = "openai"
base_url = %q
api_key = "sk-up"

[providers.anthropic]
base_url = %q
api_key = "ant-key"
`, vx.Root, saPath, bed.Root, gem.Root+"/v1beta", oai.URL, ant.URL)
	s := startSluice(t, cfg,
		"HOME="+dir, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_WEB_IDENTITY_TOKEN_FILE="+tokenFile, "AWS_ROLE_ARN=arn:aws:iam::123456789012:role/sluice",
		"AWS_ENDPOINT_URL_STS="+sts.URL)

	type emb struct {
		Model      string `json:"model"`
		Dimensions int    `json:"dimensions,omitempty"`
	}
	embeds := []emb{
		{"up/text-embedding-3-small", 0},
		{"gemini/gemini-embedding-001", 64},
		{"vertex/gemini-embedding-001", 32},
		{"vertex/text-embedding-005", 0},
		{"bedrock/amazon.titan-embed-text-v2:0", 256},
		{"bedrock/cohere.embed-english-v3", 0},
		{"bedrock/cohere.embed-v4:0", 512},
	}
	dims := map[string]int{"vertex/text-embedding-005": 768, "bedrock/cohere.embed-english-v3": 1024}
	chat := []string{"vertex/gemini-2.5-flash", "vertex/claude-sonnet-4-5@20250929", "vertex/meta/llama-4-maverick-17b-128e-instruct-maas", "bedrock/amazon.nova-lite-v1:0", "bedrock/anthropic.claude-3-5-haiku-20241022-v1:0"}
	chatJSON, _ := json.Marshal(chat)
	embJSON, _ := json.Marshal(embeds)
	outPath := filepath.Join(dir, "out.json")
	out := node(t, "cloud.test.mjs", "SLUICE_URL="+s.URL, "CHAT="+string(chatJSON), "EMBED="+string(embJSON), "OUT="+outPath)
	if want := fmt.Sprintf("pass %d", len(chat)+len(embeds)+2); !strings.Contains(out, want) {
		t.Errorf("node: want %q in\n%s", want, out)
	}

	// What a provider did not map reaches the client in headers.
	status, h, body := post(t, s.URL+"/v1/embeddings", `{"model":"gemini/gemini-embedding-001","input":"hi","user":"u-7"}`)
	if status != 200 || h.Get("X-Sluice-Usage-Estimated") != "prompt_tokens" || h.Get("X-Sluice-Ignored") != "user" {
		t.Errorf("gemini embeddings headers: %d %v %s", status, h, body)
	}
	status, _, body = post(t, s.URL+"/v1/embeddings", `{"model":"bedrock/amazon.titan-embed-text-v2:0","input":"hi","dimensions":100}`)
	if status != 400 || !strings.Contains(body, `"param":"dimensions"`) {
		t.Errorf("titan dimensions 100: %d %s", status, body)
	}

	raw, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Texts []string `json:"texts"`
		Out   map[string]struct {
			Vectors [][]float32 `json:"vectors"`
			Usage   struct {
				PromptTokens int `json:"prompt_tokens"`
			} `json:"usage"`
		} `json:"out"`
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	words := 0
	for _, s := range res.Texts {
		words += len(strings.Fields(s))
	}
	for _, e := range embeds[1:] { // the OpenAI fake has its own vectors
		got := res.Out[e.Model]
		d := e.Dimensions
		if d == 0 {
			d = dims[e.Model]
		}
		for i, text := range res.Texts {
			want := fakeprovider.Vector(text, d)
			if len(got.Vectors) <= i || fmt.Sprint(got.Vectors[i]) != fmt.Sprint(want) {
				t.Errorf("%s: vector %d differs from the fake's (%d dims)", e.Model, i, len(got.Vectors[min(i, len(got.Vectors)-1)]))
			}
		}
		// Vertex and Bedrock count tokens; the Gemini API does not, so sluice estimates.
		if !strings.HasPrefix(e.Model, "gemini/") && got.Usage.PromptTokens != words {
			t.Errorf("%s: prompt_tokens %d, want the provider's %d", e.Model, got.Usage.PromptTokens, words)
		}
	}
	for name, f := range map[string]*fakeprovider.Server{"vertex": vx, "bedrock": bed, "gemini": gem, "openai": oai} {
		for _, r := range f.Requests() {
			if r.Invalid != "" {
				t.Errorf("%s: request %d %s refused: %s\n%s", name, r.Seq, r.Path, r.Invalid, r.Body)
			}
		}
	}
	for _, c := range vx.VertexCalls() {
		if c.Invalid != "" || !strings.HasPrefix(c.Path, "/v1/projects/sluice-proj/locations/us-east5/") {
			t.Errorf("vertex call %s: %q", c.Path, c.Invalid)
		}
	}
	if vx.TokensIssued() != 1 || sts.Issued() != 1 {
		t.Errorf("tokens issued: vertex %d, sts %d; want one each, cached", vx.TokensIssued(), sts.Issued())
	}
	for _, r := range bed.Requests() {
		if r.Header.Get("X-Amz-Security-Token") != "fake-session-token-1" {
			t.Errorf("bedrock request %d without the web-identity session token", r.Seq)
		}
	}
}

// TestVertexMessagesNative: /v1/messages to Claude on Vertex reaches rawPredict and
// streamRawPredict with the client's body (model moved to the URL, Vertex's version in the
// body) and comes back as Anthropic's own answer and events.
func TestVertexMessagesNative(t *testing.T) {
	vx := fakeprovider.NewVertex(t, fakeprovider.WithVertex("p1", "global"))
	sa := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(sa, vx.ServiceAccountJSON(), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startSluice(t, baseConfig+fmt.Sprintf(`
[providers.vertex]
base_url = %q
project = "p1"
credentials_file = %q
`, vx.Root, sa))
	const model = "vertex/claude-haiku-4-5@20251001"
	status, body := messagesCall(t, s.URL, []byte(`{"model":"`+model+`","max_tokens":30,"messages":[{"role":"user","content":"hi there vertex"}]}`), nil)
	m := jsonObject(t, body)
	if status != 200 || m["type"] != "message" || !strings.Contains(fmt.Sprint(m["content"]), "hi there vertex") {
		t.Fatalf("%d %s", status, body)
	}
	status, body = messagesCall(t, s.URL, []byte(`{"model":"`+model+`","max_tokens":30,"stream":true,"messages":[{"role":"user","content":"hi stream"}]}`), nil)
	names, _ := sseEvents(body)
	if status != 200 || len(names) == 0 || names[0] != "message_start" || names[len(names)-1] != "message_stop" {
		t.Fatalf("%d %v\n%s", status, names, body)
	}
	calls := vx.VertexCalls()
	if len(calls) != 2 || !strings.HasSuffix(calls[0].Path, "/locations/global/publishers/anthropic/models/claude-haiku-4-5@20251001:rawPredict") ||
		!strings.HasSuffix(calls[1].Path, ":streamRawPredict") || calls[0].Invalid != "" || calls[1].Invalid != "" {
		t.Errorf("calls %+v", calls)
	}
}
