// Package responsesapi owns conversion between the OpenAI Responses API (POST /v1/responses)
// and chat completions, for the bridged path: a Responses request becomes a chat.completions
// body the pipeline and its translators already speak, and the chat completion or its chunks
// become a Responses response object or its stream of events.
//
// Parse only checks what every path needs (the body's shape, the fields the gateway reads), so
// the native path can pass the body on whole; ToChat refuses, naming the field, whatever the
// bridge cannot express, and never drops a field in silence. Two chat extension members carry
// reasoning across turns for the translators: reasoning_content (the summary text) and
// reasoning_signature (the reasoning item's encrypted_content, opaque).
//
// Differences from OpenAI's own service, all deliberate: a function tool without "strict" is
// passed on without it (OpenAI would make its schema strict, which other providers cannot do);
// developer messages become system messages (not every chat server knows the developer role);
// stream_options.include_obfuscation is accepted but no obfuscation padding is sent.
//
// Like host/messagesapi it runs natively in the host with sdk/jsonx: it is the gateway's own
// front door, applied before routing.
package responsesapi

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"

	"github.com/sluice-gw/sluice/host/openai"
	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// Request is a parsed Responses API request.
type Request struct {
	Model              string
	Stream             bool
	Store              bool // default true, as OpenAI
	PreviousResponseID string
	Background         bool
	Instructions       string
	Metadata           []byte   // raw JSON object or nil
	Input              [][]byte // input normalized to items (a string input becomes one user message item)
	// BuiltinTools are the types of the tools the bridge cannot run (web_search,
	// file_search, computer_use_preview, code_interpreter, mcp, image_generation, local_shell,
	// custom, ...), in order; the gateway refuses them for targets that cannot run them.
	BuiltinTools []string
	// Ignored are members the bridge does not send on because they only inform OpenAI's own
	// bookkeeping (client_metadata) or have nothing to act on here (max_tool_calls, truncation
	// "auto", stream_options.include_obfuscation); the gateway names them in x-sluice-ignored.
	Ignored []string
	Raw     []byte // the body as received

	// namespaces are the names of the namespace tools: their functions travel as chat
	// functions named namespace + NamespaceSep + name, and calls to them come back split.
	namespaces map[string]bool

	builtinAt []int         // index in tools of each BuiltinTools entry
	items     []jsonx.Value // Input, parsed
	tape      *jsonx.Tape   // makes every later walk of Raw skip values without rescanning them
	hasInstr  bool
	f         fields
}

// fields are the members of the body the bridge reads, views into Raw.
type fields struct {
	tools, toolChoice, parallel, text, reasoning, maxOutput, maxToolCalls, temperature, topP,
	topLogprobs, user, safetyID, promptCacheKey, promptCacheRetention, serviceTier, include,
	truncation, streamOptions jsonx.Value
	// unknown is the first member the bridge does not know; refused is the first it knows and
	// refuses (conversation, prompt).
	unknown, refused string
}

// Error is a client error: Status 400 (or 404), Param names the offending field
// ("input[2].content[0].type").
type Error struct {
	Status               int
	Param, Code, Message string
}

func (e *Error) Error() string {
	if e.Param != "" {
		return "responsesapi: " + e.Param + ": " + e.Message
	}
	return "responsesapi: " + e.Message
}

// Body returns the OpenAI error body {"error":{"message","type","param","code"}}.
func (e *Error) Body() []byte {
	w := jsonx.NewWriter(make([]byte, 0, 96+len(e.Message)))
	w.ObjectStart()
	w.Key("error")
	w.ObjectStart()
	w.Key("message")
	w.String(e.Message)
	w.Key("type")
	w.String("invalid_request_error")
	w.Key("param")
	if e.Param == "" {
		w.Null()
	} else {
		w.String(e.Param)
	}
	w.Key("code")
	if e.Code == "" {
		w.Null()
	} else {
		w.String(e.Code)
	}
	w.ObjectEnd()
	w.ObjectEnd()
	return w.Bytes()
}

// PreviousNotFound is the error for a previous_response_id the store does not hold, in
// OpenAI's words.
func PreviousNotFound(id string) *Error {
	return &Error{Status: 404, Param: "previous_response_id", Code: openai.CodePreviousResponseNotFnd,
		Message: fmt.Sprintf("Previous response with id '%s' not found.", id)}
}

