// Command deny-words is a policy plugin: on_request rejects prompts and on_response rejects
// answers (streamed ones included: the gateway holds them for on_response) whose text contains
// one of the configured words, case-insensitively.
package main

import (
	"encoding/json"
	"strings"

	"github.com/sluice-gw/sluice/sdk"
)

// Lower returns the words lower-cased, empty ones dropped.
func Lower(ws []string) []string {
	var out []string
	for _, w := range ws {
		if w = strings.ToLower(strings.TrimSpace(w)); w != "" {
			out = append(out, w)
		}
	}
	return out
}

// found returns the first word text contains, or "".
func found(words []string, text string) string {
	t := strings.ToLower(text)
	for _, w := range words {
		if strings.Contains(t, w) {
			return w
		}
	}
	return ""
}

// content is a message's content: a string or an array of parts with text.
func content(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Text string `json:"text"`
	}
	_ = json.Unmarshal(raw, &parts)
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

// CheckRequest is the on_request decision over the messages (or prompt) of a request.
func CheckRequest(words []string, body []byte) sdk.Decision {
	var req struct {
		Messages []struct {
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		Prompt json.RawMessage `json:"prompt"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return sdk.Allow()
	}
	var b strings.Builder
	for _, m := range req.Messages {
		b.WriteString(content(m.Content))
		b.WriteByte('\n')
	}
	b.WriteString(content(req.Prompt))
	if w := found(words, b.String()); w != "" {
		return sdk.Reject(400, "prompt_blocked", "the prompt contains a blocked word")
	}
	return sdk.Allow()
}

// CheckResponse is the on_response decision over an answer's text: message content, refusal
// and tool-call arguments of a chat.completion, or the text of a text_completion.
func CheckResponse(words []string, status int, body []byte) sdk.Decision {
	if status/100 != 2 {
		return sdk.Allow()
	}
	var resp struct {
		Choices []struct {
			Text    string `json:"text"`
			Message struct {
				Content   json.RawMessage `json:"content"`
				Refusal   string          `json:"refusal"`
				ToolCalls []struct {
					Function struct {
						Arguments string `json:"arguments"`
					} `json:"function"`
				} `json:"tool_calls"`
			} `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		// An answer the guard cannot read is not let through.
		return sdk.Reject(502, "policy_unreadable_answer", "deny-words could not read the answer")
	}
	var b strings.Builder
	for _, c := range resp.Choices {
		b.WriteString(c.Text)
		b.WriteByte('\n')
		b.WriteString(content(c.Message.Content))
		b.WriteByte('\n')
		b.WriteString(c.Message.Refusal)
		for _, tc := range c.Message.ToolCalls {
			b.WriteByte('\n')
			b.WriteString(tc.Function.Arguments)
		}
	}
	if w := found(words, b.String()); w != "" {
		return sdk.Reject(403, "content_blocked", "the answer was blocked by policy")
	}
	return sdk.Allow()
}
