package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/sluice-gw/sluice/host/balance"
	"github.com/sluice-gw/sluice/host/cache"
	"github.com/sluice-gw/sluice/host/openai"
	"github.com/sluice-gw/sluice/host/plugin"
	"github.com/sluice-gw/sluice/host/provider"
	"github.com/sluice-gw/sluice/host/sse"
	"github.com/sluice-gw/sluice/sdk/abi"
)

// requestPolicies runs each policy plugin's on_request in order: allow, reject or rewrite.
func (g *Gateway) requestPolicies(c *call) *openai.Error {
	for _, p := range g.policies {
		if !p.Has(abi.HookOnRequest) {
			continue
		}
		ctx, done := g.pluginSpan(c, p, abi.HookOnRequest)
		d, err := p.OnRequest(ctx, g.meta(c), c.req.Raw)
		done(err)
		if err != nil {
			g.logPluginError(c, err)
			return pluginError(err)
		}
		if e := g.takeDecision(c, p, abi.HookOnRequest, &d); e != nil {
			return e
		}
		if d.Action == "respond" {
			// The plugin answers the request itself: later policies and every upstream are
			// skipped (serveAnswer).
			c.answer, c.served = &d, p.Name()
			if c.dialect != nil {
				c.dialect.bridged = true
			}
			return nil
		}
		body, oerr := g.applyPolicy(p, abi.HookOnRequest, d)
		if oerr != nil {
			c.rejected = true
			return oerr
		}
		if body != nil {
			req, err := openai.ParseRequest(body)
			if err != nil {
				return openai.Errorf(502, openai.CodePluginError, fmt.Sprintf("plugin %s hook on_request rewrote the body into invalid JSON: %v", p.Name(), err))
			}
			c.req = req
			c.stream = req.Stream && c.stream
			if c.dialect != nil {
				c.dialect.bridged = true
			}
		}
	}
	return nil
}

// responsePolicies runs on_response over a complete answer: a non-streamed one, a held stream
// assembled into one (streamPolicies) or a cache hit (replayPolicies).
func (g *Gateway) responsePolicies(c *call, status int, body []byte) ([]byte, *openai.Error) {
	return g.runResponsePolicies(c, status, body, false)
}

// runResponsePolicies runs each on_response in order. partial marks an incremental check of a
// stream that has not ended ("partial":true in the input).
func (g *Gateway) runResponsePolicies(c *call, status int, body []byte, partial bool) ([]byte, *openai.Error) {
	for _, p := range g.policies {
		if !p.Has(abi.HookOnResponse) {
			continue
		}
		ctx, done := g.pluginSpan(c, p, abi.HookOnResponse)
		d, err := p.OnResponse(ctx, g.meta(c), c.stateOf(p), status, partial, body)
		done(err)
		if err != nil {
			g.logPluginError(c, err)
			return nil, pluginError(err)
		}
		if e := g.takeDecision(c, p, abi.HookOnResponse, &d); e != nil {
			return nil, e
		}
		nb, oerr := g.applyPolicy(p, abi.HookOnResponse, d)
		if oerr != nil {
			c.rejected = true
			return nil, oerr
		}
		if nb != nil {
			if !json.Valid(nb) {
				return nil, openai.Errorf(502, openai.CodePluginError, fmt.Sprintf("plugin %s hook on_response rewrote the body into invalid JSON", p.Name()))
			}
			body = nb
		}
	}
	return body, nil
}

// applyPolicy turns a policy's decision into: no change, the client's error, or a new body.
func (g *Gateway) applyPolicy(p *plugin.Plugin, hook string, po plugin.Decision) ([]byte, *openai.Error) {
	switch po.Action {
	case "", "allow":
		return nil, nil
	case "reject":
		status := po.Status
		if status < 400 || status > 599 {
			status = 403
		}
		code := po.Code
		if code == "" {
			code = openai.CodePolicyRejected
		}
		msg := po.Message
		if msg == "" {
			msg = "rejected by policy " + p.Name()
		}
		return nil, openai.Errorf(status, code, msg)
	case "rewrite":
		if len(po.Body) == 0 {
			return nil, openai.Errorf(502, openai.CodePluginError, fmt.Sprintf("plugin %s hook %s: rewrite without a body", p.Name(), hook))
		}
		return po.Body, nil
	}
	return nil, openai.Errorf(502, openai.CodePluginError, fmt.Sprintf("plugin %s hook %s: unknown action %q (allow, reject or rewrite)", p.Name(), hook, po.Action))
}

