package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/sluice-gw/sluice/host/auth"
	"github.com/sluice-gw/sluice/host/balance"
	"github.com/sluice-gw/sluice/host/cache"
	"github.com/sluice-gw/sluice/host/openai"
	"github.com/sluice-gw/sluice/host/plugin"
	"github.com/sluice-gw/sluice/host/provider"
	"github.com/sluice-gw/sluice/host/ratelimit"
	"github.com/sluice-gw/sluice/host/sse"
	"github.com/sluice-gw/sluice/host/telemetry"
)

// call is one client request on its way through the pipeline. What the request half reads
// (the request, its route and plan, the caller) is here; what each stage owns is in the
// struct of its own below, embedded so that the stages read one another's results by name.
type call struct {
	id       string
	start    time.Time
	endpoint string
	// route labels the request's metrics ("/v1/chat/completions"); "" for passthrough,
	// which records none.
	route  string
	r      *http.Request
	req    *openai.Request
	router string
	plan   *balance.Plan
	// dialect is set when the request arrived as the Responses or Messages API.
	dialect *dialect
	ident   auth.Identity
	az      authz
	// answered is set once the pipeline wrote its answer (or error) without panicking: only
	// then does the response half complete and flush it.
	answered bool

	outcome
	streamState
	failover
	limitState
	cacheState
	observeState
	hookState
}

// outcome is what the attempts produced, read by the headers, settlement, metrics and the
// access log.
type outcome struct {
	status   int
	provider string
	model    string
	target   string
	attempts int
	usage    *openai.Usage
	finish   string
	ttft     time.Duration
	errMsg   string
	// firstEvent is the kind of the stream's first event, classified when ttft was set
	// (firstEventAt is that ttft).
	firstEvent   telemetry.FirstEvent
	firstEventAt time.Duration
	// upstreamWork is true once an attempt's request reached an upstream that may have done
	// (and billed) the work; relayed counts the stream chunks sent to the client. Together they
	// price a request whose usage never came (see settle).
	upstreamWork bool
	relayed      int
}

// streamState is what a streamed request carries through its attempts.
type streamState struct {
	stream   bool
	injected bool // stream_options.include_usage was added by sluice
	// streamOpts is the stream_options value sent upstream when sluice adds include_usage.
	streamOpts []byte
	// firstByte bounds the current streamed attempt until its first chunk (nil otherwise).
	firstByte *firstByteTimer
}

// failover is what dispatch keeps between attempts.
type failover struct {
	// lastUp is the last upstream error answer; when no attempt succeeds it is relayed as is.
	lastUp    *provider.Response
	lastUpErr *openai.Error
	// lastUpNative: lastUp came from a native attempt and is in the dialect's own shape.
	lastUpNative bool
}

// limitState is the rate-limit stage's: the reservation admit made and settle corrects.
type limitState struct {
	resv       *ratelimit.Reservation
	limitTier  string
	costMicros int64
}

// cacheState is the cache stage's: the lookup's key and bucket, a stream's collected chunks,
// and the answer the store stage keeps once the client has it.
type cacheState struct {
	cache       *cache.Cache
	cacheKey    cache.Key
	cacheCtl    cache.Control
	cacheBucket int
	cacheHit    bool
	cacheNote   string
	collect     bool
	chunks      [][]byte
	// chunkBytes is the size the collected chunks add to a cache entry; past collectMax the
	// stream is not collected any further (and not stored).
	chunkBytes, collectMax int
	collectOver            bool
	// keep is set when a complete answer may be stored: keepBody, or for a stream the
	// collected chunks. The store itself runs in the response half, after the flush.
	keep     bool
	keepBody []byte
}

// observeState is the telemetry and access log's: spans and the captured response body.
type observeState struct {
	capture      *captureWriter
	span         *telemetry.Span
	attemptSpan  *telemetry.Span
	attemptStart time.Time
}

