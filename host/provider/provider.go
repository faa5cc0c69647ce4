package provider

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/host/openai"
	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// Translator converts between the OpenAI wire format and a provider's. The envelopes are the
// plugin ABI's translate_* hooks (sdk/ABI.md).
type Translator interface {
	Name() string
	TranslateRequest(ctx context.Context, in []byte) ([]byte, error)
	TranslateResponse(ctx context.Context, in []byte) ([]byte, error)
	TranslateChunk(ctx context.Context, in []byte) ([]byte, error)
}

// Endpoint names an OpenAI API operation.
const (
	ChatCompletions = "chat.completions"
	Completions     = "completions"
	Embeddings      = "embeddings"
)

var endpointPath = map[string]string{
	ChatCompletions: "/chat/completions",
	Completions:     "/completions",
	Embeddings:      "/embeddings",
}

// Provider is one upstream endpoint, ready to send.
type Provider struct {
	Name        string
	Kind        string
	BaseURL     string
	Models      []string
	Timeout     time.Duration
	IdleTimeout time.Duration
	BYOK        bool

	auth    string
	apiKey  string
	headers map[string]string
	fixed   fixedHeaders
	options []byte // provider options as JSON, for the translator envelope
	// keepExtensions (option keep_extensions = true) sends the gateway's chat extension
	// members (cache_control, reasoning_signature) to an OpenAI-compatible upstream that
	// honours them, such as OpenRouter; by default they are removed (openai.StripChatExtensions).
	keepExtensions bool
	translator     Translator
	client         *http.Client
	unavailable    string // why requests cannot be sent (missing credentials), or ""

	region      string
	creds       aws.Credentials
	signer      *v4.Signer
	awsChain    aws.CredentialsProvider // the SDK's default chain, when no static keys are set
	apiVersion  string
	deployments map[string]string
	native      []string // dialects served natively (Responses, Messages)
	vertex      *vertex  // Vertex AI's project, location, tokens and translators
}

// Options are process-wide settings shared by every provider.
type Options struct {
	// Transport replaces the HTTP transport (tests, the demo provider).
	Transport http.RoundTripper
}

// LoadTranslator returns the named translator plugin.
type LoadTranslator func(name string) (Translator, error)

// New builds a provider from its configuration. The provider's translator, if it has one, is
// loaded only when the provider has what it needs to serve: an unconfigured provider costs no
// plugin compile at start.
func New(pc *config.Provider, load LoadTranslator, opts Options) (*Provider, error) {
	p := &Provider{
		Name: pc.Name, Kind: pc.Kind, BaseURL: pc.BaseURL, Models: pc.Models,
		Timeout: pc.Timeout.D(), IdleTimeout: pc.IdleTimeout.D(), BYOK: pc.BYOK,
		auth: pc.Auth, apiKey: pc.APIKey, headers: pc.Headers,
		region: pc.Region, apiVersion: pc.APIVersion, deployments: pc.Deployments,
		native: pc.Native,
	}
	opt, err := jsonOptions(pc.Options)
	if err != nil {
		return nil, fmt.Errorf("provider %s: options: %w", pc.Name, err)
	}
	p.options = opt
	p.fixHeaders()
	p.keepExtensions, _ = pc.Options["keep_extensions"].(bool)
	rt := opts.Transport
	if rt == nil {
		rt = newTransport()
	}
	p.client = &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	switch {
	case pc.Kind == "demo":
	case p.BaseURL == "":
		p.unavailable = fmt.Sprintf("no base_url (set %s_BASE_URL)", strings.ToUpper(p.Name))
	case pc.Kind == "vertex":
		if err := p.newVertex(pc, load, rt); err != nil {
			return nil, err
		}
	case p.auth == "sigv4":
		p.signer = v4.NewSigner()
		p.creds = aws.Credentials{AccessKeyID: pc.AccessKeyID, SecretAccessKey: pc.SecretAccessKey, SessionToken: pc.SessionToken}
		if pc.AccessKeyID != "" && pc.SecretAccessKey != "" && pc.Credentials != "chain" {
			break
		}
		chain, visible, err := awsChain(pc)
		switch {
		case err != nil:
			p.unavailable = err.Error()
		case !visible:
			p.unavailable = "no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, web identity or container credentials; with an EC2 instance profile alone set credentials = \"chain\")"
		}
		p.awsChain = chain
	case p.auth != "none" && p.apiKey == "" && !p.BYOK && config.Kinds[pc.Kind].NeedsKey:
		env := pc.KeyEnv
		if env == "" {
			env = "api_key in its [providers." + p.Name + "] table"
		}
		p.unavailable = fmt.Sprintf("no API key (set %s)", env)
	}
	if pc.Translator != "" && p.unavailable == "" {
		if load == nil {
			return nil, fmt.Errorf("provider %s: translator %q: no plugin loader", pc.Name, pc.Translator)
		}
		t, err := load(pc.Translator)
		if err != nil {
			return nil, fmt.Errorf("provider %s: translator: %w", pc.Name, err)
		}
		p.translator = t
	}
	return p, nil
}

