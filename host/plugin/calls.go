package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/sluice-gw/sluice/host/plugin/envelope"
	"github.com/sluice-gw/sluice/sdk/abi"
)

// The typed calls below are the host side of the ABI's hooks: they build each input with
// package envelope (always valid JSON, wire format v1) and decode each output, so no other
// package writes a plugin envelope by hand.

// Meta is the request description route, cache_key and policy hooks get.
type Meta = envelope.Meta

// Header is one allow-listed request header in a Meta.
type Header = envelope.Header

// Candidate is one routing target as a route hook sees it.
type Candidate = envelope.Candidate

// CacheKeyInput is the cache_key hook's input besides Meta.
type CacheKeyInput = envelope.CacheKey

// inBufs recycles input buffers: an envelope is dead once the guest has copied it in.
var inBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func (p *Plugin) callWith(ctx context.Context, hook string, build func([]byte) []byte) ([]byte, error) {
	bp := inBufs.Get().(*[]byte)
	in := build((*bp)[:0])
	out, err := p.Call(ctx, hook, in)
	if cap(in) <= 64<<10 {
		*bp = in[:0]
		inBufs.Put(bp)
	}
	return out, err
}

// badOutput is the error for a hook output the host cannot decode.
func (p *Plugin) badOutput(hook string, err error) *Error {
	return &Error{Plugin: p.name, Hook: hook, Status: 502, Type: typeAPIError, Code: CodeBadOutput,
		Message: "returned invalid JSON: " + err.Error(), Err: err}
}

// Route runs the route hook and returns the candidate ids in the plugin's order (ids it did not
// list are dropped by the caller; an empty order keeps the host's). A guest that declares
// the flat route view (sdk/ABI.md, section 5.1) gets the binary layout instead of JSON.
func (p *Plugin) Route(ctx context.Context, m *Meta, cands []Candidate) ([]string, error) {
	if p.flatRoute() {
		return p.routeFlat(ctx, m, cands)
	}
	out, err := p.callWith(ctx, abi.HookRoute, func(b []byte) []byte { return envelope.Route(b, m, cands) })
	if err != nil {
		return nil, err
	}
	var r struct {
		Order []string `json:"order"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, p.badOutput(abi.HookRoute, err)
	}
	return r.Order, nil
}

// CacheKeyResult is a cache_key hook's answer.
type CacheKeyResult struct {
	Key     string `json:"key"`     // the plugin's key ("" keeps the host's)
	Skip    bool   `json:"skip"`    // do not cache this request
	Buckets int    `json:"buckets"` // answers to keep per key (0: the configured number)
}

// CacheKey runs the cache_key hook.
func (p *Plugin) CacheKey(ctx context.Context, m *Meta, in *CacheKeyInput) (CacheKeyResult, error) {
	var r CacheKeyResult
	out, err := p.callWith(ctx, abi.HookCacheKey, func(b []byte) []byte { return envelope.AppendCacheKey(b, m, in) })
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return CacheKeyResult{}, p.badOutput(abi.HookCacheKey, err)
	}
	return r, nil
}

// Decision is a policy hook's answer: Action "" or "allow", "reject" (Status, Code, Message),
// "rewrite" (Body, the new request or response JSON) or, from on_request, "respond" (Status,
// Headers and Body answer the request without any upstream). State is the request state an
// on_request keeps; Headers are header edits ("" removes). Interpreting it is the caller's job.
type Decision struct {
	Action  string            `json:"action"`
	Status  int               `json:"status"`
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Body    json.RawMessage   `json:"body"`
	State   json.RawMessage   `json:"state"`
	Headers map[string]string `json:"headers"`
}

func (p *Plugin) decision(hook string, out []byte) (Decision, error) {
	var d Decision
	if err := json.Unmarshal(out, &d); err != nil {
		return Decision{}, p.badOutput(hook, err)
	}
	if string(d.State) == "null" {
		d.State = nil
	}
	if len(d.State) > abi.RequestStateLimit {
		return Decision{}, &Error{Plugin: p.name, Hook: hook, Status: 502, Type: typeAPIError, Code: CodeBadOutput,
			Message: fmt.Sprintf("returned a request state of %d bytes, more than the %d allowed", len(d.State), abi.RequestStateLimit)}
	}
	return d, nil
}

// OnRequest runs the on_request hook over the client's request body.
func (p *Plugin) OnRequest(ctx context.Context, m *Meta, body []byte) (Decision, error) {
	out, err := p.callWith(ctx, abi.HookOnRequest, func(b []byte) []byte { return envelope.OnRequest(b, m, body) })
	if err != nil {
		return Decision{}, err
	}
	return p.decision(abi.HookOnRequest, out)
}

// OnResponse runs the on_response hook over an answer; partial marks a stream checked so far;
// state is the plugin's request state (nil when none).
func (p *Plugin) OnResponse(ctx context.Context, m *Meta, state []byte, status int, partial bool, body []byte) (Decision, error) {
	out, err := p.callWith(ctx, abi.HookOnResponse, func(b []byte) []byte {
		return envelope.OnResponseState(b, m, state, status, partial, body)
	})
	if err != nil {
		return Decision{}, err
	}
	return p.decision(abi.HookOnResponse, out)
}

// TranslateRequest, TranslateResponse and TranslateChunk run the translator hooks over
// envelopes the provider package builds with package envelope (they carry provider state the
// plugin package does not know).
func (p *Plugin) TranslateRequest(ctx context.Context, in []byte) ([]byte, error) {
	return p.Call(ctx, abi.HookTranslateRequest, in)
}

// TranslateResponse runs translate_response; see TranslateRequest.
func (p *Plugin) TranslateResponse(ctx context.Context, in []byte) ([]byte, error) {
	return p.Call(ctx, abi.HookTranslateResponse, in)
}

// TranslateChunk runs translate_chunk; see TranslateRequest.
func (p *Plugin) TranslateChunk(ctx context.Context, in []byte) ([]byte, error) {
	return p.Call(ctx, abi.HookTranslateChunk, in)
}
