// Package anthropic translates OpenAI chat.completions to and from the Anthropic Messages API
// (POST /v1/messages, JSON and SSE). It is a plain Go package with native tests; wasm/main.go
// registers its three functions as the translate_* hooks of a wasip1 plugin.
//
// Provider options (the provider's TOML options table):
//   - anthropic_version (default "2023-06-01"): sent as the anthropic-version header. Versions
//     from 2026-10-21 on reject temperature, top_p and top_k, so those are left out there (and
//     named in x-sluice-ignored).
//   - anthropic_beta: sent as the anthropic-beta header when set.
//   - default_max_tokens (default 4096): max_tokens when the client gives none (Anthropic
//     requires it).
//   - thinking (default "budget"): how reasoning_effort reaches the model, as a thinking budget
//     (below), or "adaptive": thinking {type: adaptive} with output_config.effort low (for
//     minimal and low), medium or high, for models that size their own thinking.
//   - auto_cache (default false): for clients that place no prompt-cache breakpoints, place
//     three: after the tools, after the system prompt and on the last user turn (Anthropic
//     allows four).
//
// Prompt caching: cache_control ({"type":"ephemeral","ttl":"5m"|"1h"}), an extension member of
// chat content parts, tools, tool calls and messages (the Messages API endpoint writes it, and
// OpenAI-SDK clients can send it), becomes the cache_control of the matching Anthropic block: a
// message-level one marks the message's last block, and a mark on a tool message's part marks
// its tool_result. Usage comes back in OpenAI's terms: prompt_tokens counts cache reads and
// writes, prompt_tokens_details.cached_tokens the reads and the cache_creation_tokens extension
// the writes.
//
// Thinking: a response's thinking block becomes reasoning_content, its signature the
// reasoning_signature extension (signature_delta in streams). An assistant message carrying
// both goes back as a thinking block first in its turn, as Anthropic requires for tool use
// with thinking; reasoning_content without a signature (another provider's) cannot be
// verified by Anthropic and is not sent, nor is one with Gemini's signature.
//
// reasoning_effort maps to extended thinking {type: enabled, budget_tokens}: minimal 1024,
// low 2048, medium 8192, high 16384 ("none" turns it off). OpenAI counts reasoning inside
// max_completion_tokens, so when the client set a limit the budget is capped below it (and a
// limit too small for the 1024-token minimum is a 400); without a limit max_tokens becomes
// default_max_tokens plus the budget. Thinking rejects sampling changes, so temperature and
// top_p are left out when it is on, and named in x-sluice-ignored.
//
// Parameters: xlate.ChatParams says, for every chat parameter, whether it is mapped, refused
// (400 naming it) or ignored (named in the translate_request output's ignored list, which the
// host puts in x-sluice-ignored); docs/parameters.md is generated from it.
//
// Structured output: response_format json_schema becomes output_config.format (Anthropic's own
// structured output), and the answer comes back as text. json_object has no schema to give it,
// so it becomes a forced call to the answer tool (xlate.AnswerTool) whose input is the answer:
// the response and stream turn that call back into the message content. A refusal
// (stop_reason "refusal") comes back as the message's refusal member.
//
// Files: a chat file part with a base64 PDF (or plain text) data URI becomes a document block;
// a file_id is a 400 (uploaded files live in another provider's Files API).
package anthropic

import (
	"encoding/base64"
	"strings"

	"github.com/sluice-gw/sluice/plugins/internal/xlate"
	"github.com/sluice-gw/sluice/sdk/jsonx"
)

const (
	defaultVersion   = "2023-06-01"
	defaultMaxTokens = 4096
	// noSamplingSince is the first API version that rejects temperature/top_p/top_k.
	noSamplingSince = "2026-10-21"
	minThinking     = 1024
)

