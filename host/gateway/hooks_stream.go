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
	"github.com/sluice-gw/sluice/host/openai"
	"github.com/sluice-gw/sluice/host/provider"
	"github.com/sluice-gw/sluice/host/sse"
	"github.com/sluice-gw/sluice/sdk/abi"
)

// on_stream: the stream policies see a stream's chunks in the batches they are relayed in
// (the chunks that arrived together), before the client does, with a state the host keeps per
// stream and plugin. A rejection ends the stream with an OpenAI error event and nothing more
// is read from the upstream; a rewrite replaces the batch.

// guardBatch runs every on_stream policy over a batch in order (each sees what the one before
// it let through) and returns the chunks to send.
func (g *Gateway) guardBatch(c *call, states [][]byte, batch [][]byte, done bool) ([][]byte, *openai.Error) {
	for i, p := range g.streamGuards {
		if !p.Has(abi.HookOnStream) {
			continue
		}
		ctx, end := g.pluginSpan(c, p, abi.HookOnStream)
		d, err := p.OnStream(ctx, g.meta(c), c.stateOf(p), states[i], batch, done)
		end(err)
		if err != nil {
			g.logPluginError(c, err)
			return nil, pluginError(err)
		}
		states[i] = append(states[i][:0], d.State...)
		switch d.Action {
		case "", "allow":
		case "reject":
			c.rejected = true
			status := d.Status
			if status < 400 || status > 599 {
				status = 403
			}
			code := d.Code
			if code == "" {
				code = openai.CodePolicyRejected
			}
			msg := d.Message
			if msg == "" {
				msg = "rejected by policy " + p.Name()
			}
			return nil, openai.Errorf(status, code, msg)
		case "rewrite":
			out := make([][]byte, 0, len(d.Chunks))
			for _, ch := range d.Chunks {
				if !json.Valid(ch) || len(ch) == 0 || ch[0] != '{' {
					return nil, openai.Errorf(502, openai.CodePluginError, fmt.Sprintf("plugin %s hook on_stream rewrote a chunk into something that is not a JSON object", p.Name()))
				}
				out = append(out, []byte(ch))
			}
			batch = out
		default:
			return nil, openai.Errorf(502, openai.CodePluginError, fmt.Sprintf("plugin %s hook on_stream: unknown action %q (allow, reject or rewrite)", p.Name(), d.Action))
		}
	}
	return batch, nil
}

// relayGuarded is relayStream with the stream policies between the upstream and the client.
func (g *Gateway) relayGuarded(ctx context.Context, w http.ResponseWriter, c *call, t balance.Target, start time.Time, resp *provider.Response) (bool, *openai.Error) {
	s := resp.Stream
	defer s.Close() // on a rejection this stops reading the upstream
	first, err := s.Next()
	if err != nil && err != io.EOF {
		return g.attemptFailed(ctx, c, t, start, err)
	}
	c.firstByte.stop()
	c.ttft = time.Since(start)
	states := make([][]byte, len(g.streamGuards))
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
	// refuse ends the answer: a plain error before any byte was sent, an error event after.
	refuse := func(e *openai.Error) (bool, *openai.Error) {
		_ = g.report(c, balance.Outcome{Target: t, Kind: balance.KindOK, TTFB: c.ttft, Latency: time.Since(start), FirstByteSent: sw != nil})
		if sw == nil {
			return true, e
		}
		c.status, c.errMsg = e.Status, e.Message
		_ = sw.Data(bytes.TrimRight(e.Body(), "\n"))
		return true, nil
	}
	// send guards a batch and relays what the policies let through in one write.
	send := func(batch [][]byte, done bool) (*openai.Error, bool) {
		out, e := g.guardBatch(c, states, batch, done)
		if e != nil {
			return e, true
		}
		if sw == nil {
			c.status = 200
			g.startStream(w, c, resp.Header)
			stopStream = g.tel.StreamStarted()
			sw = sse.NewWriter(w)
		}
		for _, ch := range out {
			c.record(ch)
			c.relayed++
			if err := sw.Queue("", ch); err != nil {
				return nil, false
			}
		}
		return nil, sw.Flush() == nil
	}
	var batch [][]byte
	chunk := first
	for err == nil {
		c.noteChunk(chunk)
		if !(c.injected && openai.IsUsageOnlyChunk(chunk)) {
			batch = append(batch, append([]byte(nil), chunk...))
		}
		if !readAhead(s) {
			e, ok := send(batch, false)
			if e != nil {
				return refuse(e)
			}
			if !ok {
				_ = g.report(c, balance.Outcome{Target: t, Kind: balance.KindCanceled, FirstByteSent: true})
				c.status, c.errMsg = 499, "client went away mid-stream"
				return true, nil
			}
			batch = batch[:0]
		}
		chunk, err = s.Next()
	}
	if err != io.EOF {
		if sw == nil { // nothing was sent: the attempt may still fail over
			if ctx.Err() == nil && c.r.Context().Err() == nil {
				_ = g.report(c, balance.Outcome{Target: t, Kind: balance.KindBrokenStream, TTFB: c.ttft, Latency: time.Since(start)})
				c.usage, c.finish = nil, ""
				return false, streamError(err)
			}
			return g.attemptFailed(ctx, c, t, start, err)
		}
		if g.streamCut(ctx, c, t, start) {
			return true, nil
		}
		e := streamError(err)
		c.errMsg, c.status = e.Message, 502
		_ = sw.Data(bytes.TrimRight(e.Body(), "\n"))
		return true, nil
	}
	// The last call says done, with the chunks that arrived with the end (maybe none).
	if e, ok := send(batch, true); e != nil {
		return refuse(e)
	} else if !ok {
		_ = g.report(c, balance.Outcome{Target: t, Kind: balance.KindCanceled, FirstByteSent: true})
		c.status, c.errMsg = 499, "client went away mid-stream"
		return true, nil
	}
	_ = sw.Done()
	if c.finish != "" {
		c.keepAnswer(nil)
	}
	_ = g.report(c, balance.Outcome{Target: t, Kind: balance.KindOK, TTFB: c.ttft, Latency: time.Since(start), FirstByteSent: true})
	return true, nil
}
