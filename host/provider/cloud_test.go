package provider

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/internal/fakeprovider"
	"github.com/sluice-gw/sluice/plugins/anthropic"
	"github.com/sluice-gw/sluice/plugins/bedrock"
	"github.com/sluice-gw/sluice/plugins/gemini"
)

// nativeTranslator runs a translator package in process, as its plugin would.
type nativeTranslator struct {
	name          string
	req, resp, ch func([]byte) ([]byte, error)
}

func (n nativeTranslator) Name() string { return n.name }
func (n nativeTranslator) TranslateRequest(_ context.Context, in []byte) ([]byte, error) {
	return n.req(in)
}
func (n nativeTranslator) TranslateResponse(_ context.Context, in []byte) ([]byte, error) {
	return n.resp(in)
}
func (n nativeTranslator) TranslateChunk(_ context.Context, in []byte) ([]byte, error) {
	return n.ch(in)
}

func loadNative(name string) (Translator, error) {
	switch name {
	case "gemini":
		return nativeTranslator{name, gemini.TranslateRequest, gemini.TranslateResponse, gemini.TranslateChunk}, nil
	case "anthropic":
		return nativeTranslator{name, anthropic.TranslateRequest, anthropic.TranslateResponse, anthropic.TranslateChunk}, nil
	case "bedrock":
		return nativeTranslator{name, bedrock.TranslateRequest, bedrock.TranslateResponse, bedrock.TranslateChunk}, nil
	}
	return nil, fmt.Errorf("no translator %q", name)
}

func chatBody(model string, stream bool) []byte {
	return []byte(fmt.Sprintf(`{"model":%q,"stream":%v,"max_tokens":50,"messages":[{"role":"user","content":"say hello vertex"}]}`, model, stream))
}

