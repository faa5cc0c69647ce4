package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/host/openai"
)

// Vertex AI serves Gemini under publishers/google and Claude under publishers/anthropic of one
// project and location:
//
//	{base}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent
//	{base}/v1/projects/{project}/locations/{location}/publishers/anthropic/models/{model}:rawPredict
//
// The base is https://{location}-aiplatform.googleapis.com, or https://aiplatform.googleapis.com
// for the global location (config.VertexBaseURL). Requests carry an OAuth access token of a
// service account or of the application default credentials.

// vertexScope is the OAuth scope Vertex AI accepts.
const vertexScope = "https://www.googleapis.com/auth/cloud-platform"

// vertexAnthropicVersion is the anthropic_version Vertex wants in the body of Claude requests.
const vertexAnthropicVersion = "vertex-2023-10-16"

// vertex is a Vertex AI provider's own state.
type vertex struct {
	project, location string
	tokens            oauth2.TokenSource
	gemini, anthropic Translator
}

// newVertex sets up a Vertex provider: its token source and both translators.
func (p *Provider) newVertex(pc *config.Provider, load LoadTranslator, rt http.RoundTripper) error {
	if pc.Project == "" {
		p.unavailable = "no project (set project in its table, or GOOGLE_CLOUD_PROJECT)"
		return nil
	}
	v := &vertex{project: pc.Project, location: pc.Location}
	if v.location == "" {
		v.location = "global"
	}
	// Token requests use the provider's transport; the context lives as long as the token
	// source, which refreshes with it.
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: rt, Timeout: 30 * time.Second})
	if pc.CredentialsFile != "" {
		ts, err := googleFileTokens(ctx, pc.CredentialsFile)
		if err != nil {
			p.unavailable = err.Error()
			return nil
		}
		v.tokens = ts
	} else {
		v.tokens = &adcTokens{ctx: ctx}
	}
	if load == nil {
		return fmt.Errorf("provider %s: vertex: no plugin loader", pc.Name)
	}
	var err error
	if v.gemini, err = load("gemini"); err != nil {
		return fmt.Errorf("provider %s: translator: %w", pc.Name, err)
	}
	if v.anthropic, err = load("anthropic"); err != nil {
		return fmt.Errorf("provider %s: translator: %w", pc.Name, err)
	}
	p.vertex = v
	return nil
}

// googleFileTokens reads a credentials file (a service-account key, or any type the Google
// library takes: authorized_user, external_account) into a caching token source.
func googleFileTokens(ctx context.Context, path string) (oauth2.TokenSource, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("vertex: credentials_file: %w", err)
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &head); err != nil || head.Type == "" {
		return nil, fmt.Errorf("vertex: credentials_file %s: not a Google credentials JSON file (no \"type\")", path)
	}
	creds, err := google.CredentialsFromJSONWithType(ctx, b, google.CredentialsType(head.Type), vertexScope)
	if err != nil {
		return nil, fmt.Errorf("vertex: credentials_file %s: %w", path, err)
	}
	return oauth2.ReuseTokenSource(nil, creds.TokenSource), nil
}

// adcTokens finds the application default credentials on first use (finding them may probe
// the GCE metadata server, which should not delay start) and remembers a failure briefly.
type adcTokens struct {
	ctx    context.Context
	mu     sync.Mutex
	ts     oauth2.TokenSource
	err    error
	failAt time.Time
}

func (a *adcTokens) Token() (*oauth2.Token, error) {
	a.mu.Lock()
	if a.ts == nil {
		if a.err == nil || time.Since(a.failAt) >= failRetry {
			creds, err := google.FindDefaultCredentials(a.ctx, vertexScope)
			if err != nil {
				a.err, a.failAt = fmt.Errorf("application default credentials: %w", err), time.Now()
			} else {
				a.ts, a.err = oauth2.ReuseTokenSource(nil, creds.TokenSource), nil
			}
		}
		if a.ts == nil {
			err := a.err
			a.mu.Unlock()
			return nil, err
		}
	}
	ts := a.ts
	a.mu.Unlock()
	return ts.Token()
}

// vertexBearer is the Authorization header value for the next Vertex request.
func (p *Provider) vertexBearer() (string, error) {
	tok, err := p.vertex.tokens.Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return "", fmt.Errorf("vertex: access token: the token endpoint answered %d: %s", re.Response.StatusCode, snippet(re.Body))
		}
		return "", fmt.Errorf("vertex: access token: %w", err)
	}
	return "Bearer " + tok.AccessToken, nil
}

// vertexRoot is the location's resource prefix every Vertex URL starts with.
func (p *Provider) vertexRoot() string {
	v := p.vertex
	return p.BaseURL + "/v1/projects/" + url.PathEscape(v.project) + "/locations/" + url.PathEscape(v.location)
}

// vertexPublisher says which translator and publisher serve a model: Claude models are
// Anthropic's, everything else on the generateContent API is Google's.
func vertexPublisher(model string) string {
	if strings.HasPrefix(model, "claude") {
		return "anthropic"
	}
	return "google"
}

