// Package gemini translates OpenAI chat.completions to and from the Gemini native API
// (models/{model}:generateContent, and :streamGenerateContent?alt=sse for streams). It is a plain
// Go package with native tests; wasm/main.go registers it as a wasip1 plugin.
//
// Streams: Gemini has no terminal event, so the stream ends when the host passes the event
// {"event":"__end__"} (the upstream connection closed). If a finishReason was seen by then the
// usage chunk is emitted and the stream is done; otherwise the stream ends with an error.
//
// Thinking: thought parts become reasoning_content, and the parts' thoughtSignatures travel in
// the reasoning_signature extension (encoded as signature.go says), which a client echoes on
// the assistant message so each signature goes back on its part. reasoning_effort becomes
// generationConfig.thinkingConfig: a thinkingBudget on 2.5 models, a thinkingLevel on Gemini 3
// and later, with includeThoughts on.
//
// Parameters follow xlate.ChatParams (mapped, refused with a 400, or ignored and named in
// x-sluice-ignored); docs/parameters.md is generated from it. File parts (base64 data URIs:
// PDFs, text, images) and input_audio (wav, mp3) become inlineData parts; a file_id is a 400.
package gemini

import (
	"net/url"
	"strings"

	"github.com/sluice-gw/sluice/plugins/internal/xlate"
	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// TranslateRequest turns a translate_request envelope with an OpenAI chat request into a Gemini
// generateContent request envelope.
func TranslateRequest(in []byte) ([]byte, error) {
	req, err := xlate.ParseRequest(in)
	if err != nil {
		return nil, err
	}
	body := req.Body
	params, err := xlate.CheckParams(body, xlate.Gemini)
	if err != nil {
		return nil, err
	}
	chat := xlate.ReadChat(body)
	messages := chat.Messages
	if !messages.IsArray() {
		return nil, xlate.BadRequest("invalid_request", "gemini: messages must be an array")
	}
	if req.Model == "" {
		return nil, xlate.BadRequest("invalid_request", "gemini: model is missing")
	}
	path := "/models/" + url.PathEscape(req.Model) + ":generateContent"
	query := ""
	if req.Stream {
		path = "/models/" + url.PathEscape(req.Model) + ":streamGenerateContent"
		query = "alt=sse"
	}
	w := xlate.StartRequestOut(len(body.Raw())+256, path, query)
	xlate.StartBody(w)
	if err := system.Write(w, messages); err != nil {
		return nil, err
	}
	if err := writeContents(w, messages); err != nil {
		return nil, err
	}
	if tools := chat.Tools; tools.Len() > 0 {
		if err := writeTools(w, tools); err != nil {
			return nil, err
		}
	}
	if err := writeToolConfig(w, chat.ToolChoice); err != nil {
		return nil, err
	}
	if err := writeGenerationConfig(w, &chat, req.Model); err != nil {
		return nil, err
	}
	return xlate.FinishRequest(w, params), nil
}

var system = xlate.System{Provider: "gemini", Wrap: "systemInstruction", Key: "parts"}

func textPart(w *jsonx.Writer, text jsonx.Value) {
	w.ObjectStart()
	w.Key("text")
	w.Value(text)
	w.ObjectEnd()
}

// writeContents writes contents, merging consecutive messages of the same Gemini role (user,
// model; tool results are user turns).
func writeContents(w *jsonx.Writer, messages jsonx.Value) error {
	var calls []toolCall // collected when the first tool message needs them
	collected := false
	turns := xlate.OpenTurns(w, "contents", "parts")
	// One Fields pass per message: each Get would compare every key before the one it wants.
	var f [5]jsonx.Value
	for i, m := range messages.Elems() {
		m.Fields(f[:], "role", "content", "tool_calls", "tool_call_id", "reasoning_signature")
		role, content := f[0], f[1]
		switch {
		case role.Is("system"), role.Is("developer"):
		case role.Is("user"):
			turns.Start("user")
			if err := writeUserParts(w, content, i); err != nil {
				return err
			}
		case role.Is("assistant"):
			turns.Start("model")
			if err := writeAssistantParts(w, content, f[2], decodeSigs(f[4]), i); err != nil {
				return err
			}
		case role.Is("tool"):
			turns.Start("user")
			if !collected {
				calls, collected = collectToolCalls(messages), true
			}
			id := f[3].Str()
			name, ok := lookupToolCall(calls, id)
			if !ok {
				return xlate.BadRequest("invalid_request", "gemini: messages[%d]: tool_call_id %q matches no earlier tool call", i, id)
			}
			w.ObjectStart()
			w.Key("functionResponse")
			w.ObjectStart()
			w.Key("name")
			if name.IsString() {
				w.Value(name)
			} else {
				w.String("")
			}
			w.Key("response")
			if err := xlate.TextOnly(content, i, "tool", "gemini"); err != nil {
				return err
			}
			text, _ := xlate.ContentText(xlate.Scratch(xlate.SlotText2, 0), content)
			xlate.Keep(xlate.SlotText2, text)
			// Gemini wants an object: a JSON object result goes as is, anything else is wrapped.
			if v, err := jsonx.Parse(text); err == nil && v.IsObject() {
				w.Value(v)
			} else {
				w.ObjectStart()
				w.Key("content")
				w.StringBytes(text)
				w.ObjectEnd()
			}
			w.ObjectEnd()
			w.ObjectEnd()
		default:
			return xlate.BadRequest("invalid_request", "gemini: messages[%d]: unsupported role %s", i, role.Raw())
		}
	}
	turns.Close()
	return nil
}

// toolCall is an assistant tool call's id and function name, for matching tool results.
type toolCall struct{ id, name jsonx.Value }

// collectToolCalls lists every tool call in messages (later ones included, as a tool result may
// name any of them).
func collectToolCalls(messages jsonx.Value) []toolCall {
	var calls []toolCall
	var tf [2]jsonx.Value
	for _, m := range messages.Elems() {
		for _, tc := range m.Get("tool_calls").Elems() {
			tc.Fields(tf[:], "id", "function")
			calls = append(calls, toolCall{id: tf[0], name: tf[1].Get("name")})
		}
	}
	return calls
}

// lookupToolCall finds the name of the tool call with this id; the last one wins when ids repeat.
func lookupToolCall(calls []toolCall, id string) (jsonx.Value, bool) {
	for k := len(calls) - 1; k >= 0; k-- {
		c := calls[k]
		if c.id.Is(id) || id == "" && !c.id.IsString() {
			return c.name, true
		}
	}
	return jsonx.Value{}, false
}

func writeUserParts(w *jsonx.Writer, content jsonx.Value, i int) error {
	switch content.Kind() {
	case jsonx.String:
		textPart(w, content)
		return nil
	case jsonx.Array:
		var f [5]jsonx.Value
		for _, p := range content.Elems() {
			p.Fields(f[:], "type", "text", "image_url", "file", "input_audio")
			switch t := f[0]; {
			case t.Is("text"):
				textPart(w, f[1])
			case t.Is("image_url"):
				if err := writeImage(w, f[2].Get("url").Str(), i); err != nil {
					return err
				}
			case t.Is("file"):
				d, err := xlate.ReadFilePart(f[3], i, "gemini")
				if err != nil {
					return err
				}
				inlineData(w, d.MediaType, d.Data)
			case t.Is("input_audio"):
				if err := writeAudio(w, f[4], i); err != nil {
					return err
				}
			default:
				return xlate.BadRequest("unsupported_content", "gemini: messages[%d]: content part type %s is not supported", i, f[0].Raw())
			}
		}
		return nil
	}
	return xlate.BadRequest("invalid_request", "gemini: messages[%d]: content must be a string or an array", i)
}

var extMime = map[string]string{".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
	".webp": "image/webp", ".gif": "image/gif", ".heic": "image/heic", ".pdf": "application/pdf"}

// inlineData writes an inlineData part (Gemini reads PDFs, text, images and audio inline).
func inlineData(w *jsonx.Writer, mimeType, data string) {
	w.ObjectStart()
	w.Key("inlineData")
	w.ObjectStart()
	w.Key("mimeType")
	w.String(mimeType)
	w.Key("data")
	w.String(data)
	w.ObjectEnd()
	w.ObjectEnd()
}

// audioMime is the media type of each chat input_audio format.
var audioMime = map[string]string{"wav": "audio/wav", "mp3": "audio/mp3"}

// writeAudio writes a chat input_audio part ({"data": base64, "format": "wav"|"mp3"}) inline.
func writeAudio(w *jsonx.Writer, a jsonx.Value, i int) error {
	mt, ok := audioMime[a.Get("format").Str()]
	data := a.Get("data").Str()
	if !ok || data == "" {
		return xlate.BadRequest("invalid_request", "gemini: messages[%d]: input_audio needs base64 data and a format of wav or mp3", i)
	}
	inlineData(w, mt, data)
	return nil
}

func writeImage(w *jsonx.Writer, u string, i int) error {
	if d, ok := xlate.ParseDataURI(u); ok {
		inlineData(w, d.MediaType, d.Data)
		return nil
	}
	if !strings.HasPrefix(u, "gs://") && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return xlate.BadRequest("invalid_request", "gemini: messages[%d]: image_url must be a base64 data URI, gs:// or http(s) URL", i)
	}
	w.ObjectStart()
	w.Key("fileData")
	w.ObjectStart()
	p := u
	if j := strings.IndexAny(p, "?#"); j >= 0 {
		p = p[:j]
	}
	if j := strings.LastIndexByte(p, '.'); j >= 0 {
		if mt, ok := extMime[strings.ToLower(p[j:])]; ok {
			w.Key("mimeType")
			w.String(mt)
		}
	}
	w.Key("fileUri")
	w.String(u)
	w.ObjectEnd()
	w.ObjectEnd()
	return nil
}

