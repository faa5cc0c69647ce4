package fakeprovider

import (
	"encoding/base64"
	"fmt"
	"regexp"
)

// bedrockDocName is Converse's rule for document names: letters, digits, single whitespace
// characters, hyphens, parentheses and square brackets.
var bedrockDocName = regexp.MustCompile(`^[A-Za-z0-9\-()\[\]]+( [A-Za-z0-9\-()\[\]]+)*$`)

var bedrockDocFormats = knownFields("pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md")

// validateBedrockExtra checks what Converse checks beyond the shapes validateBedrock knows:
// document blocks (format, name rules, unique names, a text block beside them), reasoning
// blocks (text with this server's signature), Claude's thinking in
// additionalModelRequestFields (budget, no sampling changes, no forced tool choice) and, with
// thinking on, a reasoning block first in an assistant turn that uses tools.
func (s *Server) validateBedrockExtra(m map[string]any) string {
	thinking := false
	if amf, ok := m["additionalModelRequestFields"].(map[string]any); ok {
		if th, ok := amf["thinking"]; ok {
			t, _ := th.(map[string]any)
			switch t["type"] {
			case "enabled":
				thinking = true
				b, ok := isInt(t["budget_tokens"])
				if !ok || b < 1024 {
					return "thinking.budget_tokens: Input should be greater than or equal to 1024"
				}
				ic, _ := m["inferenceConfig"].(map[string]any)
				max, ok := isInt(ic["maxTokens"])
				if !ok || max <= b {
					return "`max_tokens` must be greater than `thinking.budget_tokens`"
				}
				if _, ok := ic["temperature"]; ok {
					return "`temperature` may only be set to 1 when thinking is enabled"
				}
				if _, ok := ic["topP"]; ok {
					return "`top_p` must be unset when thinking is enabled"
				}
				tc, _ := m["toolConfig"].(map[string]any)
				if c, ok := tc["toolChoice"].(map[string]any); ok && (c["any"] != nil || c["tool"] != nil) {
					return "Thinking may not be enabled when tool_choice forces tool use."
				}
			case "disabled":
			default:
				return "thinking.type: Input tag does not match any of the expected tags: 'enabled', 'disabled'"
			}
		}
	}
	msgs, _ := m["messages"].([]any)
	names := map[string]bool{}
	for i, raw := range msgs {
		msg, _ := raw.(map[string]any)
		content, _ := msg["content"].([]any)
		docs, texts, tools := 0, 0, false
		for j, rb := range content {
			blk, _ := rb.(map[string]any)
			at := fmt.Sprintf("messages.%d.content.%d", i, j)
			if _, ok := blk["text"]; ok {
				texts++
			}
			if _, ok := blk["toolUse"]; ok {
				tools = true
			}
			if d, ok := blk["document"].(map[string]any); ok {
				docs++
				if f, _ := d["format"].(string); !bedrockDocFormats[f] {
					return at + ".document.format must be one of pdf, csv, doc, docx, xls, xlsx, html, txt, md"
				}
				name, _ := d["name"].(string)
				if !bedrockDocName.MatchString(name) {
					return at + ".document.name may only contain alphanumeric characters, whitespace characters (no more than one in a row), hyphens, parentheses and square brackets"
				}
				if names[name] {
					return at + ".document.name must be unique in the request: " + name
				}
				names[name] = true
				src, _ := d["source"].(map[string]any)
				b, _ := src["bytes"].(string)
				if _, err := base64.StdEncoding.DecodeString(b); err != nil || b == "" {
					return at + ".document.source.bytes must be base64-encoded document bytes"
				}
			}
			if rc, ok := blk["reasoningContent"].(map[string]any); ok {
				rt, _ := rc["reasoningText"].(map[string]any)
				text, _ := rt["text"].(string)
				sig, _ := rt["signature"].(string)
				s.mu.Lock()
				want, ok := s.signed[sig]
				s.mu.Unlock()
				if !ok || want != text {
					return at + ".reasoningContent: Invalid `signature` in reasoning block"
				}
			}
		}
		if docs > 0 && texts == 0 {
			return fmt.Sprintf("messages.%d: a message with a document must also contain a text block", i)
		}
		if thinking && tools && msg["role"] == "assistant" && i == len(msgs)-2 {
			if _, ok := content[0].(map[string]any)["reasoningContent"]; !ok {
				return fmt.Sprintf("messages.%d.content.0.type: Expected `thinking` or `redacted_thinking`, but found `toolUse`. When `thinking` is enabled, a final `assistant` message must start with a thinking block.", i)
			}
		}
	}
	return ""
}
