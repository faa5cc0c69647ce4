package gateway

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"github.com/sluice-gw/sluice/host/balance"
	"github.com/sluice-gw/sluice/host/openai"
	"github.com/sluice-gw/sluice/host/provider"
	"github.com/sluice-gw/sluice/host/sse"
	"github.com/sluice-gw/sluice/host/telemetry"
	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// dialect is a request that arrived as the Responses or Messages API. The pipeline runs on its
// chat-completions form (limits, cache, policies and routing read that), and each attempt
// decides: a provider that speaks the dialect gets the client's own body with only the model
// rewritten (native); any other gets the chat form through its translator (bridged), and the
// dialect's writer converts the answer back.
type dialect struct {
	name string // provider.Responses or provider.Messages
	// body is the client's request as received, for native attempts.
	body *openai.Request
	// header holds the client headers that belong to the dialect (anthropic-version,
	// anthropic-beta), sent on native attempts only.
	header http.Header
	// bridgeErr is why a bridged target cannot take the request (a Responses built-in tool,
	// a field chat completions cannot carry), or nil.
	bridgeErr *openai.Error
	// nativeBody rewrites the body for one native target (Responses: previous_response_id
	// expanded when the target cannot resolve it); nil sends body with the model set.
	nativeBody func(p *provider.Provider, model string) []byte
	// end completes the answer through the dialect's writer (a bridged body is converted and
	// written); the response half calls it before it flushes and accounts.
	end func()
	// beforeEnd sees the final answer (a Responses object) just before the client gets its
	// end, so that a stored response exists by the time the client can name it.
	beforeEnd func(answer []byte)

	// chatReq, when set, is the pipeline's request, already read and checked by the dialect's
	// handler (the body needs no other form).
	chatReq *openai.Request
	// bridged forces every attempt through chat completions: a request policy rewrote the
	// chat form (the client's own body no longer says what may be sent), or an on_response
	// policy must read the answer, which it reads in chat's shape.
	bridged bool
	// native is set once an attempt answers natively: the dialect writer then passes the
	// answer through as the upstream shaped it.
	native bool
	// provider names who answered natively.
	provider string
}

type dialectKey struct{}

// withDialect hands a dialect to the chat pipeline serving this request.
func withDialect(r *http.Request, d *dialect) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), dialectKey{}, d))
}

func dialectOf(r *http.Request) *dialect {
	d, _ := r.Context().Value(dialectKey{}).(*dialect)
	return d
}

// dialectHeaders are the client headers a native Messages attempt forwards.
var dialectHeaders = []string{"Anthropic-Version", "Anthropic-Beta"}

func forwardHeaders(r *http.Request) http.Header {
	var h http.Header
	for _, k := range dialectHeaders {
		if vs := r.Header.Values(k); len(vs) > 0 {
			if h == nil {
				h = make(http.Header, len(dialectHeaders))
			}
			h[k] = vs
		}
	}
	return h
}

// allNative reports whether every target the request may be served by speaks the dialect, so
// that no bridged form is needed. Policies read the chat form, so with any policy the answer
// is no; so it is when the route cannot be resolved (the pipeline then answers the error).
func (g *Gateway) allNative(r *http.Request, dialect, model string) bool {
	if len(g.policies) > 0 {
		return false
	}
	_, router, implicit, err := g.resolve(mux.Vars(r)["router"], model)
	if err != nil {
		return false
	}
	targets := routeTargets(router, implicit)
	for _, t := range targets {
		if p := g.providers[t.Provider]; p == nil || !p.Speaks(dialect, t.Model) {
			return false
		}
	}
	return len(targets) > 0
}

// send makes one attempt: native when the provider speaks the request's dialect, otherwise
// through the provider's chat-completions path.
func (g *Gateway) send(ctx context.Context, c *call, p *provider.Provider, t balance.Target, trace http.Header) (*provider.Response, bool, error) {
	d := c.dialect
	trace = c.upstreamHeader(trace)
	if d == nil || d.bridged || !p.Speaks(d.name, t.Model) {
		preq := &provider.Request{
			Endpoint: c.endpoint, Model: t.Model, Stream: c.stream, RequestID: c.id,
			Body: g.upstreamBody(c, t.Model), Header: trace, BridgedReasoning: d != nil,
		}
		if p.BYOK && t.Provider == c.az.byok {
			preq.ClientKey = c.az.byokKey // only ever to the provider it was given for
		}
		resp, err := p.Do(ctx, preq)
		return resp, false, err
	}
	var body []byte
	model := p.NativeModel(t.Model)
	if d.nativeBody != nil {
		body = d.nativeBody(p, model)
	} else {
		body = d.body.Set("model", jsonString(model))
	}
	h := trace
	if len(d.header) > 0 {
		h = trace.Clone()
		if h == nil {
			h = make(http.Header, len(d.header))
		}
		for k, vs := range d.header {
			h[k] = vs
		}
	}
	nreq := &provider.NativeRequest{Dialect: d.name, Body: body, Stream: c.stream, Model: t.Model, RequestID: c.id, Header: h}
	if p.BYOK && t.Provider == c.az.byok {
		nreq.ClientKey = c.az.byokKey
	}
	resp, err := p.DoNative(ctx, nreq)
	return resp, true, err
}