// Unavailable says why the provider cannot serve, or "" when it can.
func (p *Provider) Unavailable() string { return p.unavailable }

// Translator returns the provider's translator, or nil.
func (p *Provider) Translator() Translator { return p.translator }

// CloseIdle drops pooled connections (on config reload).
func (p *Provider) CloseIdle() { p.client.CloseIdleConnections() }

// newTransport is the shared upstream transport. It has no ResponseHeaderTimeout: the bound
// on response headers depends on the call (see roundTrip) and is applied per request.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        2048,
		MaxIdleConnsPerHost: 512,
		// Below the 60 s idle timeout common at upstreams' load balancers: a request written
		// on a connection the upstream is just closing fails after it was sent and so is not
		// retried (see docs/decisions.md, no double billing); dropping idle connections first
		// keeps that race rare.
		IdleConnTimeout:       50 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		ReadBufferSize:        32 << 10,
		WriteBufferSize:       32 << 10,
	}
}

// Request is one upstream attempt.
type Request struct {
	Endpoint  string
	Model     string // upstream model, provider prefix stripped
	Body      []byte // OpenAI-shaped, model already set to Model
	Stream    bool
	RequestID string
	Header    http.Header // extra headers to send (trace context)
	ClientKey string      // a client's own provider key (bring-your-own-key), when allowed
	// BridgedReasoning: the body was bridged from another API, so reasoning_content on its
	// assistant turns is the bridge's, for translators; a plain chat server does not get it.
	BridgedReasoning bool
}

// Response is an upstream answer in OpenAI shape.
type Response struct {
	Status int
	Header http.Header // upstream headers worth relaying
	Body   []byte      // the whole body when not streaming (or on error)
	Stream Stream      // chunk reader when streaming and Status is 2xx
	Events EventStream // a native attempt's event reader when streaming and Status is 2xx
}

// Stream yields OpenAI chat.completion.chunk JSON objects. Next returns io.EOF after the last
// chunk (the upstream's [DONE] or the translator's end); any other error means the stream broke.
type Stream interface {
	Next() ([]byte, error)
	Close() error
}

// FailKind classifies why an attempt failed, for failover and health.
type FailKind int

// Failure kinds.
const (
	FailConnect FailKind = iota + 1
	FailTimeout
	FailBroken
	FailTranslate
	FailUnavailable
	// FailCredentials: the provider takes the caller's own key and none was sent.
	FailCredentials
)

// AttemptError is a failure before a usable response arrived.
type AttemptError struct {
	Provider string
	Kind     FailKind
	// Sent is true when the whole request reached the upstream (it was written, or an answer
	// began): the upstream may have started, and may bill, the work. A failure with Sent false
	// (refused connection, reset while writing) certainly did not start anything.
	Sent bool
	Err  error
}

func (e *AttemptError) Error() string { return fmt.Sprintf("provider %s: %v", e.Provider, e.Err) }
func (e *AttemptError) Unwrap() error { return e.Err }

// Retryable reports whether the next target should be tried.
func (e *AttemptError) Retryable() bool {
	return e.Kind == FailConnect || e.Kind == FailTimeout || e.Kind == FailBroken
}

func (p *Provider) fail(kind FailKind, format string, args ...any) *AttemptError {
	return &AttemptError{Provider: p.Name, Kind: kind, Err: fmt.Errorf(format, args...)}
}

// failSent is fail for a failure after the request reached the upstream.
func (p *Provider) failSent(kind FailKind, format string, args ...any) *AttemptError {
	e := p.fail(kind, format, args...)
	e.Sent = true
	return e
}

