package xlate

import "github.com/sluice-gw/sluice/sdk/jsonx"

// StartRequestOut starts a translate_request output in the SlotOut buffer: method POST, path and
// query, then opens the headers object for the caller's headers (close it with StartBody).
func StartRequestOut(sizeHint int, path, query string) *jsonx.Writer {
	w := jsonx.NewWriter(Scratch(SlotOut, sizeHint))
	w.ObjectStart()
	w.Key("method")
	w.String("POST")
	w.Key("path")
	w.String(path)
	w.Key("query")
	w.String(query)
	w.Key("headers")
	w.ObjectStart()
	return w
}

// StartBody closes the headers object and opens the provider request body.
func StartBody(w *jsonx.Writer) {
	w.ObjectEnd()
	w.Key("body")
	w.ObjectStart()
}

// FinishOut closes the body and the envelope of a translate_request or translate_response
// output and keeps the SlotOut buffer for the next call.
func FinishOut(w *jsonx.Writer) []byte {
	w.ObjectEnd()
	w.ObjectEnd()
	Keep(SlotOut, w.Bytes())
	return w.Bytes()
}

// System says how a provider wants the system and developer messages: an array of text blocks
// under Key, nested in an object under Wrap when Wrap is set (Gemini's systemInstruction.parts),
// each block {"type":"text","text":...} when Typed, else {"text":...}. Prompt-cache breakpoints
// are written as Marks says.
type System struct {
	Provider string // error prefix
	Wrap     string
	Key      string
	Typed    bool
	Marks    MarkStyle
}

// MarkStyle is how a provider spells prompt-cache breakpoints.
type MarkStyle int

// The breakpoint spellings.
const (
	// MarksNone: the provider caches on its own (Gemini, OpenAI); breakpoints are hints it
	// has no slot for.
	MarksNone MarkStyle = iota
	// MarksCacheControl: a cache_control member in the marked block (Anthropic).
	MarksCacheControl
	// MarksCachePoint: a cachePoint block after the marked one (Bedrock Converse).
	MarksCachePoint
)

// Write writes the system text blocks, one per non-empty system or developer message; nothing
// when there is no system text.
func (s System) Write(w *jsonx.Writer, messages jsonx.Value) error {
	_, err := s.WriteCached(w, messages, false)
	return err
}

// sysBlock is one system block to write: text[from:to] of the shared buffer, still escaped.
type sysBlock struct {
	from, to int
	mark     CacheMark
}

// WriteCached is Write with prompt-cache breakpoints: a message whose content parts carry
// cache_control is written one block per text part, each with its breakpoint; a message-level
// cache_control marks the message's last block; auto marks the last block of all. It returns
// how many breakpoints it wrote.
func (s System) WriteCached(w *jsonx.Writer, messages jsonx.Value, auto bool) (int, error) {
	buf := Scratch(SlotText, 0)
	defer func() { Keep(SlotText, buf) }()
	var (
		blocks []sysBlock
		err    error
	)
	buf, blocks, err = s.cachedBlocks(buf, messages)
	if err != nil {
		return 0, err
	}
	if len(blocks) == 0 {
		return 0, nil
	}
	if auto {
		blocks[len(blocks)-1].mark = CacheMark{Set: true}
	}
	return s.writeBlocks(w, buf, blocks), nil
}

// cachedBlocks gathers the system and developer messages' text into buf as blocks, each with
// its cache breakpoint.
func (s System) cachedBlocks(buf []byte, messages jsonx.Value) ([]byte, []sysBlock, error) {
	var blocks []sysBlock
	var f [2]jsonx.Value
	for i, m := range messages.Elems() {
		m.Fields(f[:], "role", "content")
		if r := f[0]; !r.Is("system") && !r.Is("developer") {
			continue
		}
		if err := TextOnly(f[1], i, "system", s.Provider); err != nil {
			return buf, nil, err
		}
		msgMark, err := ReadCacheMark(m, s.Provider)
		if err != nil {
			return buf, nil, err
		}
		first := len(blocks)
		if content := f[1]; content.IsArray() && hasPartMark(content) {
			buf, blocks, err = s.partBlocks(buf, blocks, content)
		} else {
			buf, blocks, err = s.textBlock(buf, blocks, content)
		}
		if err != nil {
			return buf, nil, err
		}
		if msgMark.Set && len(blocks) > first {
			blocks[len(blocks)-1].mark = msgMark
		}
	}
	return buf, blocks, nil
}

