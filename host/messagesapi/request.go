package messagesapi

import (
	"bytes"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// Converted is an Anthropic Messages request turned into an OpenAI chat.completions request.
type Converted struct {
	// Body is the chat.completions request. Streams ask for usage in the final chunk
	// (stream_options.include_usage) so message_delta can report it.
	Body   []byte
	Model  string
	Stream bool
	// Ignored names the client's parameters that have no chat equivalent and were left out
	// (see the package documentation); the gateway reports them in the x-sluice-ignored
	// response header so nothing is dropped in silence.
	Ignored []string
	// Refusal is why a target reached through chat completions cannot take the request: a
	// field or block only the Messages API carries (server tools, MCP servers, unknown
	// fields, ...), named. It wraps ErrInvalidRequest. Body then leaves those parts out; it is
	// still the request's chat form for the pipeline (limits, cache, routing) when a target
	// that speaks the Messages API natively may serve it. Nil when the bridge carries all.
	Refusal error
}

// refused names the top-level fields of features only Anthropic runs server-side: a bridged
// request cannot honour them, and answering without them would be a different request.
var refused = map[string]string{
	"mcp_servers": "MCP servers are connected by Anthropic's API",
	"container":   "code-execution containers exist only in Anthropic's API",
}

// converter holds the state of one ToOpenAI call.
type converter struct {
	w       *jsonx.Writer
	ignored []string
	refusal error
}

// refuse records the first construct the bridge cannot carry; the caller leaves it out.
func (c *converter) refuse(format string, args ...any) {
	if c.refusal == nil {
		c.refusal = invalid(format, args...)
	}
}

func (c *converter) ignore(name string) {
	if !slices.Contains(c.ignored, name) {
		c.ignored = append(c.ignored, name)
	}
}

// reasoningEffort maps an extended-thinking budget to OpenAI's reasoning_effort (the inverse
// of the anthropic translator's mapping: up to 2048 low, up to 8192 medium, above that high).
func reasoningEffort(budget int64) string {
	switch {
	case budget <= 2048:
		return "low"
	case budget <= 8192:
		return "medium"
	}
	return "high"
}

// efforts maps output_config.effort to reasoning_effort; chat has nothing above "high".
var efforts = map[string]string{"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}

// ToOpenAI converts an Anthropic Messages request into an OpenAI chat.completions request. A
// malformed request (not JSON, no model, mistyped fields) is an error wrapping
// ErrInvalidRequest; what is well formed but cannot be carried to chat is named in
// Converted.Refusal, and pure hints are listed in Converted.Ignored.
func ToOpenAI(anthropicReq []byte) (Converted, error) {
	req, err := jsonx.Parse(anthropicReq)
	if err != nil {
		return Converted{}, invalid("body is not valid JSON: %v", err)
	}
	if !req.IsObject() {
		return Converted{}, invalid("body must be a JSON object")
	}
	if k, dup := duplicateKey(req); dup {
		return Converted{}, invalid("key %q appears more than once; send each top-level key once", k)
	}
	c := &converter{}
	f := c.members(req)
	model := f.model.Str()
	if model == "" {
		return Converted{}, invalid("model is required")
	}
	if !f.messages.IsArray() {
		return Converted{}, invalid("messages must be an array")
	}
	if err := f.checkTypes(); err != nil {
		return Converted{}, err
	}
	stream, _ := f.stream.Bool()
	c.w = jsonx.NewWriter(make([]byte, 0, len(anthropicReq)+128))
	if err := c.write(&f, model, stream); err != nil {
		return Converted{}, err
	}
	return Converted{Body: c.w.Bytes(), Model: model, Stream: stream, Ignored: c.ignored, Refusal: c.refusal}, nil
}

// requestFields are the top-level members of a Messages request that are converted.
type requestFields struct {
	model, messages, system, maxTokens, stop, temperature, topP, stream, tools, toolChoice,
	metadata, thinking, outputConfig jsonx.Value
}

// members sorts the request's members into the fields converted, the ignored (noted) and the
// refused.
func (c *converter) members(req jsonx.Value) requestFields {
	var f requestFields
	for k, v := range req.Members() {
		switch key := k.Str(); key {
		case "model":
			f.model = v
		case "messages":
			f.messages = v
		case "system":
			f.system = v
		case "max_tokens":
			f.maxTokens = v
		case "stop_sequences":
			f.stop = v
		case "temperature":
			f.temperature = v
		case "top_p":
			f.topP = v
		case "stream":
			f.stream = v
		case "tools":
			f.tools = v
		case "tool_choice":
			f.toolChoice = v
		case "metadata":
			f.metadata = v
		case "thinking":
			f.thinking = v
		case "output_config":
			f.outputConfig = v
		case "top_k", "service_tier", "context_management":
			// top_k: chat has no top-k sampling. service_tier: a capacity hint for
			// Anthropic's own tiers. context_management: Anthropic's server-side clearing of
			// old context; without it the whole conversation is sent, as the client wrote it.
			if !v.IsNull() {
				c.ignore(key)
			}
		default:
			if why, ok := refused[key]; ok {
				if !v.IsNull() {
					c.refuse("%s cannot be sent to a non-Anthropic provider: %s", key, why)
				}
				continue
			}
			c.refuse("unknown field %q", key)
		}
	}
	return f
}

func (f *requestFields) checkTypes() error {
	for _, t := range []struct {
		name string
		v    jsonx.Value
		ok   bool
	}{
		{"stop_sequences", f.stop, f.stop.IsArray()}, {"temperature", f.temperature, f.temperature.IsNumber()},
		{"top_p", f.topP, f.topP.IsNumber()}, {"stream", f.stream, f.stream.Kind() == jsonx.Bool},
		{"tools", f.tools, f.tools.IsArray()},
	} {
		if t.v.Exists() && !t.v.IsNull() && !t.ok {
			return invalid("%s has the wrong type", t.name)
		}
	}
	return nil
}

// write writes the chat completions body.
func (c *converter) write(f *requestFields, model string, stream bool) error {
	w := c.w
	w.ObjectStart()
	w.Key("model")
	w.String(model)
	w.Key("messages")
	w.ArrayStart()
	if err := c.system(f.system, "system"); err != nil {
		return err
	}
	for i, m := range f.messages.Elems() {
		if err := c.message(m, i); err != nil {
			return err
		}
	}
	w.ArrayEnd()
	if err := c.sampling(f); err != nil {
		return err
	}
	if err := c.metadata(f.metadata); err != nil {
		return err
	}
	effort, err := c.thinkingEffort(f.thinking)
	if err != nil {
		return err
	}
	if err := c.outputConfig(f.outputConfig, &effort); err != nil {
		return err
	}
	if effort != "" {
		w.Key("reasoning_effort")
		w.String(effort)
	}
	if f.tools.IsArray() && f.tools.Len() > 0 {
		if err := c.tools(f.tools); err != nil {
			return err
		}
	}
	if err := c.toolChoice(f.toolChoice); err != nil {
		return err
	}
	if stream {
		w.Key("stream")
		w.Bool(true)
		w.Key("stream_options")
		w.ObjectStart()
		w.Key("include_usage")
		w.Bool(true)
		w.ObjectEnd()
	}
	w.ObjectEnd()
	return nil
}

// sampling writes max_tokens, stop, temperature and top_p.
func (c *converter) sampling(f *requestFields) error {
	w := c.w
	if f.maxTokens.Exists() && !f.maxTokens.IsNull() {
		n, ok := f.maxTokens.Int()
		if !ok || n < 0 {
			return invalid("max_tokens must be a non-negative integer")
		}
		w.Key("max_tokens")
		w.Int(n)
	}
	if f.stop.IsArray() && f.stop.Len() > 0 {
		for i, s := range f.stop.Elems() {
			if !s.IsString() {
				return invalid("stop_sequences[%d] must be a string", i)
			}
		}
		w.Key("stop")
		w.Value(f.stop)
	}
	if f.temperature.IsNumber() {
		w.Key("temperature")
		w.Value(f.temperature)
	}
	if f.topP.IsNumber() {
		w.Key("top_p")
		w.Value(f.topP)
	}
	return nil
}

func (c *converter) metadata(md jsonx.Value) error {
	if !md.Exists() || md.IsNull() {
		return nil
	}
	if !md.IsObject() {
		return invalid("metadata must be an object")
	}
	for k, v := range md.Members() {
		if !k.Is("user_id") {
			c.refuse("unknown field %q in metadata", k.Str())
			continue
		}
		if v.IsString() && !v.Is("") {
			c.w.Key("user")
			c.w.Value(v)
		}
	}
	return nil
}

// thinkingEffort maps thinking to reasoning_effort: enabled by its budget; disabled and
// adaptive (the model decides) to none, leaving the provider its default.
func (c *converter) thinkingEffort(th jsonx.Value) (string, error) {
	if !th.Exists() || th.IsNull() {
		return "", nil
	}
	switch t := th.Get("type"); {
	case t.Is("enabled"):
		b, ok := th.Get("budget_tokens").Int()
		if !ok {
			return "", invalid("thinking.budget_tokens must be an integer")
		}
		return reasoningEffort(b), nil
	case t.Is("disabled"), t.Is("adaptive"):
		return "", nil
	}
	c.refuse("thinking.type %s cannot be sent to a non-Anthropic provider (enabled, disabled and adaptive can)", typeName(th.Get("type")))
	return "", nil
}

// outputConfig maps effort to reasoning_effort (over thinking's) and format to
// response_format; task_budget is advisory and goes to the ignored list.
func (c *converter) outputConfig(oc jsonx.Value, effort *string) error {
	if !oc.Exists() || oc.IsNull() {
		return nil
	}
	if !oc.IsObject() {
		return invalid("output_config must be an object")
	}
	for k, v := range oc.Members() {
		switch {
		case v.IsNull():
		case k.Is("effort"):
			e, ok := efforts[v.Str()]
			if !ok {
				c.refuse("output_config.effort %s is not one of low, medium, high, xhigh, max", v.Raw())
				continue
			}
			*effort = e
		case k.Is("format"):
			if !v.Get("type").Is("json_schema") || !v.Get("schema").IsObject() {
				c.refuse("output_config.format must be {type: json_schema, schema: {...}} to be sent to a non-Anthropic provider")
				continue
			}
			w := c.w
			w.Key("response_format")
			w.ObjectStart()
			w.Key("type")
			w.String("json_schema")
			w.Key("json_schema")
			w.ObjectStart()
			w.Key("name")
			w.String("output")
			w.Key("schema")
			w.Value(v.Get("schema"))
			w.Key("strict")
			w.Bool(true)
			w.ObjectEnd()
			w.ObjectEnd()
		case k.Is("task_budget"):
			c.ignore("output_config.task_budget")
		default:
			c.refuse("unknown field %q in output_config", k.Str())
		}
	}
	return nil
}

// cacheControl checks an Anthropic cache_control value and writes it as the chat part's
// cache_control member (an extension the Anthropic and Bedrock translators read; other
// OpenAI-compatible servers that honour it, such as OpenRouter, use the same spelling).
func (c *converter) cacheControl(cc jsonx.Value, at string) error {
	if !cc.Exists() || cc.IsNull() {
		return nil
	}
	if !cc.IsObject() || !cc.Get("type").Is("ephemeral") {
		c.refuse("%s.cache_control: only type ephemeral can be sent to a non-Anthropic provider", at)
		return nil
	}
	if ttl := cc.Get("ttl"); ttl.Exists() && !ttl.Is("5m") && !ttl.Is("1h") {
		c.refuse("%s.cache_control.ttl: only 5m and 1h can be sent to a non-Anthropic provider", at)
		return nil
	}
	c.w.Key("cache_control")
	c.w.Copy(cc)
	return nil
}

// textPart writes {"type":"text","text":...} with the block's cache_control.
func (c *converter) textPart(text, cc jsonx.Value, at string) error {
	if !text.IsString() {
		return invalid("%s: text must be a string", at)
	}
	w := c.w
	w.ObjectStart()
	w.Key("type")
	w.String("text")
	w.Key("text")
	w.Value(text)
	if err := c.cacheControl(cc, at); err != nil {
		return err
	}
	w.ObjectEnd()
	return nil
}

// hasCacheControl reports whether any block of an array carries cache_control.
func hasCacheControl(blocks jsonx.Value) bool {
	for _, b := range blocks.Elems() {
		if cc := b.Get("cache_control"); cc.Exists() && !cc.IsNull() {
			return true
		}
	}
	return false
}

// system writes the top-level system prompt, or a role:"system" message's content, as a chat
// system message: one string, or text parts when a block carries a cache breakpoint.
func (c *converter) system(system jsonx.Value, at string) error {
	w := c.w
	switch system.Kind() {
	case jsonx.Invalid, jsonx.Null:
		return nil
	case jsonx.String:
		if system.Is("") {
			return nil
		}
		w.ObjectStart()
		w.Key("role")
		w.String("system")
		w.Key("content")
		w.Value(system)
		w.ObjectEnd()
		return nil
	case jsonx.Array:
	default:
		return invalid("%s must be a string or an array of text blocks", at)
	}
	for i, b := range system.Elems() {
		if t := b.Get("type"); !t.Is("text") {
			return invalid("%s[%d]: block type %s cannot be used in a system prompt", at, i, typeName(t))
		}
		if !b.Get("text").IsString() {
			return invalid("%s[%d]: text must be a string", at, i)
		}
	}
	if system.Len() == 0 {
		return nil
	}
	w.ObjectStart()
	w.Key("role")
	w.String("system")
	w.Key("content")
	if hasCacheControl(system) {
		w.ArrayStart()
		for i, b := range system.Elems() {
			if err := c.textPart(b.Get("text"), b.Get("cache_control"), at+"["+itoa(i)+"]"); err != nil {
				return err
			}
		}
		w.ArrayEnd()
	} else {
		var text []byte
		for i, b := range system.Elems() {
			if i > 0 {
				text = append(text, "\n\n"...)
			}
			text = b.Get("text").AppendStr(text)
		}
		w.StringBytes(text)
	}
	w.ObjectEnd()
	return nil
}

func itoa(i int) string { return strconv.Itoa(i) }

// typeName is a block's type for messages: its JSON text, or (none).
func typeName(t jsonx.Value) string {
	if !t.Exists() {
		return "(none)"
	}
	return string(t.Raw())
}

func (c *converter) message(m jsonx.Value, i int) error {
	if !m.IsObject() {
		return invalid("messages[%d] must be an object", i)
	}
	var f [2]jsonx.Value
	m.Fields(f[:], "role", "content")
	role, content := f[0], f[1]
	at := "messages[" + itoa(i) + "]"
	switch {
	case role.Is("user"):
		return c.user(content, at)
	case role.Is("assistant"):
		return c.assistant(content, at)
	case role.Is("system"):
		// Claude Code sends one mid-conversation for models it does not know; chat takes
		// system messages anywhere, so it stays in place.
		if !content.IsString() && !content.IsArray() {
			return invalid("%s: content must be a string or an array", at)
		}
		return c.system(content, at+".content")
	}
	return invalid("%s: role must be user, assistant or system", at)
}

// notBridged refuses a block only Anthropic understands (server tool calls and their results,
// search results, container uploads, ...); the caller leaves it out.
func (c *converter) notBridged(at string, typ jsonx.Value) {
	c.refuse("%s: block type %s cannot be sent to a non-Anthropic provider", at, typeName(typ))
}

// user writes tool_result blocks as chat tool messages first (chat wants them right after the
// assistant turn that called the tools), then the other blocks as one user message. Chat tool
// messages carry text only, so images inside tool results go at the head of that user message,
// each run introduced by a text part naming the tool call.
func (c *converter) user(content jsonx.Value, at string) error {
	w := c.w
	if content.IsString() {
		w.ObjectStart()
		w.Key("role")
		w.String("user")
		w.Key("content")
		w.Value(content)
		w.ObjectEnd()
		return nil
	}
	if !content.IsArray() {
		return invalid("%s: content must be a string or an array", at)
	}
	others, toolImages := 0, 0
	for j, b := range content.Elems() {
		bat := at + ".content[" + itoa(j) + "]"
		if !b.IsObject() {
			return invalid("%s must be an object", bat)
		}
		if !b.Get("type").Is("tool_result") {
			others++
			continue
		}
		n, err := c.toolResult(b, bat)
		if err != nil {
			return err
		}
		toolImages += n
	}
	if others == 0 && toolImages == 0 {
		return nil
	}
	w.ObjectStart()
	w.Key("role")
	w.String("user")
	w.Key("content")
	w.ArrayStart()
	if toolImages > 0 {
		for j, b := range content.Elems() {
			if !b.Get("type").Is("tool_result") || b.Get("content").Kind() != jsonx.Array {
				continue
			}
			bat := at + ".content[" + itoa(j) + "]"
			labelled := false
			for k, inner := range b.Get("content").Elems() {
				if !inner.Get("type").Is("image") {
					continue
				}
				if !labelled {
					w.ObjectStart()
					w.Key("type")
					w.String("text")
					w.Key("text")
					w.String("Image(s) returned by tool call " + b.Get("tool_use_id").Str() + ":")
					w.ObjectEnd()
					labelled = true
				}
				if err := c.image(inner, bat+".content["+itoa(k)+"]"); err != nil {
					return err
				}
			}
		}
	}
	for j, b := range content.Elems() {
		if err := c.userBlock(b, at+".content["+itoa(j)+"]"); err != nil {
			return err
		}
	}
	w.ArrayEnd()
	w.ObjectEnd()
	return nil
}

// userBlock writes one user content block as chat content parts (tool_result blocks are
// written by toolResult and skipped here).
func (c *converter) userBlock(b jsonx.Value, at string) error {
	switch t := b.Get("type"); {
	case t.Is("tool_result"):
		return nil
	case t.Is("text"):
		return c.textPart(b.Get("text"), b.Get("cache_control"), at)
	case t.Is("image"):
		return c.image(b, at)
	case t.Is("document"):
		return c.document(b, at)
	case t.Is("tool_use"), t.Is("thinking"), t.Is("redacted_thinking"):
		return invalid("%s: block type %s belongs in assistant messages", at, typeName(t))
	default:
		c.notBridged(at, t)
		return nil
	}
}

func (c *converter) image(b jsonx.Value, at string) error {
	src := b.Get("source")
	var url string
	switch st := src.Get("type"); {
	case st.Is("base64"):
		mt, data := src.Get("media_type"), src.Get("data")
		if !mt.IsString() || !data.IsString() {
			return invalid("%s: a base64 image source needs media_type and data", at)
		}
		url = "data:" + mt.Str() + ";base64," + data.Str()
	case st.Is("url"):
		if url = src.Get("url").Str(); url == "" {
			return invalid("%s: an url image source needs url", at)
		}
	default:
		c.refuse("%s: image source type %s cannot be sent to a non-Anthropic provider", at, typeName(st))
		return nil
	}
	w := c.w
	w.ObjectStart()
	w.Key("type")
	w.String("image_url")
	w.Key("image_url")
	w.ObjectStart()
	w.Key("url")
	w.String(url)
	w.ObjectEnd()
	if err := c.cacheControl(b.Get("cache_control"), at); err != nil {
		return err
	}
	w.ObjectEnd()
	return nil
}

// document writes a document block: a base64 PDF as a chat file part, plain text and content
// sources as text (and image) parts headed by the title and context. URL and Files API sources
// are refused: chat file parts take inline data or the target provider's own file ids.
// citations cannot be produced on the bridged path and go to the ignored list.
func (c *converter) document(b jsonx.Value, at string) error {
	var f [5]jsonx.Value
	b.Fields(f[:], "source", "title", "context", "citations", "cache_control")
	src, title, ctx, cites, cc := f[0], f[1], f[2], f[3], f[4]
	if cites.IsObject() {
		if on, _ := cites.Get("enabled").Bool(); on {
			c.ignore("citations")
		}
	}
	switch st := src.Get("type"); {
	case st.Is("base64"):
		return c.documentPDF(src, title, cc, at)
	case st.Is("text"):
		return c.documentText(src, title, ctx, cc, at)
	case st.Is("content"):
		return c.documentContent(src, title, ctx, cc, at)
	case st.Is("url"):
		c.refuse("%s: document source type \"url\" cannot be sent to a non-Anthropic provider; send the PDF as base64", at)
	default:
		c.refuse("%s: document source type %s cannot be sent to a non-Anthropic provider", at, typeName(st))
	}
	return nil
}

// documentPDF writes a base64 document source as a chat file part named by the title; other
// media types than PDF are refused.
func (c *converter) documentPDF(src, title, cc jsonx.Value, at string) error {
	if !src.Get("data").IsString() {
		return invalid("%s: a base64 document source needs data", at)
	}
	if !src.Get("media_type").Is("application/pdf") {
		c.refuse("%s: only application/pdf base64 documents can be sent to a non-Anthropic provider", at)
		return nil
	}
	name := title.Str()
	if name == "" {
		name = "document.pdf"
	}
	w := c.w
	w.ObjectStart()
	w.Key("type")
	w.String("file")
	w.Key("file")
	w.ObjectStart()
	w.Key("filename")
	w.String(name)
	w.Key("file_data")
	w.String("data:application/pdf;base64," + src.Get("data").Str())
	w.ObjectEnd()
	if err := c.cacheControl(cc, at); err != nil {
		return err
	}
	w.ObjectEnd()
	return nil
}

// documentText writes a plain text document source as one text part headed by the title and
// context.
func (c *converter) documentText(src, title, ctx, cc jsonx.Value, at string) error {
	data := src.Get("data")
	if !data.IsString() {
		return invalid("%s: a text document source needs data", at)
	}
	text := docHeader(title, ctx)
	text = data.AppendStr(text)
	w := c.w
	w.ObjectStart()
	w.Key("type")
	w.String("text")
	w.Key("text")
	w.StringBytes(text)
	if err := c.cacheControl(cc, at); err != nil {
		return err
	}
	w.ObjectEnd()
	return nil
}

// documentContent writes a content document source: the title and context as a text part of
// their own, then its text and image blocks as parts; the document's breakpoint goes on its
// last part unless that part has its own.
func (c *converter) documentContent(src, title, ctx, cc jsonx.Value, at string) error {
	inner := src.Get("content")
	if h := docHeader(title, ctx); len(h) > 0 {
		w := c.w
		w.ObjectStart()
		w.Key("type")
		w.String("text")
		w.Key("text")
		w.StringBytes(h[:len(h)-2]) // a part of its own: no trailing separator
		w.ObjectEnd()
	}
	if inner.IsString() {
		return c.textPart(inner, cc, at)
	}
	n := inner.Len()
	for k, blk := range inner.Elems() {
		iat := at + ".source.content[" + itoa(k) + "]"
		blkCC := blk.Get("cache_control")
		if k == n-1 && !blkCC.Exists() {
			blkCC = cc // the document's breakpoint ends at its last part
		}
		switch t := blk.Get("type"); {
		case t.Is("text"):
			if err := c.textPart(blk.Get("text"), blkCC, iat); err != nil {
				return err
			}
		case t.Is("image"):
			if err := c.image(blk, iat); err != nil {
				return err
			}
		default:
			c.notBridged(iat, t)
		}
	}
	return nil
}

func docHeader(title, ctx jsonx.Value) []byte {
	var h []byte
	for _, v := range []jsonx.Value{title, ctx} {
		if v.IsString() && !v.Is("") {
			h = v.AppendStr(h)
			h = append(h, "\n\n"...)
		}
	}
	return h
}

// toolResult writes one tool_result block as a chat tool message and returns how many images
// it holds (written later, in the user message). The text is one string, or text parts when a
// breakpoint is set (the block's own cache_control goes on the last part). is_error results are
// prefixed "Error: ", chat having no error flag.
func (c *converter) toolResult(b jsonx.Value, at string) (images int, err error) {
	var f [4]jsonx.Value
	b.Fields(f[:], "tool_use_id", "content", "is_error", "cache_control")
	id, content, isErrV, cc := f[0], f[1], f[2], f[3]
	if !id.IsString() || id.Is("") {
		return 0, invalid("%s: tool_use_id is required", at)
	}
	isErr, _ := isErrV.Bool()
	w := c.w
	w.ObjectStart()
	w.Key("role")
	w.String("tool")
	w.Key("tool_call_id")
	w.Value(id)
	w.Key("content")
	switch content.Kind() {
	case jsonx.Invalid, jsonx.Null, jsonx.String:
		text := content.AppendStr(nil)
		if isErr {
			text = append([]byte("Error: "), text...)
		}
		if err := c.resultText([]resultPiece{{text: text, cc: cc}}, at); err != nil {
			return 0, err
		}
	case jsonx.Array:
		pieces, n, err := c.resultPieces(content, at)
		if err != nil {
			return 0, err
		}
		images = n
		if isErr {
			if len(pieces) == 0 {
				pieces = append(pieces, resultPiece{})
			}
			pieces[0].text = append([]byte("Error: "), pieces[0].text...)
		}
		if cc.Exists() && !cc.IsNull() {
			if len(pieces) == 0 {
				pieces = append(pieces, resultPiece{text: []byte{}})
			}
			pieces[len(pieces)-1].cc = cc
		}
		if err := c.resultText(pieces, at); err != nil {
			return 0, err
		}
	default:
		return 0, invalid("%s: tool_result content must be a string or an array", at)
	}
	w.ObjectEnd()
	return images, nil
}

// resultPiece is a piece of a tool result's text with its breakpoint.
type resultPiece struct {
	text []byte
	cc   jsonx.Value
}

// resultPieces reads the blocks of a tool result's content array: the text of the result in
// order (documents with a text source count as text), and how many images it holds. Other
// blocks are refused.
func (c *converter) resultPieces(content jsonx.Value, at string) (pieces []resultPiece, images int, err error) {
	for k, inner := range content.Elems() {
		iat := at + ".content[" + itoa(k) + "]"
		switch t := inner.Get("type"); {
		case t.Is("text"):
			if !inner.Get("text").IsString() {
				return nil, 0, invalid("%s: text must be a string", iat)
			}
			pieces = append(pieces, resultPiece{inner.Get("text").AppendStr(nil), inner.Get("cache_control")})
		case t.Is("image"):
			images++
		case t.Is("document") && inner.Get("source", "type").Is("text"):
			pieces = append(pieces, resultPiece{inner.Get("source", "data").AppendStr(docHeader(inner.Get("title"), inner.Get("context"))), inner.Get("cache_control")})
		default:
			c.refuse("%s: block type %s cannot be sent in a tool_result to a non-Anthropic provider", iat, typeName(t))
		}
	}
	return pieces, images, nil
}

// resultText writes a tool message's content: one string of the pieces joined by line breaks,
// or text parts when a piece carries a breakpoint.
func (c *converter) resultText(pieces []resultPiece, at string) error {
	w := c.w
	parts := false
	for _, p := range pieces {
		if p.cc.Exists() && !p.cc.IsNull() {
			parts = true
		}
	}
	if !parts {
		if len(pieces) == 1 {
			w.StringBytes(pieces[0].text)
			return nil
		}
		var text []byte
		for i, p := range pieces {
			if i > 0 {
				text = append(text, '\n')
			}
			text = append(text, p.text...)
		}
		w.StringBytes(text)
		return nil
	}
	w.ArrayStart()
	for _, p := range pieces {
		w.ObjectStart()
		w.Key("type")
		w.String("text")
		w.Key("text")
		w.StringBytes(p.text)
		if err := c.cacheControl(p.cc, at); err != nil {
			return err
		}
		w.ObjectEnd()
	}
	w.ArrayEnd()
	return nil
}

// geminiSig prefixes each segment of a Gemini translator's reasoning_signature.
var geminiSig = []byte("gemini:")

// assistant writes an assistant turn: text as content (parts when a block carries a
// breakpoint), tool_use blocks as tool_calls, thinking as reasoning_content with its signature
// in reasoning_signature (extensions the Anthropic translator turns back into a thinking block,
// so tool use with thinking survives a round trip). Several thinking blocks are joined and keep
// the last signature, or all of Gemini's. redacted_thinking is encrypted for Anthropic alone: no other model can
// read it, so it is left out and listed as ignored.
func (c *converter) assistant(content jsonx.Value, at string) error {
	t, err := c.readAssistant(content, at)
	if err != nil {
		return err
	}
	w := c.w
	w.ObjectStart()
	w.Key("role")
	w.String("assistant")
	w.Key("content")
	switch {
	case t.parts:
		w.ArrayStart()
		for j, b := range content.Elems() {
			if b.Get("type").Is("text") {
				if err := c.textPart(b.Get("text"), b.Get("cache_control"), at+".content["+itoa(j)+"]"); err != nil {
					return err
				}
			}
		}
		w.ArrayEnd()
	case len(t.text) == 0 && t.calls > 0:
		w.Null()
	default:
		w.StringBytes(t.text)
	}
	if t.thinking {
		w.Key("reasoning_content")
		w.StringBytes(t.reasoning)
		if len(t.signature) > 0 {
			w.Key("reasoning_signature")
			w.StringBytes(t.signature)
		}
	}
	if t.calls > 0 {
		return c.toolCalls(content, at)
	}
	w.ObjectEnd()
	return nil
}

// assistantTurn is what readAssistant gathers from an assistant turn's content.
type assistantTurn struct {
	text, reasoning, signature []byte
	calls                      int  // tool_use blocks
	thinking                   bool // a thinking block was sent
	parts                      bool // a text block carries a breakpoint
}

// readAssistant checks the blocks of an assistant turn and gathers its text, thinking and
// signature, and how many tool calls it makes.
func (c *converter) readAssistant(content jsonx.Value, at string) (assistantTurn, error) {
	var t assistantTurn
	switch content.Kind() {
	case jsonx.String:
		t.text = content.AppendStr(nil)
		return t, nil
	case jsonx.Array:
	default:
		return t, invalid("%s: content must be a string or an array", at)
	}
	for j, b := range content.Elems() {
		bat := at + ".content[" + itoa(j) + "]"
		if !b.IsObject() {
			return t, invalid("%s must be an object", bat)
		}
		switch typ := b.Get("type"); {
		case typ.Is("text"):
			if !b.Get("text").IsString() {
				return t, invalid("%s: text must be a string", bat)
			}
			t.text = b.Get("text").AppendStr(t.text)
			if cc := b.Get("cache_control"); cc.Exists() && !cc.IsNull() {
				t.parts = true
			}
		case typ.Is("tool_use"):
			if !b.Get("id").IsString() || !b.Get("name").IsString() {
				return t, invalid("%s: tool_use needs an id and a name", bat)
			}
			t.calls++
		case typ.Is("thinking"):
			t.thinking = true
			t.reasoning = b.Get("thinking").AppendStr(t.reasoning)
			if s := b.Get("signature"); s.IsString() {
				// Gemini's signatures are "gemini:" segments that join (a stream may
				// split them over thinking blocks); any other keeps the last one.
				if !bytes.HasPrefix(t.signature, geminiSig) || !strings.HasPrefix(s.Str(), string(geminiSig)) {
					t.signature = t.signature[:0]
				}
				t.signature = s.AppendStr(t.signature)
			}
		case typ.Is("redacted_thinking"):
			c.ignore("redacted_thinking")
		default:
			c.notBridged(bat, typ)
		}
	}
	return t, nil
}

// toolCalls writes the turn's tool_use blocks as its tool_calls, the input as the arguments
// string, and closes the message.
func (c *converter) toolCalls(content jsonx.Value, at string) error {
	w := c.w
	w.Key("tool_calls")
	w.ArrayStart()
	for j, b := range content.Elems() {
		if !b.Get("type").Is("tool_use") {
			continue
		}
		w.ObjectStart()
		w.Key("id")
		w.Value(b.Get("id"))
		w.Key("type")
		w.String("function")
		w.Key("function")
		w.ObjectStart()
		w.Key("name")
		w.Value(b.Get("name"))
		w.Key("arguments")
		if in := b.Get("input"); in.IsObject() {
			w.StringBytes(compact(in))
		} else {
			w.String("{}")
		}
		w.ObjectEnd()
		if err := c.cacheControl(b.Get("cache_control"), at+".content["+itoa(j)+"]"); err != nil {
			return err
		}
		w.ObjectEnd()
	}
	w.ArrayEnd()
	w.ObjectEnd()
	return nil
}

func compact(v jsonx.Value) []byte {
	w := jsonx.NewWriter(make([]byte, 0, len(v.Raw())))
	w.Copy(v)
	return w.Bytes()
}

// toolFields are the members of a custom tool definition; true marks the ones carried.
// input_examples and defer_loading (the advanced tool use beta) are hints for Anthropic's
// own tool handling and go to the ignored list.
var toolFields = map[string]bool{"type": true, "name": true, "description": true, "input_schema": true,
	"cache_control": true, "strict": true, "input_examples": false, "defer_loading": false,
	"eager_input_streaming": false}

func (c *converter) tools(tools jsonx.Value) error {
	w := c.w
	w.Key("tools")
	w.ArrayStart()
	for i, t := range tools.Elems() {
		at := "tools[" + itoa(i) + "]"
		if !t.IsObject() {
			return invalid("%s must be an object", at)
		}
		if typ := t.Get("type"); typ.Exists() && !typ.IsNull() && !typ.Is("custom") {
			c.refuse("%s: server tool %s cannot be sent to a non-Anthropic provider", at, typeName(typ))
			continue
		}
		for k, v := range t.Members() {
			carried, known := toolFields[k.Str()]
			if !known {
				c.refuse("%s: unknown field %q", at, k.Str())
				continue
			}
			if !carried && !v.IsNull() {
				c.ignore("tools." + k.Str())
			}
		}
		name := t.Get("name")
		if !name.IsString() || name.Is("") {
			return invalid("%s: name is required", at)
		}
		w.ObjectStart()
		w.Key("type")
		w.String("function")
		w.Key("function")
		w.ObjectStart()
		w.Key("name")
		w.Value(name)
		if d := t.Get("description"); d.IsString() {
			w.Key("description")
			w.Value(d)
		}
		w.Key("parameters")
		if s := t.Get("input_schema"); s.IsObject() {
			w.Value(s)
		} else {
			w.Raw([]byte(`{"type":"object","properties":{}}`))
		}
		if s, ok := t.Get("strict").Bool(); ok {
			w.Key("strict")
			w.Bool(s)
		}
		w.ObjectEnd()
		if err := c.cacheControl(t.Get("cache_control"), at); err != nil {
			return err
		}
		w.ObjectEnd()
	}
	w.ArrayEnd()
	return nil
}

func (c *converter) toolChoice(tc jsonx.Value) error {
	if !tc.Exists() || tc.IsNull() {
		return nil
	}
	if !tc.IsObject() {
		return invalid("tool_choice must be an object")
	}
	w := c.w
	switch t := tc.Get("type"); {
	case t.Is("auto"):
		w.Key("tool_choice")
		w.String("auto")
	case t.Is("any"):
		w.Key("tool_choice")
		w.String("required")
	case t.Is("none"):
		w.Key("tool_choice")
		w.String("none")
	case t.Is("tool"):
		name := tc.Get("name")
		if !name.IsString() || name.Is("") {
			return invalid("tool_choice.name is required for type tool")
		}
		w.Key("tool_choice")
		w.ObjectStart()
		w.Key("type")
		w.String("function")
		w.Key("function")
		w.ObjectStart()
		w.Key("name")
		w.Value(name)
		w.ObjectEnd()
		w.ObjectEnd()
	default:
		c.refuse("tool_choice type %s cannot be sent to a non-Anthropic provider", typeName(t))
		return nil
	}
	if d, _ := tc.Get("disable_parallel_tool_use").Bool(); d && !tc.Get("type").Is("none") {
		w.Key("parallel_tool_calls")
		w.Bool(false)
	}
	return nil
}

// duplicateKey finds a top-level key that appears twice: a policy could read one value and the
// upstream the other.
func duplicateKey(obj jsonx.Value) (string, bool) {
	seen := make(map[string]struct{}, 16)
	for k := range obj.Members() {
		name := k.Str()
		if _, ok := seen[name]; ok {
			return name, true
		}
		seen[name] = struct{}{}
	}
	return "", false
}