// bridgeRefusal says why a bridged target cannot take this request, or nil.
func (c *call) bridgeRefusal(p *provider.Provider, t balance.Target) *openai.Error {
	d := c.dialect
	if d == nil || d.bridgeErr == nil || (!d.bridged && p.Speaks(d.name, t.Model)) {
		return nil
	}
	e := *d.bridgeErr
	e.Message = strings.TrimSuffix(e.Message, ".") + " (target " + t.Provider + "/" + t.Model + " is served through chat completions; only an upstream that speaks the " + d.name + " API natively could take it)"
	return &e
}

func jsonString(s string) []byte {
	w := jsonx.NewWriter(make([]byte, 0, len(s)+2))
	w.String(s)
	return w.Bytes()
}

// summaryTapes are the jsonx tapes nativeSummary parses with; answers larger than
// maxTapedSummary parse without one, so that no pooled tape holds more than 4 × that.
var summaryTapes = sync.Pool{New: func() any { return new(jsonx.Tape) }}

const maxTapedSummary = 64 << 10

// minTailSummary is the smallest Messages answer whose summary is read from its tail.
const minTailSummary = 4 << 10

// nativeSummary reads usage and the finish reason from a native answer. The answer is
// validated once, recording where each value ends, and its top-level members are read in one
// pass that steps over the output without rescanning it (a Get per member walked the whole
// answer each time: 6.1 µs for a 2 KB Responses object, now 2.6 µs).
func nativeSummary(dialect string, body []byte) (*openai.Usage, string) {
	// Below a few KB the whole parse costs less than the tail's lookups (1 KB: 3.4 µs whole,
	// 4.4 µs tail; 16 KB: 25–47 µs whole, 4.1–4.5 µs tail; 256 KB: 527 µs whole, 4.1 µs tail).
	if dialect == provider.Messages && len(body) > minTailSummary {
		if u, finish, ok := messagesTail(body); ok {
			return u, finish
		}
	}
	return nativeSummaryTape(dialect, body)
}

// nativeSummaryTape is nativeSummary by a parse of the whole answer.
func nativeSummaryTape(dialect string, body []byte) (*openai.Usage, string) {
	var tape *jsonx.Tape
	if len(body) <= maxTapedSummary {
		tape = summaryTapes.Get().(*jsonx.Tape)
		defer summaryTapes.Put(tape)
	}
	v, err := jsonx.ParseTape(body, tape)
	if err != nil {
		return nil, ""
	}
	var f [3]jsonx.Value
	if dialect == provider.Messages {
		v.Fields(f[:], "usage", "stop_reason")
		return messagesUsage(f[0], nil), f[1].Str()
	}
	v.Fields(f[:], "usage", "status", "incomplete_details")
	return responsesUsage(f[0]), finishOf(f[1], f[2])
}

// messagesTail reads a Messages answer's usage and stop reason from its tail, where Anthropic
// writes them (after the content): a large answer then costs its last members, not a parse
// of the whole. ok is false when the tail does not hold both as top-level members.
func messagesTail(body []byte) (*openai.Usage, string, bool) {
	sr, ok := openai.TailMember(body, "stop_reason")
	if !ok {
		return nil, "", false
	}
	raw, ok := openai.TailMember(body, "usage")
	if !ok {
		return nil, "", false
	}
	u, err := jsonx.Parse(raw)
	if err != nil {
		return nil, "", false
	}
	reason, err := jsonx.Parse(sr)
	if err != nil {
		return nil, "", false
	}
	return messagesUsage(u, nil), reason.Str(), true
}