// writeAssistantParts writes a model turn: its text, then its function calls, each part with the
// thought signature it came with (see signature.go).
func writeAssistantParts(w *jsonx.Writer, content, toolCalls jsonx.Value, sigs turnSigs, i int) error {
	if err := xlate.TextOnly(content, i, "assistant", "gemini"); err != nil {
		return err
	}
	text, ok := xlate.ContentRaw(xlate.Scratch(xlate.SlotText, 0), content)
	xlate.Keep(xlate.SlotText, text)
	if !ok {
		return xlate.BadRequest("invalid_request", "gemini: messages[%d]: assistant content must be text", i)
	}
	// A signature that came on a text or thought part goes back on the text part, an empty one
	// if the message has no text (Gemini itself sends such parts).
	if len(text) > 0 || sigs.text.IsString() {
		w.ObjectStart()
		w.Key("text")
		w.StringRaw(text)
		writeSig(w, sigs.text)
		w.ObjectEnd()
	}
	var f [2]jsonx.Value
	for n, tc := range toolCalls.Elems() {
		tc.Get("function").Fields(f[:], "name", "arguments")
		args, ok := xlate.ToolArgs(f[1])
		if !ok {
			return xlate.BadRequest("invalid_request", "gemini: messages[%d]: tool call arguments must be a JSON object", i)
		}
		w.ObjectStart()
		w.Key("functionCall")
		w.ObjectStart()
		w.Key("name")
		w.Value(f[0])
		w.Key("args")
		w.Value(args)
		w.ObjectEnd()
		writeSig(w, sigs.calls[int64(n)])
		w.ObjectEnd()
	}
	return nil
}