// logPluginError logs a plugin failure with the guest's stderr tail, which clients never see.
func (g *Gateway) logPluginError(c *call, err error) {
	var pe *plugin.Error
	if ok := asPluginError(err, &pe); ok {
		if !pe.Trap && pe.Status > 0 && pe.Status < 500 {
			// The plugin refused the request on purpose: the client's error, not the plugin's.
			g.log.Info("plugin refused the request", "request_id", c.id, "plugin", pe.Plugin, "hook", pe.Hook, "status", pe.Status, "err", pe.Message)
			return
		}
		g.log.Error("plugin call failed", "request_id", c.id, "plugin", pe.Plugin, "hook", pe.Hook, "trap", pe.Trap, "err", pe.Message, "stderr", pe.Stderr)
		return
	}
	g.log.Error("plugin call failed", "request_id", c.id, "err", err)
}

// checksResponses reports whether any policy has on_response: then streams and cache hits go
// through it too (see docs/decisions.md, "Output policies on every path").
func (g *Gateway) checksResponses() bool {
	for _, p := range g.policies {
		if p.Has(abi.HookOnResponse) {
			return true
		}
	}
	return false
}

// incrementalEvery is the check interval when every on_response policy is configured with
// stream = "incremental" (the smallest of their check_every), or 0 when a stream is held.
func (g *Gateway) incrementalEvery() int {
	every := 0
	for _, p := range g.policies {
		if !p.Has(abi.HookOnResponse) {
			continue
		}
		pc := g.cfg.Plugins[p.Name()]
		if pc == nil || pc.Stream != "incremental" {
			return 0
		}
		if n := int(pc.CheckEvery); every == 0 || n < every {
			every = n
		}
	}
	return max(every, 1)
}

// relayChecked relays a stream through the on_response policies: held whole, or checked
// incrementally when every such policy asks for it.
func (g *Gateway) relayChecked(ctx context.Context, w http.ResponseWriter, c *call, t balance.Target, start time.Time, resp *provider.Response) (bool, *openai.Error) {
	// With stream policies (on_stream) the stream is held: they rewrite batches before anything
	// is sent, which incremental windows could not undo.
	if every := g.incrementalEvery(); every > 0 && len(g.streamGuards) == 0 {
		return g.relayIncremental(ctx, w, c, t, start, resp, every)
	}
	return g.relayHeld(ctx, w, c, t, start, resp)
}

// relayHeld reads a whole upstream stream (at most server.policy_buffer bytes), runs the
// on_response policies over the assembled answer, and only then sends it as SSE: the
// upstream's chunks as they came, or the policies' rewrite split into chunks. A rejection is
// an ordinary error answer, since nothing was sent; a stream that breaks before its end may
// still fail over, for the same reason.
func (g *Gateway) relayHeld(ctx context.Context, w http.ResponseWriter, c *call, t balance.Target, start time.Time, resp *provider.Response) (bool, *openai.Error) {
	s := resp.Stream
	defer s.Close()
	limit := int(g.cfg.Server.PolicyBuffer)
	var chunks, batch [][]byte
	size := 0
	// Stream policies (on_stream) see the chunks in the batches they arrived in, as they
	// arrive, so that a rejection stops reading the upstream at once.
	states := make([][]byte, len(g.streamGuards))
	guard := func(done bool) *openai.Error {
		out := batch
		if len(g.streamGuards) > 0 {
			var e *openai.Error
			if out, e = g.guardBatch(c, states, batch, done); e != nil {
				return e
			}
		}
		chunks, batch = append(chunks, out...), nil
		return nil
	}
	for {
		chunk, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if len(chunks)+len(batch) == 0 || c.r.Context().Err() != nil || ctx.Err() != nil {
				return g.attemptFailed(ctx, c, t, start, err)
			}
			o := balance.Outcome{Target: t, Kind: balance.KindBrokenStream, TTFB: c.ttft, Latency: time.Since(start)}
			_ = g.report(c, o)
			c.usage, c.finish = nil, ""
			return false, streamError(err) // nothing was sent: the next target may answer
		}
		if len(chunks)+len(batch) == 0 {
			c.firstByte.stop()
			c.ttft = time.Since(start)
		}
		if size += len(chunk); size > limit {
			_ = g.report(c, balance.Outcome{Target: t, Kind: balance.KindOK, TTFB: c.ttft, Latency: time.Since(start)})
			return true, openai.Errorf(502, openai.CodePolicyBufferExceeded, fmt.Sprintf("the streamed answer is longer than server.policy_buffer (%d bytes), the most held for on_response policies; it was not sent", limit))
		}
		batch = append(batch, append([]byte(nil), chunk...))
		c.noteChunk(chunk)
		if !readAhead(s) {
			if e := guard(false); e != nil {
				_ = g.report(c, balance.Outcome{Target: t, Kind: balance.KindOK, TTFB: c.ttft, Latency: time.Since(start)})
				return true, e
			}
		}
	}
	_ = g.report(c, balance.Outcome{Target: t, Kind: balance.KindOK, TTFB: c.ttft, Latency: time.Since(start)})
	if e := guard(true); e != nil {
		return true, e
	}
	out, perr := g.streamPolicies(c, t.Model, chunks)
	if perr != nil {
		return true, perr
	}
	c.status = 200
	g.startStream(w, c, resp.Header)
	defer g.tel.StreamStarted()()
	sw := sse.NewWriter(w)
	defer sw.Release()
	// The whole answer is here: it leaves in few writes and one flush, [DONE] included.
	var err error
	for _, chunk := range out {
		c.record(chunk)
		if c.injected && openai.IsUsageOnlyChunk(chunk) || err != nil {
			continue
		}
		err = sw.Queue("", chunk)
	}
	if err == nil {
		err = sw.Done()
	}
	if err != nil {
		c.status, c.errMsg = 499, "client went away mid-stream"
		return true, nil
	}
	if c.finish != "" {
		c.keepAnswer(nil)
	}
	return true, nil
}

