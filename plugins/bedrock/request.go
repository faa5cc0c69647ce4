// Package bedrock translates OpenAI chat.completions to and from the AWS Bedrock Converse API
// (POST /model/{modelId}/converse and /converse-stream). The host signs requests (SigV4) and
// decodes the binary event stream; this package sees each event's :event-type and JSON payload.
// It is a plain Go package with native tests; wasm/main.go registers it as a wasip1 plugin.
//
// Bedrock has no "none" tool choice: with tool_choice "none" the tools are left out, unless the
// conversation already holds tool calls (Converse then requires toolConfig), in which case the
// tools are sent without a toolChoice. Images must be base64 data URIs; Converse cannot fetch
// URLs, so those are a 400.
//
// Prompt caching: a cache_control extension member ({"type":"ephemeral","ttl":"5m"|"1h"}) on a
// chat content part, tool, tool call or message becomes a Converse cachePoint block (ttl kept)
// right after the matching block, tool or system block. The provider option auto_cache = true
// places them for clients that send none: after the tools, after the system prompt and after
// the last user turn. Cache writes come back in the prompt_tokens_details.cache_creation_tokens
// extension, reads in cached_tokens, both inside prompt_tokens.
//
// Reasoning signatures travel as the chat reasoning_signature extension: a response's
// reasoningText signature (or a stream's signature delta) becomes it, and an assistant message
// carrying reasoning_content and reasoning_signature goes back as a reasoningContent block
// first in its turn. reasoning_effort becomes Claude's thinking in additionalModelRequestFields
// (budgets as the Anthropic translator's; see thinking.go); other models are refused it.
//
// Parameters follow xlate.ChatParams (mapped, refused with a 400, or ignored and named in
// x-sluice-ignored); docs/parameters.md is generated from it.
//
// Structured output: Converse has no JSON mode, so response_format becomes the answer tool
// (xlate.AnswerTool) with the schema as its input schema and a toolChoice forcing it (or "any"
// beside client tools); the response and stream turn its call into the message content.
//
// Files: a chat file part (base64 data URI of a PDF, CSV, text, HTML, Markdown or Office
// document) becomes a document block named from the filename under Converse's name rules;
// Converse wants a text block beside it, and a file_id is a 400.
package bedrock

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/sluice-gw/sluice/plugins/internal/xlate"
	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// modelPath escapes a model id or ARN for the path; ':' and '/' must be escaped, as the AWS SDKs do.
func modelPath(model string) string {
	return strings.ReplaceAll(url.PathEscape(model), ":", "%3A")
}

// TranslateRequest turns a translate_request envelope with an OpenAI chat request into a
// Converse (or ConverseStream) request envelope.
func TranslateRequest(in []byte) ([]byte, error) {
	req, err := xlate.ParseRequest(in)
	if err != nil {
		return nil, err
	}
	body := req.Body
	params, err := xlate.CheckParams(body, xlate.Bedrock)
	if err != nil {
		return nil, err
	}
	chat := xlate.ReadChat(body)
	messages := chat.Messages
	if !messages.IsArray() {
		return nil, xlate.BadRequest("invalid_request", "bedrock: messages must be an array")
	}
	if req.Model == "" {
		return nil, xlate.BadRequest("invalid_request", "bedrock: model is missing")
	}
	format, err := xlate.ReadResponseFormat(chat.ResponseFormat, "bedrock")
	if err != nil {
		return nil, err
	}
	think, err := readThinking(&chat, req.Model, xlate.OptInt(req.Options, "default_max_tokens", defaultMaxTokens))
	if err != nil {
		return nil, err
	}
	var answer *xlate.Format
	if format.Kind != xlate.FormatText {
		if think.budget > 0 {
			return nil, xlate.BadRequest("unsupported_parameter",
				"bedrock: response_format cannot be combined with reasoning_effort (structured output is a forced tool, which extended thinking does not allow)")
		}
		answer = &format
	}
	if think.budget > 0 {
		for _, p := range [...]struct {
			v    jsonx.Value
			name string
		}{{chat.Temperature, "temperature"}, {chat.TopP, "top_p"}} {
			if p.v.IsNumber() {
				params.Ignore(p.name) // thinking does not allow sampling changes
			}
		}
	}
	path := "/model/" + modelPath(req.Model) + "/converse"
	if req.Stream {
		path += "-stream"
	}
	w := xlate.StartRequestOut(len(body.Raw())+256, path, "")
	xlate.StartBody(w)
	auto := xlate.AutoCache(req.Options, body)
	if _, err := system.WriteCached(w, messages, auto); err != nil {
		return nil, err
	}
	lastUser := -1
	if auto {
		lastUser = xlate.LastUserTurn(messages)
	}
	hasToolHistory, err := writeMessages(w, messages, lastUser)
	if err != nil {
		return nil, err
	}
	writeInference(w, &chat, think)
	if err := writeToolConfig(w, chat.Tools, chat.ToolChoice, hasToolHistory, auto, answer); err != nil {
		return nil, err
	}
	think.write(w)
	return xlate.FinishRequest(w, params), nil
}