func (g *Gateway) api(endpoint string) http.Handler {
	route := "/v1/" + strings.ReplaceAll(endpoint, ".", "/")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{id: r.Header.Get("X-Request-Id"), start: time.Now(), endpoint: endpoint, route: route, r: r, dialect: dialectOf(r)}
		if c.dialect != nil && g.responseGuards {
			c.dialect.bridged = true
		}
		if c.dialect != nil {
			c.route = "/v1/" + c.dialect.name
		}
		if g.tel != nil {
			var ctx context.Context
			ctx, c.span = g.tel.StartRequest(r.Context(), r, c.route)
			if ctx != r.Context() {
				c.r = r.WithContext(ctx)
			}
			defer g.tel.RequestStarted()()
		}
		if g.redact != nil {
			c.capture = &captureWriter{ResponseWriter: w, max: int(g.cfg.Log.MaxBodyBytes)}
			w = c.capture
		}
		// The response half runs even if a stage panics: a reservation is never left unsettled.
		defer g.respond(w, c)
		if err := g.serveAPI(w, c); err != nil {
			c.fail(w, g.scrubbed(err))
		}
		c.answered = true
	})
}

func (c *call) fail(w http.ResponseWriter, e *openai.Error) {
	c.status = e.Status
	c.errMsg = e.Message
	if c.resv != nil {
		c.resv.WriteHeaders(w.Header())
	}
	writeError(w, e)
}

// writeError is openai.Error.Write with the body's length declared, so that the response
// half can flush the error before it accounts, as it does an answer.
func writeError(w http.ResponseWriter, e *openai.Error) {
	h := w.Header()
	for k, vs := range e.Header {
		h[k] = vs
	}
	b := e.Body()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	status := e.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (g *Gateway) serveAPI(w http.ResponseWriter, c *call) *openai.Error {
	req, oerr := g.readRequest(c)
	if oerr != nil {
		return oerr
	}
	if oerr := checkSluiceHeaders(c.r.Header); oerr != nil {
		return oerr
	}
	c.req = req
	c.stream = req.Stream && c.endpoint != provider.Embeddings
	if g.authOn {
		if e := g.staged(c, "auth", g.identify); e != nil {
			return e
		}
	} else if e := g.identify(c); e != nil {
		return e
	}
	c.router = mux.Vars(c.r)["router"]
	if len(g.policies) > 0 {
		if e := g.staged(c, "policy", g.requestPolicies); e != nil {
			return e
		}
		if c.answer != nil {
			return g.serveAnswer(w, c)
		}
	}
	req = c.req
	name, router, implicit, oerr := g.resolve(c.router, req.Model)
	if oerr != nil {
		return oerr
	}
	c.router = name
	if e := g.authorize(c, routeTargets(router, implicit), req.Model); e != nil {
		return e
	}
	if implicit != "" {
		// Built only once the caller may use it: a refused request leaves nothing behind.
		if router, oerr = g.implicitRouter(implicit); oerr != nil {
			return oerr
		}
	}
	var meta any
	if rc, ok := g.cfg.Routers[name]; ok && rc.Strategy == "plugin" {
		meta = g.meta(c)
	}
	// An explicit pin header (permission-checked in authorize) wins over a router alias.
	pin := c.r.Header.Get("X-Sluice-Provider")
	if pin == "" {
		pin = g.aliasPin(name, req.Model)
	}
	plan, err := router.Plan(c.r.Context(), balance.Request{
		Meta:        meta,
		EstTokensIn: int(req.TokenEstimate), EstTokensOut: int(req.MaxTokens),
		Pin: pin, Exclude: balance.ParseProviderList(c.r.Header.Get("X-Sluice-Exclude")),
		Allow: c.az.allow,
	})
	if err != nil {
		return openai.Errorf(503, openai.CodeNoTarget, fmt.Sprintf("router %s: %v", routerLabel(c), err))
	}
	defer plan.Close()
	c.plan = plan
	g.streamOptions(c)
	if g.limiter != nil {
		if e := g.staged(c, "ratelimit", g.admit); e != nil {
			return e
		}
	}
	if g.cacheFor(c) != nil {
		if g.stageHook != nil {
			g.stageHook("cache")
		}
		sp := g.stage(c, "cache")
		hit, e := g.serveFromCache(w, c)
		sp.SetCacheStatus(c.cacheNote)
		sp.End()
		if hit || e != nil {
			return e
		}
	}
	return g.dispatch(w, c)
}

func routerLabel(c *call) string {
	if c.router != "" {
		return c.router
	}
	return c.req.Model
}

// readRequest reads and checks the body the pipeline runs on. A dialect request whose body
// already is that form (a Messages request every target takes natively) was read and checked
// by its handler: it is not read twice.
func (g *Gateway) readRequest(c *call) (*openai.Request, *openai.Error) {
	if d := c.dialect; d != nil && d.chatReq != nil {
		return d.chatReq, nil
	}
	body, err := openai.ReadBody(c.r.Body, c.r.ContentLength, int64(g.cfg.Server.MaxBodySize))
	if err != nil {
		return nil, bodyError(err)
	}
	return parseRequest(body, &g.cfg.Server)
}

// bodyError is the client's error for a body that could not be read.
func bodyError(err error) *openai.Error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return openai.Errorf(413, openai.CodeRequestTooLarge, fmt.Sprintf("request body is larger than the %d-byte limit", mbe.Limit))
	}
	return openai.Errorf(400, openai.CodeBadRequest, "reading request body: "+err.Error())
}

