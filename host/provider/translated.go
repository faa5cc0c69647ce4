package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/sluice-gw/sluice/host/plugin/envelope"
	"github.com/sluice-gw/sluice/host/sse"
)

// upstreamCall is a translator's translate_request output.
type upstreamCall struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Query   string            `json:"query"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
	// Ignored names the client's parameters the translator left out (hints the provider has
	// no slot for); they are reported in the X-Sluice-Ignored response header.
	Ignored []string `json:"ignored"`
}

// IgnoredHeader is the response header naming the client parameters a translator did not send
// on, comma-separated.
const IgnoredHeader = "X-Sluice-Ignored"

// withIgnored adds the translator's ignored list to the response headers.
func withIgnored(h http.Header, ignored []string) http.Header {
	if len(ignored) > 0 {
		h.Add(IgnoredHeader, strings.Join(ignored, ","))
	}
	return h
}

type translatedResponse struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// envelopeHead is what every translator envelope of r starts with.
func envelopeHead(r *Request) *envelope.Head {
	return &envelope.Head{Endpoint: r.Endpoint, Model: r.Model, RequestID: r.RequestID, Now: time.Now().Unix()}
}

func (p *Provider) doTranslated(ctx context.Context, r *Request) (*Response, error) {
	return p.doTranslatedWith(ctx, r, p.translator, nil)
}

// routeCall turns a translator's upstream call into the URL to send it to, adjusting the call
// where the upstream differs from the translator's provider (Vertex AI); nil means
// translatedURL.
type routeCall func(call *upstreamCall) (string, error)

func (p *Provider) doTranslatedWith(ctx context.Context, r *Request, t Translator, route routeCall) (*Response, error) {
	out, err := t.TranslateRequest(ctx, p.requestEnvelope(r))
	if err != nil {
		return nil, err // a plugin error: the caller turns it into a client error naming the plugin
	}
	var call upstreamCall
	if err := json.Unmarshal(out, &call); err != nil {
		return nil, p.fail(FailTranslate, "translator %s: translate_request returned invalid JSON: %w", t.Name(), err)
	}
	if call.Method == "" {
		call.Method = http.MethodPost
	}
	var u string
	if route != nil {
		u, err = route(&call)
	} else {
		u, err = p.translatedURL(call.Path, call.Query)
	}
	if err != nil {
		return nil, p.fail(FailTranslate, "translator %s: %w", t.Name(), err)
	}
	req, err := p.newRequest(ctx, call.Method, u, call.Body, &Request{Stream: r.Stream, Header: mergeHeaders(r.Header, call.Headers), ClientKey: r.ClientKey})
	if err != nil {
		return nil, err
	}
	resp, err := p.send(req, r.Stream)
	if err != nil {
		return nil, err
	}
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode/100 == 2 && r.Stream {
		switch {
		case strings.HasPrefix(ct, "application/vnd.amazon.eventstream"):
			return &Response{Status: resp.StatusCode, Header: withIgnored(relayHeaders(resp.Header), call.Ignored), Stream: newTranslatedStream(ctx, p, t, r, resp.Body, true)}, nil
		case strings.HasPrefix(ct, "text/event-stream"):
			return &Response{Status: resp.StatusCode, Header: withIgnored(relayHeaders(resp.Header), call.Ignored), Stream: newTranslatedStream(ctx, p, t, r, resp.Body, false)}, nil
		}
	}
	body, err := readAll(p, resp.Body, resp.ContentLength)
	if err != nil {
		return nil, err
	}
	env := envelope.TranslateResponse(make([]byte, 0, len(body)+160), envelopeHead(r), resp.StatusCode, body)
	tout, err := t.TranslateResponse(ctx, env)
	if err != nil {
		return nil, err
	}
	var tr translatedResponse
	if err := json.Unmarshal(tout, &tr); err != nil {
		return nil, p.fail(FailTranslate, "translator %s: translate_response returned invalid JSON: %w", t.Name(), err)
	}
	if tr.Status == 0 {
		tr.Status = resp.StatusCode
	}
	return &Response{Status: tr.Status, Header: withIgnored(relayHeaders(resp.Header), call.Ignored), Body: tr.Body}, nil
}

// requestEnvelope is the translate_request input for r.
func (p *Provider) requestEnvelope(r *Request) []byte {
	return envelope.TranslateRequest(make([]byte, 0, len(r.Body)+256), envelopeHead(r), r.Stream, p.Name, p.options, r.Body)
}

// translatedURL joins a translator's path and query to the provider's base URL. The path must
// be a path (starting with "/", no scheme, host, user info or fragment) and the result must
// keep the base URL's host: a translator must never send the provider's key elsewhere
// ("@other.host/x" appended to "https://api.example.com" would).
func (p *Provider) translatedURL(path, query string) (string, error) {
	if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") || strings.ContainsAny(path, "@#?\\") || strings.Contains(path, "://") {
		return "", fmt.Errorf("returned path %q: a path must start with a single \"/\" and carry no host, user info, query or fragment", path)
	}
	u := p.BaseURL + path
	if query = strings.TrimPrefix(query, "?"); query != "" {
		if strings.ContainsAny(query, "#") {
			return "", fmt.Errorf("returned query %q carries a fragment", query)
		}
		u += "?" + query
	}
	base, err := url.Parse(p.BaseURL)
	if err != nil {
		return "", fmt.Errorf("base url: %w", err)
	}
	got, err := url.Parse(u)
	if err != nil {
		return "", fmt.Errorf("returned path %q: %w", path, err)
	}
	if got.Scheme != base.Scheme || got.Host != base.Host || got.User != nil {
		return "", fmt.Errorf("returned path %q leaves the provider's host %s", path, base.Host)
	}
	return u, nil
}

func mergeHeaders(h http.Header, extra map[string]string) http.Header {
	out := h.Clone()
	if out == nil {
		out = http.Header{}
	}
	for k, v := range extra {
		out.Set(k, v)
	}
	return out
}

type chunkResult struct {
	State  json.RawMessage   `json:"state"`
	Chunks []json.RawMessage `json:"chunks"`
	Done   bool              `json:"done"`
	Error  *struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    string `json:"code"`
	} `json:"error"`
}

// translatedStream reads provider events (SSE or AWS event-stream), hands them to the
// translator in batches with the per-stream state, and yields the OpenAI chunks it returns.
type translatedStream struct {
	ctx     context.Context
	p       *Provider
	t       Translator
	r       *Request
	body    *idleReader
	sse     *sse.Reader
	es      *eventstream.Decoder
	esBuf   []byte
	state   json.RawMessage
	pending [][]byte
	ended   bool // upstream closed
	done    bool // translator said done
	env     []byte
}

func newTranslatedStream(ctx context.Context, p *Provider, t Translator, r *Request, body io.ReadCloser, binary bool) *translatedStream {
	ir := newIdleReader(body, p.IdleTimeout)
	s := &translatedStream{ctx: ctx, p: p, t: t, r: r, body: ir, state: json.RawMessage("null")}
	if binary {
		s.es = eventstream.NewDecoder()
	} else {
		s.sse = sse.NewReader(ir)
	}
	return s
}

// readEvent returns the next upstream event as (name, JSON data).
func (s *translatedStream) readEvent() (string, []byte, error) {
	if s.es != nil {
		msg, err := s.es.Decode(s.body, s.esBuf)
		if err != nil {
			return "", nil, err
		}
		s.esBuf = msg.Payload[:0]
		name := ""
		kind := ""
		for _, h := range msg.Headers {
			switch h.Name {
			case ":event-type":
				name = h.Value.String()
			case ":exception-type":
				name = h.Value.String()
				kind = "exception"
			case ":message-type":
				if v := h.Value.String(); v == "exception" || v == "error" {
					kind = "exception"
				}
			}
		}
		if kind == "exception" && name == "" {
			name = "exception"
		}
		return name, msg.Payload, nil
	}
	ev, err := s.sse.Next()
	if err != nil {
		return "", nil, err
	}
	return ev.Name, ev.Data, nil
}

// maxBatch and maxBatchBytes bound one translate_chunk call: events already buffered join the
// batch until either is reached, so a fast upstream cannot grow one envelope without limit.
const (
	maxBatch      = 16
	maxBatchBytes = 1 << 20
)

func (s *translatedStream) Next() ([]byte, error) {
	for len(s.pending) == 0 {
		if s.done {
			return nil, io.EOF
		}
		if s.ended {
			return nil, s.p.failSent(FailBroken, "stream ended before the provider finished its answer")
		}
		if err := s.fill(); err != nil {
			return nil, err
		}
	}
	c := s.pending[0]
	s.pending = s.pending[1:]
	return c, nil
}

// fill reads one event (and any more already buffered, up to maxBatch) and translates them in
// one call, so a burst of small events costs one plugin call.
func (s *translatedStream) fill() error {
	var ch envelope.Chunk
	ch.Begin(s.env[:0], envelopeHead(s.r), s.state)
	for ch.Events() < maxBatch && ch.Len() < maxBatchBytes {
		name, data, err := s.readEvent()
		if err == io.EOF && ch.Events() == 0 {
			// The upstream closed cleanly: tell the translator (Gemini has no terminal event).
			s.ended = true
			ch.End()
			break
		}
		if err != nil {
			if err == io.EOF {
				break
			}
			return s.p.streamErr(err)
		}
		if len(bytes.TrimSpace(data)) == 0 || bytes.Equal(data, doneData) {
			if ch.Events() == 0 {
				continue
			}
			break
		}
		ch.Event(name, data)
		if !s.buffered() {
			break
		}
	}
	env := ch.Bytes()
	s.env = env
	out, err := s.t.TranslateChunk(s.ctx, env)
	if err != nil {
		return err
	}
	var res chunkResult
	if err := json.Unmarshal(out, &res); err != nil {
		return s.p.fail(FailTranslate, "translator %s: translate_chunk returned invalid JSON: %w", s.t.Name(), err)
	}
	if res.Error != nil {
		return &StreamError{Provider: s.p.Name, Type: res.Error.Type, Code: res.Error.Code, Message: res.Error.Message}
	}
	if len(res.State) > 0 {
		s.state = append(s.state[:0:0], res.State...)
	}
	for _, c := range res.Chunks {
		s.pending = append(s.pending, []byte(c))
	}
	if res.Done {
		s.done = true
	}
	return nil
}

// buffered reports whether another event may be read without waiting on the network.
func (s *translatedStream) buffered() bool {
	if s.sse != nil {
		return s.sse.Buffered() > 0
	}
	return false
}

func (s *translatedStream) Close() error { return s.body.Close() }

// StreamError is an error event inside a provider's stream, translated to OpenAI's shape.
type StreamError struct {
	Provider, Type, Code, Message string
}

func (e *StreamError) Error() string {
	return fmt.Sprintf("provider %s stream error: %s", e.Provider, e.Message)
}

func jsonOptions(m map[string]any) ([]byte, error) {
	if len(m) == 0 {
		return []byte("{}"), nil
	}
	return json.Marshal(m)
}
