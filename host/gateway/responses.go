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

	"github.com/sluice-gw/sluice/host/openai"
	"github.com/sluice-gw/sluice/host/provider"
	"github.com/sluice-gw/sluice/host/responsesapi"
	"github.com/sluice-gw/sluice/host/respstore"
	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// storeTimeout bounds one stored-response read or write, whatever the client does meanwhile.
const storeTimeout = 2 * time.Second

// tenant scopes stored responses: the caller's team and key. Anonymous callers (auth off)
// share one scope, as they share everything else.
func (g *Gateway) tenant(r *http.Request) (string, *openai.Error) {
	if g.auth == nil {
		return "", nil
	}
	id, err := g.auth.Identify(r)
	if err != nil {
		return "", authError(err)
	}
	if id.Anonymous {
		return "", nil
	}
	return id.Team + "\x00" + id.KeyID, nil
}

func responsesError(e *responsesapi.Error) *openai.Error {
	oe := openai.Errorf(e.Status, e.Code, e.Message)
	if e.Param != "" {
		oe.Param = e.Param
	}
	return oe
}

// responses serves POST /v1/responses: the request is read once, continued from a stored
// response when it names one, and run through the chat pipeline; each attempt then goes native
// (OpenAI, Azure, providers declaring native = ["responses"]) or bridged, and the answer comes
// back as a Responses object or event stream.
func (g *Gateway) responses() http.Handler {
	chat := g.api(provider.ChatCompletions)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := openai.ReadBody(r.Body, r.ContentLength, int64(g.cfg.Server.MaxBodySize))
		if err != nil {
			bodyError(err).Write(w)
			return
		}
		raw, oe := parseRequest(body, &g.cfg.Server)
		if oe != nil {
			oe.Write(w)
			return
		}
		req, err := responsesapi.Parse(body)
		if err != nil {
			var re *responsesapi.Error
			if errors.As(err, &re) {
				responsesError(re).Write(w)
				return
			}
			openai.Errorf(400, openai.CodeInvalidRequest, err.Error()).Write(w)
			return
		}
		defer req.Release() // nothing reads req once the answer is written
		tenant, oe := g.tenant(r)
		if oe != nil {
			oe.Write(w)
			return
		}
		var prev *respstore.Record
		if req.PreviousResponseID != "" {
			if prev, oe = g.previous(r.Context(), tenant, req.PreviousResponseID); oe != nil {
				oe.Write(w)
				return
			}
		}
		if req.Store && g.stored == nil {
			w.Header().Add("X-Sluice-Ignored", "store")
		}
		var history [][]byte
		if prev != nil {
			history = prev.Items
		}
		var chatBody []byte
		var bridgeErr *openai.Error
		if g.allNative(r, provider.Responses, req.Model) {
			// Every target speaks the Responses API: the pipeline needs only a stand-in for its
			// estimates, and no chat form is built.
			chatBody, err = standInChat(req, body), nil
		} else {
			chatBody, err = req.ToChat(history)
		}
		if err != nil {
			var re *responsesapi.Error
			if !errors.As(err, &re) || re.Param == "previous_response_id" {
				openai.Errorf(400, openai.CodeInvalidRequest, err.Error()).Write(w)
				return
			}
			// Only a native target can serve this request (a built-in tool, a field chat
			// completions cannot carry): the pipeline gets a stand-in chat form for its
			// estimates, and bridged targets refuse it.
			bridgeErr = responsesError(re)
			if len(req.BuiltinTools) > 0 && req.BuiltinTools[0] == "web_search" {
				bridgeErr.Message += " Codex CLI sends it unless its config says web_search = \"disabled\"."
			}
			chatBody = standInChat(req, body)
		}
		d := &dialect{name: provider.Responses, body: raw, bridgeErr: bridgeErr}
		d.nativeBody = func(p *provider.Provider, model string) []byte {
			if prev == nil || (prev.Native && prev.Provider == p.Name) {
				return raw.Set("model", jsonString(model)) // the upstream holds the conversation itself
			}
			// The earlier turn was served elsewhere: this upstream gets the whole conversation.
			full, err := openai.ParseRequest(raw.With(
				openai.Edit{Key: "model", Raw: jsonString(model)},
				openai.Edit{Key: "input", Raw: itemsArray(history, req.Input)},
			))
			if err != nil {
				return raw.Set("model", jsonString(model))
			}
			return full.Delete("previous_response_id")
		}
		// The id and the converter are made when a bridged answer needs them: a native answer
		// carries the upstream's own id.
		meta := responsesapi.Meta{CreatedAt: time.Now().Unix(), Model: req.Model, Req: req}
		rw := newResponsesWriter(w, d, meta, req.Ignored)
		if req.Store && g.stored != nil {
			d.beforeEnd = func(answer []byte) { g.storeResponse(tenant, req, history, d, answer) }
		}
		d.end = rw.finish
		r = withDialect(r, d)
		r.Body = io.NopCloser(bytes.NewReader(chatBody))
		r.ContentLength = int64(len(chatBody))
		chat.ServeHTTP(rw, r)
		rw.finish()
	})
}

