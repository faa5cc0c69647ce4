package openai

import (
	"bytes"

	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// Chat extension members the gateway itself defines or carries for its translators:
// cache_control (prompt-cache breakpoints, on content parts, tools, tool calls and messages;
// the spelling OpenRouter and Anthropic-minded clients use) and reasoning_signature (an
// Anthropic thinking signature, on assistant messages). OpenAI and most OpenAI-compatible
// servers answer unknown members with a 400, and cache on their own, so they are removed
// before such an upstream unless the provider keeps them.
var (
	cacheControlKey = []byte(`cache_control"`)
	signatureKey    = []byte(`reasoning_signature"`)
	reasoningKey    = []byte(`"reasoning_content"`)
)

// hasExtensions reports whether body holds either member name followed by a quote. It jumps
// between underscores with a vectorised byte search, which on prose and JSON finds none or few
// (about 1 µs for 80 KB); where underscores are dense (snake_case code) it searches the rest
// for the two names instead, the cost bytes.Contains has everywhere (about 60 µs for 80 KB).
func hasExtensions(body []byte) bool {
	fails := 0
	for i := 0; ; i++ {
		j := bytes.IndexByte(body[i:], '_')
		if j < 0 {
			return false
		}
		i += j
		if i >= 5 && bytes.HasPrefix(body[i+1:], cacheControlKey[6:]) && string(body[i-5:i]) == "cache" ||
			i >= 9 && bytes.HasPrefix(body[i+1:], signatureKey[10:]) && string(body[i-9:i]) == "reasoning" {
			return true
		}
		if fails++; fails > 16 && fails > i/256 {
			rest := body[max(i+1-len("reasoning_"), 0):]
			return bytes.Contains(rest, cacheControlKey) || bytes.Contains(rest, signatureKey)
		}
	}
}

// Strip names the extension members StripChatExtensions removes.
type Strip struct {
	CacheControl bool // breakpoints on messages, content parts, tool calls and tools
	Signatures   bool // reasoning_signature on messages
	// Reasoning is reasoning_content on messages: a bridge (Responses reasoning items,
	// Messages thinking blocks) carries it for translators, and plain servers refuse it.
	Reasoning bool
}

// StripChatExtensions returns body without the members s names, where the chat shape puts
// them; a body without them (the usual case, found by a byte search) is returned as it is. A
// member of the same name elsewhere (inside a tool's JSON schema, say) is kept.
func StripChatExtensions(body []byte, s Strip) []byte {
	found := (s.CacheControl || s.Signatures) && hasExtensions(body) || s.Reasoning && bytes.Contains(body, reasoningKey)
	if !found {
		return body
	}
	dropCC := func(k, _ jsonx.Value) bool { return s.CacheControl && k.Is("cache_control") }
	v, err := jsonx.Parse(body)
	if err != nil || !v.IsObject() {
		return body // not ours to fix: the upstream reports it
	}
	w := jsonx.NewWriter(make([]byte, 0, len(body)))
	w.ObjectStart()
	for k, val := range v.Members() {
		w.Key(k.Str())
		switch {
		case k.Is("messages") && val.IsArray():
			w.ArrayStart()
			for _, m := range val.Elems() {
				copyWithout(w, m, func(key jsonx.Value, mv jsonx.Value) bool {
					switch {
					case s.CacheControl && key.Is("cache_control"), s.Signatures && key.Is("reasoning_signature"),
						s.Reasoning && key.Is("reasoning_content"):
						return true
					case key.Is("content") && mv.IsArray(), key.Is("tool_calls") && mv.IsArray():
						w.Key(key.Str())
						w.ArrayStart()
						for _, p := range mv.Elems() {
							copyWithout(w, p, dropCC)
						}
						w.ArrayEnd()
						return true
					}
					return false
				})
			}
			w.ArrayEnd()
		case k.Is("tools") && val.IsArray():
			w.ArrayStart()
			for _, t := range val.Elems() {
				copyWithout(w, t, dropCC)
			}
			w.ArrayEnd()
		default:
			w.Value(val)
		}
	}
	w.ObjectEnd()
	return w.Bytes()
}

// copyWithout copies v; for an object, members for which handled returns true are left to it
// (dropped, or written by it).
func copyWithout(w *jsonx.Writer, v jsonx.Value, handled func(k, v jsonx.Value) bool) {
	if !v.IsObject() {
		w.Value(v)
		return
	}
	w.ObjectStart()
	for k, mv := range v.Members() {
		if handled(k, mv) {
			continue
		}
		w.Key(k.Str())
		w.Value(mv)
	}
	w.ObjectEnd()
}
