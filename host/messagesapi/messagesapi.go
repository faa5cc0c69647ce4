// Package messagesapi is the gateway's inbound Anthropic Messages API (POST /v1/messages) for
// clients built on the Anthropic SDK, on the bridged path (a target that does not speak the
// Messages API): it converts their requests to the OpenAI chat shape the pipeline speaks, and
// OpenAI responses and stream chunks back into Anthropic messages and SSE events. It also
// estimates count_tokens for such targets and writes Anthropic-shaped errors.
//
// It runs natively in the host, not as a wasm plugin: it is the gateway's own front door, applied
// before routing to every request on this endpoint whatever provider serves it, it is
// first-party code that needs no sandbox, and a wasm guest would multiply its JSON cost by ten.
//
// # Request mapping
//
// Nothing is dropped in silence: each field is mapped, refused or, when it is a pure hint, left
// out and listed in Converted.Ignored, which the gateway reports in the x-sluice-ignored
// response header. A malformed request is ToOpenAI's error; a refused construct (well formed,
// but only the Messages API carries it) is Converted.Refusal, which every bridged target
// answers with a 400 invalid_request_error naming it while a native target still takes the
// request whole.
//
//	field                       bridged to chat
//	model, max_tokens           model, max_tokens
//	system (string or blocks)   a system message; text parts when a block has cache_control
//	messages role user          user message; tool_result blocks become tool messages before it
//	messages role assistant     assistant message (content, tool_calls, reasoning_content)
//	messages role system        a system message in place (Claude Code sends one mid-conversation)
//	stop_sequences              stop
//	temperature, top_p          temperature, top_p
//	top_k                       ignored: chat has no top-k sampling
//	metadata.user_id            user
//	thinking enabled            reasoning_effort from budget_tokens (<=2048 low, <=8192 medium, high)
//	thinking disabled/adaptive  no reasoning_effort (the provider's default)
//	output_config.effort        reasoning_effort (xhigh and max become high); wins over thinking
//	output_config.format        response_format json_schema (strict)
//	output_config.task_budget   ignored: advisory
//	tools (custom)              function tools; strict kept; cache_control kept on the tool
//	tools input_examples, defer_loading, eager_input_streaming   ignored: Anthropic-side hints
//	tools (server: web_search, bash, ...)  refused
//	tool_choice auto/any/tool/none  auto/required/{function}/none
//	disable_parallel_tool_use   parallel_tool_calls false
//	stream                      stream, with stream_options.include_usage
//	service_tier                ignored: a capacity hint for Anthropic's tiers
//	context_management          ignored: server-side clearing of old context; the full
//	                            conversation the client sent goes instead
//	mcp_servers, container      refused: only Anthropic's API runs them
//	any other field             refused as unknown
//
// Content blocks:
//
//	text                      text part (cache_control kept on the part)
//	image base64 / url        image_url part (data URI / URL); file sources refused
//	document base64 PDF       file part {filename: title or document.pdf, file_data: data URI}
//	document text / content   text (and image) parts, headed by title and context
//	document url / file       refused: chat file parts take inline data only
//	document citations        ignored: citations are not produced on this path
//	tool_use                  tool_calls entry (cache_control kept on the entry)
//	tool_result               tool message; text joined (text parts when cache_control is set),
//	                          is_error prefixes "Error: ", images go in the following user
//	                          message (chat tool messages take text only)
//	thinking                  reasoning_content, signature in reasoning_signature
//	redacted_thinking         ignored: encrypted for Anthropic alone, unreadable by any other model
//	search_result, container_upload, server_tool_use, *_tool_result, mcp_*  refused
//
// cache_control and reasoning_signature are extensions of the chat shape (reasoning_content is
// the de facto member of several OpenAI-compatible servers): the Anthropic and Bedrock
// translators turn them back into cache breakpoints and thinking blocks, and package provider
// removes the extensions before an OpenAI-compatible upstream (openai.StripChatExtensions).
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
		typ = ErrorType(status)
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

