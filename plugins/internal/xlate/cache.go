package xlate

import (
	"bytes"

	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// MaxBreakpoints is how many prompt-cache breakpoints Anthropic (and Claude on Bedrock) accept
// in one request.
const MaxBreakpoints = 4

// CacheMark is a prompt-cache breakpoint read from a chat extension member cache_control
// ({"type":"ephemeral","ttl":"5m"|"1h"}) on a content part, a tool, a tool call or a message.
type CacheMark struct {
	Set bool
	TTL string // "" (the provider's default, five minutes), "5m" or "1h"
}

// ReadCacheMark reads the cache_control member of v; a malformed one is a 400 prefixed with
// provider.
func ReadCacheMark(v jsonx.Value, provider string) (CacheMark, error) {
	cc := v.Get("cache_control")
	if !cc.Exists() || cc.IsNull() {
		return CacheMark{}, nil
	}
	if !cc.IsObject() || !cc.Get("type").Is("ephemeral") {
		return CacheMark{}, BadRequest("invalid_request", "%s: cache_control.type must be \"ephemeral\"", provider)
	}
	m := CacheMark{Set: true}
	if ttl := cc.Get("ttl"); ttl.Exists() && !ttl.IsNull() {
		if !ttl.Is("5m") && !ttl.Is("1h") {
			return CacheMark{}, BadRequest("invalid_request", "%s: cache_control.ttl must be \"5m\" or \"1h\"", provider)
		}
		m.TTL = ttl.Str()
	}
	return m, nil
}

// WriteCacheControl writes an Anthropic cache_control member for m (nothing when unset).
func WriteCacheControl(w *jsonx.Writer, m CacheMark) {
	if !m.Set {
		return
	}
	w.Key("cache_control")
	w.ObjectStart()
	w.Key("type")
	w.String("ephemeral")
	if m.TTL != "" {
		w.Key("ttl")
		w.String(m.TTL)
	}
	w.ObjectEnd()
}

// WriteCachePoint writes a Bedrock Converse cachePoint block for m (nothing when unset).
func WriteCachePoint(w *jsonx.Writer, m CacheMark) {
	if !m.Set {
		return
	}
	w.ObjectStart()
	w.Key("cachePoint")
	w.ObjectStart()
	w.Key("type")
	w.String("default")
	if m.TTL != "" {
		w.Key("ttl")
		w.String(m.TTL)
	}
	w.ObjectEnd()
	w.ObjectEnd()
}

// AutoCache reports whether breakpoints are to be placed for the client: the provider option
// auto_cache is true and the request carries no cache_control of its own (a client that places
// breakpoints knows its prompt better).
func AutoCache(opts, body jsonx.Value) bool {
	on, _ := opts.Get("auto_cache").Bool()
	// A literal "cache_control" (quotes unescaped) in the JSON text is a member name, or a
	// string that is exactly that; never text inside a longer string.
	return on && !bytes.Contains(body.Raw(), []byte(`"cache_control"`))
}

// LastUserTurn is the index of the last message with role user or tool (the end of the prompt
// prefix worth caching), or -1.
func LastUserTurn(messages jsonx.Value) int {
	last := -1
	for i, m := range messages.Elems() {
		if r := m.Get("role"); r.Is("user") || r.Is("tool") {
			last = i
		}
	}
	return last
}