// partBlocks adds one block per non-empty text part of content (the parts form, where parts
// carry their own breakpoints).
func (s System) partBlocks(buf []byte, blocks []sysBlock, content jsonx.Value) ([]byte, []sysBlock, error) {
	for _, p := range content.Elems() {
		if !p.Get("type").Is("text") {
			continue
		}
		mark, err := ReadCacheMark(p, s.Provider)
		if err != nil {
			return buf, blocks, err
		}
		from := len(buf)
		buf = p.Get("text").AppendRawStr(buf)
		if len(buf) > from {
			blocks = append(blocks, sysBlock{from, len(buf), mark})
		}
	}
	return buf, blocks, nil
}

// textBlock adds content's text as one block when it is not empty (the text form: a string,
// or parts none of which carries a breakpoint).
func (s System) textBlock(buf []byte, blocks []sysBlock, content jsonx.Value) ([]byte, []sysBlock, error) {
	from := len(buf)
	var ok bool
	if buf, ok = ContentRaw(buf, content); !ok {
		return buf, blocks, BadRequest("invalid_request", "%s: system message content must be text", s.Provider)
	}
	if len(buf) > from {
		blocks = append(blocks, sysBlock{from: from, to: len(buf)})
	}
	return buf, blocks, nil
}

// writeBlocks writes the blocks in the provider's shape and returns how many breakpoints it
// wrote.
func (s System) writeBlocks(w *jsonx.Writer, buf []byte, blocks []sysBlock) int {
	if s.Wrap != "" {
		w.Key(s.Wrap)
		w.ObjectStart()
	}
	w.Key(s.Key)
	w.ArrayStart()
	marks := 0
	for _, b := range blocks {
		w.ObjectStart()
		if s.Typed {
			w.Key("type")
			w.String("text")
		}
		w.Key("text")
		w.StringRaw(buf[b.from:b.to])
		if s.Marks == MarksCacheControl {
			WriteCacheControl(w, b.mark)
		}
		w.ObjectEnd()
		if s.Marks == MarksCachePoint {
			WriteCachePoint(w, b.mark)
		}
		if b.mark.Set && s.Marks != MarksNone {
			marks++
		}
	}
	w.ArrayEnd()
	if s.Wrap != "" {
		w.ObjectEnd()
	}
	return marks
}

// hasPartMark reports whether any content part carries cache_control.
func hasPartMark(content jsonx.Value) bool {
	for _, p := range content.Elems() {
		if cc := p.Get("cache_control"); cc.Exists() && !cc.IsNull() {
			return true
		}
	}
	return false
}

// Turns writes an array of conversation turns, merging consecutive messages that map to the
// same provider role into one turn, as the providers require alternating roles.
type Turns struct {
	w    *jsonx.Writer
	key  string // the member holding a turn's blocks
	role string // the open turn's role, "" before the first
}

// OpenTurns opens the turns array under key; each turn is {"role":...,blocksKey:[...]}.
func OpenTurns(w *jsonx.Writer, key, blocksKey string) Turns {
	w.Key(key)
	w.ArrayStart()
	return Turns{w: w, key: blocksKey}
}

// Start makes role the open turn, opening a new one unless it already is; the caller then
// writes blocks.
func (t *Turns) Start(role string) {
	if t.role == role {
		return
	}
	w := t.w
	if t.role != "" {
		w.ArrayEnd()
		w.ObjectEnd()
	}
	t.role = role
	w.ObjectStart()
	w.Key("role")
	w.String(role)
	w.Key(t.key)
	w.ArrayStart()
}

