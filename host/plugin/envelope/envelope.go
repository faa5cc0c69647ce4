// Package envelope builds the inputs of plugin hooks (sdk/ABI.md, section 5) with one encoder
// that always writes valid JSON: strings are escaped (invalid UTF-8 becomes U+FFFD), numbers
// that JSON cannot express become null, and embedded JSON (bodies, options, state, events) is
// checked and written as a JSON string when it is not valid JSON. It holds no plugin runtime,
// so the provider package builds translator envelopes with it too; host/plugin's typed calls
// use it for the hooks they run.
package envelope

import (
	"unicode/utf8"

	"github.com/sluice-gw/sluice/sdk/jsonx"
	"github.com/sluice-gw/sluice/sdk/routeview"
)

// Meta is the pre-extracted request description (META) route, cache_key and policy hooks get:
// never the whole body, and no credential headers. It is the flat route view's type too, so
// the JSON and the binary forms carry the same fields.
type Meta = routeview.Meta

// Header is one request header a plugin may route on.
type Header = routeview.Header

// MaxHeaders bounds the headers of a Meta that are encoded.
const MaxHeaders = routeview.MaxHeaders

// Candidate is one routing target as a route hook sees it (CAND).
type Candidate = routeview.Candidate

// writer wraps jsonx.Writer with the checks that keep embedded JSON valid.
type writer struct{ jsonx.Writer }

func newWriter(buf []byte) *writer { return &writer{Writer: *jsonx.NewWriter(buf)} }

// json writes raw when it is one valid JSON value, else raw as a JSON string: an upstream or
// client that sends something else cannot break the envelope. Valid JSON carrying invalid
// UTF-8 in its strings is re-encoded with U+FFFD in their place.
func (w *writer) json(raw []byte) {
	if len(raw) == 0 || !w.embed(raw) {
		w.StringBytes(raw)
	}
}

// object writes raw when it is a valid JSON object, else {}.
func (w *writer) object(raw []byte) {
	if len(raw) == 0 || raw[0] != '{' || !w.embed(raw) {
		w.Fragment("{}")
	}
}

// embed writes raw if it is valid JSON and reports whether it did.
func (w *writer) embed(raw []byte) bool {
	if !jsonx.Valid(raw) {
		return false
	}
	if utf8.Valid(raw) {
		w.Raw(raw)
		return true
	}
	v, err := jsonx.Parse(raw)
	if err != nil {
		return false
	}
	w.Copy(v)
	return true
}

func (w *writer) meta(m *Meta) {
	if m == nil {
		m = &Meta{}
	}
	w.ObjectStart()
	w.Key("request_id")
	w.String(m.RequestID)
	w.Key("endpoint")
	w.String(m.Endpoint)
	w.Key("model")
	w.String(m.Model)
	w.Key("router")
	w.String(m.Router)
	w.Key("user")
	w.String(m.User)
	w.Key("team")
	w.String(m.Team)
	w.Key("key_id")
	w.String(m.KeyID)
	w.Key("stream")
	w.Bool(m.Stream)
	w.Key("token_estimate")
	w.Int(m.TokenEstimate)
	w.Key("max_tokens")
	w.Int(m.MaxTokens)
	w.Key("temperature")
	if m.Temperature != nil {
		w.Float(*m.Temperature)
	} else {
		w.Null()
	}
	w.Key("headers")
	w.ObjectStart()
	seen := 0
	for i, h := range m.Headers {
		if seen == MaxHeaders {
			break
		}
		if dupHeader(m.Headers[:i], h.Name) {
			continue // a duplicate key would be refused by strict guest parsers
		}
		seen++
		w.Key(h.Name)
		w.String(h.Value)
	}
	w.ObjectEnd()
	w.Key("now_ms")
	w.Int(m.NowMs)
	w.ObjectEnd()
}

func dupHeader(before []Header, name string) bool {
	for _, h := range before {
		if h.Name == name {
			return true
		}
	}
	return false
}

// AppendMeta appends META alone.
func AppendMeta(buf []byte, m *Meta) []byte {
	w := newWriter(buf)
	w.meta(m)
	return w.Bytes()
}

// Route appends the route hook's input: {"meta":META,"candidates":[CAND...]}.
func Route(buf []byte, m *Meta, cands []Candidate) []byte {
	w := newWriter(buf)
	w.ObjectStart()
	w.Key("meta")
	w.meta(m)
	w.Key("candidates")
	w.ArrayStart()
	for i := range cands {
		c := &cands[i]
		w.ObjectStart()
		w.Key("id")
		w.String(c.ID)
		w.Key("provider")
		w.String(c.Provider)
		w.Key("model")
		w.String(c.Model)
		w.Key("weight")
		w.Int(int64(c.Weight))
		w.Key("priority")
		w.Int(int64(c.Priority))
		w.Key("healthy")
		w.Bool(c.Healthy)
		w.Key("ewma_ms")
		w.Float(c.EWMAms)
		w.Key("in_flight")
		w.Int(c.InFlight)
		w.Key("error_rate")
		w.Float(c.ErrorRate)
		w.Key("price_in")
		w.Float(c.PriceIn)
		w.Key("price_out")
		w.Float(c.PriceOut)
		w.ObjectEnd()
	}
	w.ArrayEnd()
	w.ObjectEnd()
	return w.Bytes()
}