// Do sends one attempt. The context bounds the whole attempt including a stream; cancel it to
// abandon the upstream call.
func (p *Provider) Do(ctx context.Context, r *Request) (*Response, error) {
	if p.unavailable != "" && r.ClientKey == "" {
		return nil, p.fail(FailUnavailable, "%s", p.unavailable)
	}
	if p.BYOK && p.apiKey == "" && r.ClientKey == "" && p.auth != "none" && p.auth != "sigv4" {
		return nil, p.fail(FailCredentials, "this provider takes the caller's own key: send it in x-sluice-provider-key")
	}
	if p.vertex != nil && !vertexOpenAI(r) {
		return p.doVertex(ctx, r)
	}
	if r.Endpoint == Embeddings && (p.Kind == "gemini" || p.Kind == "bedrock") {
		return p.doEmbeddings(ctx, r)
	}
	if p.translator != nil {
		return p.doTranslated(ctx, r)
	}
	path, ok := endpointPath[r.Endpoint]
	if !ok {
		return nil, p.fail(FailTranslate, "endpoint %s is not supported", r.Endpoint)
	}
	u := p.BaseURL + path
	if p.vertex != nil {
		u = p.vertexRoot() + "/endpoints/openapi" + path
	}
	body := r.Body
	if r.Endpoint == ChatCompletions {
		// keep_extensions keeps a chat client's own members; a bridge's reasoning never goes.
		body = openai.StripChatExtensions(body, openai.Strip{
			CacheControl: !p.keepExtensions, Signatures: !p.keepExtensions || r.BridgedReasoning, Reasoning: r.BridgedReasoning,
		})
	}
	if p.Kind == "azure" {
		dep := r.Model
		if d, ok := p.deployments[r.Model]; ok {
			dep = d
		}
		u = p.BaseURL + "/deployments/" + url.PathEscape(dep) + path + "?api-version=" + url.QueryEscape(p.apiVersion)
	}
	req, err := p.newRequest(ctx, http.MethodPost, u, body, r)
	if err != nil {
		return nil, err
	}
	resp, err := p.send(req, r.Stream)
	if err != nil {
		return nil, err
	}
	out := &Response{Status: resp.StatusCode, Header: relayHeaders(resp.Header)}
	if resp.StatusCode/100 == 2 && r.Stream && isEventStream(resp.Header) {
		out.Stream = newOpenAIStream(p, resp.Body, p.IdleTimeout)
		return out, nil
	}
	b, err := readAll(p, resp.Body, resp.ContentLength)
	if err != nil {
		return nil, err
	}
	out.Body = b
	if resp.StatusCode >= 400 && !looksLikeOpenAIError(b) {
		out.Body = (&openai.Error{Status: resp.StatusCode, Type: openai.TypeFor(resp.StatusCode), Code: openai.CodeUpstreamError,
			Message: fmt.Sprintf("provider %s answered %d: %s", p.Name, resp.StatusCode, snippet(b))}).Body()
	}
	return out, nil
}

func (p *Provider) newRequest(ctx context.Context, method, u string, body []byte, r *Request) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, p.fail(FailTranslate, "building request: %w", err)
	}
	h := req.Header
	p.setFixed(h, r.Stream)
	for k, vs := range r.Header {
		h[k] = vs
	}
	authed := p.setFixedAuth(h, r.ClientKey != "")
	key := p.apiKey
	if r.ClientKey != "" {
		key = r.ClientKey
	}
	switch {
	case authed:
		// The provider's own key, set with the fixed headers.
	case p.auth == "bearer":
		if key != "" {
			h.Set("Authorization", "Bearer "+key)
		}
	case p.auth == "x-api-key":
		h.Set("x-api-key", key)
	case p.auth == "api-key":
		h.Set("api-key", key)
	case p.auth == "x-goog-api-key":
		h.Set("x-goog-api-key", key)
	case p.auth == "google":
		if p.vertex != nil {
			bearer, err := p.vertexBearer()
			if err != nil {
				return nil, p.fail(FailUnavailable, "%w", err)
			}
			h.Set("Authorization", bearer)
		}
	case p.auth == "sigv4":
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:])
		h.Set("X-Amz-Content-Sha256", hash)
		creds, err := p.awsCredentials(ctx)
		if err != nil {
			return nil, p.fail(FailUnavailable, "%w", err)
		}
		if err := p.signer.SignHTTP(ctx, creds, req, hash, "bedrock", p.region, time.Now()); err != nil {
			return nil, p.fail(FailTranslate, "signing request: %w", err)
		}
	}
	return req, nil
}

// send sends one upstream request. A stream's response headers are bounded by the idle
// timeout; a non-streamed call's only by its context (the request's total timeout), since
// its headers come with the finished answer.
func (p *Provider) send(req *http.Request, stream bool) (*http.Response, error) {
	var headerTimeout time.Duration
	if stream {
		headerTimeout = p.IdleTimeout
	}
	resp, wrote, err := roundTrip(p.client.Do, req, headerTimeout)
	if err != nil {
		var ne net.Error
		var e *AttemptError
		switch {
		case isHeaderTimeout(err):
			e = p.fail(FailTimeout, "no response headers within the stream idle timeout (%s): %w", p.IdleTimeout, context.DeadlineExceeded)
		case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
			e = p.fail(FailTimeout, "no response: %w", err)
		case errors.Is(err, context.Canceled):
			e = &AttemptError{Provider: p.Name, Kind: FailConnect, Err: err}
		default:
			e = p.fail(FailConnect, "%w", err)
		}
		e.Sent = wrote
		return nil, e
	}
	return resp, nil
}

