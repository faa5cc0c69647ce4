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
	CachedTokens     int64 `json:"-"`
}

type usageEnvelope struct {
	Model string `json:"model"`
	Usage *struct {
		Usage
		Details *struct {
			CachedTokens int64 `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
	} `json:"usage"`
	Choices []struct {
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
}

// Summary is what the gateway records from a response or a stream chunk.
type Summary struct {
	Model        string
	Usage        *Usage
	FinishReason string
}

var usageKey = []byte(`"usage":`)

// Summarize extracts model, usage and the first finish reason from a response or chunk. A
// chunk without usage or finish reason is recognised cheaply and skipped.
func Summarize(body []byte, full bool) Summary {
	if !full && !bytes.Contains(body, usageKey) && !bytes.Contains(body, []byte(`"finish_reason":"`)) {
		return Summary{}
	}
	var env usageEnvelope
	if json.Unmarshal(body, &env) != nil {
		return Summary{}
	}
	s := Summary{Model: env.Model}
	if env.Usage != nil {
		u := env.Usage.Usage
		if env.Usage.Details != nil {
			u.CachedTokens = env.Usage.Details.CachedTokens
		}
		if u.TotalTokens == 0 {
			u.TotalTokens = u.PromptTokens + u.CompletionTokens
		}
		s.Usage = &u
	}
	for _, c := range env.Choices {
		if c.FinishReason != nil && *c.FinishReason != "" {
			s.FinishReason = *c.FinishReason
			break
		}
	}
	return s
}

// IsUsageOnlyChunk reports a stream chunk with no choices that carries usage: the chunk that
// `stream_options.include_usage` adds, stripped for clients that did not ask for it.
func IsUsageOnlyChunk(chunk []byte) bool {
	return bytes.Contains(chunk, []byte(`"choices":[]`)) && bytes.Contains(chunk, usageKey) && !bytes.Contains(chunk, []byte(`"usage":null`))
}