// do sends a chat request and returns the status and the whole answer (streams joined).
func do(t *testing.T, p *Provider, endpoint, model string, body []byte, stream bool) (int, string) {
	t.Helper()
	resp, err := p.Do(context.Background(), &Request{Endpoint: endpoint, Model: model, Body: body, Stream: stream, RequestID: "r1"})
	if err != nil {
		t.Fatalf("%s %s: %v", endpoint, model, err)
	}
	if resp.Stream == nil {
		return resp.Status, string(resp.Body)
	}
	defer resp.Stream.Close()
	var all strings.Builder
	for {
		c, err := resp.Stream.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		all.Write(c)
		all.WriteByte('\n')
	}
	return resp.Status, all.String()
}

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func newVertexProvider(t *testing.T, fake *fakeprovider.Server, location, credsFile string) *Provider {
	t.Helper()
	p, err := New(&config.Provider{Name: "vx", Kind: "vertex", BaseURL: fake.Root, Auth: "google", Project: "proj-1",
		Location: location, CredentialsFile: credsFile, Timeout: config.Duration(10 * time.Second), IdleTimeout: config.Duration(10 * time.Second)}, loadNative, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if u := p.Unavailable(); u != "" {
		t.Fatalf("unavailable: %s", u)
	}
	return p
}

// Gemini and Claude on Vertex, whole and streamed, regional: one service-account token serves
// every call, each call goes to its publisher's URL with the model in the path.
func TestVertexChatRegional(t *testing.T) {
	fake := fakeprovider.NewVertex(t, fakeprovider.WithVertex("proj-1", "us-east5"))
	p := newVertexProvider(t, fake, "us-east5", writeFile(t, "sa.json", fake.ServiceAccountJSON()))
	for _, c := range []struct {
		model  string
		stream bool
		path   string
	}{
		{"gemini-2.5-flash", false, "/v1/projects/proj-1/locations/us-east5/publishers/google/models/gemini-2.5-flash:generateContent"},
		{"gemini-2.5-flash", true, "/v1/projects/proj-1/locations/us-east5/publishers/google/models/gemini-2.5-flash:streamGenerateContent"},
		{"claude-sonnet-4-5@20250929", false, "/v1/projects/proj-1/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict"},
		{"claude-sonnet-4-5@20250929", true, "/v1/projects/proj-1/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict"},
		{"meta/llama-4-maverick-17b-128e-instruct-maas", false, "/v1/projects/proj-1/locations/us-east5/endpoints/openapi/chat/completions"},
		{"meta/llama-4-maverick-17b-128e-instruct-maas", true, "/v1/projects/proj-1/locations/us-east5/endpoints/openapi/chat/completions"},
	} {
		status, body := do(t, p, ChatCompletions, c.model, chatBody(c.model, c.stream), c.stream)
		if status != 200 || !strings.Contains(body, "vertex") {
			t.Errorf("%s stream=%v: %d %s", c.model, c.stream, status, body)
		}
		calls := fake.VertexCalls()
		last := calls[len(calls)-1]
		if last.Path != c.path || last.Invalid != "" {
			t.Errorf("%s stream=%v: path %s (want %s), refused: %q", c.model, c.stream, last.Path, c.path, last.Invalid)
		}
		if last.Authorization != "Bearer ya29.fake-1" {
			t.Errorf("authorization %q", last.Authorization)
		}
		if c.stream && strings.HasPrefix(c.model, "gemini") && last.RawQuery != "alt=sse" {
			t.Errorf("gemini stream query %q", last.RawQuery)
		}
		if strings.HasPrefix(c.model, "claude") {
			var m map[string]any
			_ = json.Unmarshal(last.Body, &m)
			if m["anthropic_version"] != fakeprovider.VertexAnthropicVersion || m["model"] != nil {
				t.Errorf("claude body %s", last.Body)
			}
		}
	}
	if n := fake.TokensIssued(); n != 1 {
		t.Errorf("%d tokens issued for 6 calls, want 1 (cached)", n)
	}
}

// The global location has no region prefix on the host and "global" in the path; an access
// token about to expire is refreshed before the next call.
func TestVertexGlobalAndRefresh(t *testing.T) {
	// The library treats a token as expired 10 s early: an 11 s token lives 1 s here.
	fake := fakeprovider.NewVertex(t, fakeprovider.WithVertex("proj-1", "global"), fakeprovider.WithTokenTTL(11*time.Second))
	p := newVertexProvider(t, fake, "global", writeFile(t, "sa.json", fake.ServiceAccountJSON()))
	if status, body := do(t, p, ChatCompletions, "gemini-2.5-pro", chatBody("gemini-2.5-pro", false), false); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	time.Sleep(1500 * time.Millisecond)
	if status, body := do(t, p, ChatCompletions, "claude-haiku-4-5", chatBody("claude-haiku-4-5", false), false); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	calls := fake.VertexCalls()
	if len(calls) != 2 || !strings.HasPrefix(calls[0].Path, "/v1/projects/proj-1/locations/global/publishers/google/") ||
		!strings.HasPrefix(calls[1].Path, "/v1/projects/proj-1/locations/global/publishers/anthropic/") {
		t.Fatalf("calls %+v", calls)
	}
	if calls[0].Authorization == calls[1].Authorization || fake.TokensIssued() != 2 {
		t.Errorf("token not refreshed: %q then %q, %d issued", calls[0].Authorization, calls[1].Authorization, fake.TokensIssued())
	}
	for _, c := range []struct{ loc, want string }{
		{"global", "https://aiplatform.googleapis.com"}, {"", "https://aiplatform.googleapis.com"},
		{"us-central1", "https://us-central1-aiplatform.googleapis.com"}, {"europe-west4", "https://europe-west4-aiplatform.googleapis.com"},
	} {
		if got := config.VertexBaseURL(c.loc); got != c.want {
			t.Errorf("VertexBaseURL(%q) = %q", c.loc, got)
		}
	}
}

// Application default credentials: GOOGLE_APPLICATION_CREDENTIALS names the key file.
func TestVertexApplicationDefault(t *testing.T) {
	fake := fakeprovider.NewVertex(t, fakeprovider.WithVertex("proj-1", "europe-west4"))
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", writeFile(t, "adc.json", fake.ServiceAccountJSON()))
	p := newVertexProvider(t, fake, "europe-west4", "")
	if status, body := do(t, p, ChatCompletions, "gemini-2.5-flash", chatBody("gemini-2.5-flash", false), false); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	if fake.TokensIssued() != 1 {
		t.Errorf("%d tokens", fake.TokensIssued())
	}
}

// A key the token endpoint does not know fails the attempt as a configuration problem with the
// endpoint's message; a missing key file or project makes the provider unconfigured.
func TestVertexCredentialFailures(t *testing.T) {
	fake := fakeprovider.NewVertex(t, fakeprovider.WithVertex("proj-1", "global"))
	other := fakeprovider.NewVertex(t)
	sa := strings.Replace(string(other.ServiceAccountJSON()), other.Root, fake.Root, 1) // right endpoint, wrong key
	p := newVertexProvider(t, fake, "global", writeFile(t, "sa.json", []byte(sa)))
	_, err := p.Do(context.Background(), &Request{Endpoint: ChatCompletions, Model: "gemini-2.5-flash", Body: chatBody("gemini-2.5-flash", false)})
	var ae *AttemptError
	if !asAttempt(err, &ae) || ae.Kind != FailUnavailable || !strings.Contains(err.Error(), "Invalid JWT Signature") {
		t.Errorf("wrong key: %v", err)
	}
	q, err := New(&config.Provider{Name: "vx", Kind: "vertex", BaseURL: fake.Root, Auth: "google", Project: "p", CredentialsFile: "/nonexistent/sa.json"}, loadNative, Options{})
	if err != nil || !strings.Contains(q.Unavailable(), "credentials_file") {
		t.Errorf("missing file: %v %q", err, q.Unavailable())
	}
	q, _ = New(&config.Provider{Name: "vx", Kind: "vertex", BaseURL: fake.Root, Auth: "google"}, loadNative, Options{})
	if !strings.Contains(q.Unavailable(), "project") {
		t.Errorf("no project: %q", q.Unavailable())
	}
}

func asAttempt(err error, ae **AttemptError) bool {
	e, ok := err.(*AttemptError)
	*ae = e
	return ok
}

// --- AWS credentials ---

// awsEnv isolates the AWS SDK from the machine: no shared files, no instance metadata.
func awsEnv(t *testing.T) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(home, "none-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(home, "none-credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func newBedrock(t *testing.T, fake *fakeprovider.Server, pc config.Provider) *Provider {
	t.Helper()
	pc.Name, pc.Kind, pc.BaseURL, pc.Auth, pc.Translator, pc.Region = "br", "bedrock", fake.Root, "sigv4", "bedrock", "us-west-2"
	pc.Timeout, pc.IdleTimeout = config.Duration(10*time.Second), config.Duration(10*time.Second)
	p, err := New(&pc, loadNative, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func titanCall(t *testing.T, p *Provider, text string) (int, string) {
	return do(t, p, Embeddings, "amazon.titan-embed-text-v2:0", []byte(fmt.Sprintf(`{"model":"amazon.titan-embed-text-v2:0","input":%q}`, text)), false)
}

func lastAuth(fake *fakeprovider.Server) (string, string) {
	rs := fake.Requests()
	r := rs[len(rs)-1]
	return r.Header.Get("Authorization"), r.Header.Get("X-Amz-Security-Token")
}

// --- embeddings ---

func decodeB64(t *testing.T, s string) []float32 {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b)%4 != 0 {
		t.Fatalf("base64 %q: %v", s[:min(len(s), 40)], err)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

type embedList struct {
	Object string `json:"object"`
	Data   []struct {
		Object    string          `json:"object"`
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	} `json:"data"`
	Model string `json:"model"`
	Usage struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

// checkVectors decodes the list (float or base64) and compares each vector with the fake's.
func checkVectors(t *testing.T, body string, texts []string, dims int) embedList {
	t.Helper()
	var l embedList
	if err := json.Unmarshal([]byte(body), &l); err != nil || l.Object != "list" || len(l.Data) != len(texts) {
		t.Fatalf("list: %v %s", err, body[:min(len(body), 300)])
	}
	for i, d := range l.Data {
		var v []float32
		var s string
		if json.Unmarshal(d.Embedding, &s) == nil {
			v = decodeB64(t, s)
		} else if err := json.Unmarshal(d.Embedding, &v); err != nil {
			t.Fatal(err)
		}
		want := fakeprovider.Vector(texts[i], dims)
		if d.Index != i || d.Object != "embedding" || len(v) != dims {
			t.Fatalf("item %d: index %d, %d dims (want %d)", i, d.Index, len(v), dims)
		}
		for j := range v {
			if v[j] != want[j] {
				t.Fatalf("item %d: value %d %v != %v", i, j, v[j], want[j])
			}
		}
	}
	return l
}

func embedBody(model string, input any, extra string) []byte {
	in, _ := json.Marshal(input)
	return []byte(fmt.Sprintf(`{"model":%q,"input":%s%s}`, model, in, extra))
}

func TestEmbeddingsGemini(t *testing.T) {
	fake := fakeprovider.NewGemini(t, fakeprovider.WithKey("gk"))
	p, err := New(&config.Provider{Name: "gem", Kind: "gemini", BaseURL: fake.Root + "/v1beta", APIKey: "gk", Auth: "x-goog-api-key", Translator: "gemini"}, loadNative, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const m = "gemini-embedding-001"
	status, body := do(t, p, Embeddings, m, embedBody(m, "one text", `,"dimensions":256`), false)
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	checkVectors(t, body, []string{"one text"}, 256)
	if r := fake.Requests(); !strings.HasSuffix(r[0].Path, "/models/gemini-embedding-001:embedContent") || strings.Contains(string(r[0].Body), "taskType") {
		t.Errorf("embedContent: %s %s", r[0].Path, r[0].Body)
	}
	texts := []string{"first text", "second text here", "third"}
	status, body = do(t, p, Embeddings, m, embedBody(m, texts, `,"encoding_format":"base64","task_type":"RETRIEVAL_DOCUMENT"`), false)
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	l := checkVectors(t, body, texts, 3072)
	if l.Usage.PromptTokens == 0 {
		t.Errorf("no estimated usage")
	}
	resp, _ := p.Do(context.Background(), &Request{Endpoint: Embeddings, Model: m, Body: embedBody(m, "x", `,"user":"u-1"`)})
	if resp.Header.Get("X-Sluice-Usage-Estimated") != "prompt_tokens" || resp.Header.Get("X-Sluice-Ignored") != "user" {
		t.Errorf("headers %v", resp.Header)
	}
	if r := fake.Requests(); !strings.HasSuffix(r[1].Path, ":batchEmbedContents") || !strings.Contains(string(r[1].Body), `"taskType":"RETRIEVAL_DOCUMENT"`) {
		t.Errorf("batch: %s %s", r[1].Path, r[1].Body)
	}
	// A count the API gives is used rather than the estimate.
	fake.Enqueue(fakeprovider.Reply{Body: []byte(`{"embedding":{"values":[0.5,-0.25]},"usageMetadata":{"promptTokenCount":7}}`)})
	resp, err = p.Do(context.Background(), &Request{Endpoint: Embeddings, Model: m, Body: embedBody(m, "counted", "")})
	if err != nil || resp.Status != 200 || !strings.Contains(string(resp.Body), `"embedding":[0.5,-0.25]`) || !strings.Contains(string(resp.Body), `"prompt_tokens":7`) ||
		resp.Header.Get("X-Sluice-Usage-Estimated") != "" {
		t.Errorf("counted: %v %s %v", err, resp.Body, resp.Header)
	}
	// What cannot map is refused by name, before any upstream call.
	for _, c := range []struct{ body, param string }{
		{`{"model":"m","input":[[1,2,3]]}`, "input"},
		{`{"model":"m","input":"x","input_type":"search_query"}`, "input_type"},
		{`{"model":"m","input":"x","encoding_format":"int8"}`, "encoding_format"},
		{`{"model":"m","input":"x","truncate":"END"}`, "truncate"},
	} {
		n := fake.Count()
		status, body := do(t, p, Embeddings, m, []byte(c.body), false)
		if status != 400 || !strings.Contains(body, `"param":"`+c.param+`"`) || fake.Count() != n {
			t.Errorf("%s: %d %s", c.body, status, body)
		}
	}
	// A dimension the model cannot produce is the upstream's refusal, relayed.
	if status, body := do(t, p, Embeddings, m, embedBody(m, "x", `,"dimensions":5000`), false); status != 400 || !strings.Contains(body, "between 1 and 3072") {
		t.Errorf("dimensions 5000: %d %s", status, body)
	}
}

func TestEmbeddingsVertex(t *testing.T) {
	fake := fakeprovider.NewVertex(t, fakeprovider.WithVertex("proj-1", "us-central1"))
	p := newVertexProvider(t, fake, "us-central1", writeFile(t, "sa.json", fake.ServiceAccountJSON()))
	texts := []string{"alpha beta", "gamma"}
	status, body := do(t, p, Embeddings, "gemini-embedding-001", embedBody("gemini-embedding-001", texts, `,"dimensions":128`), false)
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	l := checkVectors(t, body, texts, 128)
	if l.Usage.PromptTokens != 3 {
		t.Errorf("usage %+v, want the provider's 3 tokens", l.Usage)
	}
	calls := fake.VertexCalls()
	if len(calls) != 2 || calls[0].Path != "/v1/projects/proj-1/locations/us-central1/publishers/google/models/gemini-embedding-001:predict" {
		t.Errorf("calls %+v", calls)
	}
	status, body = do(t, p, Embeddings, "text-embedding-005", embedBody("text-embedding-005", texts, ""), false)
	if status != 200 || len(fake.VertexCalls()) != 3 {
		t.Fatalf("text-embedding-005 in one call: %d %s", status, body)
	}
	checkVectors(t, body, texts, 768)
}

func TestEmbeddingsBedrock(t *testing.T) {
	awsEnv(t)
	fake := fakeprovider.NewBedrock(t, fakeprovider.WithCredentials("AKIASTATIC", "static-secret"))
	p := newBedrock(t, fake, config.Provider{AccessKeyID: "AKIASTATIC", SecretAccessKey: "static-secret"})
	texts := []string{"one two three", "four five", "six"}
	for _, c := range []struct {
		model, extra string
		dims         int
		check        func(b map[string]any) bool
	}{
		{"amazon.titan-embed-text-v2:0", `,"dimensions":512`, 512, func(b map[string]any) bool { return b["dimensions"] == 512.0 && b["normalize"] == true }},
		{"amazon.titan-embed-text-v1", "", 1536, func(b map[string]any) bool { return len(b) == 1 }},
		{"cohere.embed-english-v3", "", 1024, func(b map[string]any) bool { return b["input_type"] == "search_document" }},
		{"cohere.embed-v4:0", `,"dimensions":256,"input_type":"search_query","encoding_format":"base64"`, 256, func(b map[string]any) bool {
			return b["output_dimension"] == 256.0 && b["input_type"] == "search_query"
		}},
	} {
		fake.ClearRequests()
		status, body := do(t, p, Embeddings, c.model, embedBody(c.model, texts, c.extra), false)
		if status != 200 {
			t.Fatalf("%s: %d %s", c.model, status, body)
		}
		l := checkVectors(t, body, texts, c.dims)
		if l.Usage.PromptTokens != 6 {
			t.Errorf("%s: usage %+v, want Bedrock's count of 6", c.model, l.Usage)
		}
		var b map[string]any
		rs := fake.Requests()
		_ = json.Unmarshal(rs[0].Body, &b)
		if !c.check(b) {
			t.Errorf("%s: body %s", c.model, rs[0].Body)
		}
		if want := map[bool]int{true: 1, false: 3}[strings.HasPrefix(c.model, "cohere")]; len(rs) != want {
			t.Errorf("%s: %d calls, want %d", c.model, len(rs), want)
		}
	}
	for _, c := range []struct{ model, extra, param string }{
		{"amazon.titan-embed-text-v2:0", `,"dimensions":300`, "dimensions"},
		{"amazon.titan-embed-text-v1", `,"dimensions":256`, "dimensions"},
		{"cohere.embed-english-v3", `,"dimensions":256`, "dimensions"},
		{"amazon.titan-embed-text-v2:0", `,"input_type":"search_query"`, "input_type"},
		{"amazon.nova-lite-v1:0", ``, "model"},
	} {
		status, body := do(t, p, Embeddings, c.model, embedBody(c.model, "x", c.extra), false)
		if status != 400 || !strings.Contains(body, `"param":"`+c.param+`"`) {
			t.Errorf("%s %s: %d %s", c.model, c.extra, status, body)
		}
	}
}

// Messages requests to Claude on Vertex go natively: the body as sent, less the model (in the
// URL) and with Vertex's anthropic_version; the beta header goes on; a stream is relayed as
// Anthropic's events.
func TestVertexNativeMessages(t *testing.T) {
	fake := fakeprovider.NewVertex(t, fakeprovider.WithVertex("proj-1", "us-east5"))
	p, err := New(&config.Provider{Name: "vx", Kind: "vertex", BaseURL: fake.Root, Auth: "google", Project: "proj-1", Location: "us-east5",
		CredentialsFile: writeFile(t, "sa.json", fake.ServiceAccountJSON()), Native: []string{"messages"},
		Timeout: config.Duration(10 * time.Second), IdleTimeout: config.Duration(10 * time.Second)}, loadNative, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const model = "claude-sonnet-4-5@20250929"
	if !p.Speaks(Messages, model) || p.Speaks(Messages, "gemini-2.5-flash") || p.Speaks(CountTokens, model) {
		t.Fatal("Speaks: messages for Claude models only")
	}
	h := http.Header{}
	h.Set("Anthropic-Version", "2023-06-01")
	h.Set("Anthropic-Beta", "interleaved-thinking-2025-05-14")
	for _, stream := range []bool{false, true} {
		body := fmt.Sprintf(`{"model":%q,"max_tokens":20,"stream":%v,"system":[{"type":"text","text":"be brief","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"native hello"}]}`, model, stream)
		resp, err := p.DoNative(context.Background(), &NativeRequest{Dialect: Messages, Body: []byte(body), Stream: stream, Model: model, Header: h})
		if err != nil || resp.Status != 200 {
			t.Fatalf("stream=%v: %v %+v", stream, err, resp)
		}
		var got strings.Builder
		if resp.Events != nil {
			var names []string
			for {
				name, data, err := resp.Events.NextEvent()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				names = append(names, name)
				got.Write(data)
			}
			resp.Events.Close()
			if names[0] != "message_start" || names[len(names)-1] != "message_stop" {
				t.Errorf("events %v", names)
			}
		} else {
			got.Write(resp.Body)
		}
		if !strings.Contains(got.String(), "native") || !strings.Contains(got.String(), "hello") {
			t.Errorf("stream=%v: %s", stream, got.String())
		}
		calls := fake.VertexCalls()
		last := calls[len(calls)-1]
		op := map[bool]string{false: ":rawPredict", true: ":streamRawPredict"}[stream]
		if last.Invalid != "" || !strings.HasSuffix(last.Path, "/publishers/anthropic/models/"+model+op) || strings.Contains(string(last.Body), `"model"`) ||
			!strings.Contains(string(last.Body), `"cache_control"`) {
			t.Errorf("stream=%v: %s %s %q", stream, last.Path, last.Body, last.Invalid)
		}
		if rs := fake.Requests(); rs[len(rs)-1].Header.Get("Anthropic-Beta") != "interleaved-thinking-2025-05-14" {
			t.Errorf("beta header not sent on")
		}
	}
	// An error from Vertex's own front comes back in Anthropic's shape.
	q, _ := New(&config.Provider{Name: "vx", Kind: "vertex", BaseURL: fake.Root, Auth: "google", Project: "other-proj", Location: "us-east5",
		CredentialsFile: writeFile(t, "sa2.json", fake.ServiceAccountJSON()), Native: []string{"messages"}}, loadNative, Options{})
	resp, err := q.DoNative(context.Background(), &NativeRequest{Dialect: Messages, Body: []byte(`{"model":"claude-x","max_tokens":5,"messages":[]}`), Model: "claude-x", Header: h})
	if err != nil || resp.Status != 404 || !strings.Contains(string(resp.Body), `"type":"error"`) || !strings.Contains(string(resp.Body), "not_found_error") {
		t.Errorf("front error: %v %d %s", err, resp.Status, resp.Body)
	}
}
