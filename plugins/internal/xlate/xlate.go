// Package xlate holds what the first-party provider translators share: reading the
// translate_request / translate_response / translate_chunk envelopes (ABI v1), writing OpenAI
// chat.completion chunks, usage and error objects, provider option lookups and data-URI parsing.
// It uses jsonx on every path because the translators run inside wasm guests, where
// encoding/json would spend most of the per-request budget.
package xlate

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/sluice-gw/sluice/sdk"
	"github.com/sluice-gw/sluice/sdk/abi"
	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// Head holds the members every translate_* envelope shares.
type Head struct {
	Endpoint  string
	Model     string
	RequestID string
	Now       int64
}

// read takes one envelope member if it is a shared one.
func (h *Head) read(k, v jsonx.Value) bool {
	switch {
	case k.Is("endpoint"):
		h.Endpoint = v.Str()
	case k.Is("model"):
		h.Model = v.Str()
	case k.Is("request_id"):
		h.RequestID = v.Str()
	case k.Is("now"):
		h.Now, _ = v.Int()
	default:
		return false
	}
	return true
}

// Request is a parsed translate_request envelope. Values alias the input buffer.
type Request struct {
	Head
	Stream   bool
	Provider string
	Options  jsonx.Value
	Body     jsonx.Value
}

// Response is a parsed translate_response envelope.
type Response struct {
	Head
	Status int
	Body   jsonx.Value
}

// ChunkInput is a parsed translate_chunk envelope.
type ChunkInput struct {
	Head
	State  jsonx.Value
	Events jsonx.Value
}

// BadRequest is a 400 invalid_request_error with the given code.
func BadRequest(code, format string, args ...any) *sdk.Error {
	return sdk.Errorf(400, code, format, args...)
}

func parseEnvelope(in []byte, hook string) (jsonx.Value, error) {
	// The tape makes every later walk of the envelope (the messages array is read several
	// times) step over nested values by lookup instead of re-scanning them.
	v, err := jsonx.ParseTape(in, tape())
	if err != nil {
		return v, sdk.Errorf(400, "invalid_hook_input", "%s: envelope: %v", hook, err)
	}
	if !v.IsObject() {
		return v, sdk.Errorf(400, "invalid_hook_input", "%s: envelope is not an object", hook)
	}
	return v, nil
}

// ParseRequest reads a translate_request envelope and rejects endpoints other than
// chat.completions with 400 unsupported_endpoint.
func ParseRequest(in []byte) (Request, error) {
	env, err := parseEnvelope(in, "translate_request")
	if err != nil {
		return Request{}, err
	}
	var r Request
	for k, v := range env.Members() {
		switch {
		case r.Head.read(k, v):
		case k.Is("stream"):
			r.Stream, _ = v.Bool()
		case k.Is("provider"):
			r.Provider = v.Get("name").Str()
			r.Options = v.Get("options")
		case k.Is("body"):
			r.Body = v
		}
	}
	if r.Endpoint != "" && r.Endpoint != "chat.completions" {
		return r, BadRequest("unsupported_endpoint", "endpoint %q is not supported by this provider", r.Endpoint)
	}
	if !r.Body.IsObject() {
		return r, BadRequest("invalid_request", "request body must be a JSON object")
	}
	return r, nil
}

// ParseResponse reads a translate_response envelope.
func ParseResponse(in []byte) (Response, error) {
	env, err := parseEnvelope(in, "translate_response")
	if err != nil {
		return Response{}, err
	}
	r := Response{Status: 200}
	for k, v := range env.Members() {
		switch {
		case r.Head.read(k, v):
		case k.Is("status"):
			if n, ok := v.Int(); ok {
				r.Status = int(n)
			}
		case k.Is("body"):
			r.Body = v
		}
	}
	return r, nil
}

// ParseChunkInput reads a translate_chunk envelope.
func ParseChunkInput(in []byte) (ChunkInput, error) {
	env, err := parseEnvelope(in, "translate_chunk")
	if err != nil {
		return ChunkInput{}, err
	}
	var c ChunkInput
	for k, v := range env.Members() {
		switch {
		case c.Head.read(k, v):
		case k.Is("state"):
			c.State = v
		case k.Is("events"):
			c.Events = v
		}
	}
	return c, nil
}

// OptString returns a string provider option, or def when absent or not a string.
func OptString(opts jsonx.Value, key, def string) string {
	if v := opts.Get(key); v.IsString() {
		return v.Str()
	}
	return def
}

// OptInt returns an integer provider option, or def when absent or not an integer.
func OptInt(opts jsonx.Value, key string, def int64) int64 {
	if n, ok := opts.Get(key).Int(); ok {
		return n
	}
	return def
}