// streamPolicies runs on_response over a stream's chunks assembled into one answer (a
// chat.completion, or a text_completion for /v1/completions), the shape policies see for
// non-streamed answers; meta.stream tells them it was streamed. It returns the chunks to
// send: the originals, or the rewritten answer split into chunks.
func (g *Gateway) streamPolicies(c *call, model string, chunks [][]byte) ([][]byte, *openai.Error) {
	e := &cache.Entry{Created: time.Now(), Model: model, Chunks: chunks}
	if e.Chunks == nil {
		e.Chunks = [][]byte{}
	}
	body, err := e.AsCompletion()
	text := false
	if err != nil {
		body, err = assembleText(chunks)
		text = true
	}
	if err != nil {
		return nil, openai.Errorf(502, openai.CodePolicyUnsupported, "the streamed answer could not be assembled for on_response policies: "+err.Error())
	}
	nb, perr := g.responsePolicies(c, 200, body)
	if perr != nil {
		return nil, perr
	}
	if bytes.Equal(nb, body) {
		return chunks, nil
	}
	if text {
		return nil, openai.Errorf(502, openai.CodePolicyUnsupported, "an on_response policy rewrote a streamed text completion, which sluice cannot re-stream; the answer was not sent")
	}
	out, err := (&cache.Entry{Model: model, Body: nb}).AsChunks(true)
	if err != nil {
		return nil, openai.Errorf(502, openai.CodePluginError, "an on_response policy rewrote the streamed answer into something that is not a chat.completion: "+err.Error())
	}
	return out, nil
}

// assembleText joins the chunks of a streamed /v1/completions answer into a text_completion.
func assembleText(chunks [][]byte) ([]byte, error) {
	type choice struct {
		Index        int     `json:"index"`
		Text         string  `json:"text"`
		FinishReason *string `json:"finish_reason"`
	}
	var out struct {
		ID      string          `json:"id"`
		Object  string          `json:"object"`
		Model   string          `json:"model"`
		Choices []choice        `json:"choices"`
		Usage   json.RawMessage `json:"usage,omitempty"`
	}
	for _, raw := range chunks {
		var ch struct {
			ID      string          `json:"id"`
			Object  string          `json:"object"`
			Model   string          `json:"model"`
			Choices []choice        `json:"choices"`
			Usage   json.RawMessage `json:"usage"`
		}
		if err := json.Unmarshal(raw, &ch); err != nil {
			return nil, err
		}
		if ch.Object != "" && ch.Object != "text_completion" {
			return nil, fmt.Errorf("chunk object %q", ch.Object)
		}
		out.ID, out.Model = ch.ID, ch.Model
		if len(ch.Usage) > 0 && string(ch.Usage) != "null" {
			out.Usage = ch.Usage
		}
		for _, x := range ch.Choices {
			for len(out.Choices) <= x.Index {
				out.Choices = append(out.Choices, choice{Index: len(out.Choices)})
			}
			out.Choices[x.Index].Text += x.Text
			if x.FinishReason != nil {
				out.Choices[x.Index].FinishReason = x.FinishReason
			}
		}
	}
	out.Object = "text_completion"
	return json.Marshal(out)
}