var system = xlate.System{Provider: "bedrock", Key: "system", Marks: xlate.MarksCachePoint}

func textBlock(w *jsonx.Writer, text []byte) {
	w.ObjectStart()
	w.Key("text")
	w.StringBytes(text)
	w.ObjectEnd()
}

// textBlockRaw is textBlock for text still JSON-escaped (jsonx.Value.AppendRawStr).
func textBlockRaw(w *jsonx.Writer, escaped []byte) {
	w.ObjectStart()
	w.Key("text")
	w.StringRaw(escaped)
	w.ObjectEnd()
}

// textBlockValue is textBlock for a string value, copied as it is ("" for other kinds).
func textBlockValue(w *jsonx.Writer, text jsonx.Value) {
	w.ObjectStart()
	w.Key("text")
	if text.IsString() {
		w.Value(text)
	} else {
		w.String("")
	}
	w.ObjectEnd()
}

// writeMessages writes the turns, merging consecutive same-role messages (tool results are
// user turns) because Converse requires alternating roles. It reports whether any tool calls or
// results were present. The message at index mark (-1: none) gets a cachePoint after its last
// block.
func writeMessages(w *jsonx.Writer, messages jsonx.Value, mark int) (bool, error) {
	turns := xlate.OpenTurns(w, "messages", "content")
	tools := false
	var buf []byte
	for i, m := range messages.Elems() {
		role := m.Get("role")
		content := m.Get("content")
		last, err := xlate.ReadCacheMark(m, "bedrock")
		if err != nil {
			return false, err
		}
		if i == mark {
			last.Set = true
		}
		switch {
		case role.Is("system"), role.Is("developer"):
		case role.Is("user"):
			turns.Start("user")
			if err := writeUserContent(w, content, i); err != nil {
				return false, err
			}
			xlate.WriteCachePoint(w, last)
		case role.Is("assistant"):
			turns.Start("assistant")
			writeReasoning(w, m.Get("reasoning_content"), m.Get("reasoning_signature"))
			if err := xlate.TextOnly(content, i, "assistant", "bedrock"); err != nil {
				return false, err
			}
			var ok bool
			if buf, ok = xlate.ContentRaw(buf[:0], content); !ok {
				return false, xlate.BadRequest("invalid_request", "bedrock: messages[%d]: assistant content must be text", i)
			}
			textMark, err := partsMark(content)
			if err != nil {
				return false, err
			}
			if len(buf) > 0 {
				textBlockRaw(w, buf)
				xlate.WriteCachePoint(w, textMark)
			}
			for _, tc := range m.Get("tool_calls").Elems() {
				tools = true
				args, ok := xlate.ToolArgs(tc.Get("function", "arguments"))
				if !ok {
					return false, xlate.BadRequest("invalid_request", "bedrock: messages[%d]: tool call arguments must be a JSON object", i)
				}
				w.ObjectStart()
				w.Key("toolUse")
				w.ObjectStart()
				w.Key("toolUseId")
				w.Value(tc.Get("id"))
				w.Key("name")
				w.Value(tc.Get("function", "name"))
				w.Key("input")
				w.Value(args)
				w.ObjectEnd()
				w.ObjectEnd()
				tcMark, err := xlate.ReadCacheMark(tc, "bedrock")
				if err != nil {
					return false, err
				}
				xlate.WriteCachePoint(w, tcMark)
			}
			xlate.WriteCachePoint(w, last)
		case role.Is("tool"):
			tools = true
			turns.Start("user")
			buf, _ = xlate.ContentText(buf[:0], content)
			images, err := toolImages(content, i)
			if err != nil {
				return false, err
			}
			w.ObjectStart()
			w.Key("toolResult")
			w.ObjectStart()
			w.Key("toolUseId")
			w.Value(m.Get("tool_call_id"))
			w.Key("content")
			w.ArrayStart()
			// A JSON object result goes as a json block so the model sees structure.
			if v, err := jsonx.Parse(buf); err == nil && v.IsObject() {
				w.ObjectStart()
				w.Key("json")
				w.Value(v)
				w.ObjectEnd()
			} else if len(buf) > 0 || len(images) == 0 {
				textBlock(w, buf)
			}
			for _, d := range images {
				writeImageBlock(w, d.format, d.Data)
			}
			w.ArrayEnd()
			w.ObjectEnd()
			w.ObjectEnd()
			// A cachePoint cannot sit inside a toolResult; a mark on one of its parts follows it.
			pm, err := partsMark(content)
			if err != nil {
				return false, err
			}
			if !last.Set {
				last = pm
			}
			xlate.WriteCachePoint(w, last)
		default:
			return false, xlate.BadRequest("invalid_request", "bedrock: messages[%d]: unsupported role %s", i, role.Raw())
		}
	}
	turns.Close()
	return tools, nil
}