// dispatch runs the attempts of the plan until one answers, then relays the answer.
func (g *Gateway) dispatch(w http.ResponseWriter, c *call) *openai.Error {
	if g.stageHook != nil {
		g.stageHook("dispatch")
	}
	if c.stream {
		if !g.streams.TryAcquire() {
			return openai.Errorf(503, openai.CodeTooManyStreams, fmt.Sprintf("the gateway is relaying its limit of %d streams (server.max_streams); retry shortly", g.streams.Cap()))
		}
		defer g.streams.Release()
	}
	ctx := c.r.Context()
	if t := c.plan.Timeout(); t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	var last *openai.Error
	for t, ok := c.plan.Next(); ok; t, ok = c.plan.Next() {
		if d := c.plan.Backoff(); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				_ = g.report(c, balance.Outcome{Kind: balance.KindCanceled})
				return openai.Errorf(504, openai.CodeTimeout, "request deadline passed while backing off")
			}
		}
		c.attempts++
		done, oerr := g.attempt(ctx, w, c, t)
		if done {
			return oerr
		}
		last = oerr
	}
	if last == nil {
		last = openai.Errorf(503, openai.CodeNoTarget, fmt.Sprintf("router %s has no usable target", routerLabel(c)))
	}
	if c.lastUp != nil && last == c.lastUpErr {
		c.status, c.errMsg = c.lastUp.Status, last.Message
		if c.lastUpNative {
			c.dialect.native = true
		}
		g.writeHeaders(w, c, c.lastUp.Header)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(c.lastUp.Body)))
		w.WriteHeader(c.lastUp.Status)
		_, _ = w.Write(c.lastUp.Body)
		return nil
	}
	res := c.plan.Result()
	if res.Attempts > 1 {
		last.Message = fmt.Sprintf("%s (after %d attempts)", last.Message, res.Attempts)
	}
	return last
}

// attempt sends the request to one target. It returns done=true when the request is finished
// (answered, or failed in a way no other target can fix), with the error to send if any.
func (g *Gateway) attempt(ctx context.Context, w http.ResponseWriter, c *call, t balance.Target) (bool, *openai.Error) {
	p := g.providers[t.Provider]
	c.provider, c.model, c.target = t.Provider, t.Model, t.ID
	if e := c.bridgeRefusal(p, t); e != nil {
		return false, e // a later target may serve the dialect natively
	}
	actx, cancel := ctx, context.CancelFunc(func() {})
	c.firstByte = nil
	switch d, total := c.plan.AttemptTimeout(), c.plan.Timeout(); {
	case d <= 0:
	case c.stream:
		actx, c.firstByte, cancel = startFirstByteTimer(ctx, d)
	case total <= 0 || d < total:
		// An attempt timeout equal to the request's adds nothing: dispatch already bounds it.
		actx, cancel = context.WithTimeout(ctx, d)
	}
	defer cancel()
	start := time.Now()
	actx, trace := g.startAttempt(actx, c)
	resp, native, err := g.send(actx, c, p, t, trace)
	if err != nil {
		return g.attemptFailed(ctx, c, t, start, err)
	}
	c.upstreamWork = c.upstreamWork || resp.Status/100 == 2
	if resp.Status/100 != 2 {
		o := balance.Outcome{Target: t, Latency: time.Since(start)}
		switch {
		case resp.Status == 429:
			o.Kind = balance.KindStatus429
			o.RetryAfter, _ = balance.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		case resp.Status >= 500:
			o.Kind = balance.KindStatus5xx
		default:
			o.Kind = balance.KindStatus4xx
		}
		_ = g.report(c, o)
		if o.Retryable() {
			e := openai.Errorf(resp.Status, openai.CodeUpstreamError, fmt.Sprintf("provider %s answered %d", t.Provider, resp.Status))
			if ue := upstreamMessage(resp.Body); ue != "" {
				e.Message += ": " + ue
			}
			if ra := resp.Header.Get("Retry-After"); ra != "" {
				e.Header = http.Header{"Retry-After": {ra}}
			}
			c.lastUp, c.lastUpErr, c.lastUpNative = resp, e, native
			return false, e
		}
		if native {
			c.dialect.native = true
		}
		c.status = resp.Status
		g.writeHeaders(w, c, resp.Header)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(resp.Body)))
		w.WriteHeader(resp.Status)
		_, _ = w.Write(resp.Body)
		c.errMsg = upstreamMessage(resp.Body)
		return true, nil
	}
	if resp.Events != nil {
		return g.relayNative(ctx, w, c, t, start, resp)
	}
	if resp.Stream != nil {
		return g.relayStream(ctx, w, c, t, start, resp)
	}
	if native {
		c.usage, c.finish = nativeSummary(c.dialect.name, resp.Body)
		c.dialect.native, c.dialect.provider = true, t.Provider
		if c.dialect.beforeEnd != nil {
			c.dialect.beforeEnd(resp.Body)
		}
	} else {
		sum := openai.Summarize(resp.Body, true)
		c.usage, c.finish = sum.Usage, sum.FinishReason
	}
	_ = g.report(c, balance.Outcome{Target: t, Kind: balance.KindOK, Latency: time.Since(start)})
	body, perr := g.responsePolicies(c, resp.Status, resp.Body)
	if perr != nil {
		return true, perr
	}
	c.status = resp.Status
	g.writeHeaders(w, c, resp.Header)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.Status)
	_, _ = w.Write(body)
	c.keepAnswer(body) // a native body is stored marked as such (nativeContentType)
	return true, nil
}

