package sdk

import (
	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// StreamInput is the on_stream hook's input: a batch of a stream's chat.completion.chunk
// objects as they are relayed (the events that arrived together), the state this hook returned
// for the previous batch of the same stream (nil for the first) and Done on the last batch.
// Chunks, State and RequestState alias the input: copy what you keep.
type StreamInput struct {
	Meta         Meta
	RequestState []byte
	State        []byte
	Chunks       [][]byte
	Done         bool
}

// StreamDecision is an on_stream hook's answer. Build it with StreamAllow, StreamReject or
// StreamRewrite.
type StreamDecision struct {
	Action  string
	State   []byte // raw JSON kept by the host for the next batch (at most 64 KiB)
	Status  int
	Code    string
	Message string
	Chunks  [][]byte // for ActionRewrite: the chunks sent instead of the batch
}

// StreamAllow relays the batch unchanged and keeps state (raw JSON, may be nil).
func StreamAllow(state []byte) StreamDecision {
	return StreamDecision{Action: ActionAllow, State: state}
}

// StreamReject ends the stream with an error event; nothing more is relayed.
func StreamReject(status int, code, message string) StreamDecision {
	return StreamDecision{Action: ActionReject, Status: status, Code: code, Message: message}
}

// StreamRewrite sends chunks instead of the batch and keeps state.
func StreamRewrite(chunks [][]byte, state []byte) StreamDecision {
	return StreamDecision{Action: ActionRewrite, Chunks: chunks, State: state}
}

// AppendJSON appends the stream decision's JSON envelope.
func (d StreamDecision) AppendJSON(dst []byte) []byte {
	switch d.Action {
	case ActionReject:
		dst = appendReject(dst, d.Status, d.Code, d.Message)
		return append(dst, '}')
	case ActionRewrite:
		dst = append(dst, `{"action":"rewrite","chunks":[`...)
		for i, c := range d.Chunks {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, c...)
		}
		dst = append(dst, ']')
	default:
		dst = append(dst, `{"action":"allow"`...)
	}
	if len(d.State) > 0 {
		dst = append(dst, `,"state":`...)
		dst = append(dst, d.State...)
	}
	return append(dst, '}')
}

// DecodeStreamInput parses an on_stream hook input. Its slices alias b.
func DecodeStreamInput(b []byte) (StreamInput, error) {
	var in StreamInput
	err := decodeStream(b, &in, false, nil)
	return in, err
}

func decodeStream(b []byte, in *StreamInput, reuse bool, temp *float64) error {
	var s jsonx.Scanner
	s.Reset(b, "")
	resetMeta(&in.Meta, reuse)
	in.RequestState, in.State, in.Done = nil, nil, false
	in.Chunks = in.Chunks[:0]
	if s.Open('{') {
		var keys seen
		for n := 0; ; {
			k, ok := s.Member(&n)
			if !ok {
				break
			}
			if keys.dup(-1, k) {
				s.Fail(errDup(k))
				break
			}
			switch string(k) {
			case "meta":
				decodeMeta(&s, &in.Meta, temp, true)
			case "request_state":
				in.RequestState = nullToNil(s.Raw())
			case "state":
				in.State = nullToNil(s.Raw())
			case "chunks":
				if s.Open('[') {
					for i := 0; s.Next(&i, ']'); {
						in.Chunks = append(in.Chunks, s.Raw())
					}
				}
			case "done":
				in.Done = s.Bool()
			default:
				s.Skip()
			}
		}
	}
	return s.End()
}

func runStream(in []byte) ([]byte, error) {
	v := &views.stream
	if err := decodeStream(in, v, true, &views.temp); err != nil {
		return nil, Errorf(400, "invalid_hook_input", "on_stream: %v", err)
	}
	d, err := streamH(*v)
	if err != nil {
		return nil, err
	}
	return d.AppendJSON(outBuf[:0]), nil
}

// Usage is the token usage of an answer as on_log reports it.
type Usage struct {
	Prompt, Completion, Cached, CacheWrite, Reasoning int64
}

// LogInput is the on_log hook's input: what became of one request, after its answer was sent.
type LogInput struct {
	Meta         Meta
	RequestState []byte // this plugin's on_request state for the request (nil when none)
	Status       int
	// Outcome is one of ok, error, rejected, cache_hit, canceled, plugin (a plugin answered).
	Outcome   string
	Provider  string
	Model     string
	Target    string
	Attempts  int
	Usage     Usage
	CostUSD   float64
	LatencyMs float64
	TTFTMs    float64
	Error     string
	Cache     string // the cache status: hit, miss, skip, ... ("" when the cache is off)
}

// DecodeLogInput parses an on_log hook input. Strings are copies; RequestState aliases b.
func DecodeLogInput(b []byte) (LogInput, error) {
	var in LogInput
	var s jsonx.Scanner
	s.Reset(b, string(b))
	resetMeta(&in.Meta, false)
	if s.Open('{') {
		var keys seen
		for n := 0; ; {
			k, ok := s.Member(&n)
			if !ok {
				break
			}
			if keys.dup(-1, k) {
				s.Fail(errDup(k))
				break
			}
			switch string(k) {
			case "meta":
				decodeMeta(&s, &in.Meta, nil, false)
			case "request_state":
				in.RequestState = nullToNil(s.Raw())
			case "status":
				in.Status = int(s.Int())
			case "outcome":
				in.Outcome = s.Str()
			case "provider":
				in.Provider = s.Str()
			case "model":
				in.Model = s.Str()
			case "target":
				in.Target = s.Str()
			case "attempts":
				in.Attempts = int(s.Int())
			case "usage":
				if s.Peek() == 'n' || !s.Open('{') {
					s.Skip()
					break
				}
				for m := 0; ; {
					uk, ok := s.Member(&m)
					if !ok {
						break
					}
					switch string(uk) {
					case "prompt_tokens":
						in.Usage.Prompt = s.Int()
					case "completion_tokens":
						in.Usage.Completion = s.Int()
					case "cached_tokens":
						in.Usage.Cached = s.Int()
					case "cache_write_tokens":
						in.Usage.CacheWrite = s.Int()
					case "reasoning_tokens":
						in.Usage.Reasoning = s.Int()
					default:
						s.Skip()
					}
				}
			case "cost_usd":
				in.CostUSD = s.Float()
			case "latency_ms":
				in.LatencyMs = s.Float()
			case "ttft_ms":
				in.TTFTMs = s.Float()
			case "error":
				in.Error = s.Str()
			case "cache":
				in.Cache = s.Str()
			default:
				s.Skip()
			}
		}
	}
	return in, s.End()
}

func runLog(in []byte) ([]byte, error) {
	v, err := DecodeLogInput(in)
	if err != nil {
		return nil, Errorf(400, "invalid_hook_input", "on_log: %v", err)
	}
	if err := logH(v); err != nil {
		return nil, err
	}
	return append(outBuf[:0], "{}"...), nil
}