// messagesUsage reads an Anthropic usage object into OpenAI's accounting, where prompt tokens
// include cached ones. Stream events carry usage in parts, so prev is added to.
func messagesUsage(u jsonx.Value, prev *openai.Usage) *openai.Usage {
	if !u.Exists() {
		return prev
	}
	out := openai.Usage{}
	if prev != nil {
		out = *prev
	}
	if n, ok := u.Get("input_tokens").Int(); ok {
		read, _ := u.Get("cache_read_input_tokens").Int()
		write, _ := u.Get("cache_creation_input_tokens").Int()
		out.PromptTokens = n + read + write
		out.CachedTokens = read
		out.CacheCreationTokens = write // priced at the cache-write rate, not as plain input
	}
	if n, ok := u.Get("output_tokens").Int(); ok {
		out.CompletionTokens = n
	}
	out.TotalTokens = out.PromptTokens + out.CompletionTokens
	return &out
}

func responsesUsage(u jsonx.Value) *openai.Usage {
	if !u.IsObject() {
		return nil
	}
	in, _ := u.Get("input_tokens").Int()
	out, _ := u.Get("output_tokens").Int()
	cached, _ := u.Get("input_tokens_details", "cached_tokens").Int()
	return &openai.Usage{PromptTokens: in, CompletionTokens: out, TotalTokens: in + out, CachedTokens: cached}
}

// responsesFinish maps a Responses status to chat's finish reasons, for metrics and logs.
func responsesFinish(resp jsonx.Value) string {
	var f [2]jsonx.Value
	resp.Fields(f[:], "status", "incomplete_details")
	return finishOf(f[0], f[1])
}

// finishOf is responsesFinish on a response's status and incomplete_details members.
func finishOf(status, incomplete jsonx.Value) string {
	switch status.Str() {
	case "completed":
		return "stop"
	case "incomplete":
		if incomplete.Get("reason").Is("content_filter") {
			return "content_filter"
		}
		return "length"
	case "failed":
		return "error"
	}
	return ""
}

// relayNative sends a native upstream stream to the client event by event, as the upstream
// framed it. Only the events that carry usage or the end are looked into. Before the first
// event the attempt may still fail over; after it, a break ends the stream with an error event
// in the dialect's shape.
func (g *Gateway) relayNative(ctx context.Context, w http.ResponseWriter, c *call, t balance.Target, start time.Time, resp *provider.Response) (bool, *openai.Error) {
	s := resp.Events
	defer s.Close()
	d := c.dialect
	name, data, err := s.NextEvent()
	if err != nil {
		if err == io.EOF {
			err = &provider.AttemptError{Provider: t.Provider, Kind: provider.FailBroken, Err: io.ErrUnexpectedEOF}
		}
		return g.attemptFailed(ctx, c, t, start, err)
	}
	c.firstByte.stop()
	c.ttft = time.Since(start)
	c.firstEvent = telemetry.NativeFirstEvent(name)
	c.status = 200
	d.native, d.provider = true, t.Provider
	g.startStream(w, c, resp.Header)
	defer g.tel.StreamStarted()()
	sw := sse.NewWriter(w)
	defer sw.Release()
	events, ended := 0, false
	for err == nil {
		events++
		c.relayed++ // charged as relayed output if the client leaves before the usage event
		ended = g.noteNativeEvent(c, name, data) || ended
		if c.collect {
			c.record(sseFrame(name, data))
		}
		werr := sw.Queue(name, data)
		if werr == nil && !readAhead(s) {
			werr = sw.Flush()
		}
		if werr != nil {
			_ = g.report(c, balance.Outcome{Target: t, Kind: balance.KindCanceled, FirstByteSent: true})
			c.status, c.errMsg = 499, "client went away mid-stream"
			return true, nil
		}
		name, data, err = s.NextEvent()
	}
	if err == io.EOF && ended {
		if c.finish != "" && c.finish != "error" {
			c.keepAnswer(nil)
		}
		_ = g.report(c, balance.Outcome{Target: t, Kind: balance.KindOK, TTFB: c.ttft, Latency: time.Since(start), FirstByteSent: true})
		return true, nil
	}
	if g.streamCut(ctx, c, t, start) {
		return true, nil
	}
	msg := "the upstream stream ended before its last event"
	if err != io.EOF {
		msg = streamError(err).Message
	}
	c.status, c.errMsg = 502, msg
	_ = sw.Event("error", nativeStreamError(d.name, msg, events))
	return true, nil
}