func bad(param, code, format string, args ...any) *Error {
	return &Error{Status: 400, Param: param, Code: code, Message: fmt.Sprintf(format, args...)}
}

func invalidType(param, want string) *Error {
	return bad(param, openai.CodeInvalidType, "Invalid type for '%s': expected %s.", param, want)
}

func unsupported(param, format string, args ...any) *Error {
	return bad(param, openai.CodeUnsupportedParameter, format, args...)
}

// Parse validates the shape of a Responses request and extracts what the gateway needs. It
// returns an *Error for client mistakes. It refuses nothing a native upstream could serve:
// ToChat does that for the bridged path. Input items alias body.
func Parse(body []byte) (*Request, error) {
	r := &Request{Raw: body, Store: true, tape: tapes.Get().(*jsonx.Tape)}
	// Nesting is bounded by jsonx (encoding/json's limit), and nothing here recurses.
	root, err := jsonx.ParseTape(body, r.tape)
	if err != nil {
		r.Release()
		return nil, &Error{Status: 400, Code: openai.CodeInvalidJSON,
			Message: "We could not parse the JSON body of your request: " + err.Error()}
	}
	if !root.IsObject() {
		return nil, &Error{Status: 400, Code: openai.CodeInvalidJSON, Message: "The request body must be a JSON object."}
	}
	var input jsonx.Value
	for k, v := range root.Members() {
		if err := r.member(k, v, &input); err != nil {
			return nil, err
		}
	}
	if r.Model == "" {
		return nil, bad("model", openai.CodeMissingRequiredParameter, "Missing required parameter: 'model'.")
	}
	if err := r.setInput(input); err != nil {
		return nil, err
	}
	return r, nil
}

// member reads one top-level member of the request; the input is kept for setInput.
func (r *Request) member(k, v jsonx.Value, input *jsonx.Value) error {
	// Comparing the key's bytes does not allocate; an escaped key is unknown, then named.
	kr := k.Raw()
	name := kr[1 : len(kr)-1]
	if r.keepOption(name, v) {
		return nil
	}
	return r.readMember(k, name, v, input)
}

// keepOption keeps a member that is passed on to the chat body or echoed in the response
// (written by writeOptions and writeResponse), noting in Ignored the settings that have no
// effect here. It reports whether name was one of them.
func (r *Request) keepOption(name []byte, v jsonx.Value) bool {
	f := &r.f
	switch string(name) {
	case "tool_choice":
		f.toolChoice = v
	case "parallel_tool_calls":
		f.parallel = v
	case "text":
		f.text = v
	case "reasoning":
		f.reasoning = v
	case "max_output_tokens":
		f.maxOutput = v
	case "max_tool_calls":
		f.maxToolCalls = v
		if !v.IsNull() {
			r.Ignored = append(r.Ignored, "max_tool_calls") // it limits built-in tools, which are refused
		}
	case "temperature":
		f.temperature = v
	case "top_p":
		f.topP = v
	case "top_logprobs":
		f.topLogprobs = v
	case "user":
		f.user = v
	case "safety_identifier":
		f.safetyID = v
	case "prompt_cache_key":
		f.promptCacheKey = v
	case "prompt_cache_retention":
		f.promptCacheRetention = v
	case "service_tier":
		f.serviceTier = v
	case "include":
		f.include = v
	case "truncation":
		f.truncation = v
		if v.Is("auto") {
			r.Ignored = append(r.Ignored, "truncation") // the conversation is sent whole
		}
	case "stream_options":
		f.streamOptions = v
		if b, _ := v.Get("include_obfuscation").Bool(); b {
			r.Ignored = append(r.Ignored, "stream_options.include_obfuscation") // no padding is sent
		}
	default:
		return false
	}
	return true
}

