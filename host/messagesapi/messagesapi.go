// Package messagesapi is the gateway's inbound Anthropic Messages API (POST /v1/messages) for
// clients built on the Anthropic SDK: it converts their requests to the OpenAI chat shape the
// pipeline speaks, and OpenAI responses and stream chunks back into Anthropic messages and SSE
// events.
//
// It runs natively in the host, not as a wasm plugin: it is the gateway's own front door, applied
// before routing to every request on this endpoint whatever provider serves it, it is
// first-party code that needs no sandbox, and a wasm guest would multiply its JSON cost by ten.
package messagesapi

import (
	"errors"
	"fmt"

	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// ErrInvalidRequest marks conversion failures caused by the client's request (answer 400).
var ErrInvalidRequest = errors.New("invalid request")

func invalid(format string, args ...any) error {
	return fmt.Errorf("messagesapi: %w: %s", ErrInvalidRequest, fmt.Sprintf(format, args...))
}

// ErrorBody returns an Anthropic error body {"type":"error","error":{"type","message"}}. When typ
// is empty it is derived from status the way Anthropic names its errors.
func ErrorBody(status int, typ, msg string) []byte {
	if typ == "" {
		typ = errorType(status)
	}
	w := jsonx.NewWriter(make([]byte, 0, 64+len(msg)))
	w.ObjectStart()
	w.Key("type")
	w.String("error")
	w.Key("error")
	w.ObjectStart()
	w.Key("type")
	w.String(typ)
	w.Key("message")
	w.String(msg)
	w.ObjectEnd()
	w.ObjectEnd()
	return w.Bytes()
}

func errorType(status int) string {
	switch status {
	case 400, 422:
		return "invalid_request_error"
	case 413:
		return "request_too_large"
	case 401:
		return "authentication_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 429:
		return "rate_limit_error"
	case 529, 503:
		return "overloaded_error"
	}
	return "api_error"
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

// ToOpenAI converts an Anthropic Messages request into an OpenAI chat.completions request and
// returns the requested model and whether it asks for a stream. Streams ask for usage in the
// final chunk (stream_options.include_usage) so message_delta can report it.
func ToOpenAI(anthropicReq []byte) (openaiReq []byte, model string, stream bool, err error) {
	req, err := jsonx.Parse(anthropicReq)
	if err != nil {
		return nil, "", false, invalid("body is not valid JSON: %v", err)
	}
	if !req.IsObject() {
		return nil, "", false, invalid("body must be a JSON object")
	}
	if k, dup := duplicateKey(req); dup {
		return nil, "", false, invalid("key %q appears more than once; send each top-level key once", k)
	}
	var f [12]jsonx.Value
	req.Fields(f[:], "model", "messages", "system", "max_tokens", "stop_sequences", "temperature",
		"top_p", "stream", "tools", "tool_choice", "metadata", "thinking")
	mdl, messages, system, maxTokens, stop, temperature, topP, streamV, tools, toolChoice, metadata, thinking :=
		f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10], f[11]
	model = mdl.Str()
	if model == "" {
		return nil, "", false, invalid("model is required")
	}
	if !messages.IsArray() {
		return nil, "", false, invalid("messages must be an array")
	}
	stream, _ = streamV.Bool()

	w := jsonx.NewWriter(make([]byte, 0, len(anthropicReq)+128))
	w.ObjectStart()
	w.Key("model")
	w.String(model)
	w.Key("messages")
	w.ArrayStart()
	if err := writeSystem(w, system); err != nil {
		return nil, "", false, err
	}
	for i, m := range messages.Elems() {
		if err := writeMessage(w, m, i); err != nil {
			return nil, "", false, err
		}
	}
	w.ArrayEnd()
	if n, ok := maxTokens.Int(); ok {
		w.Key("max_tokens")
		w.Int(n)
	}
	if stop.IsArray() && stop.Len() > 0 {
		w.Key("stop")
		w.Value(stop)
	}
	if temperature.IsNumber() {
		w.Key("temperature")
		w.Value(temperature)
	}
	if topP.IsNumber() {
		w.Key("top_p")
		w.Value(topP)
	}
	if u := metadata.Get("user_id"); u.IsString() {
		w.Key("user")
		w.Value(u)
	}
	if thinking.Get("type").Is("enabled") {
		b, _ := thinking.Get("budget_tokens").Int()
		w.Key("reasoning_effort")
		w.String(reasoningEffort(b))
	}
	if tools.IsArray() && tools.Len() > 0 {
		if err := writeTools(w, tools); err != nil {
			return nil, "", false, err
		}
	}
	if err := writeToolChoice(w, toolChoice); err != nil {
		return nil, "", false, err
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
	return w.Bytes(), model, stream, nil
}

// duplicateKey finds a top-level key given twice. Readers disagree on which occurrence wins,
// so a policy could read one value while the upstream acts on the other: such a body is refused.
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

func writeSystem(w *jsonx.Writer, system jsonx.Value) error {
	var text []byte
	switch system.Kind() {
	case jsonx.Invalid, jsonx.Null:
		return nil
	case jsonx.String:
		text = system.AppendStr(nil)
	case jsonx.Array:
		for i, b := range system.Elems() {
			if !b.Get("type").Is("text") {
				return invalid("system[%d]: only text blocks are supported", i)
			}
			if len(text) > 0 {
				text = append(text, "\n\n"...)
			}
			text = b.Get("text").AppendStr(text)
		}
	default:
		return invalid("system must be a string or an array of text blocks")
	}
	if len(text) == 0 {
		return nil
	}
	w.ObjectStart()
	w.Key("role")
	w.String("system")
	w.Key("content")
	w.StringBytes(text)
	w.ObjectEnd()
	return nil
}

func writeMessage(w *jsonx.Writer, m jsonx.Value, i int) error {
	var f [2]jsonx.Value
	m.Fields(f[:], "role", "content")
	role, content := f[0], f[1]
	switch {
	case role.Is("user"):
		return writeUser(w, content, i)
	case role.Is("assistant"):
		return writeAssistant(w, content, i)
	}
	return invalid("messages[%d]: role must be user or assistant", i)
}

// writeUser writes tool_result blocks as OpenAI tool messages first (OpenAI wants them right
// after the assistant turn that called the tools), then the remaining blocks as one user message.
func writeUser(w *jsonx.Writer, content jsonx.Value, i int) error {
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
		return invalid("messages[%d]: content must be a string or an array", i)
	}
	others := 0
	for j, b := range content.Elems() {
		t := b.Get("type")
		if !t.Is("tool_result") {
			others++
			continue
		}
		text, err := toolResultText(b.Get("content"))
		if err != nil {
			return invalid("messages[%d].content[%d]: %v", i, j, err)
		}
		if isErr, _ := b.Get("is_error").Bool(); isErr {
			text = append([]byte("Error: "), text...)
		}
		w.ObjectStart()
		w.Key("role")
		w.String("tool")
		w.Key("tool_call_id")
		w.Value(b.Get("tool_use_id"))
		w.Key("content")
		w.StringBytes(text)
		w.ObjectEnd()
	}
	if others == 0 {
		return nil
	}
	w.ObjectStart()
	w.Key("role")
	w.String("user")
	w.Key("content")
	w.ArrayStart()
	for j, b := range content.Elems() {
		t := b.Get("type")
		switch {
		case t.Is("tool_result"):
		case t.Is("text"):
			w.ObjectStart()
			w.Key("type")
			w.String("text")
			w.Key("text")
			w.Value(b.Get("text"))
			w.ObjectEnd()
		case t.Is("image"):
			src := b.Get("source")
			var url string
			switch st := src.Get("type"); {
			case st.Is("base64"):
				url = "data:" + src.Get("media_type").Str() + ";base64," + src.Get("data").Str()
			case st.Is("url"):
				url = src.Get("url").Str()
			default:
				return invalid("messages[%d].content[%d]: unsupported image source %s", i, j, st.Raw())
			}
			w.ObjectStart()
			w.Key("type")
			w.String("image_url")
			w.Key("image_url")
			w.ObjectStart()
			w.Key("url")
			w.String(url)
			w.ObjectEnd()
			w.ObjectEnd()
		default:
			return invalid("messages[%d].content[%d]: unsupported block type %s", i, j, t.Raw())
		}
	}
	w.ArrayEnd()
	w.ObjectEnd()
	return nil
}

func toolResultText(c jsonx.Value) ([]byte, error) {
	switch c.Kind() {
	case jsonx.Invalid, jsonx.Null:
		return []byte{}, nil
	case jsonx.String:
		return c.AppendStr(nil), nil
	case jsonx.Array:
		var text []byte
		for _, b := range c.Elems() {
			if !b.Get("type").Is("text") {
				return nil, fmt.Errorf("tool_result content supports only text blocks")
			}
			text = b.Get("text").AppendStr(text)
		}
		return text, nil
	}
	return nil, fmt.Errorf("tool_result content must be a string or an array")
}

func writeAssistant(w *jsonx.Writer, content jsonx.Value, i int) error {
	var text []byte
	calls := 0
	switch content.Kind() {
	case jsonx.String:
		text = content.AppendStr(nil)
	case jsonx.Array:
		for j, b := range content.Elems() {
			switch t := b.Get("type"); {
			case t.Is("text"):
				text = b.Get("text").AppendStr(text)
			case t.Is("tool_use"):
				calls++
			case t.Is("thinking"), t.Is("redacted_thinking"):
				// Thinking is provider-specific state; the OpenAI shape has no input slot for it.
			default:
				return invalid("messages[%d].content[%d]: unsupported block type %s", i, j, t.Raw())
			}
		}
	default:
		return invalid("messages[%d]: content must be a string or an array", i)
	}
	w.ObjectStart()
	w.Key("role")
	w.String("assistant")
	w.Key("content")
	if len(text) == 0 && calls > 0 {
		w.Null()
	} else {
		w.StringBytes(text)
	}
	if calls > 0 {
		w.Key("tool_calls")
		w.ArrayStart()
		for _, b := range content.Elems() {
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
			w.ObjectEnd()
		}
		w.ArrayEnd()
	}
	w.ObjectEnd()
	return nil
}

func compact(v jsonx.Value) []byte {
	w := jsonx.NewWriter(make([]byte, 0, len(v.Raw())))
	w.Copy(v)
	return w.Bytes()
}

func writeTools(w *jsonx.Writer, tools jsonx.Value) error {
	w.Key("tools")
	w.ArrayStart()
	for i, t := range tools.Elems() {
		name := t.Get("name")
		if !name.IsString() {
			return invalid("tools[%d]: name is required", i)
		}
		if typ := t.Get("type"); typ.Exists() && !typ.Is("custom") {
			return invalid("tools[%d]: server tool %s is not supported", i, typ.Raw())
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
		w.ObjectEnd()
		w.ObjectEnd()
	}
	w.ArrayEnd()
	return nil
}

func writeToolChoice(w *jsonx.Writer, tc jsonx.Value) error {
	if !tc.IsObject() {
		return nil
	}
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
		w.Key("tool_choice")
		w.ObjectStart()
		w.Key("type")
		w.String("function")
		w.Key("function")
		w.ObjectStart()
		w.Key("name")
		w.Value(tc.Get("name"))
		w.ObjectEnd()
		w.ObjectEnd()
	default:
		return invalid("unsupported tool_choice type %s", t.Raw())
	}
	if d, _ := tc.Get("disable_parallel_tool_use").Bool(); d {
		w.Key("parallel_tool_calls")
		w.Bool(false)
	}
	return nil
}

// stopReason maps an OpenAI finish_reason to an Anthropic stop_reason.
func stopReason(fr string) string {
	switch fr {
	case "length":
		return "max_tokens"
	case "tool_calls", "function_call":
		return "tool_use"
	case "content_filter":
		return "refusal"
	}
	return "end_turn"
}

// usage is OpenAI token usage in Anthropic's terms: input_tokens excludes cache reads.
type usage struct {
	input, output, cached int64
	hasCached             bool
}

func readUsage(u jsonx.Value) usage {
	var r usage
	prompt, _ := u.Get("prompt_tokens").Int()
	r.output, _ = u.Get("completion_tokens").Int()
	r.cached, r.hasCached = u.Get("prompt_tokens_details", "cached_tokens").Int()
	r.input = prompt - r.cached
	if r.input < 0 {
		r.input = 0
	}
	return r
}

func (u usage) write(w *jsonx.Writer) {
	w.ObjectStart()
	w.Key("input_tokens")
	w.Int(u.input)
	w.Key("output_tokens")
	w.Int(u.output)
	if u.hasCached {
		w.Key("cache_read_input_tokens")
		w.Int(u.cached)
	}
	w.ObjectEnd()
}

// messageID keeps Anthropic's msg_ prefix that SDKs and logs expect.
func messageID(id string) string {
	if id == "" {
		return "msg_stream" // a stream that ended before its first chunk
	}
	if len(id) >= 4 && id[:4] == "msg_" {
		return id
	}
	return "msg_" + id
}

// FromOpenAI converts an OpenAI chat.completion into an Anthropic message (choice 0).
func FromOpenAI(openaiResp []byte) ([]byte, error) {
	resp, err := jsonx.Parse(openaiResp)
	if err != nil {
		return nil, fmt.Errorf("messagesapi: response is not valid JSON: %w", err)
	}
	var f [5]jsonx.Value
	resp.Fields(f[:], "id", "model", "choices", "usage", "error")
	if f[4].IsObject() {
		return nil, fmt.Errorf("messagesapi: response is an error: %s", f[4].Get("message").Str())
	}
	choice := f[2].Index(0)
	if !choice.IsObject() {
		return nil, fmt.Errorf("messagesapi: response has no choices")
	}
	msg := choice.Get("message")
	w := jsonx.NewWriter(make([]byte, 0, len(openaiResp)+128))
	w.ObjectStart()
	w.Key("id")
	w.String(messageID(f[0].Str()))
	w.Key("type")
	w.String("message")
	w.Key("role")
	w.String("assistant")
	w.Key("model")
	w.Value(f[1])
	w.Key("content")
	w.ArrayStart()
	text := msg.Get("content").AppendStr(nil)
	if len(text) == 0 {
		text = msg.Get("refusal").AppendStr(nil)
	}
	if len(text) > 0 {
		w.ObjectStart()
		w.Key("type")
		w.String("text")
		w.Key("text")
		w.StringBytes(text)
		w.ObjectEnd()
	}
	for _, tc := range msg.Get("tool_calls").Elems() {
		fn := tc.Get("function")
		w.ObjectStart()
		w.Key("type")
		w.String("tool_use")
		w.Key("id")
		w.Value(tc.Get("id"))
		w.Key("name")
		w.Value(fn.Get("name"))
		w.Key("input")
		if in, err := jsonx.Parse([]byte(fn.Get("arguments").Str())); err == nil && in.IsObject() {
			w.Value(in)
		} else {
			w.Raw([]byte("{}"))
		}
		w.ObjectEnd()
	}
	w.ArrayEnd()
	w.Key("stop_reason")
	w.String(stopReason(choice.Get("finish_reason").Str()))
	w.Key("stop_sequence")
	w.Null()
	w.Key("usage")
	readUsage(f[3]).write(w)
	w.ObjectEnd()
	return w.Bytes(), nil
}

// StreamConverter turns one stream of OpenAI chat.completion.chunk objects into Anthropic SSE
// events. It is not safe for concurrent use; make one per stream.
type StreamConverter struct {
	model    string
	id       string
	started  bool
	finished bool
	block    int    // index of the open content block, -1 when none
	kind     string // "text", "thinking" or "tool_use"
	next     int    // index of the next content block
	tools    map[int64]int
	stop     string
	usage    usage
}

// NewStreamConverter starts a converter for a stream answering model.
func NewStreamConverter(model string) *StreamConverter {
	return &StreamConverter{model: model, block: -1}
}

type events [][2]string

func (e *events) add(name string, w *jsonx.Writer) {
	*e = append(*e, [2]string{name, string(w.Bytes())})
}

func (c *StreamConverter) start(ev *events) {
	if c.started {
		return
	}
	c.started = true
	w := jsonx.NewWriter(nil)
	w.ObjectStart()
	w.Key("type")
	w.String("message_start")
	w.Key("message")
	w.ObjectStart()
	w.Key("id")
	w.String(messageID(c.id))
	w.Key("type")
	w.String("message")
	w.Key("role")
	w.String("assistant")
	w.Key("model")
	w.String(c.model)
	w.Key("content")
	w.ArrayStart()
	w.ArrayEnd()
	w.Key("stop_reason")
	w.Null()
	w.Key("stop_sequence")
	w.Null()
	w.Key("usage")
	usage{}.write(w)
	w.ObjectEnd()
	w.ObjectEnd()
	ev.add("message_start", w)
}

func (c *StreamConverter) closeBlock(ev *events) {
	if c.block < 0 {
		return
	}
	w := jsonx.NewWriter(nil)
	w.ObjectStart()
	w.Key("type")
	w.String("content_block_stop")
	w.Key("index")
	w.Int(int64(c.block))
	w.ObjectEnd()
	ev.add("content_block_stop", w)
	c.block, c.kind = -1, ""
}

// openBlock starts a new content block; body writes the content_block object's members.
func (c *StreamConverter) openBlock(ev *events, kind string, body func(w *jsonx.Writer)) {
	c.closeBlock(ev)
	c.block, c.kind = c.next, kind
	c.next++
	w := jsonx.NewWriter(nil)
	w.ObjectStart()
	w.Key("type")
	w.String("content_block_start")
	w.Key("index")
	w.Int(int64(c.block))
	w.Key("content_block")
	w.ObjectStart()
	w.Key("type")
	w.String(kind)
	body(w)
	w.ObjectEnd()
	w.ObjectEnd()
	ev.add("content_block_start", w)
}

func (c *StreamConverter) delta(ev *events, index int, typ, key string, val []byte) {
	w := jsonx.NewWriter(make([]byte, 0, 96+len(val)))
	w.ObjectStart()
	w.Key("type")
	w.String("content_block_delta")
	w.Key("index")
	w.Int(int64(index))
	w.Key("delta")
	w.ObjectStart()
	w.Key("type")
	w.String(typ)
	w.Key(key)
	w.StringBytes(val)
	w.ObjectEnd()
	w.ObjectEnd()
	ev.add("content_block_delta", w)
}

// Chunk converts one chunk and returns the events it produces (each an event name and its data
// JSON). A chunk carrying an OpenAI error is returned as an error.
func (c *StreamConverter) Chunk(openaiChunkJSON []byte) ([][2]string, error) {
	ch, err := jsonx.Parse(openaiChunkJSON)
	if err != nil {
		return nil, fmt.Errorf("messagesapi: chunk is not valid JSON: %w", err)
	}
	var f [4]jsonx.Value
	ch.Fields(f[:], "id", "choices", "usage", "error")
	if f[3].IsObject() {
		return nil, fmt.Errorf("messagesapi: upstream stream error: %s", f[3].Get("message").Str())
	}
	if c.finished {
		return nil, nil
	}
	if c.id == "" {
		c.id = f[0].Str()
	}
	var ev events
	c.start(&ev)
	if f[2].IsObject() {
		c.usage = readUsage(f[2])
	}
	var buf []byte
	for _, choice := range f[1].Elems() {
		if n, _ := choice.Get("index").Int(); n != 0 {
			continue // Anthropic messages have a single choice
		}
		d := choice.Get("delta")
		if r := d.Get("reasoning_content"); r.IsString() && !r.Is("") {
			if c.kind != "thinking" {
				c.openBlock(&ev, "thinking", func(w *jsonx.Writer) { w.Key("thinking"); w.String("") })
			}
			c.delta(&ev, c.block, "thinking_delta", "thinking", r.AppendStr(buf[:0]))
		}
		if t := d.Get("content"); t.IsString() && !t.Is("") {
			if c.kind != "text" {
				c.openBlock(&ev, "text", func(w *jsonx.Writer) { w.Key("text"); w.String("") })
			}
			c.delta(&ev, c.block, "text_delta", "text", t.AppendStr(buf[:0]))
		}
		for _, tc := range d.Get("tool_calls").Elems() {
			idx, _ := tc.Get("index").Int()
			fn := tc.Get("function")
			block, known := c.tools[idx]
			if id := tc.Get("id"); id.IsString() && !known {
				if c.tools == nil {
					c.tools = make(map[int64]int)
				}
				c.openBlock(&ev, "tool_use", func(w *jsonx.Writer) {
					w.Key("id")
					w.Value(id)
					w.Key("name")
					w.String(fn.Get("name").Str())
					w.Key("input")
					w.ObjectStart()
					w.ObjectEnd()
				})
				block, known = c.block, true
				c.tools[idx] = block
			}
			if !known {
				return nil, fmt.Errorf("messagesapi: tool call delta %d before its id", idx)
			}
			if args := fn.Get("arguments"); args.IsString() && !args.Is("") {
				c.delta(&ev, block, "input_json_delta", "partial_json", args.AppendStr(buf[:0]))
			}
		}
		if fr := choice.Get("finish_reason"); fr.IsString() {
			c.stop = stopReason(fr.Str())
		}
	}
	return ev, nil
}

// Finish closes the stream: the open block's content_block_stop, message_delta with the
// stop_reason and usage, and message_stop. Later calls return nothing.
func (c *StreamConverter) Finish() [][2]string {
	if c.finished {
		return nil
	}
	var ev events
	c.start(&ev)
	c.closeBlock(&ev)
	c.finished = true
	stop := c.stop
	if stop == "" {
		stop = "end_turn"
	}
	w := jsonx.NewWriter(nil)
	w.ObjectStart()
	w.Key("type")
	w.String("message_delta")
	w.Key("delta")
	w.ObjectStart()
	w.Key("stop_reason")
	w.String(stop)
	w.Key("stop_sequence")
	w.Null()
	w.ObjectEnd()
	w.Key("usage")
	c.usage.write(w)
	w.ObjectEnd()
	ev.add("message_delta", w)
	ev = append(ev, [2]string{"message_stop", `{"type":"message_stop"}`})
	return ev
}
