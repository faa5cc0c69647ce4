package gateway

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/sluice-gw/sluice/host/messagesapi"
	"github.com/sluice-gw/sluice/host/openai"
	"github.com/sluice-gw/sluice/host/provider"
	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// messages serves POST /v1/messages, the Anthropic Messages API shape, so clients built on
// the Anthropic SDK can use any provider: the request is converted to OpenAI's shape, runs
// the ordinary pipeline, and the answer (or stream) is converted back.
func (g *Gateway) messages() http.Handler {
	chat := g.api(provider.ChatCompletions)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := openai.ReadBody(r.Body, r.ContentLength, int64(g.cfg.Server.MaxBodySize))
		if err != nil {
			e := bodyError(err)
			writeAnthropicError(w, e.Status, "", e.Message)
			return
		}
		raw, oe := parseRequest(body, &g.cfg.Server)
		if oe != nil {
			writeAnthropicError(w, oe.Status, "", oe.Message)
			return
		}
		d := &dialect{name: provider.Messages, body: raw, header: forwardHeaders(r)}
		var conv messagesapi.Converted
		if g.allNative(r, provider.Messages, raw.Model) {
			// Every target takes the body as it is: no conversion, and the pipeline reads the
			// Messages body itself (model, stream, max_tokens, the messages for its estimate).
			conv = messagesapi.Converted{Body: body, Model: raw.Model, Stream: raw.Stream}
			d.chatReq = raw
		} else if conv, err = messagesapi.ToOpenAI(body); err != nil {
			writeAnthropicError(w, 400, "invalid_request_error", err.Error())
			return
		}
		if conv.Refusal != nil {
			// Only a target that speaks the Messages API natively can take it.
			d.bridgeErr = openai.Errorf(400, openai.CodeUnsupportedOnBridge, conv.Refusal.Error())
		}
		r = withDialect(r, d)
		r.Body = io.NopCloser(bytes.NewReader(conv.Body))
		r.ContentLength = int64(len(conv.Body))
		aw := newAnthropicWriter(w, d, conv)
		d.end = aw.finish
		chat.ServeHTTP(aw, r)
		aw.finish()
	})
}

func writeAnthropicError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(messagesapi.ErrorBody(status, typ, msg))
}

// anthropicWriter converts what the OpenAI pipeline writes into the Anthropic shape: a whole
// body for non-streamed answers and errors, SSE events one by one for streams.
type anthropicWriter struct {
	convWriter
	conv *messagesapi.StreamConverter
}

func newAnthropicWriter(w http.ResponseWriter, d *dialect, conv messagesapi.Converted) *anthropicWriter {
	a := &anthropicWriter{conv: messagesapi.NewStreamConverter(conv.Model)}
	// A native error is held: finish checks that it is in Anthropic's shape.
	a.convWriter = convWriter{w: w, d: d, ignored: conv.Ignored, holdNativeErrors: true, onEvents: a.drain}
	return a
}

// drain converts each complete SSE event in the buffer.
func (a *anthropicWriter) drain() error {
	for {
		data, ok := a.nextData()
		if !ok {
			return nil
		}
		var out [][2]string
		switch {
		case bytes.Equal(data, []byte("[DONE]")):
			out = a.conv.Finish()
		case bytes.HasPrefix(data, []byte(`{"error":`)):
			msg := upstreamMessage(data)
			out = [][2]string{{"error", string(messagesapi.ErrorBody(502, "", msg))}}
		default:
			evs, err := a.conv.Chunk(data)
			if err != nil {
				return err
			}
			out = evs
		}
		for _, e := range out {
			if _, err := io.WriteString(a.w, "event: "+e[0]+"\ndata: "+e[1]+"\n\n"); err != nil {
				return err
			}
		}
		a.Flush()
	}
}

// finish writes a buffered (non-streamed) answer once the pipeline is done.
func (a *anthropicWriter) finish() {
	if a.pass || a.sse || a.status == 0 || a.finished {
		return
	}
	a.finished = true
	h := a.w.Header()
	h.Del("Content-Length")
	if a.d.native && isAnthropicError(a.buf) {
		h.Set("Content-Length", strconv.Itoa(len(a.buf)))
		a.w.WriteHeader(a.status)
		_, _ = a.w.Write(a.buf)
		return
	}
	if a.status == 200 {
		out, err := messagesapi.FromOpenAI(a.buf)
		if err != nil {
			writeAnthropicError(a.w, 502, "api_error", "converting the answer: "+err.Error())
			return
		}
		h.Set("Content-Length", strconv.Itoa(len(out)))
		a.w.WriteHeader(200)
		_, _ = a.w.Write(out)
		return
	}
	msg := upstreamMessage(a.buf)
	switch {
	case msg == "" && a.d.native && len(bytes.TrimSpace(a.buf)) > 0:
		// A native upstream (or a proxy before it) answered in a shape of its own.
		msg = "provider " + h.Get("X-Sluice-Provider") + " answered " + strconv.Itoa(a.status) + ": " + bodySnippet(a.buf)
	case msg == "":
		msg = http.StatusText(a.status)
	}
	status := a.status
	// Anthropic says 529 when it is overloaded, and clients back off on it; sluice's 503s
	// mean the same (every target failed, cooling down or ejected) except a missing key.
	if status == 503 && !bytes.Contains(a.buf, []byte(`"provider_not_configured"`)) {
		status = 529
	}
	writeAnthropicError(a.w, status, "", msg) // "": the type follows the status
}

// isAnthropicError reports whether b is an error body in Anthropic's shape
// ({"type":"error","error":{"type","message"}}), which a native answer may pass as it is.
func isAnthropicError(b []byte) bool {
	v, err := jsonx.Parse(b)
	return err == nil && v.Get("type").Is("error") && v.Get("error", "type").IsString() && v.Get("error", "message").IsString()
}

// bodySnippet is the start of a body in another shape, on one line, for an error message.
func bodySnippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "..."
	}
	return s
}
