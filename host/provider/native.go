package provider

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sluice-gw/sluice/host/sse"
)

// Inbound dialects that an upstream may speak natively. A request in a dialect the chosen
// provider speaks goes through whole (only the model rewritten); any other is bridged through
// chat completions.
const (
	// Responses is OpenAI's Responses API (POST /responses).
	Responses = "responses"
	// Messages is Anthropic's Messages API (POST /v1/messages).
	Messages = "messages"
	// CountTokens is Anthropic's POST /v1/messages/count_tokens.
	CountTokens = "messages.count_tokens"
)

// Speaks reports whether the provider serves the dialect natively for this model. Bedrock
// speaks the Messages API only for Anthropic's models (InvokeModel takes their Messages body)
// and has no count_tokens of that shape.
func (p *Provider) Speaks(dialect, model string) bool {
	if p.Kind == "bedrock" {
		return dialect == Messages && slices.Contains(p.native, Messages) && strings.Contains(model, "anthropic.claude")
	}
	if p.Kind == "vertex" {
		return dialect == Messages && slices.Contains(p.native, Messages) && vertexPublisher(model) == "anthropic"
	}
	if dialect == CountTokens {
		dialect = Messages
	}
	return slices.Contains(p.native, dialect)
}

// NativeModel is the model name a native body carries for this provider: Azure names its
// deployments there, everyone else the model.
func (p *Provider) NativeModel(model string) string {
	if d, ok := p.deployments[model]; ok && p.Kind == "azure" {
		return d
	}
	return model
}

// NativeRequest is one attempt in the client's own dialect.
type NativeRequest struct {
	Dialect   string
	Method    string // POST when empty
	Path      string // below the dialect's root, e.g. "/resp_123/cancel" for Responses; "" for create
	Body      []byte // the client's body, model already rewritten; nil for GET/DELETE
	Stream    bool
	Model     string // the upstream model (Bedrock puts it in the path)
	RequestID string
	// Header carries client headers that belong to the dialect (anthropic-version,
	// anthropic-beta) and the trace context.
	Header    http.Header
	ClientKey string
}

// nativeURL is where a dialect's operation lives on this provider.
func (p *Provider) nativeURL(r *NativeRequest) string {
	if p.Kind == "bedrock" {
		op := "/invoke"
		if r.Stream {
			op = "/invoke-with-response-stream"
		}
		return p.BaseURL + "/model/" + url.PathEscape(r.Model) + op
	}
	switch r.Dialect {
	case Messages:
		return p.BaseURL + "/v1/messages" + r.Path
	case CountTokens:
		return p.BaseURL + "/v1/messages/count_tokens"
	}
	u := p.BaseURL + "/responses" + r.Path
	if p.Kind == "azure" {
		u += "?api-version=" + url.QueryEscape(p.apiVersion)
	}
	return u
}

// anthropicVersion is sent when neither the client nor the provider's api_version names one:
// the version every Messages client still accepts.
const anthropicVersion = "2023-06-01"

// DoNative sends one attempt in the client's dialect. A 2xx event stream comes back as Events,
// relayed as the upstream framed it; anything else as a whole Body, in the upstream's own shape.
func (p *Provider) DoNative(ctx context.Context, r *NativeRequest) (*Response, error) {
	if p.unavailable != "" && r.ClientKey == "" {
		return nil, p.fail(FailUnavailable, "%s", p.unavailable)
	}
	if !p.Speaks(r.Dialect, r.Model) {
		return nil, p.fail(FailTranslate, "provider does not speak the %s API for %s", r.Dialect, r.Model)
	}
	if p.Kind == "bedrock" {
		return p.doBedrockMessages(ctx, r)
	}
	if p.vertex != nil {
		return p.doVertexMessages(ctx, r)
	}
	method := r.Method
	if method == "" {
		method = http.MethodPost
	}
	req, err := p.newRequest(ctx, method, p.nativeURL(r), r.Body, &Request{Stream: r.Stream, Header: r.Header, ClientKey: r.ClientKey})
	if err != nil {
		return nil, err
	}
	if r.Body == nil {
		req.Header.Del("Content-Type")
	}
	if r.Dialect == Messages || r.Dialect == CountTokens {
		if req.Header.Get("Anthropic-Version") == "" {
			v := p.apiVersion
			if v == "" {
				v = anthropicVersion
			}
			req.Header.Set("Anthropic-Version", v)
		}
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
	return out, nil
}

// EventStream yields a native stream's events as the upstream named them. NextEvent returns
// io.EOF after the last event; any other error means the stream broke.
type EventStream interface {
	NextEvent() (name string, data []byte, err error)
	Close() error
}

// nativeStream relays SSE events without looking inside them: the gateway reads only what
// usage needs.
type nativeStream struct {
	p    *Provider
	body *idleReader
	r    *sse.Reader
}

func newNativeStream(p *Provider, body io.ReadCloser, idle time.Duration) *nativeStream {
	ir := newIdleReader(body, idle)
	return &nativeStream{p: p, body: ir, r: sse.NewReader(ir)}
}

func (s *nativeStream) NextEvent() (string, []byte, error) {
	for {
		ev, err := s.r.Next()
		if err == io.EOF {
			return "", nil, io.EOF
		}
		if err != nil {
			return "", nil, s.p.streamErr(err)
		}
		if len(ev.Data) == 0 && ev.Name == "" {
			continue
		}
		return ev.Name, ev.Data, nil
	}
}

func (s *nativeStream) Close() error { return s.body.Close() }