// DataURI is a decoded `data:<media type>;base64,<data>` URL.
type DataURI struct {
	MediaType string
	Data      string // still base64, as providers want it
}

// ParseDataURI parses a base64 data URI; ok is false for anything else (including non-base64
// data URIs, which no provider accepts). The payload is checked to be valid base64.
func ParseDataURI(u string) (DataURI, bool) {
	rest, ok := strings.CutPrefix(u, "data:")
	if !ok {
		return DataURI{}, false
	}
	meta, data, ok := strings.Cut(rest, ",")
	if !ok {
		return DataURI{}, false
	}
	mt, isB64 := strings.CutSuffix(meta, ";base64")
	if !isB64 || mt == "" {
		return DataURI{}, false
	}
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i] // drop parameters such as charset
	}
	if base64.StdEncoding.DecodedLen(len(data)) == 0 || !validBase64(data) {
		return DataURI{}, false
	}
	return DataURI{MediaType: strings.ToLower(mt), Data: data}, true
}

func validBase64(s string) bool {
	if len(s)%4 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
		case c == '=' && i >= len(s)-2:
		default:
			return false
		}
	}
	return true
}

// ContentText concatenates the text of an OpenAI message content: a string, or an array of parts
// whose "text" parts are joined (other part types are ignored). ok is false for other shapes.
func ContentText(dst []byte, content jsonx.Value) ([]byte, bool) {
	switch content.Kind() {
	case jsonx.String:
		return content.AppendStr(dst), true
	case jsonx.Null, jsonx.Invalid:
		return dst, true
	case jsonx.Array:
		for _, p := range content.Elems() {
			if t := p.Get("type"); t.Is("text") || t.Is("refusal") {
				key := "text"
				if t.Is("refusal") {
					key = "refusal"
				}
				dst = p.Get(key).AppendStr(dst)
			}
		}
		return dst, true
	}
	return dst, false
}

// ContentRaw is ContentText with the text left JSON-escaped as it is in the document (see
// jsonx.Value.AppendRawStr): write the result with Writer.StringRaw. It skips decoding and
// re-escaping, the largest cost of copying text inside a wasm guest.
func ContentRaw(dst []byte, content jsonx.Value) ([]byte, bool) {
	switch content.Kind() {
	case jsonx.String:
		return content.AppendRawStr(dst), true
	case jsonx.Null, jsonx.Invalid:
		return dst, true
	case jsonx.Array:
		var f [3]jsonx.Value
		for _, p := range content.Elems() {
			p.Fields(f[:], "type", "text", "refusal")
			switch {
			case f[0].Is("text"):
				dst = f[1].AppendRawStr(dst)
			case f[0].Is("refusal"):
				dst = f[2].AppendRawStr(dst)
			}
		}
		return dst, true
	}
	return dst, false
}

// ErrorType maps an HTTP status to the OpenAI error type clients expect for it: abi.ErrorType,
// the table the host uses too.
func ErrorType(status int) string { return abi.ErrorType(status) }

// WriteError writes an OpenAI error object {"message","type","code"} (the inner object).
func WriteError(w *jsonx.Writer, message, typ, code string) {
	w.ObjectStart()
	w.Key("message")
	w.String(message)
	w.Key("type")
	w.String(typ)
	w.Key("code")
	if code == "" {
		w.Null()
	} else {
		w.String(code)
	}
	w.ObjectEnd()
}

// ErrorResponse is the translate_response output for a provider error: the OpenAI error body
// under the provider's status.
func ErrorResponse(status int, message, typ, code string) []byte {
	w := jsonx.NewWriter(make([]byte, 0, 128+len(message)))
	w.ObjectStart()
	w.Key("status")
	w.Int(int64(status))
	w.Key("body")
	w.ObjectStart()
	w.Key("error")
	WriteError(w, message, typ, code)
	w.ObjectEnd()
	w.ObjectEnd()
	return w.Bytes()
}

// ErrorMessageFromBody returns something readable from a provider error body that is not in the
// provider's error shape: a JSON string as is, anything else as its (truncated) JSON text.
func ErrorMessageFromBody(body jsonx.Value, status int) string {
	if body.IsString() {
		if s := body.Str(); s != "" {
			return truncate(s)
		}
	}
	if body.Exists() && !body.IsNull() {
		return truncate(body.String())
	}
	return "upstream returned HTTP " + strconv.Itoa(status)
}

func truncate(s string) string {
	const max = 1024
	if len(s) > max {
		return s[:max]
	}
	return s
}