var imageFormats = map[string]string{"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg",
	"image/gif": "gif", "image/webp": "webp"}

func writeUserContent(w *jsonx.Writer, content jsonx.Value, i int) error {
	switch content.Kind() {
	case jsonx.String:
		textBlockValue(w, content)
		return nil
	case jsonx.Array:
		docs, texts := 0, 0
		for _, p := range content.Elems() {
			if p.Get("type").Is("text") {
				texts++
			}
		}
		for _, p := range content.Elems() {
			mark, err := xlate.ReadCacheMark(p, "bedrock")
			if err != nil {
				return err
			}
			t := p.Get("type")
			switch {
			case t.Is("text"):
				textBlockValue(w, p.Get("text"))
			case t.Is("image_url"):
				u := p.Get("image_url", "url").Str()
				d, ok := xlate.ParseDataURI(u)
				if !ok {
					return xlate.BadRequest("unsupported_content", "bedrock: messages[%d]: image URLs are not supported; send a base64 data URI", i)
				}
				format, ok := imageFormats[d.MediaType]
				if !ok {
					return xlate.BadRequest("unsupported_content", "bedrock: messages[%d]: image type %q is not supported", i, d.MediaType)
				}
				writeImageBlock(w, format, d.Data)
			case t.Is("file"):
				docs++
				if err := writeDocument(w, p.Get("file"), i, docs); err != nil {
					return err
				}
			default:
				return xlate.BadRequest("unsupported_content", "bedrock: messages[%d]: content part type %s is not supported", i, t.Raw())
			}
			xlate.WriteCachePoint(w, mark) // after its part, whatever the part's kind
		}
		if docs > 0 && texts == 0 {
			// Converse wants a text block beside a document.
			return xlate.BadRequest("invalid_request", "bedrock: messages[%d]: a message with a file needs a text part too", i)
		}
		return nil
	}
	return xlate.BadRequest("invalid_request", "bedrock: messages[%d]: content must be a string or an array", i)
}

// writeReasoning writes the reasoningContent block of an assistant turn that carries its
// signature (Claude needs it back first in the turn for tool use with thinking); reasoning
// without one (another provider's) cannot be verified and is not sent, nor is reasoning with
// Gemini's thought signature (prefixed "gemini:" by the Gemini translator).
func writeReasoning(w *jsonx.Writer, text, signature jsonx.Value) {
	if !text.IsString() || !signature.IsString() || signature.Is("") ||
		strings.HasPrefix(signature.Str(), "gemini:") {
		return
	}
	w.ObjectStart()
	w.Key("reasoningContent")
	w.ObjectStart()
	w.Key("reasoningText")
	w.ObjectStart()
	w.Key("text")
	w.Value(text)
	w.Key("signature")
	w.Value(signature)
	w.ObjectEnd()
	w.ObjectEnd()
	w.ObjectEnd()
}