var effortBudget = map[string]int64{"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384}

// effortLevel is output_config.effort for each reasoning_effort under adaptive thinking.
var effortLevel = map[string]string{"minimal": "low", "low": "low", "medium": "medium", "high": "high"}

// TranslateRequest turns a translate_request envelope with an OpenAI chat request into the
// Anthropic Messages request envelope.
func TranslateRequest(in []byte) ([]byte, error) {
	req, err := xlate.ParseRequest(in)
	if err != nil {
		return nil, err
	}
	version := xlate.OptString(req.Options, "anthropic_version", defaultVersion)
	beta := xlate.OptString(req.Options, "anthropic_beta", "")
	defMax := xlate.OptInt(req.Options, "default_max_tokens", defaultMaxTokens)

	params, err := xlate.CheckParams(req.Body, xlate.Anthropic)
	if err != nil {
		return nil, err
	}
	chat := xlate.ReadChat(req.Body)
	format, err := xlate.ReadResponseFormat(chat.ResponseFormat, "anthropic")
	if err != nil {
		return nil, err
	}
	messages, tools, toolChoice, stop := chat.Messages, chat.Tools, chat.ToolChoice, chat.Stop
	temperature, topP, user, effort := chat.Temperature, chat.TopP, chat.User, chat.ReasoningEffort
	parallel := true
	if b, ok := chat.ParallelToolCalls.Bool(); ok {
		parallel = b
	}
	if !messages.IsArray() {
		return nil, xlate.BadRequest("invalid_request", "anthropic: messages must be an array")
	}

	var limit int64 = -1
	for _, v := range []jsonx.Value{chat.MaxCompletionTokens, chat.MaxTokensField} {
		if n, ok := v.Int(); ok {
			if n < 0 {
				return nil, xlate.BadRequest("invalid_request", "anthropic: max_tokens must not be negative")
			}
			limit = n
			break
		}
	}
	var budget int64
	if effort.IsString() && !effort.Is("none") {
		b, ok := effortBudget[effort.Str()]
		if !ok {
			return nil, xlate.BadRequest("invalid_request", "anthropic: unknown reasoning_effort %q", effort.Str())
		}
		budget = b
	}
	// adaptive thinking (the thinking option) lets the model size its thinking at an effort
	// level instead of a budget.
	adaptive := ""
	switch mode := xlate.OptString(req.Options, "thinking", "budget"); mode {
	case "budget":
	case "adaptive":
		if budget > 0 {
			adaptive, budget = effortLevel[effort.Str()], 0
		}
	default:
		return nil, xlate.BadRequest("invalid_request", "anthropic: provider option thinking must be \"budget\" or \"adaptive\", not %q", mode)
	}
	max := limit
	switch {
	case budget > 0 && limit >= 0:
		if budget >= limit {
			budget = limit - 1
		}
		if budget < minThinking {
			return nil, xlate.BadRequest("invalid_request",
				"anthropic: max_completion_tokens %d is too small for reasoning_effort %q (needs more than %d)",
				limit, effort.Str(), minThinking)
		}
	case budget > 0:
		max = defMax + budget
	case limit < 0:
		max = defMax
	}
	sampling := version < noSamplingSince && budget == 0 && adaptive == ""
	if !sampling {
		// The API rejects them here (thinking on, or a version without sampling controls).
		for _, p := range [...]struct {
			v    jsonx.Value
			name string
		}{{temperature, "temperature"}, {topP, "top_p"}} {
			if p.v.IsNumber() {
				params.Ignore(p.name)
			}
		}
	}
	// json_schema is Anthropic's own structured output (output_config.format); json_object has
	// no schema to give it and becomes the answer tool, which thinking cannot be forced onto.
	var answer *xlate.Format
	if format.Kind == xlate.FormatJSONObject {
		if budget > 0 || adaptive != "" {
			return nil, xlate.BadRequest("unsupported_parameter",
				"anthropic: response_format json_object cannot be combined with reasoning_effort; send a json_schema")
		}
		answer = &format
	}

	w := xlate.StartRequestOut(len(req.Body.Raw())+256, "/v1/messages", "")
	w.Key("anthropic-version")
	w.String(version)
	if beta != "" {
		w.Key("anthropic-beta")
		w.String(beta)
	}
	xlate.StartBody(w)
	w.Key("model")
	w.String(req.Model)
	w.Key("max_tokens")
	w.Int(max)
	auto := xlate.AutoCache(req.Options, req.Body)
	if _, err := system.WriteCached(w, messages, auto); err != nil {
		return nil, err
	}
	lastUser := -1
	if auto {
		lastUser = xlate.LastUserTurn(messages)
	}
	if err := writeMessages(w, messages, lastUser); err != nil {
		return nil, err
	}
	if tools.IsArray() && tools.Len() > 0 || answer != nil {
		if err := writeTools(w, tools, auto, answer); err != nil {
			return nil, err
		}
	}
	if err := writeToolChoice(w, toolChoice, parallel, tools.Len() > 0, answer != nil); err != nil {
		return nil, err
	}
	if xlate.HasStop(stop) {
		w.Key("stop_sequences")
		xlate.WriteStop(w, stop)
	}
	if sampling {
		if temperature.IsNumber() {
			w.Key("temperature")
			w.Value(temperature)
		}
		if topP.IsNumber() {
			w.Key("top_p")
			w.Value(topP)
		}
	}
	if !user.IsString() || user.Is("") {
		user = req.Body.Get("safety_identifier")
	}
	if user.IsString() && user.Str() != "" {
		w.Key("metadata")
		w.ObjectStart()
		w.Key("user_id")
		w.Value(user)
		w.ObjectEnd()
	}
	if budget > 0 {
		w.Key("thinking")
		w.ObjectStart()
		w.Key("type")
		w.String("enabled")
		w.Key("budget_tokens")
		w.Int(budget)
		w.ObjectEnd()
	}
	if adaptive != "" {
		w.Key("thinking")
		w.Raw([]byte(`{"type":"adaptive"}`))
	}
	if format.Kind == xlate.FormatJSONSchema || adaptive != "" {
		w.Key("output_config")
		w.ObjectStart()
		if adaptive != "" {
			w.Key("effort")
			w.String(adaptive)
		}
		if format.Kind == xlate.FormatJSONSchema {
			w.Key("format")
			w.ObjectStart()
			w.Key("type")
			w.String("json_schema")
			w.Key("schema")
			w.Value(format.Schema)
			w.ObjectEnd()
		}
		w.ObjectEnd()
	}
	if req.Stream {
		w.Key("stream")
		w.Bool(true)
	}
	return xlate.FinishRequest(w, params), nil
}

// system collects system and developer messages into the top-level system blocks.
var system = xlate.System{Provider: "anthropic", Key: "system", Typed: true, Marks: xlate.MarksCacheControl}

// writeMessages writes the turns, merging consecutive messages that map to the same Anthropic
// role (tool results become user turns) into one turn, as the API requires alternation. The
// message at index mark (-1: none) gets a cache breakpoint on its last block.
func writeMessages(w *jsonx.Writer, messages jsonx.Value, mark int) error {
	turns := xlate.OpenTurns(w, "messages", "content")
	var f [6]jsonx.Value
	for i, m := range messages.Elems() {
		m.Fields(f[:], "role", "content", "tool_calls", "tool_call_id", "reasoning_content", "reasoning_signature")
		role := f[0]
		last, err := xlate.ReadCacheMark(m, "anthropic")
		if err != nil {
			return err
		}
		if i == mark {
			last.Set = true
		}
		switch {
		case role.Is("system"), role.Is("developer"):
		case role.Is("user"):
			turns.Start("user")
			if err := writeUserContent(w, f[1], i, last); err != nil {
				return err
			}
		case role.Is("assistant"):
			turns.Start("assistant")
			writeThinking(w, f[4], f[5])
			if err := writeAssistant(w, f[1], f[2], i, last); err != nil {
				return err
			}
		case role.Is("tool"):
			turns.Start("user")
			if err := writeToolResult(w, f[3], f[1], i, last); err != nil {
				return err
			}
		default:
			return xlate.BadRequest("invalid_request", "anthropic: messages[%d]: unsupported role %s", i, role.Raw())
		}
	}
	turns.Close()
	return nil
}

// writeThinking writes the thinking block of an assistant turn that carries its signature.
// Gemini's thought signatures (prefixed "gemini:" by the Gemini translator) are not Anthropic's
// and are not sent.
func writeThinking(w *jsonx.Writer, reasoning, signature jsonx.Value) {
	if !reasoning.IsString() || !signature.IsString() || signature.Is("") ||
		strings.HasPrefix(signature.Str(), "gemini:") {
		return
	}
	w.ObjectStart()
	w.Key("type")
	w.String("thinking")
	w.Key("thinking")
	w.Value(reasoning)
	w.Key("signature")
	w.Value(signature)
	w.ObjectEnd()
}

// textBlock writes a text block with its breakpoint.
func textBlock(w *jsonx.Writer, text jsonx.Value, mark xlate.CacheMark) {
	w.ObjectStart()
	w.Key("type")
	w.String("text")
	w.Key("text")
	w.Value(text)
	xlate.WriteCacheControl(w, mark)
	w.ObjectEnd()
}

// partMark is a content part's breakpoint, or the message's last one for its last part.
func partMark(p jsonx.Value, isLast bool, last xlate.CacheMark) (xlate.CacheMark, error) {
	m, err := xlate.ReadCacheMark(p, "anthropic")
	if err == nil && isLast && last.Set && !m.Set {
		m = last
	}
	return m, err
}

func writeUserContent(w *jsonx.Writer, content jsonx.Value, i int, last xlate.CacheMark) error {
	switch content.Kind() {
	case jsonx.String:
		if content.Is("") {
			return xlate.BadRequest("invalid_request", "anthropic: messages[%d]: empty content", i)
		}
		textBlock(w, content, last)
		return nil
	case jsonx.Array:
		n := content.Len()
		for j, p := range content.Elems() {
			mark, err := partMark(p, j == n-1, last)
			if err != nil {
				return err
			}
			t := p.Get("type")
			switch {
			case t.Is("text"):
				if tx := p.Get("text"); !tx.Is("") {
					textBlock(w, tx, mark)
				}
			case t.Is("image_url"):
				if err := writeImage(w, p.Get("image_url", "url"), i, mark); err != nil {
					return err
				}
			case t.Is("file"):
				if err := writeFile(w, p.Get("file"), i, mark); err != nil {
					return err
				}
			default:
				return xlate.BadRequest("unsupported_content", "anthropic: messages[%d]: content part type %s is not supported", i, t.Raw())
			}
		}
		return nil
	}
	return xlate.BadRequest("invalid_request", "anthropic: messages[%d]: content must be a string or an array", i)
}

func writeImage(w *jsonx.Writer, url jsonx.Value, i int, mark xlate.CacheMark) error {
	u := url.Str()
	if u == "" {
		return xlate.BadRequest("invalid_request", "anthropic: messages[%d]: image_url.url is missing", i)
	}
	w.ObjectStart()
	w.Key("type")
	w.String("image")
	w.Key("source")
	w.ObjectStart()
	if d, ok := xlate.ParseDataURI(u); ok {
		w.Key("type")
		w.String("base64")
		w.Key("media_type")
		w.String(d.MediaType)
		w.Key("data")
		w.String(d.Data)
	} else if len(u) > 5 && u[:5] == "data:" {
		return xlate.BadRequest("invalid_request", "anthropic: messages[%d]: image data URI must be base64 with a media type", i)
	} else {
		w.Key("type")
		w.String("url")
		w.Key("url")
		w.String(u)
	}
	w.ObjectEnd()
	xlate.WriteCacheControl(w, mark)
	w.ObjectEnd()
	return nil
}

// writeFile writes a chat file part holding a base64 PDF or plain-text data URI as a document
// block (the filename becomes its title); file ids belong to another provider's Files API.
func writeFile(w *jsonx.Writer, file jsonx.Value, i int, mark xlate.CacheMark) error {
	d, err := xlate.ReadFilePart(file, i, "anthropic")
	if err != nil {
		return err
	}
	if d.MediaType != "application/pdf" && d.MediaType != "text/plain" {
		return xlate.BadRequest("unsupported_content", "anthropic: messages[%d]: file type %q is not supported (application/pdf or text/plain)", i, d.MediaType)
	}
	w.ObjectStart()
	w.Key("type")
	w.String("document")
	w.Key("source")
	w.ObjectStart()
	w.Key("type")
	if d.MediaType == "text/plain" {
		// Text documents are sent as text; Anthropic takes base64 only for PDFs.
		raw, ok := decodeBase64(d.Data)
		if !ok {
			return xlate.BadRequest("invalid_request", "anthropic: messages[%d]: file.file_data is not valid base64", i)
		}
		w.String("text")
		w.Key("media_type")
		w.String("text/plain")
		w.Key("data")
		w.StringBytes(raw)
	} else {
		w.String("base64")
		w.Key("media_type")
		w.String(d.MediaType)
		w.Key("data")
		w.String(d.Data)
	}
	w.ObjectEnd()
	if d.Filename != "" {
		w.Key("title")
		w.String(d.Filename)
	}
	xlate.WriteCacheControl(w, mark)
	w.ObjectEnd()
	return nil
}

func decodeBase64(s string) ([]byte, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	return b, err == nil
}

func writeAssistant(w *jsonx.Writer, content, toolCalls jsonx.Value, i int, last xlate.CacheMark) error {
	calls := toolCalls.Len()
	textLast := last
	if calls > 0 {
		textLast = xlate.CacheMark{} // the message's last block is its last tool_use
	}
	switch content.Kind() {
	case jsonx.String:
		if !content.Is("") {
			textBlock(w, content, textLast)
		}
	case jsonx.Array:
		n := content.Len()
		for j, p := range content.Elems() {
			mark, err := partMark(p, j == n-1, textLast)
			if err != nil {
				return err
			}
			t := p.Get("type")
			switch {
			case t.Is("text"):
				if tx := p.Get("text"); !tx.Is("") {
					textBlock(w, tx, mark)
				}
			case t.Is("refusal"):
				if tx := p.Get("refusal"); !tx.Is("") {
					textBlock(w, tx, mark)
				}
			default:
				return xlate.BadRequest("unsupported_content", "anthropic: messages[%d]: assistant content part type %s is not supported", i, t.Raw())
			}
		}
	}
	for k, tc := range toolCalls.Elems() {
		mark, err := partMark(tc, k == calls-1, last)
		if err != nil {
			return err
		}
		fn := tc.Get("function")
		w.ObjectStart()
		w.Key("type")
		w.String("tool_use")
		w.Key("id")
		w.Value(tc.Get("id"))
		w.Key("name")
		w.Value(fn.Get("name"))
		w.Key("input")
		args, ok := xlate.ToolArgs(fn.Get("arguments"))
		if !ok {
			return xlate.BadRequest("invalid_request", "anthropic: messages[%d]: tool call arguments must be a JSON object", i)
		}
		w.Value(args)
		xlate.WriteCacheControl(w, mark)
		w.ObjectEnd()
	}
	return nil
}

// writeToolResult writes a tool message as a tool_result block of text and image blocks; a
// breakpoint on any of its parts (or the message) marks the block.
func writeToolResult(w *jsonx.Writer, id, content jsonx.Value, i int, mark xlate.CacheMark) error {
	w.ObjectStart()
	w.Key("type")
	w.String("tool_result")
	w.Key("tool_use_id")
	w.Value(id)
	w.Key("content")
	if content.IsArray() {
		w.ArrayStart()
		for _, p := range content.Elems() {
			m, err := xlate.ReadCacheMark(p, "anthropic")
			if err != nil {
				return err
			}
			if m.Set {
				mark = m
			}
			switch t := p.Get("type"); {
			case t.Is("text"):
				textBlock(w, p.Get("text"), xlate.CacheMark{})
			case t.Is("image_url"):
				if err := writeImage(w, p.Get("image_url", "url"), i, xlate.CacheMark{}); err != nil {
					return err
				}
			default:
				return xlate.BadRequest("unsupported_content", "anthropic: messages[%d]: tool content part type %s is not supported", i, t.Raw())
			}
		}
		w.ArrayEnd()
	} else if content.IsString() {
		w.Value(content)
	} else {
		w.String("")
	}
	xlate.WriteCacheControl(w, mark)
	w.ObjectEnd()
	return nil
}

// writeTools writes the tool definitions, then the answer tool when structured output needs
// it; a tool's cache_control marks it, and auto marks the last client tool.
func writeTools(w *jsonx.Writer, tools jsonx.Value, auto bool, answer *xlate.Format) error {
	w.Key("tools")
	w.ArrayStart()
	n := tools.Len()
	for i, t := range tools.Elems() {
		fn, err := xlate.ReadTool(t, i, "anthropic")
		if err != nil {
			return err
		}
		mark, err := xlate.ReadCacheMark(t, "anthropic")
		if err != nil {
			return err
		}
		if err := xlate.CheckToolName(fn.Name, "anthropic"); err != nil {
			return err
		}
		if auto && i == n-1 {
			mark.Set = true
		}
		w.ObjectStart()
		fn.WriteName(w)
		w.Key("input_schema")
		fn.WriteParameters(w)
		xlate.WriteCacheControl(w, mark)
		w.ObjectEnd()
	}
	if answer != nil {
		w.ObjectStart()
		xlate.WriteAnswerName(w)
		w.Key("input_schema")
		if err := answer.WriteAnswerSchema(w, "anthropic"); err != nil {
			return err
		}
		w.ObjectEnd()
	}
	w.ArrayEnd()
	return nil
}

// writeToolChoice writes tool_choice; with the answer tool (structured output) the model must
// call a tool: the answer tool alone, or any when the client has tools of its own.
func writeToolChoice(w *jsonx.Writer, tc jsonx.Value, parallel, haveTools, answer bool) error {
	kind, name, err := xlate.ReadToolChoice(tc, "anthropic")
	if err != nil {
		return err
	}
	typ := ""
	if answer {
		force, err := xlate.AnswerChoice(haveTools, kind, "anthropic")
		if err != nil {
			return err
		}
		kind, name = xlate.ChoiceRequired, ""
		if force {
			kind, name = xlate.ChoiceFunction, xlate.AnswerTool
		}
	}
	switch kind {
	case xlate.ChoiceUnset:
		if parallel || !haveTools {
			return nil
		}
		typ = "auto"
	case xlate.ChoiceAuto:
		typ = "auto"
	case xlate.ChoiceNone:
		typ = "none"
	case xlate.ChoiceRequired:
		typ = "any"
	case xlate.ChoiceFunction:
		typ = "tool"
	}
	w.Key("tool_choice")
	w.ObjectStart()
	w.Key("type")
	w.String(typ)
	if name != "" {
		w.Key("name")
		w.String(name)
	}
	if !parallel && typ != "none" {
		w.Key("disable_parallel_tool_use")
		w.Bool(true)
	}
	w.ObjectEnd()
	return nil
}