// Usage is token accounting in OpenAI's terms.
type Usage struct {
	Prompt, Completion int64
	Cached             int64 // prompt tokens served from a cache
	// CacheWrite is prompt tokens written to the provider's prompt cache, reported in the
	// prompt_tokens_details.cache_creation_tokens extension (OpenAI has no such member; the
	// gateway prices these writes, and the Messages API endpoint reports them).
	CacheWrite    int64
	Reasoning     int64 // completion tokens spent on reasoning
	HasCached     bool
	HasCacheWrite bool
	HasReasoning  bool
}

// Write writes the OpenAI usage object.
func (u Usage) Write(w *jsonx.Writer) {
	w.ObjectStart()
	w.Key("prompt_tokens")
	w.Int(u.Prompt)
	w.Key("completion_tokens")
	w.Int(u.Completion)
	w.Key("total_tokens")
	w.Int(u.Prompt + u.Completion)
	if u.HasCached || u.HasCacheWrite {
		w.Key("prompt_tokens_details")
		w.ObjectStart()
		w.Key("cached_tokens")
		w.Int(u.Cached)
		if u.HasCacheWrite {
			w.Key("cache_creation_tokens")
			w.Int(u.CacheWrite)
		}
		w.ObjectEnd()
	}
	if u.HasReasoning {
		w.Key("completion_tokens_details")
		w.ObjectStart()
		w.Key("reasoning_tokens")
		w.Int(u.Reasoning)
		w.ObjectEnd()
	}
	w.ObjectEnd()
}

// Chunk writes OpenAI chat.completion.chunk objects for one stream.
type Chunk struct {
	ID      string
	Model   string
	Created int64
	Index   int64 // choice index (n > 1)
}

// Begin writes the chunk header and opens choices[0] and its delta object; the caller writes
// delta members and then calls End.
func (c Chunk) Begin(w *jsonx.Writer) {
	c.header(w)
	w.Fragment(`[{"index":`)
	w.Int(c.Index)
	w.Fragment(`,"delta":{`)
}

// End closes the delta, writes finish_reason (null when empty) and closes the chunk.
func (c Chunk) End(w *jsonx.Writer, finish string) {
	if finish == "" {
		w.Fragment(`},"logprobs":null,"finish_reason":null}]}`)
		return
	}
	w.Fragment(`},"logprobs":null,"finish_reason":`)
	w.String(finish)
	w.Fragment(`}]}`)
}

// UsageChunk writes the final chunk with empty choices and the usage, as OpenAI does with
// stream_options.include_usage.
func (c Chunk) UsageChunk(w *jsonx.Writer, u Usage) {
	c.header(w)
	w.Fragment(`[],"usage":`)
	u.Write(w)
	w.ObjectEnd()
}

// header writes the members before choices' value; the constant parts are fragments, as
// every stream event writes them.
func (c Chunk) header(w *jsonx.Writer) {
	w.Fragment(`{"id":`)
	w.String(c.ID)
	w.Fragment(`,"object":"chat.completion.chunk","created":`)
	w.Int(c.Created)
	w.Fragment(`,"model":`)
	w.String(c.Model)
	w.Fragment(`,"choices":`)
}

// TextDelta writes a whole chunk whose delta has one string member (content, reasoning_content).
func (c Chunk) TextDelta(w *jsonx.Writer, key string, text []byte) {
	c.Begin(w)
	w.Key(key)
	w.StringBytes(text)
	c.End(w, "")
}

// TextDeltaRaw is TextDelta for text still JSON-escaped (jsonx.Value.AppendRawStr).
func (c Chunk) TextDeltaRaw(w *jsonx.Writer, key string, escaped []byte) {
	c.Begin(w)
	w.Key(key)
	w.StringRaw(escaped)
	c.End(w, "")
}

// ToolCallDelta writes a chunk with one tool_calls delta entry; id and name are written only on
// the first delta of a call (non-empty id).
func (c Chunk) ToolCallDelta(w *jsonx.Writer, index int64, id, name string, args []byte) {
	c.Begin(w)
	w.Key("tool_calls")
	w.ArrayStart()
	w.ObjectStart()
	w.Key("index")
	w.Int(index)
	if id != "" {
		w.Key("id")
		w.String(id)
		w.Key("type")
		w.String("function")
	}
	w.Key("function")
	w.ObjectStart()
	if id != "" {
		w.Key("name")
		w.String(name)
	}
	w.Key("arguments")
	w.StringBytes(args)
	w.ObjectEnd()
	w.ObjectEnd()
	w.ArrayEnd()
	c.End(w, "")
}

// StreamOut assembles a translate_chunk output: chunks are written to W between NewStreamOut
// and Close.
type StreamOut struct {
	W *jsonx.Writer
	// Done is set when the stream has ended; the translator reads no further events.
	Done                     bool
	errMsg, errType, errCode string
}

