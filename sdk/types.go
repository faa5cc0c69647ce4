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
	// RequestState is this plugin's on_request state for the request (raw JSON, nil when
	// none); it aliases the input, copy it to keep it.
	RequestState []byte
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
	// RequestState is the state this plugin's on_request returned for the request (raw JSON,
	// nil when none); on_request itself never has one.
	RequestState []byte
}

// ResponseInput is the on_response hook's input; Body is the raw OpenAI response JSON.
type ResponseInput struct {
	Meta   Meta
	Status int
	Body   []byte
	// RequestState is the state this plugin's on_request kept for the request (raw JSON, nil
	// when none). It aliases the input: copy it to keep it.
	RequestState []byte
}

// Policy actions.
const (
	ActionAllow   = "allow"
	ActionReject  = "reject"
	ActionRewrite = "rewrite"
	ActionRespond = "respond" // on_request only: the plugin answers the request itself
)

// Decision is a policy hook's answer. Build it with Allow, Reject or Rewrite.
type Decision struct {
	Action  string
	Status  int
	Code    string
	Message string
	Body    []byte // raw JSON, for ActionRewrite and ActionRespond
	// State (on_request, raw JSON of at most 16 KiB) is kept by the host for the request and
	// passed as RequestState to this plugin's later hooks of the same request.
	State []byte
	// Headers are header edits (an empty value removes the header): on_request's apply to the
	// upstream request, on_response's and a Respond's to the client's response. Only names
	// the plugin's upstream_headers / response_headers allow are accepted.
	Headers map[string]string
}

// Allow lets the request or response through unchanged.
func Allow() Decision { return Decision{Action: ActionAllow} }

// Reject answers the client with status and an OpenAI error carrying code and message.
func Reject(status int, code, message string) Decision {
	return Decision{Action: ActionReject, Status: status, Code: code, Message: message}
}

// Rewrite replaces the body with body (raw JSON).
func Rewrite(body []byte) Decision { return Decision{Action: ActionRewrite, Body: body} }

// Respond (on_request) answers the request with status and body (an OpenAI response JSON)
// without any upstream; a streamed request gets it as a stream.
func Respond(status int, body []byte) Decision {
	return Decision{Action: ActionRespond, Status: status, Body: body}
}

// WithState returns d carrying state (raw JSON) for the request's later hooks.
func (d Decision) WithState(state []byte) Decision { d.State = state; return d }

// WithHeader returns d with one more header edit (value "" removes the header).
func (d Decision) WithHeader(name, value string) Decision {
	h := make(map[string]string, len(d.Headers)+1)
	for k, v := range d.Headers {
		h[k] = v
	}
	h[name] = value
	d.Headers = h
	return d
}