// CacheKey is the cache_key hook's input besides META.
type CacheKey struct {
	Key      string // the host's canonical key
	LastUser string
	System   string
	Metadata []byte // the request's metadata object; omitted unless a JSON object
	// RequestState is the plugin's on_request state for the request; omitted when nil.
	RequestState []byte
}

// AppendCacheKey appends the cache_key hook's input.
func AppendCacheKey(buf []byte, m *Meta, in *CacheKey) []byte {
	w := newWriter(buf)
	w.ObjectStart()
	w.Key("meta")
	w.meta(m)
	w.Key("key")
	w.String(in.Key)
	w.Key("last_user")
	w.String(in.LastUser)
	w.Key("system")
	w.String(in.System)
	if md := in.Metadata; len(md) > 0 && md[0] == '{' && jsonx.Valid(md) {
		w.Key("metadata")
		w.object(md)
	}
	w.requestState(in.RequestState)
	w.ObjectEnd()
	return w.Bytes()
}

// OnRequest appends the on_request hook's input: {"meta":META,"body":BODY}.
func OnRequest(buf []byte, m *Meta, body []byte) []byte {
	w := newWriter(buf)
	w.ObjectStart()
	w.Key("meta")
	w.meta(m)
	w.Key("body")
	w.json(body)
	w.ObjectEnd()
	return w.Bytes()
}

// OnResponse appends the on_response hook's input; partial marks a check of a stream so far.
func OnResponse(buf []byte, m *Meta, status int, partial bool, body []byte) []byte {
	return OnResponseState(buf, m, nil, status, partial, body)
}

// OnResponseState is OnResponse with the plugin's request state (omitted when nil).
func OnResponseState(buf []byte, m *Meta, state []byte, status int, partial bool, body []byte) []byte {
	w := newWriter(buf)
	w.ObjectStart()
	w.Key("meta")
	w.meta(m)
	w.requestState(state)
	w.Key("status")
	w.Int(int64(status))
	if partial {
		w.Key("partial")
		w.Bool(true)
	}
	w.Key("body")
	w.json(body)
	w.ObjectEnd()
	return w.Bytes()
}

// Init appends the init hook's input: {"name":...,"config":CONFIG}; config is the plugin's
// table already encoded as a JSON object ({} when not one).
func Init(buf []byte, name string, config []byte) []byte {
	w := newWriter(buf)
	w.ObjectStart()
	w.Key("name")
	w.String(name)
	w.Key("config")
	w.object(config)
	w.ObjectEnd()
	return w.Bytes()
}

// Head is what every translate_* envelope starts with.
type Head struct {
	Endpoint  string
	Model     string // the upstream model, provider prefix stripped
	RequestID string
	Now       int64 // unix seconds
}

func (w *writer) head(h *Head) {
	w.ObjectStart()
	w.Key("endpoint")
	w.String(h.Endpoint)
	w.Key("model")
	w.String(h.Model)
	w.Key("request_id")
	w.String(h.RequestID)
	w.Key("now")
	w.Int(h.Now)
}

// TranslateRequest appends the translate_request hook's input. options is the provider's
// options object ({} when not one); body the OpenAI request.
func TranslateRequest(buf []byte, h *Head, stream bool, provider string, options, body []byte) []byte {
	w := newWriter(buf)
	w.head(h)
	w.Key("stream")
	w.Bool(stream)
	w.Key("provider")
	w.ObjectStart()
	w.Key("name")
	w.String(provider)
	w.Key("options")
	w.object(options)
	w.ObjectEnd()
	w.Key("body")
	w.json(body)
	w.ObjectEnd()
	return w.Bytes()
}

// TranslateResponse appends the translate_response hook's input; a body that is not JSON (an
// HTML error page) is passed as a string.
func TranslateResponse(buf []byte, h *Head, status int, body []byte) []byte {
	w := newWriter(buf)
	w.head(h)
	w.Key("status")
	w.Int(int64(status))
	w.Key("body")
	w.json(body)
	w.ObjectEnd()
	return w.Bytes()
}

// Chunk builds a translate_chunk input one event at a time, as events arrive.
type Chunk struct {
	w writer
	n int
}

// Begin starts an envelope in buf[:0] with the stream's state (null when empty).
func (c *Chunk) Begin(buf []byte, h *Head, state []byte) {
	c.w = writer{Writer: *jsonx.NewWriter(buf)}
	c.n = 0
	c.w.head(h)
	c.w.Key("state")
	if len(state) == 0 {
		c.w.Null()
	} else {
		c.w.json(state)
	}
	c.w.Key("events")
	c.w.ArrayStart()
}

// Event adds one upstream event; data that is not JSON is passed as a string.
func (c *Chunk) Event(name string, data []byte) {
	c.w.ObjectStart()
	c.w.Key("event")
	c.w.String(name)
	c.w.Key("data")
	c.w.json(data)
	c.w.ObjectEnd()
	c.n++
}

// End adds the end-of-stream marker event ({"event":"__end__","data":null}).
func (c *Chunk) End() {
	c.w.ObjectStart()
	c.w.Key("event")
	c.w.String("__end__")
	c.w.Key("data")
	c.w.Null()
	c.w.ObjectEnd()
	c.n++
}

// Events reports how many events were added.
func (c *Chunk) Events() int { return c.n }

// Len is the envelope's size so far.
func (c *Chunk) Len() int { return c.w.Len() }

// Bytes closes the envelope and returns it.
func (c *Chunk) Bytes() []byte {
	c.w.ArrayEnd()
	c.w.ObjectEnd()
	return c.w.Bytes()
}
