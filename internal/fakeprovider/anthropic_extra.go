package fakeprovider

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
)

// countTokensTopLevel are the members POST /v1/messages/count_tokens accepts: the prompt of a
// Messages request without its sampling and output settings.
var countTokensTopLevel = map[string]bool{
	"model": true, "messages": true, "system": true, "tools": true, "tool_choice": true,
	"thinking": true, "mcp_servers": true, "context_management": true, "output_config": true,
}

// validateCountTokens checks a count_tokens body: the members of a Messages prompt only (so
// max_tokens or stream are refused), each block validated as the Messages API does.
func validateCountTokens(h http.Header, m map[string]any) string {
	for k := range m {
		if !countTokensTopLevel[k] {
			return k + ": Extra inputs are not permitted"
		}
	}
	// The Messages validation with a max_tokens that no thinking budget reaches.
	full := make(map[string]any, len(m)+1)
	for k, v := range m {
		full[k] = v
	}
	full["max_tokens"] = json.Number("1073741824")
	return validateMessagesBody(h, full, true)
}

// anthropicPromptWords is the word count of a request's system prompt and messages, the fake's
// token count of its input.
func anthropicPromptWords(body map[string]any) int {
	n := words(anthropicText(body["system"]))
	msgs, _ := body["messages"].([]any)
	for _, raw := range msgs {
		m, _ := raw.(map[string]any)
		n += words(anthropicText(m["content"]))
	}
	return max(n, 1)
}

// validateSearchResult checks a search_result block (retrieval results given to the model
// with their source, for citations).
func validateSearchResult(blk map[string]any) string {
	for k := range blk {
		switch k {
		case "type", "source", "title", "content", "citations", "cache_control":
		default:
			return "search_result." + k + ": Extra inputs are not permitted"
		}
	}
	if s, ok := blk["source"].(string); !ok || s == "" {
		return "search_result.source: Field required"
	}
	if s, ok := blk["title"].(string); !ok || s == "" {
		return "search_result.title: Field required"
	}
	content, ok := blk["content"].([]any)
	if !ok || len(content) == 0 {
		return "search_result.content: Field required"
	}
	for i, raw := range content {
		c, ok := raw.(map[string]any)
		if !ok || c["type"] != "text" {
			return fmt.Sprintf("search_result.content.%d.type: Input should be 'text'", i)
		}
		if _, ok := c["text"].(string); !ok {
			return fmt.Sprintf("search_result.content.%d.text: Field required", i)
		}
	}
	if v, ok := blk["citations"]; ok {
		c, ok := v.(map[string]any)
		if _, isBool := c["enabled"].(bool); !ok || !isBool {
			return "search_result.citations.enabled: Input should be a valid boolean"
		}
	}
	return ""
}

// sign issues the signature of a thinking block and remembers it, so that a later request can
// only send back the thinking this server produced, unaltered.
func (s *Server) sign(seq, thinking string) string {
	sum := sha256.Sum256([]byte(thinking))
	sig := "sig_fake_" + seq + "_" + hex.EncodeToString(sum[:8])
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.signed == nil {
		s.signed = make(map[string]string)
	}
	s.signed[sig] = thinking
	return sig
}

// checkSignatures refuses thinking blocks whose signature this server did not issue for that
// very thinking text, as Anthropic refuses a signature it cannot verify.
func (s *Server) checkSignatures(body map[string]any) string {
	msgs, _ := body["messages"].([]any)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, raw := range msgs {
		m, _ := raw.(map[string]any)
		content, _ := m["content"].([]any)
		for j, b := range content {
			blk, _ := b.(map[string]any)
			if blk["type"] != "thinking" {
				continue
			}
			sig, _ := blk["signature"].(string)
			text, _ := blk["thinking"].(string)
			if want, ok := s.signed[sig]; !ok || want != text {
				return fmt.Sprintf("messages.%d.content.%d: Invalid `signature` in `thinking` block", i, j)
			}
		}
	}
	return ""
}

// validateAnthropicThinkingUse checks what extended thinking excludes, as the Messages API
// does: a forced tool choice, sampling changes, and an assistant turn with tool use (the one
// the request answers with tool results) that does not start with its thinking block.
func validateAnthropicThinkingUse(m map[string]any) string {
	if tc, ok := m["tool_choice"].(map[string]any); ok && (tc["type"] == "any" || tc["type"] == "tool") {
		return "Thinking may not be enabled when tool_choice forces tool use."
	}
	if t, ok := m["temperature"]; ok && t != 1.0 {
		return "`temperature` may only be set to 1 when thinking is enabled or in interleaved thinking mode."
	}
	if _, ok := m["top_k"]; ok {
		return "`top_k` must be unset when thinking is enabled."
	}
	msgs, _ := m["messages"].([]any)
	if len(msgs) < 2 {
		return ""
	}
	last, _ := msgs[len(msgs)-1].(map[string]any)
	prev, _ := msgs[len(msgs)-2].(map[string]any)
	if last["role"] != "user" || prev["role"] != "assistant" {
		return ""
	}
	content, _ := prev["content"].([]any)
	uses := false
	for _, b := range content {
		if blk, _ := b.(map[string]any); blk["type"] == "tool_use" {
			uses = true
		}
	}
	if !uses {
		return ""
	}
	first, _ := content[0].(map[string]any)
	if first["type"] != "thinking" && first["type"] != "redacted_thinking" {
		return fmt.Sprintf("messages.%d.content.0.type: Expected `thinking` or `redacted_thinking`, but found `%v`. When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks).", len(msgs)-2, first["type"])
	}
	return ""
}