// standInChat is the chat form of a request that only a native target can serve: enough for
// the pipeline's model, stream and token estimate (the input's bytes count as its text).
func standInChat(req *responsesapi.Request, body []byte) []byte {
	w := jsonx.NewWriter(make([]byte, 0, len(body)+96))
	w.ObjectStart()
	w.Key("model")
	w.String(req.Model)
	w.Key("messages")
	w.ArrayStart()
	w.ObjectStart()
	w.Key("role")
	w.String("user")
	w.Key("content")
	w.StringBytes(itemsArray(req.Input))
	w.ObjectEnd()
	w.ArrayEnd()
	if req.Stream {
		w.Key("stream")
		w.Bool(true)
	}
	if n := jsonx.Get(body, "max_output_tokens"); n.IsNumber() {
		w.Key("max_tokens")
		w.Value(n)
	}
	w.ObjectEnd()
	return w.Bytes()
}

// itemsArray joins conversation items into one JSON array.
func itemsArray(parts ...[][]byte) []byte {
	b := []byte{'['}
	for _, items := range parts {
		for _, it := range items {
			if len(b) > 1 {
				b = append(b, ',')
			}
			b = append(b, it...)
		}
	}
	return append(b, ']')
}

func (g *Gateway) previous(ctx context.Context, tenant, id string) (*respstore.Record, *openai.Error) {
	if g.stored == nil {
		e := openai.Errorf(400, openai.CodeStoreDisabled, "previous_response_id needs stored responses, which are off on this gateway ([responses] store = \"off\")")
		e.Param = "previous_response_id"
		return nil, e
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	rec, err := g.stored.Get(ctx, tenant, id)
	switch {
	case errors.Is(err, respstore.ErrNotFound):
		e := openai.Errorf(404, openai.CodePreviousResponseNotFnd, fmt.Sprintf("Previous response with id '%s' not found.", id))
		e.Param = "previous_response_id"
		return nil, e
	case err != nil:
		return nil, openai.Errorf(503, openai.CodeStoreUnavailable, "reading the previous response: "+err.Error())
	}
	return rec, nil
}

// storeResponse keeps an answer so that a later request can continue it, before the client
// sees its end: a client that sends the next turn at once finds it.
func (g *Gateway) storeResponse(tenant string, req *responsesapi.Request, history [][]byte, d *dialect, answer []byte) {
	v, err := jsonx.Parse(answer)
	if err != nil {
		return
	}
	id := v.Get("id").Str()
	if id == "" || !v.Get("status").Is("completed") && !v.Get("status").Is("incomplete") {
		return
	}
	rec := &respstore.Record{
		ID: id, Tenant: tenant, Model: req.Model, Provider: d.provider, Native: d.native,
		Response: answer, CreatedAt: time.Now().Unix(), Input: len(req.Input),
	}
	rec.Items = make([][]byte, 0, len(history)+len(req.Input)+4)
	rec.Items = append(rec.Items, history...)
	rec.Items = append(rec.Items, req.Input...)
	for _, it := range v.Get("output").Elems() {
		rec.Items = append(rec.Items, bytes.Clone(it.Raw()))
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := g.stored.Put(ctx, rec); err != nil {
		g.log.Warn("response not stored", "response_id", id, "reason", err)
	}
}

// responsesWriter turns what the chat pipeline writes into the Responses shape: an answer into
// a response object, a stream's chunks into the semantic events, errors left as OpenAI's. A
// native answer is already in that shape and passes through.
type responsesWriter struct {
	convWriter
	meta  responsesapi.Meta
	conv  *responsesapi.StreamConverter
	ended bool
}

func newResponsesWriter(w http.ResponseWriter, d *dialect, meta responsesapi.Meta, ignored []string) *responsesWriter {
	a := &responsesWriter{meta: meta}
	a.convWriter = convWriter{w: w, d: d, ignored: ignored, onEvents: a.drain}
	return a
}

// converter is the stream converter of a bridged stream, made on its first chunk.
func (a *responsesWriter) converter() *responsesapi.StreamConverter {
	if a.conv == nil {
		a.meta.ID = responsesapi.NewID("resp")
		a.conv = responsesapi.NewStreamConverter(a.meta)
	}
	return a.conv
}

func (a *responsesWriter) drain() error {
	for {
		data, ok := a.nextData()
		if !ok {
			return nil
		}
		var out []responsesapi.Event
		switch {
		case bytes.Equal(data, []byte("[DONE]")):
			out = a.converter().Finish()
			a.end(a.converter().Response())
		case bytes.HasPrefix(data, []byte(`{"error":`)):
			v := jsonx.Get(data, "error")
			code := v.Get("code").Str()
			if code == "" {
				code = openai.CodeStreamBroken
			}
			out = a.converter().Fail(code, v.Get("message").Str())
			a.ended = true
		default:
			evs, err := a.converter().Chunk(data)
			if err != nil {
				out = a.converter().Fail(openai.CodeBadChunk, "converting the upstream stream: "+err.Error())
				a.ended = true
			} else {
				out = evs
			}
		}
		for _, e := range out {
			if _, err := io.WriteString(a.w, "event: "+e.Type+"\ndata: "); err != nil {
				return err
			}
			if _, err := a.w.Write(append(e.Data, '\n', '\n')); err != nil {
				return err
			}
		}
		a.Flush()
	}
}

// end stores the final answer (once) before its last event or body goes out.
func (a *responsesWriter) end(answer []byte) {
	if a.ended {
		return
	}
	a.ended = true
	if a.d.beforeEnd != nil {
		a.d.beforeEnd(answer)
	}
}

// finish writes a buffered (non-streamed) answer once the pipeline is done.
func (a *responsesWriter) finish() {
	if a.pass || a.sse || a.status == 0 || a.finished {
		return
	}
	a.finished = true
	h := a.w.Header()
	h.Del("Content-Length")
	if a.status == 200 {
		a.meta.ID = responsesapi.NewID("resp")
		out, _, err := responsesapi.FromChat(a.buf, a.meta)
		if err != nil {
			openai.Errorf(502, openai.CodeConversionFailed, "converting the answer: "+err.Error()).Write(a.w)
			return
		}
		a.end(out)
		h.Set("Content-Length", strconv.Itoa(len(out)))
		a.w.WriteHeader(200)
		_, _ = a.w.Write(out)
		return
	}
	a.w.WriteHeader(a.status)
	_, _ = a.w.Write(a.buf)
}

// responseID serves GET and DELETE /v1/responses/{id}, and input_items and cancel below it.
// Records answered natively are read from (and deleted at, cancelled at) the upstream that
// holds them too; bridged ones live only in sluice's store.
func (g *Gateway) responseByID(op string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := mux.Vars(r)["id"]
		if g.stored == nil {
			openai.Errorf(404, openai.CodeStoreDisabled, "stored responses are off on this gateway ([responses] store = \"off\")").Write(w)
			return
		}
		tenant, oe := g.tenant(r)
		if oe != nil {
			oe.Write(w)
			return
		}
		if r.URL.Query().Get("stream") == "true" {
			e := openai.Errorf(400, openai.CodeUnsupportedParameter, "stream=true on a stored response is not supported by sluice; retrieve it whole")
			e.Param = "stream"
			e.Write(w)
			return
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), storeTimeout)
		defer cancel()
		rec, err := g.stored.Get(ctx, tenant, id)
		switch {
		case errors.Is(err, respstore.ErrNotFound):
			e := openai.Errorf(404, openai.CodeNotFound, fmt.Sprintf("Response with id '%s' not found.", id))
			e.Param = "response_id"
			e.Write(w)
			return
		case err != nil:
			openai.Errorf(503, openai.CodeStoreUnavailable, "reading the stored response: "+err.Error()).Write(w)
			return
		}
		switch op {
		case "get":
			writeJSON(w, 200, rec.Response)
		case "input_items":
			g.inputItems(w, r, rec)
		case "delete":
			if rec.Native {
				g.forwardNative(r.Context(), rec, http.MethodDelete, "/"+id)
			}
			if err := g.stored.Delete(ctx, tenant, id); err != nil && !errors.Is(err, respstore.ErrNotFound) {
				openai.Errorf(503, openai.CodeStoreUnavailable, "deleting the stored response: "+err.Error()).Write(w)
				return
			}
			b := append([]byte(`{"id":`), jsonString(id)...)
			writeJSON(w, 200, append(b, `,"object":"response","deleted":true}`...))
		case "cancel":
			if !rec.Native {
				e := openai.Errorf(400, openai.CodeNotCancellable, "Only responses created with background=true can be cancelled; this one was answered in full.")
				e.Param = "response_id"
				e.Write(w)
				return
			}
			resp := g.forwardNative(r.Context(), rec, http.MethodPost, "/"+id+"/cancel")
			if resp == nil {
				openai.Errorf(502, openai.CodeUpstreamUnreachable, "provider "+rec.Provider+" could not be reached to cancel the response").Write(w)
				return
			}
			writeJSON(w, resp.Status, resp.Body)
		}
	}
}