func writeTools(w *jsonx.Writer, tools jsonx.Value) error {
	w.Key("tools")
	w.ArrayStart()
	w.ObjectStart()
	w.Key("functionDeclarations")
	w.ArrayStart()
	for i, t := range tools.Elems() {
		fn, err := xlate.ReadTool(t, i, "gemini")
		if err != nil {
			return err
		}
		w.ObjectStart()
		fn.WriteName(w)
		if p := fn.Parameters; p.IsObject() {
			w.Key("parameters")
			writeSchema(w, p)
		}
		w.ObjectEnd()
	}
	w.ArrayEnd()
	w.ObjectEnd()
	w.ArrayEnd()
	return nil
}

// writeSchema copies a JSON Schema without the keywords Gemini rejects (additionalProperties,
// $schema), at every depth. Names under properties/$defs are property names, not keywords,
// and the values of enum/const/default/examples/required are data, so those are not filtered.
func writeSchema(w *jsonx.Writer, s jsonx.Value) {
	switch s.Kind() {
	case jsonx.Object:
		w.ObjectStart()
		for k, v := range s.Members() {
			switch {
			case k.Is("additionalProperties"), k.Is("$schema"):
				continue
			case k.Is("properties"), k.Is("$defs"), k.Is("definitions"), k.Is("patternProperties"):
				w.Key(k.Str())
				if !v.IsObject() {
					w.Value(v)
					continue
				}
				w.ObjectStart()
				for name, sub := range v.Members() {
					w.Key(name.Str())
					writeSchema(w, sub)
				}
				w.ObjectEnd()
			case k.Is("enum"), k.Is("const"), k.Is("default"), k.Is("examples"), k.Is("example"), k.Is("required"):
				w.Key(k.Str())
				w.Value(v)
			default:
				w.Key(k.Str())
				writeSchema(w, v)
			}
		}
		w.ObjectEnd()
	case jsonx.Array:
		w.ArrayStart()
		for _, e := range s.Elems() {
			writeSchema(w, e)
		}
		w.ArrayEnd()
	default:
		w.Value(s)
	}
}

func writeToolConfig(w *jsonx.Writer, tc jsonx.Value) error {
	kind, name, err := xlate.ReadToolChoice(tc, "gemini")
	if err != nil {
		return err
	}
	mode := ""
	switch kind {
	case xlate.ChoiceUnset:
		return nil
	case xlate.ChoiceAuto:
		mode = "AUTO"
	case xlate.ChoiceNone:
		mode = "NONE"
	case xlate.ChoiceRequired, xlate.ChoiceFunction:
		mode = "ANY"
	}
	w.Key("toolConfig")
	w.ObjectStart()
	w.Key("functionCallingConfig")
	w.ObjectStart()
	w.Key("mode")
	w.String(mode)
	if name != "" {
		w.Key("allowedFunctionNames")
		w.ArrayStart()
		w.String(name)
		w.ArrayEnd()
	}
	w.ObjectEnd()
	w.ObjectEnd()
	return nil
}

