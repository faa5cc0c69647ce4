package sdk

import (
	"strconv"

	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// Meta is the pre-extracted request summary the host gives route, cache_key and policy hooks.
type Meta struct {
	RequestID     string
	Endpoint      string
	Model         string
	Router        string
	User          string
	Team          string
	KeyID         string
	Stream        bool
	TokenEstimate int
	MaxTokens     int
	Temperature   *float64 // nil when the request did not set it
	Headers       map[string]string
	NowMs         int64
}

// Header returns the allow-listed request header name (lower case) or "".
func (m *Meta) Header(name string) string { return m.Headers[name] }

// Candidate is one routing target with its live statistics.
type Candidate struct {
	ID        string
	Provider  string
	Model     string
	Weight    float64
	Priority  int
	Healthy   bool
	EwmaMs    float64
	InFlight  int
	ErrorRate float64
	PriceIn   float64 // USD per 1M input tokens
	PriceOut  float64 // USD per 1M output tokens
}

// RouteInput is the route hook's input.
type RouteInput struct {
	Meta       Meta
	Candidates []Candidate
}

// RouteOutput orders candidates by id; ids not listed are dropped, an empty Order keeps the
// host's order.
type RouteOutput struct {
	Order []string
}

// CacheKeyInput is the cache_key hook's input.
type CacheKeyInput struct {
	Meta     Meta
	Key      string // the host's canonical key (hex)
	LastUser string // text of the last user message
	System   string // text of the system prompt
}

// CacheKeyOutput is the cache_key hook's answer: a key (hashed by the host with the tenant
// namespace) and optionally a bucket count, or Skip to not cache this request.
type CacheKeyOutput struct {
	Key     string
	Skip    bool
	Buckets int
}

// RequestInput is the on_request hook's input; Body is the raw OpenAI request JSON.
type RequestInput struct {
	Meta Meta
	Body []byte
}

// ResponseInput is the on_response hook's input; Body is the raw OpenAI response JSON.
type ResponseInput struct {
	Meta   Meta
	Status int
	Body   []byte
}

// Policy actions.
const (
	ActionAllow   = "allow"
	ActionReject  = "reject"
	ActionRewrite = "rewrite"
)

// Decision is a policy hook's answer. Build it with Allow, Reject or Rewrite.
type Decision struct {
	Action  string
	Status  int
	Code    string
	Message string
	Body    []byte // raw JSON, for ActionRewrite
}

// Allow lets the request or response through unchanged.
func Allow() Decision { return Decision{Action: ActionAllow} }

// Reject answers the client with status and an OpenAI error carrying code and message.
func Reject(status int, code, message string) Decision {
	return Decision{Action: ActionReject, Status: status, Code: code, Message: message}
}

// Rewrite replaces the body with body (raw JSON).
func Rewrite(body []byte) Decision { return Decision{Action: ActionRewrite, Body: body} }

// Keys of META and CAND in the order the host writes them (keyIndex tries that position first).
var (
	metaKeys = [...]string{"request_id", "endpoint", "model", "router", "user", "team", "key_id", "stream",
		"token_estimate", "max_tokens", "temperature", "headers", "now_ms"}
	candKeys = [...]string{"id", "provider", "model", "weight", "priority", "healthy", "ewma_ms", "in_flight",
		"error_rate", "price_in", "price_out"}
)

// resetMeta zeroes m, keeping (cleared) its Headers map when reused.
func resetMeta(m *Meta, reuse bool) {
	h := m.Headers
	*m = Meta{}
	if reuse && h != nil {
		clear(h)
		m.Headers = h
	}
}

// decodeMeta reads the META object v. Without r.src (policy inputs, whose body should not be
// copied) the meta object is copied to a string once so that its strings are substrings of it:
// one allocation for all of them.
func decodeMeta(r *reader, k, v jsonx.Value, m *Meta, temp *float64) {
	if !r.object(k, v) {
		return
	}
	if r.src == "" {
		sub := reader{base: v.Raw(), src: string(v.Raw())}
		sub.meta(v, m, temp)
		r.fail(sub.err)
		return
	}
	r.meta(v, m, temp)
}

func (r *reader) meta(obj jsonx.Value, m *Meta, temp *float64) {
	var keys seen
	n := 0
	for k, v, i := obj.NextMember(0); k.Exists(); k, v, i = obj.NextMember(i) {
		idx := keyIndex(k, metaKeys[:], n)
		n++
		if keys.dup(idx, k) {
			r.fail(errDup(k))
			return
		}
		switch idx {
		case 0:
			m.RequestID = r.str(k, v)
		case 1:
			m.Endpoint = r.str(k, v)
		case 2:
			m.Model = r.str(k, v)
		case 3:
			m.Router = r.str(k, v)
		case 4:
			m.User = r.str(k, v)
		case 5:
			m.Team = r.str(k, v)
		case 6:
			m.KeyID = r.str(k, v)
		case 7:
			m.Stream = r.bool(k, v)
		case 8:
			m.TokenEstimate = int(r.int(k, v))
		case 9:
			m.MaxTokens = int(r.int(k, v))
		case 10: // temperature
			if v.IsNull() {
				m.Temperature = nil
				continue
			}
			t := r.float(k, v)
			if temp == nil {
				temp = new(float64)
			}
			*temp = t
			m.Temperature = temp
		case 11: // headers
			if !r.object(k, v) {
				continue
			}
			for hk, hv, j := v.NextMember(0); hk.Exists(); hk, hv, j = v.NextMember(j) {
				name := r.str(hk, hk)
				if m.Headers == nil {
					m.Headers = make(map[string]string, 4)
				} else if _, dup := m.Headers[name]; dup {
					r.fail(errDup(hk))
					return
				}
				m.Headers[name] = r.str(hk, hv)
			}
		case 12:
			m.NowMs = r.int(k, v)
		}
		if r.err != nil {
			return
		}
	}
}

func (r *reader) candidate(obj jsonx.Value, c *Candidate) {
	*c = Candidate{}
	var keys seen
	n := 0
	for k, v, i := obj.NextMember(0); k.Exists(); k, v, i = obj.NextMember(i) {
		idx := keyIndex(k, candKeys[:], n)
		n++
		if keys.dup(idx, k) {
			r.fail(errDup(k))
			return
		}
		switch idx {
		case 0:
			c.ID = r.str(k, v)
		case 1:
			c.Provider = r.str(k, v)
		case 2:
			c.Model = r.str(k, v)
		case 3:
			c.Weight = r.float(k, v)
		case 4:
			c.Priority = int(r.int(k, v))
		case 5:
			c.Healthy = r.bool(k, v)
		case 6:
			c.EwmaMs = r.float(k, v)
		case 7:
			c.InFlight = int(r.int(k, v))
		case 8:
			c.ErrorRate = r.float(k, v)
		case 9:
			c.PriceIn = r.float(k, v)
		case 10:
			c.PriceOut = r.float(k, v)
		}
	}
}

// DecodeRouteInput parses a route hook input into fresh values.
func DecodeRouteInput(b []byte) (RouteInput, error) {
	var in RouteInput
	err := decodeRoute(b, &in, false, nil)
	return in, err
}

var (
	routeKeys    = [...]string{"meta", "candidates"}
	cacheKeyKeys = [...]string{"meta", "key", "last_user", "system"}
	requestKeys  = [...]string{"meta", "body"}
	responseKeys = [...]string{"meta", "status", "body"}
)

// viewTape is the reused jsonx.Tape of the exports' views (reuse set: one call at a time per
// instance). It turns every skip over a nested value into a lookup, so the input is read about
// once; without it each container would be scanned again at every level that steps over it.
var viewTape jsonx.Tape

// maxTaped bounds the inputs read with viewTape (the tape costs 4 bytes per input byte and is
// kept); larger ones, rare for the typed views, parse without it.
const maxTaped = 256 << 10

func viewParse(b []byte, reuse bool) (jsonx.Value, error) {
	switch {
	case len(b) > maxTaped:
		return parseObject(b, nil)
	case reuse:
		return parseObject(b, &viewTape)
	}
	// A fresh decode (the exported Decode functions, safe for concurrent use) gets its own tape.
	return parseObject(b, new(jsonx.Tape))
}

// decodeRoute parses a route input into in. The input is copied to a string once, so every
// string field is a substring of it. With reuse, in's Candidates array and Headers map are
// refilled rather than allocated (the exports reuse one RouteInput across calls).
func decodeRoute(b []byte, in *RouteInput, reuse bool, temp *float64) error {
	cands := in.Candidates[:0]
	if !reuse {
		cands = nil
	}
	resetMeta(&in.Meta, reuse)
	in.Candidates = nil
	root, err := viewParse(b, reuse)
	if err != nil {
		return err
	}
	r := reader{base: b, src: string(b)}
	var keys seen
	for k, v, i := root.NextMember(0); k.Exists() && r.err == nil; k, v, i = root.NextMember(i) {
		idx := keyIndex(k, routeKeys[:], -1)
		if keys.dup(idx, k) {
			return errDup(k)
		}
		switch idx {
		case 0:
			decodeMeta(&r, k, v, &in.Meta, temp)
		case 1:
			if v.IsNull() {
				continue
			}
			if !v.IsArray() {
				r.fail(errType(k, "an array", v))
				continue
			}
			if cands == nil {
				cands = make([]Candidate, 0, 4)
			}
			for e, j := v.NextElem(0); e.Exists() && r.err == nil; e, j = v.NextElem(j) {
				cands = append(cands, Candidate{})
				if r.object(k, e) {
					r.candidate(e, &cands[len(cands)-1])
				}
			}
		}
	}
	in.Candidates = cands
	return r.err
}

// DecodeCacheKeyInput parses a cache_key hook input into fresh values.
func DecodeCacheKeyInput(b []byte) (CacheKeyInput, error) {
	var in CacheKeyInput
	err := decodeCacheKey(b, &in, false, nil)
	return in, err
}

func decodeCacheKey(b []byte, in *CacheKeyInput, reuse bool, temp *float64) error {
	resetMeta(&in.Meta, reuse)
	in.Key, in.LastUser, in.System = "", "", ""
	root, err := viewParse(b, reuse)
	if err != nil {
		return err
	}
	r := reader{base: b, src: string(b)}
	var keys seen
	for k, v, i := root.NextMember(0); k.Exists() && r.err == nil; k, v, i = root.NextMember(i) {
		idx := keyIndex(k, cacheKeyKeys[:], -1)
		if keys.dup(idx, k) {
			return errDup(k)
		}
		switch idx {
		case 0:
			decodeMeta(&r, k, v, &in.Meta, temp)
		case 1:
			in.Key = r.str(k, v)
		case 2:
			in.LastUser = r.str(k, v)
		case 3:
			in.System = r.str(k, v)
		}
	}
	return r.err
}

// DecodeRequestInput parses an on_request hook input. Body aliases b.
func DecodeRequestInput(b []byte) (RequestInput, error) {
	var in RequestInput
	err := decodeRequest(b, &in, false, nil)
	return in, err
}

// decodeRequest reads the body as a raw span of b (no copy); only the meta object is copied.
func decodeRequest(b []byte, in *RequestInput, reuse bool, temp *float64) error {
	resetMeta(&in.Meta, reuse)
	in.Body = nil
	root, err := viewParse(b, reuse)
	if err != nil {
		return err
	}
	var r reader
	var keys seen
	for k, v, i := root.NextMember(0); k.Exists() && r.err == nil; k, v, i = root.NextMember(i) {
		idx := keyIndex(k, requestKeys[:], -1)
		if keys.dup(idx, k) {
			return errDup(k)
		}
		switch idx {
		case 0:
			decodeMeta(&r, k, v, &in.Meta, temp)
		case 1:
			in.Body = v.Raw()
		}
	}
	return r.err
}

// DecodeResponseInput parses an on_response hook input. Body aliases b.
func DecodeResponseInput(b []byte) (ResponseInput, error) {
	var in ResponseInput
	err := decodeResponse(b, &in, false, nil)
	return in, err
}

func decodeResponse(b []byte, in *ResponseInput, reuse bool, temp *float64) error {
	resetMeta(&in.Meta, reuse)
	in.Body, in.Status = nil, 0
	root, err := viewParse(b, reuse)
	if err != nil {
		return err
	}
	var r reader
	var keys seen
	for k, v, i := root.NextMember(0); k.Exists() && r.err == nil; k, v, i = root.NextMember(i) {
		idx := keyIndex(k, responseKeys[:], -1)
		if keys.dup(idx, k) {
			return errDup(k)
		}
		switch idx {
		case 0:
			decodeMeta(&r, k, v, &in.Meta, temp)
		case 1:
			in.Status = int(r.int(k, v))
		case 2:
			in.Body = v.Raw()
		}
	}
	return r.err
}

// AppendJSON appends the route output's JSON envelope.
func (o RouteOutput) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"order":[`...)
	for i, id := range o.Order {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, id)
	}
	return append(dst, "]}"...)
}

// AppendJSON appends the cache_key output's JSON envelope.
func (o CacheKeyOutput) AppendJSON(dst []byte) []byte {
	if o.Skip {
		return append(dst, `{"skip":true}`...)
	}
	dst = append(dst, `{"key":`...)
	dst = AppendString(dst, o.Key)
	if o.Buckets > 0 {
		dst = append(dst, `,"buckets":`...)
		dst = strconv.AppendInt(dst, int64(o.Buckets), 10)
	}
	return append(dst, '}')
}

// AppendJSON appends the policy decision's JSON envelope.
func (d Decision) AppendJSON(dst []byte) []byte {
	switch d.Action {
	case ActionReject:
		st := d.Status
		if st == 0 {
			st = 400
		}
		dst = append(dst, `{"action":"reject","status":`...)
		dst = strconv.AppendInt(dst, int64(st), 10)
		dst = append(dst, `,"code":`...)
		dst = AppendString(dst, d.Code)
		dst = append(dst, `,"message":`...)
		dst = AppendString(dst, d.Message)
		return append(dst, '}')
	case ActionRewrite:
		dst = append(dst, `{"action":"rewrite","body":`...)
		if len(d.Body) == 0 {
			dst = append(dst, "null"...)
		} else {
			dst = append(dst, d.Body...)
		}
		return append(dst, '}')
	}
	return append(dst, `{"action":"allow"}`...)
}