// attemptFailed reports a failure before any response and decides whether to move on.
func (g *Gateway) attemptFailed(ctx context.Context, c *call, t balance.Target, start time.Time, err error) (bool, *openai.Error) {
	var ae *provider.AttemptError
	o := balance.Outcome{Target: t, Latency: time.Since(start)}
	if errors.As(err, &ae) && ae.Sent {
		// The upstream got the whole request: it may be doing the work, so the request is
		// not moved to another target unless the router allows it (retries.after_send).
		o.AfterSend = ae.Kind == provider.FailTimeout || ae.Kind == provider.FailConnect || ae.Kind == provider.FailBroken
		c.upstreamWork = true
	}
	switch {
	case ctx.Err() != nil && c.r.Context().Err() != nil:
		o.Kind = balance.KindCanceled
		_ = g.report(c, o)
		return true, openai.Errorf(499, openai.CodeClientClosed, "the client went away")
	case ctx.Err() != nil:
		o.Kind = balance.KindCanceled
		_ = g.report(c, o)
		return true, openai.Errorf(504, openai.CodeTimeout, fmt.Sprintf("router %s: request timed out after %s", routerLabel(c), c.plan.Timeout()))
	case c.firstByte.expired():
		o.Kind = balance.KindTimeout
		_ = g.report(c, o)
		return false, openai.Errorf(504, openai.CodeUpstreamTimeout, fmt.Sprintf("provider %s: no first chunk within %s", t.Provider, c.plan.AttemptTimeout()))
	case errors.As(err, &ae):
		switch ae.Kind {
		case provider.FailTimeout:
			o.Kind = balance.KindTimeout
		case provider.FailCredentials:
			o.Kind = balance.KindStatus4xx
			_ = g.report(c, o)
			return true, openai.Errorf(401, openai.CodeProviderKeyRequired, ae.Error())
		case provider.FailUnavailable:
			o.Kind = balance.KindStatus4xx // a configuration gap, not upstream health
			_ = g.report(c, o)
			return false, openai.Errorf(503, openai.CodeProviderNotConfigured, ae.Error())
		case provider.FailTranslate:
			o.Kind = balance.KindStatus4xx
			_ = g.report(c, o)
			return true, openai.Errorf(502, openai.CodeTranslationFailed, ae.Error())
		default:
			o.Kind = balance.KindConnect
		}
		_ = g.report(c, o)
		if ae.Kind == provider.FailTimeout {
			return false, openai.Errorf(504, openai.CodeUpstreamTimeout, ae.Error())
		}
		return false, openai.Errorf(502, openai.CodeUpstreamUnreachable, ae.Error())
	default:
		// A plugin error (translator): the request is at fault or the plugin is broken.
		o.Kind = balance.KindStatus4xx
		_ = g.report(c, o)
		g.logPluginError(c, err)
		return true, pluginError(err)
	}
}