// sseFrame is one event as the client received it, for a cached replay.
func sseFrame(name string, data []byte) []byte {
	f := make([]byte, 0, len(name)+len(data)+16)
	if name != "" {
		f = append(append(append(f, "event: "...), name...), '\n')
	}
	for {
		line, rest, more := bytes.Cut(data, []byte{'\n'})
		f = append(append(append(f, "data: "...), line...), '\n')
		if !more {
			return f[:len(f)-1]
		}
		data = rest
	}
}

// noteNativeEvent reads usage, the finish reason and the final object from the events that
// carry them, and reports whether the event ends the stream.
func (g *Gateway) noteNativeEvent(c *call, name string, data []byte) bool {
	d := c.dialect
	if d.name == provider.Messages {
		switch name {
		case "message_start":
			c.usage = messagesUsage(jsonx.Get(data, "message", "usage"), c.usage)
		case "message_delta":
			v, _ := jsonx.Parse(data)
			c.usage = messagesUsage(v.Get("usage"), c.usage)
			if sr := v.Get("delta", "stop_reason").Str(); sr != "" {
				c.finish = sr
			}
		case "message_stop", "error":
			return true
		}
		return false
	}
	switch name {
	case "response.completed", "response.incomplete", "response.failed":
		r := jsonx.Get(data, "response")
		c.usage = responsesUsage(r.Get("usage"))
		c.finish = responsesFinish(r)
		if d.beforeEnd != nil {
			d.beforeEnd(r.Raw()) // stored before the event is relayed; the store copies it
		}
		return true
	case "error":
		return true
	}
	return false
}

// nativeStreamError is the dialect's own in-stream error event.
func nativeStreamError(dialectName, msg string, seq int) []byte {
	w := jsonx.NewWriter(make([]byte, 0, 96+len(msg)))
	w.ObjectStart()
	w.Key("type")
	w.String("error")
	if dialectName == provider.Messages {
		w.Key("error")
		w.ObjectStart()
		w.Key("type")
		w.String("api_error")
		w.Key("message")
		w.String(msg)
		w.ObjectEnd()
	} else {
		w.Key("code")
		w.String("stream_broken")
		w.Key("message")
		w.String(msg)
		w.Key("param")
		w.Null()
		w.Key("sequence_number")
		w.Int(int64(seq))
	}
	w.ObjectEnd()
	return bytes.Clone(w.Bytes())
}

// convWriter is what the Responses and Messages writers share. A native answer passes through
// as the upstream shaped it; a bridged one is buffered for the writer's finish to convert, and a
// bridged stream's bytes go to onEvents as they arrive.
type convWriter struct {
	w      http.ResponseWriter
	d      *dialect
	status int
	buf    []byte
	sse    bool
	pass   bool
	// ignored are the client's parameters a bridged answer did not send on (x-sluice-ignored);
	// a native answer had them all.
	ignored []string
	// holdNativeErrors buffers a native error body too, for finish to check its shape.
	holdNativeErrors bool
	onEvents         func() error
	// finished is set by the writer's finish, which may be called twice (by the response
	// half, then by the dialect's handler) and writes once.
	finished bool
}

func (a *convWriter) Header() http.Header { return a.w.Header() }

func (a *convWriter) WriteHeader(status int) {
	a.status = status
	if a.d.native {
		if a.holdNativeErrors && status >= 400 {
			return
		}
		a.pass = true
		a.w.WriteHeader(status)
		return
	}
	if len(a.ignored) > 0 {
		a.w.Header().Add("X-Sluice-Ignored", strings.Join(a.ignored, ","))
	}
	a.sse = status == 200 && a.w.Header().Get("Content-Type") == "text/event-stream"
	if a.sse {
		a.w.WriteHeader(status)
	}
}

func (a *convWriter) Write(b []byte) (int, error) {
	if a.status == 0 {
		a.WriteHeader(200)
	}
	if a.pass {
		return a.w.Write(b)
	}
	a.buf = append(a.buf, b...)
	if a.sse {
		return len(b), a.onEvents()
	}
	return len(b), nil
}

// nextData cuts the next complete SSE event of a bridged stream out of the buffer and returns
// its data, or false when no whole event is buffered yet.
func (a *convWriter) nextData() ([]byte, bool) {
	for {
		i := bytes.Index(a.buf, []byte("\n\n"))
		if i < 0 {
			return nil, false
		}
		ev := a.buf[:i]
		a.buf = a.buf[i+2:]
		if data, ok := bytes.CutPrefix(ev, []byte("data: ")); ok {
			return data, true
		}
	}
}

// Flush forwards flushes so streamed events leave at once.
func (a *convWriter) Flush() {
	if f, ok := a.w.(http.Flusher); ok {
		f.Flush()
	}
}