// forwardNative sends an operation on a stored response to the upstream that holds it.
func (g *Gateway) forwardNative(ctx context.Context, rec *respstore.Record, method, path string) *provider.Response {
	p, ok := g.providers[rec.Provider]
	if !ok || !p.Speaks(provider.Responses, "") {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	resp, err := p.DoNative(ctx, &provider.NativeRequest{Dialect: provider.Responses, Method: method, Path: path})
	if err != nil {
		g.log.Warn("stored response operation not forwarded", "response_id", rec.ID, "provider", rec.Provider, "reason", err)
		return nil
	}
	return resp
}

// inputItems lists the items a stored response was given, newest first unless order=asc,
// with OpenAI's cursor paging (limit 1-100, default 20; after an item id).
func (g *Gateway) inputItems(w http.ResponseWriter, r *http.Request, rec *respstore.Record) {
	q := r.URL.Query()
	limit := 20
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			e := openai.Errorf(400, openai.CodeInvalidValue, "limit must be an integer between 1 and 100")
			e.Param = "limit"
			e.Write(w)
			return
		}
		limit = n
	}
	order := q.Get("order")
	if order == "" {
		order = "desc"
	}
	if order != "asc" && order != "desc" {
		e := openai.Errorf(400, openai.CodeInvalidValue, "order must be asc or desc")
		e.Param = "order"
		e.Write(w)
		return
	}
	outN := jsonx.Get(rec.Response, "output").Len()
	end := len(rec.Items) - outN
	start := end - rec.Input
	if start < 0 || end < start {
		start, end = 0, 0
	}
	items := make([][]byte, 0, end-start)
	for i := start; i < end; i++ {
		items = append(items, withItemID(rec.Items[i], rec.ID, i))
	}
	if order == "desc" {
		for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
			items[i], items[j] = items[j], items[i]
		}
	}
	if after := q.Get("after"); after != "" {
		for i, it := range items {
			if jsonx.Get(it, "id").Str() == after {
				items = items[i+1:]
				break
			}
		}
	}
	more := len(items) > limit
	if more {
		items = items[:limit]
	}
	b := []byte(`{"object":"list","data":`)
	b = append(b, itemsArray(items)...)
	first, last := "", ""
	if len(items) > 0 {
		first, last = jsonx.Get(items[0], "id").Str(), jsonx.Get(items[len(items)-1], "id").Str()
	}
	b = append(b, `,"first_id":`...)
	b = append(b, jsonString(first)...)
	b = append(b, `,"last_id":`...)
	b = append(b, jsonString(last)...)
	b = append(b, `,"has_more":`...)
	b = strconv.AppendBool(b, more)
	writeJSON(w, 200, append(b, '}'))
}

// withItemID gives an input item that came without an id a stable one, as OpenAI lists them.
func withItemID(item []byte, respID string, i int) []byte {
	v, err := jsonx.Parse(item)
	if err != nil || !v.IsObject() || v.Get("id").Exists() {
		return item
	}
	id := "msg_" + strings.TrimPrefix(respID, "resp_") + "_" + strconv.Itoa(i)
	out := append([]byte(`{"id":`), jsonString(id)...)
	rest := bytes.TrimSpace(item)[1:]
	if len(bytes.TrimSpace(rest)) > 1 {
		out = append(out, ',')
	}
	return append(out, rest...)
}

func writeJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