// vertexOpenAI reports a chat request for a partner or open model ("meta/llama-...",
// "mistralai/..."): Vertex serves those on its OpenAI-compatible endpoint
// ({root}/endpoints/openapi/chat/completions), which takes the OpenAI body as it is.
func vertexOpenAI(r *Request) bool {
	return r.Endpoint == ChatCompletions && strings.Contains(r.Model, "/")
}

// doVertex sends one chat attempt to Vertex AI through the translator of the model's publisher.
func (p *Provider) doVertex(ctx context.Context, r *Request) (*Response, error) {
	if r.Endpoint == Embeddings {
		return p.doEmbeddings(ctx, r)
	}
	if vertexPublisher(r.Model) == "anthropic" {
		return p.doTranslatedWith(ctx, r, p.vertex.anthropic, func(call *upstreamCall) (string, error) {
			return p.vertexClaudeCall(call, r)
		})
	}
	return p.doTranslatedWith(ctx, r, p.vertex.gemini, func(call *upstreamCall) (string, error) {
		// The translator addresses /models/{model}:{method}, as the Gemini API lays it out.
		if !strings.HasPrefix(call.Path, "/models/") || strings.ContainsAny(call.Path, "?#@\\") {
			return "", fmt.Errorf("vertex: unexpected gemini path %q", call.Path)
		}
		u := p.vertexRoot() + "/publishers/google" + call.Path
		if q := strings.TrimPrefix(call.Query, "?"); q != "" {
			if strings.Contains(q, "#") {
				return "", fmt.Errorf("vertex: returned query %q carries a fragment", q)
			}
			u += "?" + q
		}
		return u, nil
	})
}

// vertexClaudeCall rewrites an Anthropic Messages call for Vertex: the model moves into the
// URL (rawPredict, or streamRawPredict for a stream), the API version into the body.
func (p *Provider) vertexClaudeCall(call *upstreamCall, r *Request) (string, error) {
	if call.Path != "/v1/messages" {
		return "", fmt.Errorf("vertex: unexpected anthropic path %q", call.Path)
	}
	req, err := openai.ParseRequest(call.Body)
	if err != nil {
		return "", fmt.Errorf("vertex: anthropic body: %w", err)
	}
	req, err = openai.ParseRequest(req.Delete("model"))
	if err != nil {
		return "", fmt.Errorf("vertex: anthropic body: %w", err)
	}
	call.Body = req.With(openai.Edit{Key: "anthropic_version", Raw: []byte(`"` + vertexAnthropicVersion + `"`)})
	// The version travels in the body; anthropic-beta stays a header, as Vertex takes it.
	for k := range call.Headers {
		if strings.EqualFold(k, "anthropic-version") {
			delete(call.Headers, k)
		}
	}
	op := ":rawPredict"
	if r.Stream {
		op = ":streamRawPredict"
	}
	return p.vertexRoot() + "/publishers/anthropic/models/" + url.PathEscape(r.Model) + op, nil
}

// doVertexMessages sends a Messages request to Claude on Vertex as it came, but for what Vertex
// moves: the model into the URL, the version into the body (anthropic-beta stays a header). A
// stream is Anthropic's own SSE; an error not in Anthropic's shape (Google's front answers
// auth and quota errors itself) is turned into one.
func (p *Provider) doVertexMessages(ctx context.Context, r *NativeRequest) (*Response, error) {
	if r.Dialect != Messages || (r.Method != "" && r.Method != http.MethodPost) || r.Path != "" {
		return nil, p.fail(FailTranslate, "vertex: only message creation is served natively")
	}
	call := &upstreamCall{Path: "/v1/messages", Body: r.Body}
	u, err := p.vertexClaudeCall(call, &Request{Model: r.Model, Stream: r.Stream})
	if err != nil {
		return nil, p.fail(FailTranslate, "%w", err)
	}
	h := r.Header.Clone()
	h.Del("Anthropic-Version")
	req, err := p.newRequest(ctx, http.MethodPost, u, call.Body, &Request{Stream: r.Stream, Header: h})
	if err != nil {
		return nil, err
	}
	resp, err := p.send(req, r.Stream)
	if err != nil {
		return nil, err
	}
	out := &Response{Status: resp.StatusCode, Header: relayHeaders(resp.Header)}
	if resp.StatusCode/100 == 2 && r.Stream && isEventStream(resp.Header) {
		out.Events = newNativeStream(p, resp.Body, p.IdleTimeout)
		return out, nil
	}
	b, err := readAll(p, resp.Body, resp.ContentLength)
	if err != nil {
		return nil, err
	}
	out.Body = b
	var shape struct {
		Type string `json:"type"`
	}
	if resp.StatusCode >= 400 && (json.Unmarshal(b, &shape) != nil || shape.Type != "error") {
		out.Body = anthropicError(resp.StatusCode, "vertex: "+upstreamErrorMessage(b), b)
	}
	return out, nil
}
