package sdk

import "strconv"

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

func decodeMeta(s *scanner, m *Meta) {
	if s.null() {
		return
	}
	s.object(func(k []byte) {
		switch string(k) {
		case "request_id":
			m.RequestID = s.str()
		case "endpoint":
			m.Endpoint = s.str()
		case "model":
			m.Model = s.str()
		case "router":
			m.Router = s.str()
		case "user":
			m.User = s.str()
		case "team":
			m.Team = s.str()
		case "key_id":
			m.KeyID = s.str()
		case "stream":
			m.Stream = s.boolean()
		case "token_estimate":
			m.TokenEstimate = int(s.int())
		case "max_tokens":
			m.MaxTokens = int(s.int())
		case "temperature":
			if s.null() {
				m.Temperature = nil
				return
			}
			t := s.float()
			m.Temperature = &t
		case "headers":
			if s.null() {
				return
			}
			m.Headers = make(map[string]string, 4)
			s.object(func(hk []byte) { m.Headers[string(hk)] = s.str() })
		case "now_ms":
			m.NowMs = s.int()
		default:
			s.skip()
		}
	})
}

func decodeCandidate(s *scanner, c *Candidate) {
	s.object(func(k []byte) {
		switch string(k) {
		case "id":
			c.ID = s.str()
		case "provider":
			c.Provider = s.str()
		case "model":
			c.Model = s.str()
		case "weight":
			c.Weight = s.float()
		case "priority":
			c.Priority = int(s.int())
		case "healthy":
			c.Healthy = s.boolean()
		case "ewma_ms":
			c.EwmaMs = s.float()
		case "in_flight":
			c.InFlight = int(s.int())
		case "error_rate":
			c.ErrorRate = s.float()
		case "price_in":
			c.PriceIn = s.float()
		case "price_out":
			c.PriceOut = s.float()
		default:
			s.skip()
		}
	})
}

// DecodeRouteInput parses a route hook input.
func DecodeRouteInput(b []byte) (RouteInput, error) {
	var in RouteInput
	s := scanner{b: b}
	s.object(func(k []byte) {
		switch string(k) {
		case "meta":
			decodeMeta(&s, &in.Meta)
		case "candidates":
			in.Candidates = make([]Candidate, 0, 4)
			s.array(func() {
				in.Candidates = append(in.Candidates, Candidate{})
				decodeCandidate(&s, &in.Candidates[len(in.Candidates)-1])
			})
		default:
			s.skip()
		}
	})
	return in, s.end()
}

// DecodeCacheKeyInput parses a cache_key hook input.
func DecodeCacheKeyInput(b []byte) (CacheKeyInput, error) {
	var in CacheKeyInput
	s := scanner{b: b}
	s.object(func(k []byte) {
		switch string(k) {
		case "meta":
			decodeMeta(&s, &in.Meta)
		case "key":
			in.Key = s.str()
		case "last_user":
			in.LastUser = s.str()
		case "system":
			in.System = s.str()
		default:
			s.skip()
		}
	})
	return in, s.end()
}

// DecodeRequestInput parses an on_request hook input.
func DecodeRequestInput(b []byte) (RequestInput, error) {
	var in RequestInput
	s := scanner{b: b}
	s.object(func(k []byte) {
		switch string(k) {
		case "meta":
			decodeMeta(&s, &in.Meta)
		case "body":
			in.Body = s.raw()
		default:
			s.skip()
		}
	})
	return in, s.end()
}

// DecodeResponseInput parses an on_response hook input.
func DecodeResponseInput(b []byte) (ResponseInput, error) {
	var in ResponseInput
	s := scanner{b: b}
	s.object(func(k []byte) {
		switch string(k) {
		case "meta":
			decodeMeta(&s, &in.Meta)
		case "status":
			in.Status = int(s.int())
		case "body":
			in.Body = s.raw()
		default:
			s.skip()
		}
	})
	return in, s.end()
}

// AppendJSON appends the route output's JSON envelope.
func (o RouteOutput) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"order":`...)
	if o.Order == nil {
		dst = append(dst, "[]"...)
	} else {
		dst = AppendValue(dst, o.Order)
	}
	return append(dst, '}')
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