// upstreamBody sets the upstream model and, for a stream whose client did not ask for usage,
// asks for it (the stream_options value is worked out once per request, in streamOptions).
func (g *Gateway) upstreamBody(c *call, model string) []byte {
	if c.streamOpts != nil {
		return c.req.With(openai.Edit{Key: "model", Raw: openai.Quote(model)}, openai.Edit{Key: "stream_options", Raw: c.streamOpts})
	}
	return c.req.Set("model", openai.Quote(model))
}

// streamOptions decides whether sluice adds stream_options.include_usage, keeping any other
// stream options the client sent.
func (g *Gateway) streamOptions(c *call) {
	if !c.stream || c.req.IncludeUsage || !*g.cfg.Server.IncludeUsage {
		return
	}
	so, _ := c.req.Field("stream_options")
	so = bytes.TrimSpace(so)
	if bytes.HasPrefix(so, []byte("{")) && !bytes.Equal(so, []byte("{}")) {
		c.streamOpts = append([]byte(`{"include_usage":true,`), so[1:]...)
	} else {
		c.streamOpts = []byte(`{"include_usage":true}`)
	}
	c.injected = true
}

func (g *Gateway) writeHeaders(w http.ResponseWriter, c *call, up http.Header) {
	g.limitHeaders(w, c)
	h := w.Header()
	c.applyResponseEdits(h)
	th := g.targetHeaders(c.target, c.provider, c.model)
	h["X-Sluice-Provider"] = th.provider
	h["X-Sluice-Model"] = th.model
	h["X-Sluice-Target"] = th.target
	h["X-Sluice-Attempts"] = attemptsValue(c.attempts)
	if c.router != "" {
		h.Set("X-Sluice-Router", c.router)
	}
	for _, k := range []string{"X-Request-Id", "Request-Id", "X-Amzn-Requestid"} {
		if v := up.Get(k); v != "" {
			h.Set("X-Sluice-Upstream-Request-Id", v)
			break
		}
	}
	if v := up.Get("Retry-After"); v != "" {
		h.Set("Retry-After", v)
	}
	// What a provider answered for itself (embeddings): hints it ignored, usage it estimated.
	for _, k := range []string{provider.IgnoredHeader, "X-Sluice-Usage-Estimated"} {
		for _, v := range up.Values(k) {
			h.Add(k, v)
		}
	}
}

// relayStream sends an upstream stream to the client event by event. Before the first chunk
// arrives the attempt may still fail over; after it, a break is reported in-stream.
func (g *Gateway) relayStream(ctx context.Context, w http.ResponseWriter, c *call, t balance.Target, start time.Time, resp *provider.Response) (bool, *openai.Error) {
	if g.checksResponses() {
		return g.relayChecked(ctx, w, c, t, start, resp)
	}
	if len(g.streamGuards) > 0 {
		return g.relayGuarded(ctx, w, c, t, start, resp)
	}
	s := resp.Stream
	defer s.Close()
	first, err := s.Next()
	if err != nil && err != io.EOF {
		return g.attemptFailed(ctx, c, t, start, err)
	}
	c.firstByte.stop()
	c.ttft = time.Since(start)
	c.status = 200
	g.startStream(w, c, resp.Header)
	defer g.tel.StreamStarted()()
	sw := sse.NewWriter(w)
	defer sw.Release()
	chunk := first
	for err == nil {
		c.record(chunk)
		c.noteChunk(chunk)
		var werr error
		if !(c.injected && openai.IsUsageOnlyChunk(chunk)) {
			c.relayed++
			werr = sw.Queue("", chunk)
		}
		// Chunks that arrived together leave in one write and one flush.
		if werr == nil && !readAhead(s) {
			werr = sw.Flush()
		}
		if werr != nil {
			_ = g.report(c, balance.Outcome{Target: t, Kind: balance.KindCanceled, FirstByteSent: true})
			c.status, c.errMsg = 499, "client went away mid-stream"
			return true, nil
		}
		chunk, err = s.Next()
	}
	if err == io.EOF {
		_ = sw.Done()
		if c.finish != "" {
			c.keepAnswer(nil)
		}
		_ = g.report(c, balance.Outcome{Target: t, Kind: balance.KindOK, TTFB: c.ttft, Latency: time.Since(start), FirstByteSent: true})
		return true, nil
	}
	if g.streamCut(ctx, c, t, start) {
		return true, nil
	}
	e := streamError(err)
	c.errMsg = e.Message
	c.status = 502
	_ = sw.Data(bytes.TrimRight(e.Body(), "\n"))
	return true, nil
}

