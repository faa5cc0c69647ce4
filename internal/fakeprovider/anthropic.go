package fakeprovider

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// AnthropicStrictVersion is the API version under which sampling parameters are refused.
const AnthropicStrictVersion = "2026-10-21"

var anthropicTopLevel = map[string]bool{
	"model": true, "messages": true, "max_tokens": true, "system": true, "metadata": true,
	"stop_sequences": true, "stream": true, "temperature": true, "top_p": true, "top_k": true,
	"tools": true, "tool_choice": true, "thinking": true, "service_tier": true,
	"container": true, "mcp_servers": true, "context_management": true, "output_config": true,
}

// BetaMidConversationSystem is the anthropic-beta value under which a message may have the
// role "system" (Claude Code sends one for models it does not know).
const BetaMidConversationSystem = "mid-conversation-tool-changes-2026-07-01"

// maxCacheBreakpoints is how many cache_control markers one request may carry.
const maxCacheBreakpoints = 4

var toolNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)

// decodeObject parses a JSON object keeping numbers exact.
func decodeObject(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errNotJSON
	}
	return m, nil
}

func isInt(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

func isNumber(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// hasBeta reports whether the comma-separated anthropic-beta header values contain beta.
func hasBeta(h http.Header, beta string) bool {
	for _, v := range h.Values("Anthropic-Beta") {
		for _, b := range strings.Split(v, ",") {
			if strings.TrimSpace(b) == beta {
				return true
			}
		}
	}
	return false
}

// validateAnthropic checks a Messages API request; it returns the error message or "".
func validateAnthropic(h http.Header, m map[string]any) string {
	return validateMessagesBody(h, m, true)
}

// validateMessagesBody checks a Messages API body; the model is required only where the body
// names it (Bedrock's InvokeModel takes it in the path).
func validateMessagesBody(h http.Header, m map[string]any, requireModel bool) string {
	version := h.Get("Anthropic-Version")
	for k := range m {
		if !anthropicTopLevel[k] {
			return k + ": Extra inputs are not permitted"
		}
	}
	if version == AnthropicStrictVersion {
		for _, k := range []string{"temperature", "top_p", "top_k"} {
			if _, ok := m[k]; ok {
				return k + ": Extra inputs are not permitted"
			}
		}
	}
	if s, ok := m["model"].(string); requireModel && (!ok || s == "") {
		return "model: Field required"
	}
	mt, ok := m["max_tokens"]
	if !ok {
		return "max_tokens: Field required"
	}
	if n, ok := isInt(mt); !ok || n < 0 {
		return "max_tokens: Input should be a valid non-negative integer"
	}
	if v, ok := m["temperature"]; ok {
		if f, ok := isNumber(v); !ok || f < 0 || f > 1 {
			return "temperature: Input should be less than or equal to 1"
		}
	}
	if v, ok := m["top_k"]; ok {
		if n, ok := isInt(v); !ok || n < 0 {
			return "top_k: Input should be a valid integer"
		}
	}
	if v, ok := m["stream"]; ok {
		if _, ok := v.(bool); !ok {
			return "stream: Input should be a valid boolean"
		}
	}
	if v, ok := m["stop_sequences"]; ok {
		arr, ok := v.([]any)
		if !ok {
			return "stop_sequences: Input should be a valid list"
		}
		for _, s := range arr {
			if _, ok := s.(string); !ok {
				return "stop_sequences: Input should be a valid string"
			}
		}
	}
	if v, ok := m["metadata"]; ok {
		md, ok := v.(map[string]any)
		if !ok {
			return "metadata: Input should be an object"
		}
		for k, mv := range md {
			if k != "user_id" {
				return "metadata." + k + ": Extra inputs are not permitted"
			}
			if _, ok := mv.(string); !ok && mv != nil {
				return "metadata.user_id: Input should be a valid string"
			}
		}
	}
	if msg := validateAnthropicSystem(m["system"]); msg != "" {
		return msg
	}
	if msg := validateAnthropicMessages(m["messages"], hasBeta(h, BetaMidConversationSystem)); msg != "" {
		return msg
	}
	if msg := validateAnthropicTools(m["tools"], m["tool_choice"]); msg != "" {
		return msg
	}
	if msg := validateAnthropicExtras(m); msg != "" {
		return msg
	}
	if n := countCacheControl(m); n > maxCacheBreakpoints {
		return fmt.Sprintf("A maximum of %d blocks with cache_control may be provided. Found %d.", maxCacheBreakpoints, n)
	}
	if _, msg := walkCache(m); msg != "" {
		return msg
	}
	if v, ok := m["thinking"]; ok {
		th, ok := v.(map[string]any)
		if !ok {
			return "thinking: Input should be an object"
		}
		for k := range th {
			if k != "type" && k != "budget_tokens" && k != "display" {
				return "thinking." + k + ": Extra inputs are not permitted"
			}
		}
		if d, ok := th["display"]; ok && d != "summarized" && d != "omitted" {
			return "thinking.display: Input should be 'summarized' or 'omitted'"
		}
		switch th["type"] {
		case "adaptive":
			if _, ok := th["budget_tokens"]; ok {
				return "thinking.adaptive.budget_tokens: Extra inputs are not permitted"
			}
		case "enabled":
			b, ok := isInt(th["budget_tokens"])
			if !ok || b < 1024 {
				return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
			}
			if mt, _ := isInt(m["max_tokens"]); b >= mt {
				return "`max_tokens` must be greater than `thinking.budget_tokens`"
			}
		case "disabled":
		default:
			return "thinking.type: Input tag does not match any of the expected tags: 'enabled', 'disabled', 'adaptive'"
		}
		if th["type"] != "disabled" {
			if msg := validateAnthropicThinkingUse(m); msg != "" {
				return msg
			}
		}
	}
	return ""
}

func validateAnthropicSystem(v any) string {
	switch s := v.(type) {
	case nil, string:
		return ""
	case []any:
		for i, b := range s {
			blk, ok := b.(map[string]any)
			if !ok || blk["type"] != "text" {
				return fmt.Sprintf("system.%d.type: Input should be 'text'", i)
			}
			if _, ok := blk["text"].(string); !ok {
				return fmt.Sprintf("system.%d.text: Field required", i)
			}
			if msg := validateBlockCacheControl(blk); msg != "" {
				return fmt.Sprintf("system.%d.%s", i, msg)
			}
		}
		return ""
	}
	return "system: Input should be a valid string or a list of text blocks"
}

func validateAnthropicMessages(v any, systemRole bool) string {
	msgs, ok := v.([]any)
	if !ok {
		return "messages: Field required"
	}
	if len(msgs) == 0 {
		return "messages: at least one message is required"
	}
	prevRole := ""
	var prevToolUses map[string]bool
	for i, raw := range msgs {
		msg, ok := raw.(map[string]any)
		if !ok {
			return fmt.Sprintf("messages.%d: Input should be an object", i)
		}
		role, _ := msg["role"].(string)
		if role == "system" {
			// A mid-conversation system message: text only, and it does not take a turn.
			if !systemRole {
				return fmt.Sprintf("messages.%d.role: role 'system' is not supported on this model; use the top-level `system` parameter", i)
			}
			if i == 0 {
				return "messages: first message must use the \"user\" role"
			}
			if msg := validateAnthropicSystem(msg["content"]); msg != "" {
				return fmt.Sprintf("messages.%d.content: %s", i, msg)
			}
			continue
		}
		if role != "user" && role != "assistant" {
			return fmt.Sprintf("messages.%d.role: Input should be 'user', 'assistant' or 'system'", i)
		}
		if i == 0 && role != "user" {
			return "messages: first message must use the \"user\" role"
		}
		if role == prevRole {
			return "messages: roles must alternate between \"user\" and \"assistant\", but found multiple \"" + role + "\" roles in a row"
		}
		prevRole = role
		toolUses := map[string]bool{}
		results := map[string]bool{}
		switch c := msg["content"].(type) {
		case string:
			if c == "" && !(role == "assistant" && i == len(msgs)-1) {
				return fmt.Sprintf("messages.%d: all messages must have non-empty content except for the optional final assistant message", i)
			}
		case []any:
			if len(c) == 0 {
				return fmt.Sprintf("messages.%d: all messages must have non-empty content except for the optional final assistant message", i)
			}
			for j, b := range c {
				blk, ok := b.(map[string]any)
				if !ok {
					return fmt.Sprintf("messages.%d.content.%d: Input should be an object", i, j)
				}
				if msg := validateAnthropicBlock(role, blk, toolUses, results); msg != "" {
					return fmt.Sprintf("messages.%d.content.%d.%s", i, j, msg)
				}
			}
		default:
			return fmt.Sprintf("messages.%d.content: Field required", i)
		}
		for id := range results {
			if !prevToolUses[id] {
				return fmt.Sprintf("messages.%d.content: unexpected `tool_use_id` found in `tool_result` blocks: %s. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.", i, id)
			}
		}
		if role == "user" {
			for id := range prevToolUses {
				if !results[id] {
					return fmt.Sprintf("messages.%d: `tool_use` ids were found without `tool_result` blocks immediately after: %s. Each `tool_use` block must have a corresponding `tool_result` block in the next message.", i-1, id)
				}
			}
		}
		prevToolUses = toolUses
	}
	return ""
}

var anthropicImageTypes = map[string]bool{"image/jpeg": true, "image/png": true, "image/gif": true, "image/webp": true}

func validateAnthropicBlock(role string, blk map[string]any, toolUses, results map[string]bool) string {
	typ, _ := blk["type"].(string)
	if msg := validateBlockCacheControl(blk); msg != "" {
		return msg
	}
	switch typ {
	case "text":
		if _, ok := blk["text"].(string); !ok {
			return "text: Field required"
		}
	case "image", "document":
		src, ok := blk["source"].(map[string]any)
		if !ok {
			return typ + ".source: Field required"
		}
		switch src["type"] {
		case "base64":
			mt, _ := src["media_type"].(string)
			if typ == "image" && !anthropicImageTypes[mt] {
				return "image.source.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"
			}
			data, _ := src["data"].(string)
			if _, err := base64.StdEncoding.DecodeString(data); err != nil || data == "" {
				return typ + ".source.base64.data: invalid base64 data"
			}
		case "url":
			if u, _ := src["url"].(string); !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
				return typ + ".source.url.url: Input should be a valid URL"
			}
		case "text":
			if typ != "document" {
				return "image.source.type: Input tag 'text' does not match any of the expected tags: 'base64', 'url'"
			}
		default:
			return typ + ".source.type: Input tag does not match any of the expected tags: 'base64', 'url'"
		}
	case "tool_use":
		if role != "assistant" {
			return "tool_use: tool_use blocks are only allowed in assistant messages"
		}
		id, _ := blk["id"].(string)
		name, _ := blk["name"].(string)
		if id == "" || name == "" {
			return "tool_use: id and name are required"
		}
		if _, ok := blk["input"].(map[string]any); !ok {
			return "tool_use.input: Input should be a valid dictionary"
		}
		toolUses[id] = true
	case "tool_result":
		if role != "user" {
			return "tool_result: tool_result blocks are only allowed in user messages"
		}
		id, _ := blk["tool_use_id"].(string)
		if id == "" {
			return "tool_result.tool_use_id: Field required"
		}
		switch c := blk["content"].(type) {
		case nil, string:
		case []any:
			for k, b := range c {
				inner, ok := b.(map[string]any)
				if !ok || (inner["type"] != "text" && inner["type"] != "image" && inner["type"] != "search_result" && inner["type"] != "document") {
					return fmt.Sprintf("tool_result.content.%d.type: Input tag does not match any of the expected tags: 'text', 'image', 'search_result', 'document'", k)
				}
				if msg := validateAnthropicBlock(role, inner, toolUses, results); msg != "" {
					return fmt.Sprintf("tool_result.content.%d.%s", k, msg)
				}
			}
		default:
			return "tool_result.content: Input should be a valid string or list"
		}
		if v, ok := blk["is_error"]; ok {
			if _, ok := v.(bool); !ok {
				return "tool_result.is_error: Input should be a valid boolean"
			}
		}
		results[id] = true
	case "thinking":
		if _, ok := blk["thinking"].(string); !ok {
			return "thinking.thinking: Field required"
		}
		if _, ok := blk["signature"].(string); !ok {
			return "thinking.signature: Field required"
		}
	case "redacted_thinking":
		if _, ok := blk["data"].(string); !ok {
			return "redacted_thinking.data: Field required"
		}
	case "search_result":
		return validateSearchResult(blk)
	default:
		return "type: Input tag '" + typ + "' found using 'type' does not match any of the expected tags: 'text', 'image', 'document', 'search_result', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking'"
	}
	return ""
}

func validateAnthropicTools(tools, choice any) string {
	names := map[string]bool{}
	if tools != nil {
		arr, ok := tools.([]any)
		if !ok {
			return "tools: Input should be a valid list"
		}
		for i, raw := range arr {
			tool, ok := raw.(map[string]any)
			if !ok {
				return fmt.Sprintf("tools.%d: Input should be an object", i)
			}
			name, _ := tool["name"].(string)
			if !toolNameRE.MatchString(name) {
				return fmt.Sprintf("tools.%d.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'", i)
			}
			names[name] = true
			if msg := validateBlockCacheControl(tool); msg != "" {
				return fmt.Sprintf("tools.%d.%s", i, msg)
			}
			if typ, ok := tool["type"].(string); ok && typ != "custom" {
				continue // a server tool (web_search_..., bash_...) has no input_schema
			}
			for k, v := range tool {
				switch k {
				case "type", "name", "description", "input_schema", "cache_control", "strict", "input_examples":
				case "defer_loading":
					if _, ok := v.(bool); !ok {
						return fmt.Sprintf("tools.%d.custom.defer_loading: Input should be a valid boolean", i)
					}
				default:
					return fmt.Sprintf("tools.%d.custom.%s: Extra inputs are not permitted", i, k)
				}
			}
			schema, ok := tool["input_schema"].(map[string]any)
			if !ok {
				return fmt.Sprintf("tools.%d.custom.input_schema: Field required", i)
			}
			if schema["type"] != "object" {
				return fmt.Sprintf("tools.%d.custom.input_schema.type: Input should be 'object'", i)
			}
		}
	}
	if choice == nil {
		return ""
	}
	c, ok := choice.(map[string]any)
	if !ok {
		return "tool_choice: Input should be an object"
	}
	switch c["type"] {
	case "auto", "any", "none":
	case "tool":
		name, _ := c["name"].(string)
		if name == "" {
			return "tool_choice.tool.name: Field required"
		}
		if !names[name] {
			return "tool_choice: tool '" + name + "' not found in tools"
		}
	default:
		return "tool_choice.type: Input tag does not match any of the expected tags: 'auto', 'any', 'tool', 'none'"
	}
	return ""
}

// validateBlockCacheControl checks the cache_control marker of a block, tool or system entry.
func validateBlockCacheControl(blk map[string]any) string {
	v, ok := blk["cache_control"]
	if !ok || v == nil {
		return ""
	}
	cc, ok := v.(map[string]any)
	if !ok || cc["type"] != "ephemeral" {
		return "cache_control.type: Input should be 'ephemeral'"
	}
	for k, x := range cc {
		switch k {
		case "type":
		case "ttl":
			if x != "5m" && x != "1h" {
				return "cache_control.ttl: Input should be '5m' or '1h'"
			}
		default:
			return "cache_control." + k + ": Extra inputs are not permitted"
		}
	}
	return ""
}

// countCacheControl counts the cache_control markers in tools, system and messages.
func countCacheControl(m map[string]any) int {
	n := 0
	count := func(v any) {
		arr, _ := v.([]any)
		for _, x := range arr {
			if b, ok := x.(map[string]any); ok && b["cache_control"] != nil {
				n++
			}
		}
	}
	count(m["tools"])
	count(m["system"])
	msgs, _ := m["messages"].([]any)
	for _, raw := range msgs {
		if msg, ok := raw.(map[string]any); ok {
			count(msg["content"])
		}
	}
	return n
}

// validateAnthropicExtras checks metadata, output_config and context_management.
func validateAnthropicExtras(m map[string]any) string {
	if v, ok := m["metadata"]; ok {
		md, ok := v.(map[string]any)
		if !ok {
			return "metadata: Input should be an object"
		}
		for k, x := range md {
			if k != "user_id" {
				return "metadata." + k + ": Extra inputs are not permitted"
			}
			if _, ok := x.(string); !ok && x != nil {
				return "metadata.user_id: Input should be a valid string"
			}
		}
	}
	if v, ok := m["output_config"]; ok {
		oc, ok := v.(map[string]any)
		if !ok {
			return "output_config: Input should be an object"
		}
		for k, x := range oc {
			switch k {
			case "effort":
				switch x {
				case "low", "medium", "high", "xhigh", "max":
				default:
					return "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'"
				}
			case "format":
				f, ok := x.(map[string]any)
				if !ok {
					return "output_config.format: Input should be an object"
				}
				if f["type"] != "json_schema" {
					return "output_config.format.type: Input tag does not match any of the expected tags: 'json_schema'"
				}
				if _, ok := f["schema"].(map[string]any); !ok {
					return "output_config.format.schema: Field required"
				}
				for fk := range f {
					if fk != "type" && fk != "schema" {
						return "output_config.format." + fk + ": Extra inputs are not permitted"
					}
				}
			default:
				return "output_config." + k + ": Extra inputs are not permitted"
			}
		}
	}
	if v, ok := m["context_management"]; ok {
		cm, ok := v.(map[string]any)
		if !ok {
			return "context_management: Input should be an object"
		}
		for k := range cm {
			if k != "edits" {
				return "context_management." + k + ": Extra inputs are not permitted"
			}
		}
		edits, ok := cm["edits"].([]any)
		if !ok && cm["edits"] != nil {
			return "context_management.edits: Input should be a valid list"
		}
		for i, e := range edits {
			ed, ok := e.(map[string]any)
			typ, _ := ed["type"].(string)
			if !ok || (!strings.HasPrefix(typ, "clear_thinking_") && !strings.HasPrefix(typ, "clear_tool_uses_")) {
				return fmt.Sprintf("context_management.edits.%d.type: Input tag does not match any of the expected tags: 'clear_tool_uses_20250919', 'clear_thinking_20251015'", i)
			}
		}
	}
	return ""
}

// anthropicErrorType maps a status to Anthropic's error type.
func anthropicErrorType(status int) string {
	switch status {
	case 400:
		return "invalid_request_error"
	case 401:
		return "authentication_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 529:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

func anthropicError(status int, msg string) []byte {
	return mustJSON(map[string]any{
		"type":  "error",
		"error": map[string]any{"type": anthropicErrorType(status), "message": msg},
	})
}

func (s *Server) serveAnthropic(w http.ResponseWriter, r *http.Request) {
	rec, err := newReceived(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	status := http.StatusBadRequest
	var body map[string]any
	key := r.Header.Get("X-Api-Key")
	if b, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && key == "" {
		key = b
	}
	counting := r.URL.Path == "/v1/messages/count_tokens"
	switch {
	case r.URL.Path != "/v1/messages" && !counting:
		status = http.StatusNotFound
		rec.Invalid = "Not Found"
	case r.Method != http.MethodPost:
		status = http.StatusMethodNotAllowed
		rec.Invalid = "Method Not Allowed"
	case key == "":
		status = http.StatusUnauthorized
		rec.Invalid = "x-api-key header is required"
	case s.cfg.key != "" && key != s.cfg.key:
		status = http.StatusUnauthorized
		rec.Invalid = "invalid x-api-key"
	case r.Header.Get("Anthropic-Version") == "":
		rec.Invalid = "anthropic-version: header is required"
	default:
		if body, err = decodeObject(rec.Body); err != nil {
			rec.Invalid = "There was an error parsing the body of your request: it is not valid JSON"
			break
		}
		rec.Model, _ = body["model"].(string)
		if counting {
			rec.Invalid = validateCountTokens(r.Header, body)
			break
		}
		rec.Stream, _ = body["stream"].(bool)
		rec.Invalid = validateAnthropic(r.Header, body)
		if rec.Invalid == "" {
			rec.Invalid = s.checkSignatures(body)
		}
	}
	reply := s.record(rec)
	x := s.newExchange(w, r, reply)
	x.w.Header().Set("Request-Id", "req_fake_"+strconv.Itoa(rec.Seq))
	if rec.Invalid != "" {
		x.body(status, "application/json", anthropicError(status, rec.Invalid))
		return
	}
	if reply.Status >= 400 && reply.Body == nil {
		msg := reply.Message
		if msg == "" {
			msg = http.StatusText(reply.Status)
		}
		x.body(reply.Status, "application/json", anthropicError(reply.Status, msg))
		return
	}
	if reply.Body != nil && (!rec.Stream || reply.Chunks == nil) {
		x.body(http.StatusOK, "application/json", reply.Body)
		return
	}
	if counting {
		n := pick(reply.Usage.Input, anthropicPromptWords(body))
		x.body(http.StatusOK, "application/json", mustJSON(map[string]any{"input_tokens": n}))
		return
	}
	s.anthropicReply(x, rec, body)
}

// anthropicBlocks flattens a messages content value to text.
func anthropicText(v any) string {
	switch c := v.(type) {
	case string:
		return c
	case []any:
		var parts []string
		for _, b := range c {
			if blk, ok := b.(map[string]any); ok {
				if t, ok := blk["text"].(string); ok {
					parts = append(parts, t)
				}
			}
		}
		return strings.Join(parts, " ")
	}
	return ""
}

func (s *Server) anthropicReply(x *exchange, rec *Received, body map[string]any) {
	m := s.anthropicMessage(&x.reply, rec, body, rec.Model, "msg_fake_")
	if !rec.Stream {
		x.body(http.StatusOK, "application/json", m.json())
		return
	}
	if !x.begin(http.StatusOK, "text/event-stream; charset=utf-8") {
		return
	}
	event := func(payload []byte) bool {
		var head struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(payload, &head)
		b := make([]byte, 0, len(payload)+len(head.Type)+16)
		b = append(b, "event: "...)
		b = append(b, head.Type...)
		b = append(b, "\ndata: "...)
		b = append(b, payload...)
		return x.chunk(append(b, '\n', '\n'))
	}
	if x.reply.Chunks != nil {
		for _, c := range x.reply.Chunks {
			if !event([]byte(c)) {
				return
			}
		}
		x.end(nil)
		return
	}
	if m.events(true, nil, event) {
		x.end(nil)
	}
}

// anthropicMsg is a derived Messages API answer, rendered whole or as stream events.
type anthropicMsg struct {
	id, model, stop string
	text, thinking  string
	pieces          int
	content         []any
	usage           map[string]any
}

// anthropicMessage derives the answer to a Messages request from the scripted reply; id
// prefixes the message id (Anthropic's msg_..., Bedrock's msg_bdrk_...).
func (s *Server) anthropicMessage(reply *Reply, rec *Received, body map[string]any, model, id string) *anthropicMsg {
	echo, promptWords := "", words(anthropicText(body["system"]))
	msgs, _ := body["messages"].([]any)
	for _, raw := range msgs {
		m, _ := raw.(map[string]any)
		t := anthropicText(m["content"])
		promptWords += words(t)
		if m["role"] == "user" {
			echo = t
		}
	}
	text := s.replyText(reply, echo)
	stop := reply.FinishReason
	if stop == "" {
		stop = "end_turn"
		if len(reply.ToolCalls) > 0 {
			stop = "tool_use"
		}
	}
	seqStr := strconv.Itoa(rec.Seq)
	var content []any
	if th, _ := body["thinking"].(map[string]any); reply.Thinking == "" && len(reply.ToolCalls) > 0 && th != nil && th["type"] != "disabled" {
		// With thinking on, the API starts a tool-using turn with a thinking block, and the next
		// request must send it back first (validateAnthropicThinkingUse): a scripted reply
		// without thinking gets a short one, as the real model would write.
		reply.Thinking = "I will use the tool."
	}
	if reply.Thinking != "" {
		content = append(content, map[string]any{"type": "thinking", "thinking": reply.Thinking, "signature": s.sign(seqStr, reply.Thinking)})
	}
	if text != "" {
		content = append(content, map[string]any{"type": "text", "text": text})
	}
	outWords := words(text) + words(reply.Thinking)
	for i, c := range reply.ToolCalls {
		var input any = map[string]any{}
		_ = json.Unmarshal([]byte(toolArgs(c)), &input)
		tid := c.ID
		if tid == "" {
			tid = "toolu_fake_" + seqStr + "_" + strconv.Itoa(i)
		}
		content = append(content, map[string]any{"type": "tool_use", "id": tid, "name": c.Name, "input": input})
		outWords += words(c.Name) + words(c.Arguments)
	}
	if content == nil {
		content = []any{}
	}
	// Breakpoints are answered as a prompt cache would (see cacheUsage) unless the reply
	// scripts the cache counts; cached words leave input_tokens, as Anthropic counts them.
	cache, _ := walkCache(body)
	read, write := reply.Usage.CacheRead, reply.Usage.CacheWrite
	if read == 0 && write == 0 {
		read, write = s.cacheUsage(cache)
	}
	usage := map[string]any{
		"input_tokens":                pick(reply.Usage.Input, max(promptWords-read-write, 1)),
		"output_tokens":               pick(reply.Usage.Output, outWords),
		"cache_creation_input_tokens": write,
		"cache_read_input_tokens":     read,
	}
	return &anthropicMsg{
		id: id + seqStr, model: model, stop: stop, text: text, thinking: reply.Thinking,
		pieces: reply.Pieces, content: content, usage: usage,
	}
}

// json is the whole message, the non-streamed answer.
func (m *anthropicMsg) json() []byte {
	return mustJSON(map[string]any{
		"id": m.id, "type": "message", "role": "assistant", "model": m.model, "content": m.content,
		"stop_reason": m.stop, "stop_sequence": nil, "usage": m.usage,
	})
}

// events emits the message as stream events (a ping after message_start when ping is set;
// stopExtra merged into message_stop) and reports whether every emit succeeded.
func (m *anthropicMsg) events(ping bool, stopExtra map[string]any, emit func([]byte) bool) bool {
	ev := func(v map[string]any) bool { return emit(mustJSON(v)) }
	startUsage := map[string]any{
		"input_tokens": m.usage["input_tokens"], "output_tokens": 1,
		"cache_creation_input_tokens": m.usage["cache_creation_input_tokens"],
		"cache_read_input_tokens":     m.usage["cache_read_input_tokens"],
	}
	if !ev(map[string]any{"type": "message_start", "message": map[string]any{
		"id": m.id, "type": "message", "role": "assistant", "model": m.model, "content": []any{},
		"stop_reason": nil, "stop_sequence": nil, "usage": startUsage,
	}}) {
		return false
	}
	if ping && !ev(map[string]any{"type": "ping"}) {
		return false
	}
	for i, blk := range m.content {
		b := blk.(map[string]any)
		var start map[string]any
		var deltas []map[string]any
		switch b["type"] {
		case "thinking":
			start = map[string]any{"type": "thinking", "thinking": ""}
			for _, p := range split(m.thinking, m.pieces) {
				deltas = append(deltas, map[string]any{"type": "thinking_delta", "thinking": p})
			}
			deltas = append(deltas, map[string]any{"type": "signature_delta", "signature": b["signature"]})
		case "text":
			start = map[string]any{"type": "text", "text": ""}
			for _, p := range split(m.text, m.pieces) {
				deltas = append(deltas, map[string]any{"type": "text_delta", "text": p})
			}
		case "tool_use":
			start = map[string]any{"type": "tool_use", "id": b["id"], "name": b["name"], "input": map[string]any{}}
			args := string(mustJSON(b["input"]))
			for _, p := range []string{args[:len(args)/2], args[len(args)/2:]} {
				deltas = append(deltas, map[string]any{"type": "input_json_delta", "partial_json": p})
			}
		}
		if !ev(map[string]any{"type": "content_block_start", "index": i, "content_block": start}) {
			return false
		}
		for _, d := range deltas {
			if !ev(map[string]any{"type": "content_block_delta", "index": i, "delta": d}) {
				return false
			}
		}
		if !ev(map[string]any{"type": "content_block_stop", "index": i}) {
			return false
		}
	}
	if !ev(map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": m.stop, "stop_sequence": nil},
		"usage": map[string]any{"output_tokens": m.usage["output_tokens"]}}) {
		return false
	}
	stop := map[string]any{"type": "message_stop"}
	for k, v := range stopExtra {
		stop[k] = v
	}
	return ev(stop)
}

// AnthropicErrorEvent is the JSON of a mid-stream Anthropic error event, for Reply.Chunks.
func AnthropicErrorEvent(errType, msg string) string {
	return string(mustJSON(map[string]any{"type": "error", "error": map[string]any{"type": errType, "message": msg}}))
}