// relayIncremental relays a stream in windows: chunks are held until every check_every bytes
// (and the end) the on_response policies pass the answer so far ("partial": true until the
// end), then sent. What reaches the client has always been checked as a prefix; a rejection
// before the first window is sent is an ordinary error answer, after it the stream ends with
// an in-stream error event and no [DONE]. A rewrite cannot be applied to bytes already sent,
// so an incremental policy's rewrite ends the stream the same way (fail closed).
func (g *Gateway) relayIncremental(ctx context.Context, w http.ResponseWriter, c *call, t balance.Target, start time.Time, resp *provider.Response, every int) (bool, *openai.Error) {
	s := resp.Stream
	defer s.Close()
	first, err := s.Next()
	if err != nil && err != io.EOF {
		return g.attemptFailed(ctx, c, t, start, err)
	}
	c.firstByte.stop()
	c.ttft = time.Since(start)
	limit := int(g.cfg.Server.PolicyBuffer)
	chunks := [][]byte{} // the whole answer so far, for the checks
	sent, size, since := 0, 0, 0
	var sw *sse.Writer
	var stopStream func()
	defer func() {
		if stopStream != nil {
			stopStream()
		}
		if sw != nil {
			sw.Release()
		}
	}()
	// flush sends the chunks not sent yet; the first call writes the response head.
	flush := func() bool {
		if sw == nil {
			c.status = 200
			g.startStream(w, c, resp.Header)
			stopStream = g.tel.StreamStarted()
			sw = sse.NewWriter(w)
		}
		// A checked window leaves in one write.
		for ; sent < len(chunks); sent++ {
			if c.injected && openai.IsUsageOnlyChunk(chunks[sent]) {
				continue
			}
			if err := sw.Queue("", chunks[sent]); err != nil {
				return false
			}
		}
		return sw.Flush() == nil
	}
	// refuse answers a failed check: a plain error before any byte, in-stream after.
	refuse := func(e *openai.Error) (bool, *openai.Error) {
		if sw == nil {
			return true, e
		}
		c.status, c.errMsg = e.Status, e.Message
		_ = sw.Data(bytes.TrimRight(e.Body(), "\n"))
		return true, nil
	}
	check := func(partial bool) *openai.Error {
		since = 0
		e := &cache.Entry{Created: time.Now(), Model: t.Model, Chunks: chunks}
		body, err := e.AsCompletion()
		if err != nil {
			body, err = assembleText(chunks)
		}
		if err != nil {
			return openai.Errorf(502, openai.CodePolicyUnsupported, "the streamed answer could not be assembled for on_response policies: "+err.Error())
		}
		nb, perr := g.runResponsePolicies(c, 200, body, partial)
		if perr != nil {
			return perr
		}
		if !bytes.Equal(nb, body) {
			return openai.Errorf(502, openai.CodePolicyRewriteUnsupported, "an on_response policy with stream = \"incremental\" rewrote a streamed answer, which cannot be applied to bytes already sent; the stream was stopped")
		}
		return nil
	}
	chunk := first
	for err == nil {
		c.record(chunk)
		c.noteChunk(chunk)
		if size += len(chunk); size > limit {
			_ = g.report(c, balance.Outcome{Target: t, Kind: balance.KindOK, TTFB: c.ttft, Latency: time.Since(start), FirstByteSent: sw != nil})
			return refuse(openai.Errorf(502, openai.CodePolicyBufferExceeded, fmt.Sprintf("the streamed answer is longer than server.policy_buffer (%d bytes), the most on_response policies check", limit)))
		}
		chunks = append(chunks, append([]byte(nil), chunk...))
		if since += len(chunk); since >= every {
			if e := check(true); e != nil {
				_ = g.report(c, balance.Outcome{Target: t, Kind: balance.KindOK, TTFB: c.ttft, Latency: time.Since(start), FirstByteSent: sw != nil})
				return refuse(e)
			}
			if !flush() {
				_ = g.report(c, balance.Outcome{Target: t, Kind: balance.KindCanceled, FirstByteSent: true})
				c.status, c.errMsg = 499, "client went away mid-stream"
				return true, nil
			}
		}
		chunk, err = s.Next()
	}
	if err != io.EOF {
		kind := balance.KindBrokenStream
		if ctx.Err() != nil || c.r.Context().Err() != nil {
			kind = balance.KindCanceled
		}
		_ = g.report(c, balance.Outcome{Target: t, Kind: kind, TTFB: c.ttft, Latency: time.Since(start), FirstByteSent: sw != nil})
		if sw == nil && kind == balance.KindBrokenStream {
			c.usage, c.finish = nil, ""
			return false, streamError(err) // nothing was sent: the next target may answer
		}
		if c.r.Context().Err() != nil {
			c.status, c.errMsg = 499, "client went away mid-stream"
			return true, nil
		}
		e := streamError(err)
		return refuse(e)
	}
	_ = g.report(c, balance.Outcome{Target: t, Kind: balance.KindOK, TTFB: c.ttft, Latency: time.Since(start), FirstByteSent: sw != nil})
	if e := check(false); e != nil {
		return refuse(e)
	}
	if !flush() {
		c.status, c.errMsg = 499, "client went away mid-stream"
		return true, nil
	}
	_ = sw.Done()
	if c.finish != "" {
		c.keepAnswer(nil)
	}
	return true, nil
}