// NewStreamOut starts the output (in the SlotOut buffer) and opens the chunks array.
func NewStreamOut(sizeHint int) StreamOut {
	w := jsonx.NewWriter(Scratch(SlotOut, sizeHint))
	w.Fragment(`{"chunks":[`)
	return StreamOut{W: w}
}

// OpenStream reads a translate_chunk envelope and starts its output, sized for the events.
func OpenStream(in []byte) (ChunkInput, StreamOut, error) {
	ci, err := ParseChunkInput(in)
	if err != nil {
		return ci, StreamOut{}, err
	}
	return ci, NewStreamOut(256 + len(ci.Events.Raw())*2), nil
}

// Fail ends the stream with an error.
func (o *StreamOut) Fail(msg, typ, code string) {
	o.errMsg, o.errType, o.errCode = msg, typ, code
	o.Done = true
}

// Incomplete ends the stream with a stream_incomplete error: the upstream closed before the
// stream's end.
func (o *StreamOut) Incomplete(msg string) { o.Fail(msg, "api_error", "stream_incomplete") }

// BadEvent ends the stream with a bad_upstream_response error: an event that cannot be
// translated.
func (o *StreamOut) BadEvent(msg string) { o.Fail(msg, "api_error", "bad_upstream_response") }

// EndAtClose ends the stream at the host's end marker, for providers whose usage may still be
// due then: with the usage chunk when the stream's finish reason was seen, else as incomplete
// with msg.
func (o *StreamOut) EndAtClose(ch Chunk, finish string, u Usage, msg string) {
	if finish == "" {
		o.Incomplete(msg)
		return
	}
	ch.UsageChunk(o.W, u)
	o.Done = true
}

// Close ends the chunks array and writes state (raw JSON), done and error (null unless Fail
// was called).
func (o *StreamOut) Close(state []byte) []byte {
	w := o.W
	w.ArrayEnd()
	w.Key("state")
	w.Raw(state)
	w.Key("done")
	w.Bool(o.Done)
	w.Key("error")
	if o.errMsg == "" {
		w.Null()
	} else {
		WriteError(w, o.errMsg, o.errType, o.errCode)
	}
	w.ObjectEnd()
	Keep(SlotOut, w.Bytes())
	return w.Bytes()
}

// UpstreamError is a 502 for a provider answer that cannot be translated.
func UpstreamError(format string, args ...any) *sdk.Error {
	return sdk.Errorf(502, "bad_upstream_response", format, args...)
}

// ToolArgs parses an OpenAI tool call's arguments string into a JSON object value ("" is {}).
func ToolArgs(args jsonx.Value) (jsonx.Value, bool) {
	s := args.Str()
	if s == "" {
		v, _ := jsonx.Parse([]byte("{}"))
		return v, true
	}
	v, err := jsonx.Parse([]byte(s))
	if err != nil || !v.IsObject() {
		return jsonx.Value{}, false
	}
	return v, true
}

// Chat holds the members of an OpenAI chat request body that translators read, found in one
// pass over the body: each Get on the body walks it from the start, skipping the messages.
type Chat struct {
	Messages, Tools, ToolChoice, Stop, N, ResponseFormat       jsonx.Value
	Temperature, TopP, PresencePenalty, FrequencyPenalty, Seed jsonx.Value
	MaxTokensField, MaxCompletionTokens                        jsonx.Value
	User, ReasoningEffort, ParallelToolCalls                   jsonx.Value
}

// ReadChat reads the members of Chat from body.
func ReadChat(body jsonx.Value) Chat {
	var f [16]jsonx.Value
	body.Fields(f[:], "messages", "tools", "tool_choice", "stop", "n", "response_format",
		"temperature", "top_p", "presence_penalty", "frequency_penalty", "seed",
		"max_tokens", "max_completion_tokens", "user", "reasoning_effort", "parallel_tool_calls")
	return Chat{Messages: f[0], Tools: f[1], ToolChoice: f[2], Stop: f[3], N: f[4], ResponseFormat: f[5],
		Temperature: f[6], TopP: f[7], PresencePenalty: f[8], FrequencyPenalty: f[9], Seed: f[10],
		MaxTokensField: f[11], MaxCompletionTokens: f[12],
		User: f[13], ReasoningEffort: f[14], ParallelToolCalls: f[15]}
}

// MaxTokens is max_completion_tokens, or else max_tokens; ok is false when neither is set.
func (c Chat) MaxTokens() (int64, bool) {
	if n, ok := c.MaxCompletionTokens.Int(); ok {
		return n, true
	}
	return c.MaxTokensField.Int()
}