// partsMark is the breakpoint of a content array whose parts are merged into one block: the
// last mark among its parts.
func partsMark(content jsonx.Value) (xlate.CacheMark, error) {
	var m xlate.CacheMark
	for _, p := range content.Elems() {
		pm, err := xlate.ReadCacheMark(p, "bedrock")
		if err != nil {
			return m, err
		}
		if pm.Set {
			m = pm
		}
	}
	return m, nil
}

func writeInference(w *jsonx.Writer, chat *xlate.Chat, think thinking) {
	open := false
	key := func(k string) {
		if !open {
			w.Key("inferenceConfig")
			w.ObjectStart()
			open = true
		}
		w.Key(k)
	}
	if think.maxTokens > 0 {
		key("maxTokens")
		w.Int(think.maxTokens)
	} else if n, ok := chat.MaxTokens(); ok {
		key("maxTokens")
		w.Int(n)
	}
	if v := chat.Temperature; v.IsNumber() && think.budget == 0 {
		key("temperature")
		w.Value(v)
	}
	if v := chat.TopP; v.IsNumber() && think.budget == 0 {
		key("topP")
		w.Value(v)
	}
	if xlate.HasStop(chat.Stop) {
		key("stopSequences")
		xlate.WriteStop(w, chat.Stop)
	}
	if open {
		w.ObjectEnd()
	}
}

// writeToolConfig writes toolConfig: the client's tools, then the answer tool when structured
// output needs it, which the tool choice then forces (or, beside client tools, "any").
func writeToolConfig(w *jsonx.Writer, tools, tc jsonx.Value, history, auto bool, answer *xlate.Format) error {
	kind, name, err := xlate.ReadToolChoice(tc, "bedrock")
	if err != nil {
		return err
	}
	if answer != nil {
		force, err := xlate.AnswerChoice(tools.Len() > 0, kind, "bedrock")
		if err != nil {
			return err
		}
		kind, name = xlate.ChoiceRequired, ""
		if force {
			kind, name = xlate.ChoiceFunction, xlate.AnswerTool
		}
	}
	choice := ""
	switch kind {
	case xlate.ChoiceAuto:
		choice = "auto"
	case xlate.ChoiceRequired:
		choice = "any"
	case xlate.ChoiceNone:
		if !history {
			return nil
		}
	case xlate.ChoiceFunction:
		choice = "tool"
	}
	if tools.Len() == 0 && answer == nil {
		return nil
	}
	w.Key("toolConfig")
	w.ObjectStart()
	w.Key("tools")
	w.ArrayStart()
	for i, t := range tools.Elems() {
		fn, err := xlate.ReadTool(t, i, "bedrock")
		if err != nil {
			return err
		}
		if err := xlate.CheckToolName(fn.Name, "bedrock"); err != nil {
			return err
		}
		w.ObjectStart()
		w.Key("toolSpec")
		w.ObjectStart()
		fn.WriteName(w)
		w.Key("inputSchema")
		w.ObjectStart()
		w.Key("json")
		fn.WriteParameters(w)
		w.ObjectEnd()
		w.ObjectEnd()
		w.ObjectEnd()
		mark, err := xlate.ReadCacheMark(t, "bedrock")
		if err != nil {
			return err
		}
		if auto && i == tools.Len()-1 {
			mark.Set = true
		}
		xlate.WriteCachePoint(w, mark)
	}
	if answer != nil {
		w.ObjectStart()
		w.Key("toolSpec")
		w.ObjectStart()
		xlate.WriteAnswerName(w)
		w.Key("inputSchema")
		w.ObjectStart()
		w.Key("json")
		if err := answer.WriteAnswerSchema(w, "bedrock"); err != nil {
			return err
		}
		w.ObjectEnd()
		w.ObjectEnd()
		w.ObjectEnd()
	}
	w.ArrayEnd()
	if choice != "" {
		w.Key("toolChoice")
		w.ObjectStart()
		w.Key(choice)
		w.ObjectStart()
		if name != "" {
			w.Key("name")
			w.String(name)
		}
		w.ObjectEnd()
		w.ObjectEnd()
	}
	w.ObjectEnd()
	return nil
}