// readMember reads a member the gateway acts on itself (model, input, instructions, the
// stream/store/background switches, the state and metadata members, tools), checking its
// type, and records the first refused or unknown member.
func (r *Request) readMember(k jsonx.Value, name []byte, v jsonx.Value, input *jsonx.Value) error {
	f := &r.f
	switch string(name) {
	case "model":
		if !v.IsString() {
			return invalidType("model", "a string")
		}
		r.Model = v.Str()
	case "input":
		*input = v
	case "instructions":
		switch v.Kind() {
		case jsonx.Null:
		case jsonx.String:
			r.Instructions, r.hasInstr = v.Str(), true
		default:
			return invalidType("instructions", "a string")
		}
	case "stream", "store", "background":
		return r.readSwitch(k, name, v)
	case "previous_response_id":
		if !v.IsString() && !v.IsNull() {
			return invalidType("previous_response_id", "a string")
		}
		r.PreviousResponseID = v.Str()
	case "metadata":
		return r.readMetadata(v)
	case "tools":
		if err := r.parseTools(v); err != nil {
			return err
		}
		f.tools = v
	case "client_metadata":
		if !v.IsObject() && !v.IsNull() {
			return invalidType("client_metadata", "an object")
		}
		if v.IsObject() {
			r.Ignored = append(r.Ignored, "client_metadata")
		}
	case "conversation", "prompt":
		if !v.IsNull() && f.refused == "" {
			f.refused = k.Str()
		}
	default:
		if f.unknown == "" {
			f.unknown = k.Str()
		}
	}
	return nil
}

// readSwitch reads the boolean stream, store or background; null leaves it at its default
// (store's is true).
func (r *Request) readSwitch(k jsonx.Value, name []byte, v jsonx.Value) error {
	b, ok := v.Bool()
	if !ok && !v.IsNull() {
		return invalidType(k.Str(), "a boolean")
	}
	switch string(name) {
	case "stream":
		r.Stream = b
	case "store":
		r.Store = b || !ok
	default:
		r.Background = b
	}
	return nil
}

// readMetadata keeps the metadata object, whose values must all be strings.
func (r *Request) readMetadata(v jsonx.Value) error {
	if v.IsObject() {
		for mk, mv := range v.Members() {
			if !mv.IsString() {
				return invalidType("metadata."+mk.Str(), "a string")
			}
		}
		r.Metadata = v.Raw()
	} else if !v.IsNull() {
		return invalidType("metadata", "an object")
	}
	return nil
}

// setInput reads the input: a string is one user message, an array its items.
func (r *Request) setInput(input jsonx.Value) error {
	switch input.Kind() {
	case jsonx.Invalid, jsonx.Null:
	case jsonx.String:
		item := userText(input)
		v, _ := jsonx.Parse(item)
		r.Input, r.items = [][]byte{item}, []jsonx.Value{v}
	case jsonx.Array:
		n := input.Len()
		r.Input, r.items = make([][]byte, 0, n), make([]jsonx.Value, 0, n)
		for i, it := range input.Elems() {
			if err := checkItem(it, i); err != nil {
				return err
			}
			r.Input, r.items = append(r.Input, it.Raw()), append(r.items, it)
		}
	default:
		return invalidType("input", "a string or an array of input items")
	}
	return nil
}

// tapes are parse tables for reuse: a table takes 5 bytes per byte of body, so a 7 KB agent
// turn would otherwise allocate one 40 KB object per request.
var tapes = sync.Pool{New: func() any { return new(jsonx.Tape) }}

// maxPooledBody bounds the bodies whose tables are pooled (a table keeps the size of the
// largest body it served).
const maxPooledBody = 256 << 10

// Release hands the request's parse table back for a later Parse to reuse. Call it once, when
// nothing reads the request any more (its fields, Input, and the Meta and converters holding
// it): a request used after Release reads wrong values of its own body. Not calling it is
// safe; the table is then collected with the request.
func (r *Request) Release() {
	t := r.tape
	if t == nil {
		return
	}
	r.tape = nil
	if len(r.Raw) <= maxPooledBody {
		tapes.Put(t)
	}
}

// userText is the item a string input stands for.
func userText(s jsonx.Value) []byte {
	w := jsonx.NewWriter(make([]byte, 0, len(s.Raw())+64))
	w.Fragment(`{"type":"message","role":"user","content":[{"type":"input_text","text":`)
	w.Value(s)
	w.Fragment(`}]}`)
	return w.Bytes()
}