// Close closes the open turn, if any, and the turns array.
func (t *Turns) Close() {
	if t.role != "" {
		t.w.ArrayEnd()
		t.w.ObjectEnd()
	}
	t.w.ArrayEnd()
}

// ToolChoice is an OpenAI tool_choice, read by ReadToolChoice.
type ToolChoice int

// The tool_choice forms.
const (
	ChoiceUnset    ToolChoice = iota // absent or null
	ChoiceAuto                       // "auto"
	ChoiceNone                       // "none"
	ChoiceRequired                   // "required"
	ChoiceFunction                   // {"type":"function","function":{"name":...}}
)

// ReadToolChoice reads tool_choice; name is the function's for ChoiceFunction. Other forms,
// and a function choice without a name, are a 400 prefixed with provider.
func ReadToolChoice(tc jsonx.Value, provider string) (choice ToolChoice, name string, err error) {
	switch {
	case !tc.Exists() || tc.IsNull():
		return ChoiceUnset, "", nil
	case tc.Is("auto"):
		return ChoiceAuto, "", nil
	case tc.Is("none"):
		return ChoiceNone, "", nil
	case tc.Is("required"):
		return ChoiceRequired, "", nil
	case tc.IsObject() && tc.Get("type").Is("function"):
		name = tc.Get("function", "name").Str()
		if name == "" {
			return 0, "", BadRequest("invalid_request", "%s: tool_choice.function.name is missing", provider)
		}
		return ChoiceFunction, name, nil
	}
	return 0, "", BadRequest("invalid_request", "%s: unsupported tool_choice %s", provider, tc.Raw())
}

// ToolFunc is the function of an OpenAI function tool.
type ToolFunc struct {
	Name, Description, Parameters jsonx.Value
}

// ReadTool reads tools[i]: a 400 prefixed with provider unless it is a function tool with a
// string name.
func ReadTool(t jsonx.Value, i int, provider string) (ToolFunc, error) {
	var tf [2]jsonx.Value
	t.Fields(tf[:], "type", "function")
	if !tf[0].Is("function") {
		return ToolFunc{}, BadRequest("unsupported_tool", "%s: tools[%d]: only function tools are supported", provider, i)
	}
	var ff [3]jsonx.Value
	tf[1].Fields(ff[:], "name", "description", "parameters")
	if !ff[0].IsString() {
		return ToolFunc{}, BadRequest("invalid_request", "%s: tools[%d]: function.name is missing", provider, i)
	}
	return ToolFunc{Name: ff[0], Description: ff[1], Parameters: ff[2]}, nil
}

// WriteName writes the name member, and the description member when there is one.
func (f ToolFunc) WriteName(w *jsonx.Writer) {
	w.Key("name")
	w.Value(f.Name)
	if d := f.Description; d.IsString() {
		w.Key("description")
		w.Value(d)
	}
}

// WriteParameters writes the tool's parameters schema, or an empty object schema when it has
// none (the providers require one).
func (f ToolFunc) WriteParameters(w *jsonx.Writer) {
	if p := f.Parameters; p.IsObject() {
		w.Value(p)
	} else {
		w.Raw([]byte(`{"type":"object","properties":{}}`))
	}
}

// HasStop reports whether an OpenAI stop member holds any stop sequence to write with
// WriteStop: a string, or a non-empty array.
func HasStop(stop jsonx.Value) bool {
	return stop.IsString() || stop.IsArray() && stop.Len() > 0
}

// WriteStop writes stop as an array of stop sequences (a string becomes a one-element array).
func WriteStop(w *jsonx.Writer, stop jsonx.Value) {
	if stop.IsString() {
		w.ArrayStart()
		w.Value(stop)
		w.ArrayEnd()
		return
	}
	w.Value(stop)
}