// docFormats are the document formats Converse reads, by media type.
var docFormats = map[string]string{"application/pdf": "pdf", "text/csv": "csv", "text/plain": "txt",
	"text/markdown": "md", "text/html": "html", "application/msword": "doc",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
	"application/vnd.ms-excel": "xls",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx"}

// writeDocument writes a chat file part as a Converse document block. Its name must be unique
// in the request and hold only letters, digits, single spaces, hyphens, parentheses and square
// brackets: the filename is cut to its stem and its other characters become hyphens, and an
// index keeps names apart ("report (2)").
func writeDocument(w *jsonx.Writer, file jsonx.Value, i, n int) error {
	d, err := xlate.ReadFilePart(file, i, "bedrock")
	if err != nil {
		return err
	}
	format, ok := docFormats[d.MediaType]
	if !ok {
		return xlate.BadRequest("unsupported_content", "bedrock: messages[%d]: file type %q is not supported", i, d.MediaType)
	}
	w.ObjectStart()
	w.Key("document")
	w.ObjectStart()
	w.Key("format")
	w.String(format)
	w.Key("name")
	w.String(docName(d.Filename, i, n))
	w.Key("source")
	w.ObjectStart()
	w.Key("bytes")
	w.String(d.Data)
	w.ObjectEnd()
	w.ObjectEnd()
	w.ObjectEnd()
	return nil
}

// docName makes a Converse document name from a filename (see writeDocument); i and n are the
// message and the file's number in it, which keep names unique.
func docName(filename string, i, n int) string {
	if j := strings.LastIndexByte(filename, '.'); j > 0 {
		filename = filename[:j]
	}
	b := make([]byte, 0, len(filename)+16)
	space := true // no leading space
	for _, c := range []byte(filename) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '(', c == ')', c == '[', c == ']':
			b = append(b, c)
			space = false
		case c == ' ' || c == '\t' || c == '_':
			if !space {
				b = append(b, ' ')
				space = true
			}
		default:
			b = append(b, '-')
			space = false
		}
	}
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	if len(b) > 200 {
		b = b[:200]
	}
	if len(b) == 0 {
		b = append(b, "document"...)
	}
	b = append(b, " ("...)
	b = strconv.AppendInt(b, int64(i), 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(n), 10)
	return string(append(b, ')'))
}

func writeImageBlock(w *jsonx.Writer, format, data string) {
	w.ObjectStart()
	w.Key("image")
	w.ObjectStart()
	w.Key("format")
	w.String(format)
	w.Key("source")
	w.ObjectStart()
	w.Key("bytes")
	w.String(data)
	w.ObjectEnd()
	w.ObjectEnd()
	w.ObjectEnd()
}

// toolImage is an image of a tool result.
type toolImage struct {
	xlate.DataURI
	format string
}

// toolImages reads the image parts of a tool message (a toolResult takes image blocks beside
// its text); other non-text parts are a 400.
func toolImages(content jsonx.Value, i int) ([]toolImage, error) {
	var out []toolImage
	for _, p := range content.Elems() {
		switch t := p.Get("type"); {
		case t.Is("text"):
		case t.Is("image_url"):
			d, ok := xlate.ParseDataURI(p.Get("image_url", "url").Str())
			if !ok {
				return nil, xlate.BadRequest("unsupported_content", "bedrock: messages[%d]: image URLs are not supported; send a base64 data URI", i)
			}
			format, ok := imageFormats[d.MediaType]
			if !ok {
				return nil, xlate.BadRequest("unsupported_content", "bedrock: messages[%d]: image type %q is not supported", i, d.MediaType)
			}
			out = append(out, toolImage{d, format})
		default:
			return nil, xlate.BadRequest("unsupported_content", "bedrock: messages[%d]: tool content part type %s is not supported", i, t.Raw())
		}
	}
	return out, nil
}