// readAhead reports whether a stream's next chunk or event is already read, so the one in
// hand may wait for it in the same write.
func readAhead(s any) bool {
	r, ok := s.(interface{ Ready() bool })
	return ok && r.Ready()
}

// streamCut reports a stream that stopped after its first byte: the client left (true: nothing
// more to send), or the upstream broke or timed out (false: the caller ends the stream with an
// error event in its own shape).
func (g *Gateway) streamCut(ctx context.Context, c *call, t balance.Target, start time.Time) bool {
	if c.r.Context().Err() != nil {
		_ = g.report(c, balance.Outcome{Target: t, Kind: balance.KindCanceled, TTFB: c.ttft, Latency: time.Since(start), FirstByteSent: true})
		c.status, c.errMsg = 499, "client went away mid-stream"
		return true
	}
	kind := balance.KindBrokenStream
	if ctx.Err() != nil {
		kind = balance.KindCanceled
	}
	_ = g.report(c, balance.Outcome{Target: t, Kind: kind, TTFB: c.ttft, Latency: time.Since(start), FirstByteSent: true})
	return false
}

// startStream writes the head of a streamed answer: sluice's headers, the upstream's relayed
// ones and the SSE content type, unbuffered by proxies in front.
func (g *Gateway) startStream(w http.ResponseWriter, c *call, up http.Header) {
	g.writeHeaders(w, c, up)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(200)
}

// noteChunk takes usage and the finish reason from a chat stream chunk that carries them.
func (c *call) noteChunk(chunk []byte) {
	c.noteFirstEvent(chunk)
	sum := openai.Summarize(chunk, false)
	if sum.Usage != nil {
		c.usage = sum.Usage
	}
	if sum.FinishReason != "" {
		c.finish = sum.FinishReason
	}
}

func streamError(err error) *openai.Error {
	var se *provider.StreamError
	if errors.As(err, &se) {
		e := openai.Errorf(502, se.Code, se.Message)
		if se.Type != "" {
			e.Type = se.Type
		}
		return e
	}
	var ae *provider.AttemptError
	if errors.As(err, &ae) {
		return openai.Errorf(502, openai.CodeStreamBroken, ae.Error())
	}
	return pluginError(err)
}

// upstreamMessage pulls error.message out of an OpenAI-shaped error body.
func upstreamMessage(b []byte) string {
	i := bytes.Index(b, []byte(`"message"`))
	if i < 0 {
		return ""
	}
	rest := bytes.TrimLeft(b[i+len(`"message"`):], " :")
	if len(rest) == 0 || rest[0] != '"' {
		return ""
	}
	if s, err := strconv.QuotedPrefix(string(rest)); err == nil {
		if u, err := strconv.Unquote(s); err == nil {
			return u
		}
	}
	end := bytes.IndexByte(rest[1:], '"')
	if end < 0 {
		return ""
	}
	return strings.TrimSpace(string(rest[1 : end+1]))
}

// pluginError turns an error from a plugin into the client's error. Plugins give their name
// and hook in the message; the status is the plugin's own for a deliberate error, 502 for a
// trap or timeout.
func pluginError(err error) *openai.Error {
	var pe *plugin.Error
	if errors.As(err, &pe) {
		e := openai.Errorf(pe.Status, pe.Code, pe.Error())
		if pe.Type != "" {
			e.Type = pe.Type
		}
		if e.Status == 0 {
			e.Status = 502
		}
		return e
	}
	return openai.Errorf(502, openai.CodePluginError, err.Error())
}

// limitHeaders sends the rate-limit headers of the request's reservation.
func (g *Gateway) limitHeaders(w http.ResponseWriter, c *call) {
	if c.resv != nil {
		c.resv.WriteHeaders(w.Header())
	}
}

func asPluginError(err error, target **plugin.Error) bool { return errors.As(err, target) }

// staged runs one pipeline stage inside its own span.
func (g *Gateway) staged(c *call, name string, fn func(*call) *openai.Error) *openai.Error {
	if g.stageHook != nil {
		g.stageHook(name)
	}
	if g.tel == nil {
		return fn(c)
	}
	sp := g.stage(c, name)
	e := fn(c)
	if e != nil {
		sp.SetHTTPStatus(e.Status)
	}
	sp.End()
	return e
}