// maxResponse bounds a non-streamed upstream body.
const maxResponse = 64 << 20

func readAll(p *Provider, body io.ReadCloser, size int64) ([]byte, error) {
	defer body.Close()
	b, err := openai.ReadBody(body, size, maxResponse)
	if err != nil {
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			return nil, p.failSent(FailTimeout, "reading response: %w", err)
		}
		return nil, p.failSent(FailBroken, "reading response: %w", err)
	}
	if len(b) > maxResponse {
		return nil, p.failSent(FailBroken, "response larger than %d bytes", maxResponse)
	}
	return b, nil
}

func isEventStream(h http.Header) bool {
	return strings.HasPrefix(h.Get("Content-Type"), "text/event-stream")
}

// relayed are the upstream headers the gateway uses: the provider's request id (OpenAI,
// Anthropic, Bedrock spell it differently) and Retry-After. The upstream's own x-ratelimit-*
// headers are not relayed: the client sees sluice's limits, not one provider key's.
var relayed = []string{"X-Request-Id", "Request-Id", "X-Amzn-Requestid", "Retry-After"}

// relayHeaders keeps the upstream headers a client or the balancer may use.
func relayHeaders(h http.Header) http.Header {
	out := make(http.Header, 2)
	for _, k := range relayed {
		if v := h.Get(k); v != "" {
			out.Set(k, v)
		}
	}
	return out
}

// looksLikeOpenAIError reports an upstream error body that can be relayed as it is: valid JSON
// with an error message. Anything else is wrapped, so a client never gets broken JSON.
func looksLikeOpenAIError(b []byte) bool {
	t := bytes.TrimSpace(b)
	return bytes.HasPrefix(t, []byte(`{`)) && bytes.Contains(t, []byte(`"error"`)) && bytes.Contains(t, []byte(`"message"`)) && jsonx.Valid(t)
}

// snippetMax bounds how much of an upstream body an error message quotes.
const snippetMax = 200

// snippet is the start of an upstream body for an error message: cut at a rune boundary and
// with invalid UTF-8 replaced, so the message stays text (the error body escapes it for JSON).
func snippet(b []byte) string {
	t := bytes.TrimSpace(b)
	cut := len(t) > snippetMax
	if cut {
		n := snippetMax
		// Step back over continuation bytes so a multi-byte rune is not split.
		for n > 0 && n > snippetMax-utf8.UTFMax && !utf8.RuneStart(t[n]) {
			n--
		}
		t = t[:n]
	}
	s := strings.ToValidUTF8(string(t), "\uFFFD")
	if cut {
		s += "..."
	}
	return s
}

// Authorize sets the provider's credentials on a raw request (passthrough). SigV4 signs the
// body as it is.
func (p *Provider) Authorize(r *http.Request) {
	switch p.auth {
	case "bearer":
		if p.apiKey != "" {
			r.Header.Set("Authorization", "Bearer "+p.apiKey)
		}
	case "x-api-key":
		r.Header.Set("x-api-key", p.apiKey)
	case "api-key":
		r.Header.Set("api-key", p.apiKey)
	case "x-goog-api-key":
		r.Header.Set("x-goog-api-key", p.apiKey)
	case "google":
		if p.vertex != nil {
			if bearer, err := p.vertexBearer(); err == nil {
				r.Header.Set("Authorization", bearer)
			}
		}
	case "sigv4":
		var body []byte
		if r.Body != nil && r.GetBody != nil {
			if rc, err := r.GetBody(); err == nil {
				body, _ = io.ReadAll(rc)
				rc.Close()
			}
		}
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:])
		r.Header.Set("X-Amz-Content-Sha256", hash)
		if creds, err := p.awsCredentials(r.Context()); err == nil {
			_ = p.signer.SignHTTP(r.Context(), creds, r, hash, "bedrock", p.region, time.Now())
		}
	}
	for k, v := range p.headers {
		r.Header.Set(k, v)
	}
}

// Transport is the provider's HTTP transport, for passthrough. Response headers are bounded
// by the provider's timeout: a passthrough call has no router timeout of its own.
func (p *Provider) Transport() http.RoundTripper {
	return headerBound{rt: p.client.Transport, d: p.Timeout}
}

// headerBound bounds the wait for response headers of each request it sends.
type headerBound struct {
	rt http.RoundTripper
	d  time.Duration
}

func (h headerBound) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, _, err := roundTrip(h.rt.RoundTrip, req, h.d)
	return resp, err
}
