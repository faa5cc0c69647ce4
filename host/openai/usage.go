package openai

import (
	"bytes"
	"encoding/json"
)

// Usage is the token accounting of one response.
type Usage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
	// CachedTokens is prompt_tokens_details.cached_tokens: prompt tokens read from the
	// provider's prompt cache, counted inside PromptTokens.
	CachedTokens int64 `json:"-"`
	// CacheCreationTokens is prompt_tokens_details.cache_creation_tokens, an extension the
	// Anthropic and Bedrock translators write: prompt tokens written to the prompt cache,
	// counted inside PromptTokens.
	CacheCreationTokens int64 `json:"-"`
}

type usageObject struct {
	Usage
	Details *struct {
		CachedTokens        int64 `json:"cached_tokens"`
		CacheCreationTokens int64 `json:"cache_creation_tokens"`
	} `json:"prompt_tokens_details"`
}

// Summary is what the gateway records from a response or a stream chunk.
type Summary struct {
	Model        string
	Usage        *Usage
	FinishReason string
}

var (
	usageKey  = []byte(`"usage":`)
	finishKey = []byte(`"finish_reason":"`)
)

// Summarize extracts model, usage and the first finish reason from a response or chunk. It
// scans the top level once and decodes only the small usage object, so a large answer costs a
// scan, not a decode. A chunk without usage or finish reason is recognised and skipped cheaply.
func Summarize(body []byte, full bool) Summary { return summarize(body, full, true) }

// summarize is Summarize; tail false always steps over the choices (the reference the
// tail read is tested against).
func summarize(body []byte, full, tail bool) Summary {
	if !full && !bytes.Contains(body, usageKey) && !bytes.Contains(body, finishKey) {
		return Summary{}
	}
	var model, usage, choices []byte
	s := scanner{b: body}
	s.ws()
	if s.peek() != '{' {
		return Summary{}
	}
	s.i++
	for first := true; ; first = false {
		s.ws()
		if s.peek() == '}' && first {
			break
		}
		ks := s.i
		if s.peek() != '"' || s.skipStr() != nil {
			return Summary{}
		}
		key := string(body[ks+1 : s.i-1]) // no allocation: only compared
		s.ws()
		if s.peek() != ':' {
			return Summary{}
		}
		s.i++
		s.ws()
		vs := s.i
		if tail && key == "choices" && len(model) > 0 {
			// OpenAI writes usage after the choices: read it from the tail rather than
			// stepping over the whole answer to reach it.
			if u, cs, ok := usageFromTail(body, vs); ok {
				usage, choices = u, cs
				break
			}
		}
		if err := s.skip(0); err != nil {
			return Summary{}
		}
		switch key {
		case "model":
			model = body[vs:s.i]
		case "usage":
			usage = body[vs:s.i]
		case "choices":
			choices = body[vs:s.i]
		}
		s.ws()
		if s.peek() != ',' {
			break
		}
		s.i++
	}
	var out Summary
	out.Model, _ = unquote(model)
	if len(usage) > 0 && usage[0] == '{' {
		var u usageObject
		if json.Unmarshal(usage, &u) == nil {
			if u.Details != nil {
				u.CachedTokens = u.Details.CachedTokens
				u.CacheCreationTokens = u.Details.CacheCreationTokens
			}
			if u.TotalTokens == 0 {
				u.TotalTokens = u.PromptTokens + u.CompletionTokens
			}
			out.Usage = &u.Usage
		}
	}
	if i := bytes.Index(choices, finishKey); i >= 0 {
		fs := scanner{b: choices, i: i + len(finishKey) - 1}
		out.FinishReason, _ = fs.str()
	}
	return out
}

// usageFromTail finds the top-level usage member that follows the choices (which start at
// from) by looking back from the end of body, and returns its value and the bytes between
// from and it, which hold the choices. ok is false when the tail does not have that shape, or
// a later member is one Summarize reads: the caller then scans.
func usageFromTail(body []byte, from int) (usage, choices []byte, ok bool) {
	usage, at, ok := tailMember(body, usageKey, func(k []byte) bool {
		switch string(k) {
		case "model", "usage", "choices":
			return true
		}
		return false
	})
	if !ok || at < from {
		return nil, nil, false
	}
	return usage, body[from:at], true
}

// TailMember returns the value of body's last top-level member named key, read from the end
// of body: for answers whose upstream writes that member last, it costs the tail rather than
// a scan of the whole. A quoted key cannot occur inside a JSON string (its quotes would be
// escaped), so the last `"key":` is a member of some object; it is a top-level one when what
// follows its value is only further top-level members and the closing brace. ok is false when
// the tail does not have that shape; the caller then reads body whole. body is not validated
// beyond the tail.
func TailMember(body []byte, key string) (value []byte, ok bool) {
	k := make([]byte, 0, 64)
	k = append(append(append(k, '"'), key...), '"', ':')
	value, _, ok = tailMember(body, k, nil)
	return value, ok
}

// tailMember is TailMember with the quoted key and colon given; at is where the key starts.
// stop, if set, refuses a later member by its name.
func tailMember(body, quotedKey []byte, stop func(key []byte) bool) (value []byte, at int, ok bool) {
	at = bytes.LastIndex(body, quotedKey)
	if at < 0 {
		return nil, 0, false
	}
	s := scanner{b: body, i: at + len(quotedKey)}
	s.ws()
	vs := s.i
	if s.skip(0) != nil {
		return nil, 0, false
	}
	value = body[vs:s.i]
	for {
		s.ws()
		switch s.peek() {
		case '}':
			s.i++
			s.ws()
			if s.i != len(body) {
				return nil, 0, false
			}
			return value, at, true
		case ',':
			s.i++
			s.ws()
			ks := s.i
			if s.peek() != '"' || s.skipStr() != nil {
				return nil, 0, false
			}
			// An escaped name may spell key itself: read whole.
			if name := body[ks+1 : s.i-1]; bytes.IndexByte(name, '\\') >= 0 || (stop != nil && stop(name)) {
				return nil, 0, false
			}
			s.ws()
			if s.peek() != ':' {
				return nil, 0, false
			}
			s.i++
			s.ws()
			if s.skip(0) != nil {
				return nil, 0, false
			}
		default:
			return nil, 0, false
		}
	}
}

// IsUsageOnlyChunk reports a stream chunk with no choices that carries usage: the chunk that
// `stream_options.include_usage` adds, stripped for clients that did not ask for it.
func IsUsageOnlyChunk(chunk []byte) bool {
	return bytes.Contains(chunk, []byte(`"choices":[]`)) && bytes.Contains(chunk, usageKey) && !bytes.Contains(chunk, []byte(`"usage":null`))
}