// Keys of META and CAND in the order the host writes them (keyIndex tries that position first).
var (
	metaKeys = [...]string{"request_id", "endpoint", "model", "router", "user", "team", "key_id", "stream",
		"token_estimate", "max_tokens", "temperature", "headers", "now_ms"}
	candKeys = [...]string{"id", "provider", "model", "weight", "priority", "healthy", "ewma_ms", "in_flight",
		"error_rate", "price_in", "price_out"}
	routeKeys    = [...]string{"meta", "candidates"}
	cacheKeyKeys = [...]string{"meta", "key", "last_user", "system", "request_state"}
	requestKeys  = [...]string{"meta", "body", "request_state"}
	responseKeys = [...]string{"meta", "status", "body", "request_state"}
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

// decodeMeta reads META at the scanner's position. Without a source string (policy inputs,
// whose body should not be copied) the meta object is copied to a string once so that its
// strings are substrings of it: one allocation for all of them. With reuse, the Headers map is
// cleared and refilled instead of allocated.
func decodeMeta(s *jsonx.Scanner, m *Meta, temp *float64, copyMeta bool) {
	if s.Null() {
		return
	}
	if copyMeta {
		raw := s.Raw()
		if s.Err() != nil {
			return
		}
		var sub jsonx.Scanner
		sub.Reset(raw, string(raw))
		decodeMetaObject(&sub, m, temp)
		if err := sub.End(); err != nil {
			s.Fail(err)
		}
		return
	}
	decodeMetaObject(s, m, temp)
}

func decodeMetaObject(s *jsonx.Scanner, m *Meta, temp *float64) {
	if !s.Open('{') {
		return
	}
	var keys seen
	for n := 0; ; {
		k, ok := s.Member(&n)
		if !ok {
			return
		}
		idx := keyIndex(k, metaKeys[:], n-1)
		if keys.dup(idx, k) {
			s.Fail(errDup(k))
			return
		}
		switch idx {
		case 0:
			m.RequestID = s.Str()
		case 1:
			m.Endpoint = s.Str()
		case 2:
			m.Model = s.Str()
		case 3:
			m.Router = s.Str()
		case 4:
			m.User = s.Str()
		case 5:
			m.Team = s.Str()
		case 6:
			m.KeyID = s.Str()
		case 7:
			m.Stream = s.Bool()
		case 8:
			m.TokenEstimate = int(s.Int())
		case 9:
			m.MaxTokens = int(s.Int())
		case 10: // temperature
			if s.Null() {
				m.Temperature = nil
				continue
			}
			t := s.Float()
			if temp == nil {
				temp = new(float64)
			}
			*temp = t
			m.Temperature = temp
		case 11: // headers
			if s.Null() || !s.Open('{') {
				continue
			}
			for hn := 0; ; {
				k, ok := s.Member(&hn)
				if !ok {
					break
				}
				if m.Headers == nil {
					m.Headers = make(map[string]string, 4)
				} else if _, dup := m.Headers[string(k)]; dup {
					s.Fail(errDup(k))
					return
				}
				// The name is a substring of the source when the key needed no decoding.
				m.Headers[s.Text(k)] = s.Str()
			}
		case 12:
			m.NowMs = s.Int()
		default:
			s.Skip()
		}
	}
}

func decodeCandidate(s *jsonx.Scanner, c *Candidate) {
	*c = Candidate{}
	if s.Null() || !s.Open('{') {
		return
	}
	var keys seen
	for n := 0; ; {
		k, ok := s.Member(&n)
		if !ok {
			return
		}
		idx := keyIndex(k, candKeys[:], n-1)
		if keys.dup(idx, k) {
			s.Fail(errDup(k))
			return
		}
		switch idx {
		case 0:
			c.ID = s.Str()
		case 1:
			c.Provider = s.Str()
		case 2:
			c.Model = s.Str()
		case 3:
			c.Weight = s.Float()
		case 4:
			c.Priority = int(s.Int())
		case 5:
			c.Healthy = s.Bool()
		case 6:
			c.EwmaMs = s.Float()
		case 7:
			c.InFlight = int(s.Int())
		case 8:
			c.ErrorRate = s.Float()
		case 9:
			c.PriceIn = s.Float()
		case 10:
			c.PriceOut = s.Float()
		default:
			s.Skip()
		}
	}
}

// DecodeRouteInput parses a route hook input into fresh values.
func DecodeRouteInput(b []byte) (RouteInput, error) {
	var in RouteInput
	err := decodeRoute(b, &in, false, nil)
	return in, err
}

// decodeRoute parses a route input into in. The input is copied to a string once, so every
// string field is a substring of it. With reuse, in's Candidates array and Headers map are
// refilled rather than allocated (the exports reuse one RouteInput across calls).
func decodeRoute(b []byte, in *RouteInput, reuse bool, temp *float64) error {
	cands := in.Candidates[:0]
	if !reuse {
		cands = nil
	}
	var s jsonx.Scanner
	s.Reset(b, string(b))
	resetMeta(&in.Meta, reuse)
	in.Candidates = nil
	if s.Open('{') {
		var keys seen
		for n := 0; ; {
			k, ok := s.Member(&n)
			if !ok {
				break
			}
			idx := keyIndex(k, routeKeys[:], -1)
			if keys.dup(idx, k) {
				s.Fail(errDup(k))
				break
			}
			switch idx {
			case 0:
				decodeMeta(&s, &in.Meta, temp, false)
			case 1:
				if s.Null() || !s.Open('[') {
					continue
				}
				if cands == nil {
					cands = make([]Candidate, 0, 4)
				}
				for cn := 0; s.Next(&cn, ']'); {
					cands = append(cands, Candidate{})
					decodeCandidate(&s, &cands[len(cands)-1])
				}
			default:
				s.Skip()
			}
		}
	}
	in.Candidates = cands
	return s.End()
}

// DecodeCacheKeyInput parses a cache_key hook input into fresh values.
func DecodeCacheKeyInput(b []byte) (CacheKeyInput, error) {
	var in CacheKeyInput
	err := decodeCacheKey(b, &in, false, nil)
	return in, err
}

func decodeCacheKey(b []byte, in *CacheKeyInput, reuse bool, temp *float64) error {
	var s jsonx.Scanner
	s.Reset(b, string(b))
	resetMeta(&in.Meta, reuse)
	in.Key, in.LastUser, in.System, in.RequestState = "", "", "", nil
	if s.Open('{') {
		var keys seen
		for n := 0; ; {
			k, ok := s.Member(&n)
			if !ok {
				break
			}
			idx := keyIndex(k, cacheKeyKeys[:], -1)
			if keys.dup(idx, k) {
				s.Fail(errDup(k))
				break
			}
			switch idx {
			case 0:
				decodeMeta(&s, &in.Meta, temp, false)
			case 1:
				in.Key = s.Str()
			case 2:
				in.LastUser = s.Str()
			case 3:
				in.System = s.Str()
			case 4:
				in.RequestState = nullToNil(s.Raw())
			default:
				s.Skip()
			}
		}
	}
	return s.End()
}

// DecodeRequestInput parses an on_request hook input. Body aliases b.
func DecodeRequestInput(b []byte) (RequestInput, error) {
	var in RequestInput
	err := decodeRequest(b, &in, false, nil)
	return in, err
}

// decodeRequest reads the body as a raw span of b (no copy); only the meta object is copied.
func decodeRequest(b []byte, in *RequestInput, reuse bool, temp *float64) error {
	var s jsonx.Scanner
	s.Reset(b, "")
	resetMeta(&in.Meta, reuse)
	in.Body, in.RequestState = nil, nil
	if s.Open('{') {
		var keys seen
		for n := 0; ; {
			k, ok := s.Member(&n)
			if !ok {
				break
			}
			idx := keyIndex(k, requestKeys[:], -1)
			if keys.dup(idx, k) {
				s.Fail(errDup(k))
				break
			}
			switch idx {
			case 0:
				decodeMeta(&s, &in.Meta, temp, true)
			case 1:
				in.Body = s.Raw()
			case 2:
				in.RequestState = nullToNil(s.Raw())
			default:
				s.Skip()
			}
		}
	}
	return s.End()
}

// DecodeResponseInput parses an on_response hook input. Body aliases b.
func DecodeResponseInput(b []byte) (ResponseInput, error) {
	var in ResponseInput
	err := decodeResponse(b, &in, false, nil)
	return in, err
}

func decodeResponse(b []byte, in *ResponseInput, reuse bool, temp *float64) error {
	var s jsonx.Scanner
	s.Reset(b, "")
	resetMeta(&in.Meta, reuse)
	in.Body, in.Status, in.RequestState = nil, 0, nil
	if s.Open('{') {
		var keys seen
		for n := 0; ; {
			k, ok := s.Member(&n)
			if !ok {
				break
			}
			idx := keyIndex(k, responseKeys[:], -1)
			if keys.dup(idx, k) {
				s.Fail(errDup(k))
				break
			}
			switch idx {
			case 0:
				decodeMeta(&s, &in.Meta, temp, true)
			case 1:
				in.Status = int(s.Int())
			case 2:
				in.Body = s.Raw()
			case 3:
				in.RequestState = nullToNil(s.Raw())
			default:
				s.Skip()
			}
		}
	}
	return s.End()
}

// nullToNil maps a JSON null to nil, so that "no state" has one form.
func nullToNil(raw []byte) []byte {
	if string(raw) == "null" {
		return nil
	}
	return raw
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
		dst = appendReject(dst, d.Status, d.Code, d.Message)
	case ActionRewrite, ActionRespond:
		dst = append(dst, `{"action":`...)
		dst = AppendString(dst, d.Action)
		if d.Action == ActionRespond {
			st := d.Status
			if st == 0 {
				st = 200
			}
			dst = append(dst, `,"status":`...)
			dst = strconv.AppendInt(dst, int64(st), 10)
		}
		dst = append(dst, `,"body":`...)
		if len(d.Body) == 0 {
			dst = append(dst, "null"...)
		} else {
			dst = append(dst, d.Body...)
		}
	default:
		dst = append(dst, `{"action":"allow"`...)
	}
	if len(d.State) > 0 {
		dst = append(dst, `,"state":`...)
		dst = append(dst, d.State...)
	}
	if len(d.Headers) > 0 {
		dst = append(dst, `,"headers":`...)
		dst = AppendValue(dst, d.Headers)
	}
	return append(dst, '}')
}

// appendReject writes a reject decision's members (status 0 means 400), without the closing
// brace: the policy and stream decisions share it.
func appendReject(dst []byte, status int, code, message string) []byte {
	if status == 0 {
		status = 400
	}
	dst = append(dst, `{"action":"reject","status":`...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, `,"code":`...)
	dst = AppendString(dst, code)
	dst = append(dst, `,"message":`...)
	return AppendString(dst, message)
}
