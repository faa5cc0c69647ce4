package responsesapi

import (
	"fmt"

	"github.com/sluice-gw/sluice/host/openai"
	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// knownIncludes are the include values of the Responses API. Those about built-in tools are
// accepted because the tools themselves are refused; message.output_text.logprobs turns on
// chat logprobs; reasoning.encrypted_content is what reasoning items carry anyway.
var knownIncludes = map[string]bool{
	"reasoning.encrypted_content":           true,
	"message.output_text.logprobs":          true,
	"message.input_image.image_url":         true,
	"web_search_call.results":               true,
	"web_search_call.action.sources":        true,
	"file_search_call.results":              true,
	"code_interpreter_call.outputs":         true,
	"computer_call_output.output.image_url": true,
}

// ToChat builds the chat.completions body for the bridged path. history are the items of the
// earlier turns (from the store, for previous_response_id): earlier input items followed by
// their output items. The instructions of this request apply, not those of earlier turns, as
// with OpenAI. Whatever cannot be expressed in chat completions is refused with an *Error
// naming it.
func (r *Request) ToChat(history [][]byte) ([]byte, error) {
	f := &r.f
	if f.refused != "" {
		return nil, unsupported(f.refused, "'%s' is not supported when the request is served through chat completions.", f.refused)
	}
	if f.unknown != "" {
		return nil, bad(f.unknown, openai.CodeUnknownParameter, "Unknown parameter: '%s'.", f.unknown)
	}
	if len(r.BuiltinTools) > 0 {
		p := fmt.Sprintf("tools[%d].type", r.builtinAt[0])
		return nil, unsupported(p, "Tool type '%s' cannot run on a target served through chat completions.", r.BuiltinTools[0])
	}
	size := len(r.Raw) + 256
	for _, h := range history {
		size += len(h)
	}
	w := jsonx.NewWriter(make([]byte, 0, size))
	w.Fragment(`{"model":`)
	w.String(r.Model)
	w.Fragment(`,"messages":[`)
	if r.Instructions != "" {
		w.Fragment(`{"role":"system","content":`)
		w.String(r.Instructions)
		w.ObjectEnd()
	}
	c := conv{w: w}
	for i, h := range history {
		v, err := jsonx.Parse(h)
		if err != nil || !v.IsObject() {
			return nil, bad("previous_response_id", openai.CodeInvalidValue, "Stored item %d of the previous response is not a JSON object.", i)
		}
		c.src, c.idx = srcHistory, i
		if err := c.item(v); err != nil {
			return nil, err
		}
	}
	for i, v := range r.items {
		c.src, c.idx = srcInput, i
		if err := c.item(v); err != nil {
			return nil, err
		}
	}
	c.flush()
	w.ArrayEnd()
	if err := r.writeOptions(w); err != nil {
		return nil, err
	}
	w.ObjectEnd()
	return w.Bytes(), nil
}

// writeOptions writes the chat body's settings after its messages, checking each setting's type
// in the order the members are listed here.
func (r *Request) writeOptions(w *jsonx.Writer) error {
	f := &r.f
	allowed, err := r.writeToolChoice(w)
	if err != nil {
		return err
	}
	if err := r.writeTools(w, allowed); err != nil {
		return err
	}
	switch b, ok := f.parallel.Bool(); {
	case ok:
		w.Key("parallel_tool_calls")
		w.Bool(b)
	case f.parallel.Exists() && !f.parallel.IsNull():
		return invalidType("parallel_tool_calls", "a boolean")
	}
	if err := writeText(w, f.text); err != nil {
		return err
	}
	if err := writeReasoning(w, f.reasoning); err != nil {
		return err
	}
	if err := intField(w, f.maxOutput, "max_output_tokens", "max_completion_tokens"); err != nil {
		return err
	}
	if v := f.maxToolCalls; v.Exists() && !v.IsNull() {
		// It limits built-in tool calls only, and those are refused: nothing to pass on.
		if _, ok := v.Int(); !ok {
			return invalidType("max_tool_calls", "an integer")
		}
	}
	if err := r.writeSampling(w); err != nil {
		return err
	}
	if err := r.writeStringOptions(w); err != nil {
		return err
	}
	if err := r.checkNoOpOptions(); err != nil {
		return err
	}
	if r.Metadata != nil {
		w.Key("metadata")
		w.Raw(r.Metadata)
	}
	if r.Stream {
		w.Fragment(`,"stream":true,"stream_options":{"include_usage":true}`)
	}
	return nil
}

// writeSampling passes on temperature, top_p and top_logprobs, and turns logprobs on when
// top_logprobs is set or the include list asks for output logprobs.
func (r *Request) writeSampling(w *jsonx.Writer) error {
	f := &r.f
	for _, n := range [...]struct {
		v    jsonx.Value
		name string
	}{{f.temperature, "temperature"}, {f.topP, "top_p"}} {
		if n.v.Exists() && !n.v.IsNull() {
			if !n.v.IsNumber() {
				return invalidType(n.name, "a number")
			}
			w.Key(n.name)
			w.Value(n.v)
		}
	}
	logprobs := false
	if v := f.topLogprobs; v.Exists() && !v.IsNull() {
		if _, ok := v.Int(); !ok {
			return invalidType("top_logprobs", "an integer")
		}
		w.Key("top_logprobs")
		w.Value(v)
		logprobs = true // chat completions wants logprobs on with top_logprobs
	}
	switch v := f.include; v.Kind() {
	case jsonx.Invalid, jsonx.Null:
	case jsonx.Array:
		for i, e := range v.Elems() {
			if !knownIncludes[e.Str()] {
				return bad(fmt.Sprintf("include[%d]", i), "invalid_value", "Invalid value for 'include[%d]': %s is not a supported include.", i, e.Raw())
			}
			if e.Is("message.output_text.logprobs") {
				logprobs = true
			}
		}
	default:
		return invalidType("include", "an array of strings")
	}
	if logprobs {
		w.Key("logprobs")
		w.Bool(true)
	}
	return nil
}

// writeStringOptions passes on the string settings that chat completions takes as they are.
func (r *Request) writeStringOptions(w *jsonx.Writer) error {
	f := &r.f
	for _, n := range [...]struct {
		v    jsonx.Value
		name string
	}{{f.user, "user"}, {f.safetyID, "safety_identifier"}, {f.promptCacheKey, "prompt_cache_key"},
		{f.promptCacheRetention, "prompt_cache_retention"}, {f.serviceTier, "service_tier"}} {
		if n.v.Exists() && !n.v.IsNull() {
			if !n.v.IsString() {
				return invalidType(n.name, "a string")
			}
			w.Key(n.name)
			w.Value(n.v)
		}
	}
	return nil
}

// checkNoOpOptions checks the type of truncation and stream_options, which have nothing to
// pass on.
func (r *Request) checkNoOpOptions() error {
	f := &r.f
	if v := f.truncation; v.Exists() && !v.IsNull() && !v.Is("disabled") && !v.Is("auto") {
		return bad("truncation", openai.CodeInvalidValue, "Invalid value for 'truncation': expected 'disabled' or 'auto'.")
	}
	if v := f.streamOptions; v.Exists() && !v.IsNull() {
		if !v.IsObject() {
			return invalidType("stream_options", "an object")
		}
		for k, o := range v.Members() {
			if _, ok := o.Bool(); !k.Is("include_obfuscation") || (!ok && !o.IsNull()) {
				return bad("stream_options."+k.Str(), "unknown_parameter", "Unknown parameter: 'stream_options.%s'.", k.Str())
			}
		}
	}
	return nil
}

func intField(w *jsonx.Writer, v jsonx.Value, name, chatName string) error {
	if !v.Exists() || v.IsNull() {
		return nil
	}
	n, ok := v.Int()
	if !ok {
		return invalidType(name, "an integer")
	}
	if n < 1 {
		return bad(name, openai.CodeInvalidValue, "Invalid value for '%s': it must be at least 1.", name)
	}
	w.Key(chatName)
	w.Int(n)
	return nil
}

// writeToolChoice writes tool_choice and returns, for an allowed_tools choice, the names of the
// function tools it allows (the others are left out of the chat tools).
func (r *Request) writeToolChoice(w *jsonx.Writer) (allowed map[string]bool, err error) {
	tc := r.f.toolChoice
	switch tc.Kind() {
	case jsonx.Invalid, jsonx.Null:
		return nil, nil
	case jsonx.String:
		if !tc.Is("auto") && !tc.Is("none") && !tc.Is("required") {
			return nil, bad("tool_choice", openai.CodeInvalidValue, "Invalid value for 'tool_choice': expected 'auto', 'none' or 'required'.")
		}
		w.Key("tool_choice")
		w.Value(tc)
		return nil, nil
	case jsonx.Object:
	default:
		return nil, invalidType("tool_choice", "a string or an object")
	}
	switch t := tc.Get("type"); {
	case t.Is("function"):
		name := tc.Get("name")
		if !name.IsString() {
			return nil, bad("tool_choice.name", openai.CodeMissingRequiredParameter, "Missing required parameter: 'tool_choice.name'.")
		}
		w.Fragment(`,"tool_choice":{"type":"function","function":{"name":`)
		w.Value(name)
		w.Fragment(`}}`)
		return nil, nil
	case t.Is("allowed_tools"):
		// The chat equivalent that every translator understands: only the allowed tools,
		// with auto or required.
		mode := tc.Get("mode")
		if !mode.Is("auto") && !mode.Is("required") {
			return nil, bad("tool_choice.mode", openai.CodeInvalidValue, "Invalid value for 'tool_choice.mode': expected 'auto' or 'required'.")
		}
		allowed = map[string]bool{}
		for i, at := range tc.Get("tools").Elems() {
			if !at.Get("type").Is("function") || !at.Get("name").IsString() {
				return nil, unsupported(fmt.Sprintf("tool_choice.tools[%d]", i),
					"Only function tools can be allowed on a target served through chat completions.")
			}
			allowed[at.Get("name").Str()] = true
		}
		w.Key("tool_choice")
		w.Value(mode)
		return allowed, nil
	default:
		return nil, unsupported("tool_choice", "tool_choice of type %s cannot be served through chat completions.", t.Raw())
	}
}

func (r *Request) writeTools(w *jsonx.Writer, allowed map[string]bool) error {
	tools := r.f.tools
	if !tools.IsArray() || tools.Len() == 0 {
		return nil
	}
	w.Key("tools")
	w.ArrayStart()
	for i, t := range tools.Elems() {
		if t.Get("type").Is("namespace") {
			ns := t.Get("name").Str()
			for j, ft := range t.Get("tools").Elems() {
				if err := writeFunction(w, ft, fmt.Sprintf("tools[%d].tools[%d]", i, j), ns+NamespaceSep, allowed); err != nil {
					return err
				}
			}
			continue
		}
		if err := writeFunction(w, t, fmt.Sprintf("tools[%d]", i), "", allowed); err != nil {
			return err
		}
	}
	w.ArrayEnd()
	return nil
}

// NamespaceSep joins a namespace tool's name and one of its functions' names into the chat
// function name that stands for it ("multi_agent_v1__spawn_agent"): chat function names allow
// letters, digits, '_' and '-', and a double underscore rarely starts a real name.
const NamespaceSep = "__"

// writeFunction writes one function tool as a chat tool; at names it in errors, prefix is its
// namespace (with NamespaceSep) or "".
func writeFunction(w *jsonx.Writer, t jsonx.Value, at, prefix string, allowed map[string]bool) error {
	{
		var f [4]jsonx.Value
		t.Fields(f[:], "name", "description", "parameters", "strict")
		for k := range t.Members() {
			switch k.Str() {
			case "type", "name", "description", "parameters", "strict":
			default:
				return unsupported(at+"."+k.Str(), "Function tool member '%s' cannot be served through chat completions.", k.Str())
			}
		}
		name, desc, params, strict := f[0], f[1], f[2], f[3]
		if allowed != nil && !allowed[prefix+name.Str()] {
			return nil
		}
		w.Fragment(`{"type":"function","function":{"name":`)
		if prefix == "" {
			w.Value(name)
		} else {
			w.String(prefix + name.Str())
		}
		if desc.Exists() && !desc.IsNull() {
			if !desc.IsString() {
				return invalidType(at+".description", "a string")
			}
			w.Key("description")
			w.Value(desc)
		}
		if params.Exists() && !params.IsNull() {
			if !params.IsObject() {
				return invalidType(at+".parameters", "an object")
			}
			w.Key("parameters")
			w.Value(params)
		}
		if strict.Exists() && !strict.IsNull() {
			if _, ok := strict.Bool(); !ok {
				return invalidType(at+".strict", "a boolean")
			}
			w.Key("strict")
			w.Value(strict)
		}
		w.Fragment(`}}`)
	}
	return nil
}

func writeText(w *jsonx.Writer, text jsonx.Value) error {
	switch text.Kind() {
	case jsonx.Invalid, jsonx.Null:
		return nil
	case jsonx.Object:
	default:
		return invalidType("text", "an object")
	}
	for k, v := range text.Members() {
		switch {
		case k.Is("format"):
			if err := writeFormat(w, v); err != nil {
				return err
			}
		case k.Is("verbosity"):
			if v.IsNull() {
				continue
			}
			if !v.Is("low") && !v.Is("medium") && !v.Is("high") {
				return bad("text.verbosity", openai.CodeInvalidValue, "Invalid value for 'text.verbosity': expected 'low', 'medium' or 'high'.")
			}
			w.Key("verbosity")
			w.Value(v)
		default:
			return bad("text."+k.Str(), "unknown_parameter", "Unknown parameter: 'text.%s'.", k.Str())
		}
	}
	return nil
}

func writeFormat(w *jsonx.Writer, f jsonx.Value) error {
	if f.IsNull() {
		return nil
	}
	switch t := f.Get("type"); {
	case t.Is("text"):
		// The default; nothing to ask for.
	case t.Is("json_object"):
		w.Fragment(`,"response_format":{"type":"json_object"}`)
	case t.Is("json_schema"):
		var g [4]jsonx.Value
		f.Fields(g[:], "name", "schema", "strict", "description")
		if !g[0].IsString() {
			return bad("text.format.name", openai.CodeMissingRequiredParameter, "Missing required parameter: 'text.format.name'.")
		}
		if !g[1].IsObject() {
			return bad("text.format.schema", openai.CodeMissingRequiredParameter, "Missing required parameter: 'text.format.schema'.")
		}
		for k := range f.Members() {
			switch k.Str() {
			case "type", "name", "schema", "strict", "description":
			default:
				return bad("text.format."+k.Str(), "unknown_parameter", "Unknown parameter: 'text.format.%s'.", k.Str())
			}
		}
		w.Fragment(`,"response_format":{"type":"json_schema","json_schema":{"name":`)
		w.Value(g[0])
		w.Key("schema")
		w.Value(g[1])
		if _, ok := g[2].Bool(); ok {
			w.Key("strict")
			w.Value(g[2])
		}
		if g[3].IsString() {
			w.Key("description")
			w.Value(g[3])
		}
		w.Fragment(`}}`)
	default:
		return bad("text.format.type", openai.CodeInvalidValue, "Invalid value for 'text.format.type': expected 'text', 'json_object' or 'json_schema'.")
	}
	return nil
}

func writeReasoning(w *jsonx.Writer, r jsonx.Value) error {
	switch r.Kind() {
	case jsonx.Invalid, jsonx.Null:
		return nil
	case jsonx.Object:
	default:
		return invalidType("reasoning", "an object")
	}
	for k, v := range r.Members() {
		switch {
		case k.Is("effort"):
			if v.IsNull() {
				continue
			}
			if !v.IsString() {
				return invalidType("reasoning.effort", "a string")
			}
			w.Key("reasoning_effort")
			w.Value(v)
		case k.Is("summary"), k.Is("generate_summary"):
			// A hint: summaries are whatever reasoning text the target returns.
			if !v.IsString() && !v.IsNull() {
				return invalidType("reasoning."+k.Str(), "a string")
			}
		default:
			return bad("reasoning."+k.Str(), "unknown_parameter", "Unknown parameter: 'reasoning.%s'.", k.Str())
		}
	}
	return nil
}

// conv turns Responses items into chat messages. Assistant output spread over several items
// (reasoning, text, function calls) is gathered into one assistant message, as chat wants it.
type conv struct {
	w   *jsonx.Writer
	src int // srcInput or srcHistory, for error names
	idx int

	asst      bool   // an assistant message is being gathered
	hasText   bool   // it has a text or refusal part
	text      []byte // its text, decoded
	calls     []byte // its tool_calls array members, JSON
	reasoning bool   // a reasoning item waits for the next assistant message
	summary   []byte
	signature jsonx.Value
}

const (
	srcInput = iota
	srcHistory
)

// bad returns an error about member suffix of the current item. Items of an earlier turn are
// named by previous_response_id, since that is the parameter that brought them.
func (c *conv) bad(suffix, code, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	if c.src == srcHistory {
		return bad("previous_response_id", code, "Stored item %d%s of the previous response: %s", c.idx, suffix, msg)
	}
	return bad(ip(c.idx, suffix), code, "%s", msg)
}

func (c *conv) item(it jsonx.Value) error {
	var f [2]jsonx.Value
	it.Fields(f[:], "type", "role")
	typ := f[0]
	switch {
	case !typ.Exists() || typ.Is("message"):
		return c.message(it, f[1])
	case typ.Is("function_call"):
		return c.functionCall(it)
	case typ.Is("function_call_output"):
		return c.functionOutput(it)
	case typ.Is("reasoning"):
		return c.reasoningItem(it)
	case typ.Is("item_reference"):
		return c.bad(".type", openai.CodeUnsupportedValue, "Item references cannot be resolved for a target served through chat completions; send the item itself.")
	}
	return c.bad(".type", openai.CodeUnsupportedValue, "Input items of type %s cannot be served through chat completions.", typ.Raw())
}

func (c *conv) flush() {
	if !c.asst && !c.reasoning {
		return
	}
	w := c.w
	w.Fragment(`{"role":"assistant","content":`)
	if !c.hasText && len(c.calls) > 0 {
		w.Null()
	} else {
		w.StringBytes(c.text)
	}
	if len(c.calls) > 0 {
		w.Key("tool_calls")
		w.ArrayStart()
		w.Raw(c.calls)
		w.ArrayEnd()
	}
	if c.reasoning {
		if len(c.summary) > 0 {
			w.Key("reasoning_content")
			w.StringBytes(c.summary)
		}
		if c.signature.IsString() {
			w.Key("reasoning_signature")
			w.Value(c.signature)
		}
	}
	w.ObjectEnd()
	c.asst, c.hasText, c.reasoning = false, false, false
	c.text, c.calls, c.summary, c.signature = c.text[:0], c.calls[:0], c.summary[:0], jsonx.Value{}
}

func (c *conv) message(it, role jsonx.Value) error {
	content := it.Get("content")
	if role.Is("assistant") {
		// A new assistant text follows earlier text or calls: a message of its own.
		if c.asst {
			c.flush()
		}
		c.asst = true
		if content.IsString() {
			c.hasText = true
			c.text = content.AppendStr(c.text)
			return nil
		}
		for j, p := range content.Elems() {
			switch t := p.Get("type"); {
			case t.Is("output_text"), t.Is("input_text"):
				c.text = p.Get("text").AppendStr(c.text)
			case t.Is("refusal"):
				// Chat has no refusal slot the translators read; the model sees what it said.
				c.text = p.Get("refusal").AppendStr(c.text)
			default:
				return c.bad(fmt.Sprintf(".content[%d].type", j), "unsupported_value", "Assistant messages cannot carry content of type %s.", t.Raw())
			}
			c.hasText = true
		}
		return nil
	}
	c.flush()
	w := c.w
	var chatRole string
	switch {
	case role.Is("user"):
		chatRole = "user"
	case role.Is("system"), role.Is("developer"):
		chatRole = "system"
	default:
		return c.bad(".role", openai.CodeInvalidValue, "Invalid value for role: expected 'user', 'assistant', 'system' or 'developer'.")
	}
	w.Fragment(`{"role":`)
	w.String(chatRole)
	w.Key("content")
	switch content.Kind() {
	case jsonx.String:
		w.Value(content)
	case jsonx.Array:
		if content.Len() == 1 {
			if p := content.Index(0); isText(p) {
				w.Value(p.Get("text"))
				break
			}
		}
		w.ArrayStart()
		for j, p := range content.Elems() {
			if err := c.part(p, j, chatRole == "user"); err != nil {
				return err
			}
		}
		w.ArrayEnd()
	default:
		return c.bad(".content", openai.CodeInvalidType, "Content must be a string or an array of content parts.")
	}
	w.ObjectEnd()
	return nil
}

func isText(p jsonx.Value) bool {
	t := p.Get("type")
	return (t.Is("input_text") || t.Is("output_text")) && p.Get("text").IsString()
}

// part writes one user or system content part as a chat content part; media only for users.
func (c *conv) part(p jsonx.Value, j int, media bool) error {
	w := c.w
	t := p.Get("type")
	if t.Is("input_text") || t.Is("output_text") {
		text := p.Get("text")
		if !text.IsString() {
			return c.bad(fmt.Sprintf(".content[%d].text", j), "invalid_type", "Text must be a string.")
		}
		w.Fragment(`{"type":"text","text":`)
		w.Value(text)
		w.ObjectEnd()
		return nil
	}
	if !media && (t.Is("input_image") || t.Is("input_file") || t.Is("input_audio")) {
		return c.bad(fmt.Sprintf(".content[%d].type", j), "unsupported_value", "System and developer messages can carry only text.")
	}
	return c.media(p, t, fmt.Sprintf(".content[%d]", j))
}

// media writes an image, file or audio part (of a message or a function call output).
func (c *conv) media(p, t jsonx.Value, at string) error {
	w := c.w
	switch {
	case t.Is("input_image"):
		var f [3]jsonx.Value
		p.Fields(f[:], "image_url", "file_id", "detail")
		if f[1].IsString() {
			return c.bad(at+".file_id", openai.CodeUnsupportedParameter, "Files uploaded to OpenAI cannot be fetched by a target served through chat completions; send the image as image_url.")
		}
		if !f[0].IsString() {
			return c.bad(at+".image_url", openai.CodeMissingRequiredParameter, "An input_image needs an image_url.")
		}
		w.Fragment(`{"type":"image_url","image_url":{"url":`)
		w.Value(f[0])
		if f[2].IsString() {
			w.Key("detail")
			w.Value(f[2])
		}
		w.Fragment(`}}`)
	case t.Is("input_file"):
		var f [4]jsonx.Value
		p.Fields(f[:], "file_data", "filename", "file_id", "file_url")
		if f[2].IsString() {
			return c.bad(at+".file_id", openai.CodeUnsupportedParameter, "Files uploaded to OpenAI cannot be fetched by a target served through chat completions; send the file as file_data.")
		}
		if f[3].IsString() {
			return c.bad(at+".file_url", openai.CodeUnsupportedParameter, "File URLs cannot be fetched for a target served through chat completions; send the file as file_data.")
		}
		if !f[0].IsString() {
			return c.bad(at+".file_data", openai.CodeMissingRequiredParameter, "An input_file needs file_data.")
		}
		w.Fragment(`{"type":"file","file":{`)
		if f[1].IsString() {
			w.Key("filename")
			w.Value(f[1])
		}
		w.Key("file_data")
		w.Value(f[0])
		w.Fragment(`}}`)
	case t.Is("input_audio"):
		a := p.Get("input_audio")
		if !a.IsObject() {
			return c.bad(at+".input_audio", openai.CodeMissingRequiredParameter, "An input_audio part needs input_audio {data, format}.")
		}
		w.Fragment(`{"type":"input_audio","input_audio":`)
		w.Value(a)
		w.ObjectEnd()
	default:
		return c.bad(at+".type", openai.CodeUnsupportedValue, "Content of type %s cannot be served through chat completions.", t.Raw())
	}
	return nil
}

func (c *conv) functionCall(it jsonx.Value) error {
	var f [4]jsonx.Value
	it.Fields(f[:], "call_id", "name", "arguments", "namespace")
	for k, n := range [3]string{"call_id", "name", "arguments"} {
		if !f[k].IsString() {
			return c.bad("."+n, openai.CodeMissingRequiredParameter, "A function_call needs %s (a string).", n)
		}
	}
	c.asst = true
	if len(c.calls) > 0 {
		c.calls = append(c.calls, ',')
	}
	c.calls = append(c.calls, `{"id":`...)
	c.calls = append(c.calls, f[0].Raw()...)
	c.calls = append(c.calls, `,"type":"function","function":{"name":`...)
	if ns := f[3]; ns.IsString() && !ns.Is("") {
		c.calls = jsonx.AppendString(c.calls, ns.Str()+NamespaceSep+f[1].Str())
	} else {
		c.calls = append(c.calls, f[1].Raw()...)
	}
	c.calls = append(c.calls, `,"arguments":`...)
	c.calls = append(c.calls, f[2].Raw()...)
	c.calls = append(c.calls, `}}`...)
	return nil
}

func (c *conv) functionOutput(it jsonx.Value) error {
	c.flush()
	var f [2]jsonx.Value
	it.Fields(f[:], "call_id", "output")
	if !f[0].IsString() {
		return c.bad(".call_id", openai.CodeMissingRequiredParameter, "A function_call_output needs call_id (a string).")
	}
	w := c.w
	w.Fragment(`{"role":"tool","tool_call_id":`)
	w.Value(f[0])
	w.Key("content")
	out := f[1]
	switch out.Kind() {
	case jsonx.String:
		w.Value(out)
	case jsonx.Array:
		textOnly := true
		for j, p := range out.Elems() {
			t := p.Get("type")
			if t.Is("input_text") || t.Is("output_text") {
				if !p.Get("text").IsString() {
					return c.bad(fmt.Sprintf(".output[%d].text", j), "invalid_type", "Text must be a string.")
				}
				continue
			}
			textOnly = false
		}
		if textOnly {
			// The form every chat server accepts.
			var text []byte
			for _, p := range out.Elems() {
				text = p.Get("text").AppendStr(text)
			}
			w.StringBytes(text)
			break
		}
		w.ArrayStart()
		for j, p := range out.Elems() {
			t := p.Get("type")
			if t.Is("input_text") || t.Is("output_text") {
				w.Fragment(`{"type":"text","text":`)
				w.Value(p.Get("text"))
				w.ObjectEnd()
				continue
			}
			if err := c.media(p, t, fmt.Sprintf(".output[%d]", j)); err != nil {
				return err
			}
		}
		w.ArrayEnd()
	default:
		return c.bad(".output", openai.CodeInvalidType, "A function_call_output's output must be a string or an array of content parts.")
	}
	w.ObjectEnd()
	return nil
}

func (c *conv) reasoningItem(it jsonx.Value) error {
	var f [3]jsonx.Value
	it.Fields(f[:], "summary", "content", "encrypted_content")
	sig := f[2]
	if !sig.IsString() && sig.Exists() && !sig.IsNull() {
		return c.bad(".encrypted_content", openai.CodeInvalidType, "encrypted_content must be a string.")
	}
	// Reasoning belongs to the assistant message after it: close the one being gathered, and
	// one already waiting with its own signature (a signature cannot be merged).
	if c.asst || (c.reasoning && c.signature.IsString() && sig.IsString()) {
		c.flush()
	}
	n := len(c.summary)
	if err := c.reasoningText(f[0], ".summary", "summary_text"); err != nil {
		return err
	}
	if len(c.summary) == n {
		if err := c.reasoningText(f[1], ".content", "reasoning_text"); err != nil {
			return err
		}
	}
	c.reasoning = true
	if sig.IsString() {
		c.signature = sig
	}
	return nil
}

func (c *conv) reasoningText(parts jsonx.Value, at, typ string) error {
	if !parts.IsArray() {
		if parts.Exists() && !parts.IsNull() {
			return c.bad(at, openai.CodeInvalidType, "Reasoning %s must be an array.", at[1:])
		}
		return nil
	}
	for j, p := range parts.Elems() {
		text := p.Get("text")
		if !p.Get("type").Is(typ) || !text.IsString() {
			return c.bad(fmt.Sprintf("%s[%d]", at, j), "invalid_value", "Expected a %s part with text.", typ)
		}
		if text.Is("") {
			continue
		}
		if len(c.summary) > 0 {
			c.summary = append(c.summary, "\n\n"...)
		}
		c.summary = text.AppendStr(c.summary)
	}
	return nil
}