// effortBudget is the thinkingBudget of each reasoning_effort on budget-based (2.5) models:
// low, medium and high as Gemini's own OpenAI-compatible endpoint maps them; minimal is half of
// low, above the smallest budget 2.5 Pro accepts (128); none turns thinking off (0).
var effortBudget = map[string]int64{"minimal": 512, "low": 1024, "medium": 8192, "high": 24576, "none": 0}

// levelModel reports whether the model takes thinkingLevel rather than thinkingBudget: Gemini 3
// and later, whose names are gemini-N... with N >= 3.
func levelModel(model string) bool {
	model = strings.TrimPrefix(model, "models/")
	rest, ok := strings.CutPrefix(model, "gemini-")
	if !ok {
		return false
	}
	n := 0
	for _, c := range []byte(rest) {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n >= 3
}

// isPro reports a Pro model, whose thinking cannot be turned off and (from Gemini 3 on) which
// takes only the levels low and high.
func isPro(model string) bool { return strings.Contains(model, "-pro") }

// writeThinkingConfig maps reasoning_effort to generationConfig.thinkingConfig. includeThoughts
// is set whenever thinking is on so the thought summaries come back as reasoning_content. Gemini
// 3 models cannot turn thinking off, so none is their lowest level, minimal; Gemini 3 Pro models
// take low and high only (none and minimal become low, medium high). 2.5 Pro cannot turn
// thinking off either: none becomes its smallest budget, 128.
func writeThinkingConfig(key func(string), w *jsonx.Writer, effort jsonx.Value, model string) error {
	if !effort.Exists() || effort.IsNull() {
		return nil
	}
	budget, ok := effortBudget[effort.Str()]
	if !effort.IsString() || !ok {
		return xlate.BadRequest("invalid_request", "gemini: unknown reasoning_effort %s", effort.Raw())
	}
	key("thinkingConfig")
	w.ObjectStart()
	if levelModel(model) {
		level := effort.Str()
		if level == "none" {
			level = "minimal"
		}
		if isPro(model) {
			switch level {
			case "minimal":
				level = "low"
			case "medium":
				level = "high"
			}
		}
		w.Key("thinkingLevel")
		w.String(level)
		w.Key("includeThoughts")
		w.Bool(true)
	} else {
		if budget == 0 && isPro(model) {
			budget = 128
		}
		w.Key("thinkingBudget")
		w.Int(budget)
		if budget > 0 {
			w.Key("includeThoughts")
			w.Bool(true)
		}
	}
	w.ObjectEnd()
	return nil
}

func writeGenerationConfig(w *jsonx.Writer, chat *xlate.Chat, model string) error {
	open := false
	key := func(k string) {
		if !open {
			w.Key("generationConfig")
			w.ObjectStart()
			open = true
		}
		w.Key(k)
	}
	for _, p := range [...]struct {
		from jsonx.Value
		to   string
	}{{chat.Temperature, "temperature"}, {chat.TopP, "topP"},
		{chat.PresencePenalty, "presencePenalty"}, {chat.FrequencyPenalty, "frequencyPenalty"}, {chat.Seed, "seed"}} {
		if v := p.from; v.IsNumber() {
			key(p.to)
			w.Value(v)
		}
	}
	if n, ok := chat.MaxTokens(); ok {
		key("maxOutputTokens")
		w.Int(n)
	}
	if xlate.HasStop(chat.Stop) {
		key("stopSequences")
		xlate.WriteStop(w, chat.Stop)
	}
	if n, ok := chat.N.Int(); ok && n > 1 {
		key("candidateCount")
		w.Int(n)
	}
	rf := chat.ResponseFormat
	switch t := rf.Get("type"); {
	case t.Is("json_object"):
		key("responseMimeType")
		w.String("application/json")
	case t.Is("json_schema"):
		key("responseMimeType")
		w.String("application/json")
		if s := rf.Get("json_schema", "schema"); s.IsObject() {
			key("responseSchema")
			writeSchema(w, s)
		}
	case !rf.Exists(), rf.IsNull(), t.Is("text"):
	default:
		return xlate.BadRequest("invalid_request", "gemini: unsupported response_format type %s", t.Raw())
	}
	if err := writeThinkingConfig(key, w, chat.ReasoningEffort, model); err != nil {
		return err
	}
	if open {
		w.ObjectEnd()
	}
	return nil
}