// ErrorType is Anthropic's error type for an HTTP status, as its API reference lists them (400
// invalid_request_error, also used for other 4xx, 401 authentication_error, 403
// permission_error, 404 not_found_error, 413 request_too_large, 429 rate_limit_error, 500
// api_error, 529 overloaded_error). Anthropic itself does not answer 503; an upstream's 503 is
// reported as overloaded_error, the type clients retry the same way.
func ErrorType(status int) string {
	switch status {
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
	case 529, 503:
		return "overloaded_error"
	}
	if status >= 400 && status < 500 {
		return "invalid_request_error"
	}
	return "api_error"
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

// usage is OpenAI token usage in Anthropic's terms: input_tokens excludes cache reads and
// writes, which OpenAI counts inside prompt_tokens (the Anthropic and Bedrock translators add
// them there and report writes in the prompt_tokens_details.cache_creation_tokens extension).
type usage struct {
	input, output, cacheRead, cacheWrite int64
}

func readUsage(u jsonx.Value) usage {
	var r usage
	prompt, _ := u.Get("prompt_tokens").Int()
	r.output, _ = u.Get("completion_tokens").Int()
	d := u.Get("prompt_tokens_details")
	r.cacheRead, _ = d.Get("cached_tokens").Int()
	r.cacheWrite, _ = d.Get("cache_creation_tokens").Int()
	r.cacheRead, r.cacheWrite = max(r.cacheRead, 0), max(r.cacheWrite, 0)
	r.input = max(prompt-r.cacheRead-r.cacheWrite, 0)
	return r
}

func (u usage) write(w *jsonx.Writer) {
	w.ObjectStart()
	w.Key("input_tokens")
	w.Int(u.input)
	w.Key("cache_creation_input_tokens")
	w.Int(u.cacheWrite)
	w.Key("cache_read_input_tokens")
	w.Int(u.cacheRead)
	w.Key("output_tokens")
	w.Int(u.output)
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
	if f[1].IsString() {
		w.Value(f[1])
	} else {
		w.String("")
	}
	w.Key("content")
	w.ArrayStart()
	writeThinkingBlock(w, msg)
	writeTextBlock(w, msg)
	writeToolUseBlocks(w, msg.Get("tool_calls"))
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

// writeThinkingBlock writes the message's reasoning and its signature as a thinking block, if
// it has either. A signature alone is a thinking block too: Gemini may sign a step without a
// thought summary, and the client must send the signature back.
func writeThinkingBlock(w *jsonx.Writer, msg jsonx.Value) {
	r, sig := msg.Get("reasoning_content"), msg.Get("reasoning_signature")
	if !(r.IsString() && !r.Is("") || sig.IsString() && !sig.Is("")) {
		return
	}
	w.ObjectStart()
	w.Key("type")
	w.String("thinking")
	w.Key("thinking")
	if r.IsString() {
		w.Value(r)
	} else {
		w.String("")
	}
	w.Key("signature")
	if sig.IsString() {
		w.Value(sig)
	} else {
		w.String("")
	}
	w.ObjectEnd()
}

// writeTextBlock writes the message's content, or its refusal when it has no content, as a
// text block, if there is any text.
func writeTextBlock(w *jsonx.Writer, msg jsonx.Value) {
	text := msg.Get("content").AppendStr(nil)
	if len(text) == 0 {
		text = msg.Get("refusal").AppendStr(nil)
	}
	if len(text) == 0 {
		return
	}
	w.ObjectStart()
	w.Key("type")
	w.String("text")
	w.Key("text")
	w.StringBytes(text)
	w.ObjectEnd()
}

// writeToolUseBlocks writes each tool call as a tool_use block; arguments that are not a JSON
// object become an empty input.
func writeToolUseBlocks(w *jsonx.Writer, calls jsonx.Value) {
	for _, tc := range calls.Elems() {
		fn := tc.Get("function")
		w.ObjectStart()
		w.Key("type")
		w.String("tool_use")
		w.Key("id")
		w.String(tc.Get("id").Str())
		w.Key("name")
		w.String(fn.Get("name").Str())
		w.Key("input")
		if in, err := jsonx.Parse([]byte(fn.Get("arguments").Str())); err == nil && in.IsObject() {
			w.Value(in)
		} else {
			w.Raw([]byte("{}"))
		}
		w.ObjectEnd()
	}
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
				c.openBlock(&ev, "thinking", thinkingStart)
			}
			c.delta(&ev, c.block, "thinking_delta", "thinking", r.AppendStr(buf[:0]))
		}
		if s := d.Get("reasoning_signature"); s.IsString() && !s.Is("") {
			if c.kind != "thinking" {
				c.openBlock(&ev, "thinking", thinkingStart)
			}
			c.delta(&ev, c.block, "signature_delta", "signature", s.AppendStr(buf[:0]))
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
					w.String(id.Str())
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

// thinkingStart writes a thinking block's opening members, as Anthropic streams them: empty
// thinking and signature, filled by thinking_delta and signature_delta.
func thinkingStart(w *jsonx.Writer) {
	w.Key("thinking")
	w.String("")
	w.Key("signature")
	w.String("")
}