// checkItem checks what any path relies on: an object with a type (or a role, for the short
// message form) and, for messages, a role and content of the right kinds.
func checkItem(it jsonx.Value, i int) error {
	if !it.IsObject() {
		return invalidType(ip(i, ""), "an object")
	}
	var f [3]jsonx.Value
	it.Fields(f[:], "type", "role", "content")
	typ, role, content := f[0], f[1], f[2]
	if typ.Exists() && !typ.IsString() {
		return invalidType(ip(i, ".type"), "a string")
	}
	if !typ.Exists() && !role.Exists() {
		return bad(ip(i, ".type"), "missing_required_parameter", "Missing required parameter: '%s'.", ip(i, ".type"))
	}
	if typ.Exists() && !typ.Is("message") {
		return nil
	}
	if !role.Is("user") && !role.Is("assistant") && !role.Is("system") && !role.Is("developer") {
		return bad(ip(i, ".role"), "invalid_value",
			"Invalid value for '%s': expected one of 'user', 'assistant', 'system' or 'developer'.", ip(i, ".role"))
	}
	switch content.Kind() {
	case jsonx.String:
	case jsonx.Array:
		for j, p := range content.Elems() {
			if !p.IsObject() || !p.Get("type").IsString() {
				return invalidType(ip(i, fmt.Sprintf(".content[%d].type", j)), "a string")
			}
		}
	default:
		return invalidType(ip(i, ".content"), "a string or an array of content parts")
	}
	return nil
}

// ip names a member of input item i; built only for errors.
func ip(i int, suffix string) string { return fmt.Sprintf("input[%d]%s", i, suffix) }

func (r *Request) parseTools(v jsonx.Value) error {
	if v.IsNull() {
		return nil
	}
	if !v.IsArray() {
		return invalidType("tools", "an array")
	}
	for i, t := range v.Elems() {
		typ := t.Get("type")
		if !t.IsObject() || !typ.IsString() {
			return invalidType(fmt.Sprintf("tools[%d].type", i), "a string")
		}
		if typ.Is("function") {
			if !t.Get("name").IsString() {
				return bad(fmt.Sprintf("tools[%d].name", i), "missing_required_parameter",
					"Missing required parameter: 'tools[%d].name'.", i)
			}
			continue
		}
		if typ.Is("namespace") {
			name := t.Get("name")
			if !name.IsString() || name.Is("") {
				return bad(fmt.Sprintf("tools[%d].name", i), "missing_required_parameter",
					"Missing required parameter: 'tools[%d].name'.", i)
			}
			inner := t.Get("tools")
			if !inner.IsArray() {
				return invalidType(fmt.Sprintf("tools[%d].tools", i), "an array")
			}
			for j, ft := range inner.Elems() {
				if !ft.Get("type").Is("function") || !ft.Get("name").IsString() {
					return invalidType(fmt.Sprintf("tools[%d].tools[%d]", i, j), "a function tool with a name")
				}
			}
			if r.namespaces == nil {
				r.namespaces = map[string]bool{}
			}
			r.namespaces[name.Str()] = true
			continue
		}
		r.BuiltinTools = append(r.BuiltinTools, typ.Str())
		r.builtinAt = append(r.builtinAt, i)
	}
	return nil
}

// NewID returns a fresh id: prefix, an underscore and 48 hex digits from crypto/rand
// ("resp_…", "msg_…", "fc_…", "rs_…"). prefix may end with the underscore or not.
func NewID(prefix string) string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	if !strings.HasSuffix(prefix, "_") {
		prefix += "_"
	}
	return prefix + hex.EncodeToString(b[:])
}

// Usage reads token usage from a Responses response object, or from an event wrapping one
// (response.completed and its kin), as the native path receives them; ok is false when there
// is none.
func Usage(resp []byte) (input, output, cached, reasoning int64, ok bool) {
	v, err := jsonx.Parse(resp)
	if err != nil {
		return 0, 0, 0, 0, false
	}
	u := v.Get("usage")
	if !u.IsObject() {
		u = v.Get("response", "usage")
	}
	if !u.IsObject() {
		return 0, 0, 0, 0, false
	}
	var f [4]jsonx.Value
	u.Fields(f[:], "input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details")
	input, ok1 := f[0].Int()
	output, ok2 := f[1].Int()
	if !ok1 && !ok2 {
		return 0, 0, 0, 0, false
	}
	cached, _ = f[2].Get("cached_tokens").Int()
	reasoning, _ = f[3].Get("reasoning_tokens").Int()
	return input, output, cached, reasoning, true
}
