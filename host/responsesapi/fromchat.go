package responsesapi

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// Meta is what the response object echoes.
type Meta struct {
	ID        string
	CreatedAt int64
	Model     string
	Req       *Request // nil: the request's fields are echoed as their defaults
	// NewID makes item ids (nil: the package's NewID) and Now gives completed_at (nil:
	// time.Now); tests fix both to get reproducible output.
	NewID func(prefix string) string
	Now   func() time.Time
}

func (m *Meta) newID(prefix string) string {
	if m.NewID != nil {
		return m.NewID(prefix)
	}
	return NewID(prefix)
}

func (m *Meta) now() int64 {
	if m.Now != nil {
		return m.Now().Unix()
	}
	return time.Now().Unix()
}

// Output item kinds.
const (
	kindReasoning = iota
	kindMessage
	kindCall
)

// item is one output item being built. Texts are kept JSON-escaped, as they came, and copied
// out without decoding.
type item struct {
	kind   int
	id     string
	index  int
	status string // "completed" or "incomplete" once closed

	summary []byte // reasoning: summary text
	sig     []byte // reasoning: encrypted_content
	hasSig  bool

	parts []part // message

	callID, name, args []byte // function call
	ns                 string // function call: the namespace tool it belongs to, or ""
}

// splitName turns a chat function name that stands for a namespace tool's function back into
// the function's name and its namespace.
func (it *item) splitName(r *Request) {
	if r == nil || len(r.namespaces) == 0 || it.ns != "" {
		return
	}
	ns, name, ok := strings.Cut(string(it.name), NamespaceSep)
	if ok && r.namespaces[ns] && name != "" {
		it.ns, it.name = ns, []byte(name)
	}
}

type part struct {
	refusal  bool
	text     []byte
	logprobs []byte // the members of the logprobs array, JSON
}

// write renders the item; open renders it as output_item.added shows it.
func (it *item) write(w *jsonx.Writer, open bool) {
	w.Fragment(`{"id":`)
	w.String(it.id)
	switch it.kind {
	case kindReasoning:
		w.Fragment(`,"type":"reasoning","summary":[`)
		if !open && len(it.summary) > 0 {
			w.Fragment(`{"type":"summary_text","text":`)
			w.StringRaw(it.summary)
			w.ObjectEnd()
		}
		w.ArrayEnd()
		if !open && it.hasSig {
			w.Key("encrypted_content")
			w.StringRaw(it.sig)
		}
	case kindMessage:
		w.Fragment(`,"type":"message","status":`)
		w.String(it.statusFor(open))
		w.Fragment(`,"content":[`)
		if !open {
			for i := range it.parts {
				it.parts[i].write(w)
			}
		}
		w.Fragment(`],"role":"assistant"`)
	case kindCall:
		w.Fragment(`,"type":"function_call","status":`)
		w.String(it.statusFor(open))
		w.Key("arguments")
		if open {
			w.String("")
		} else {
			w.StringRaw(it.args)
		}
		w.Key("call_id")
		w.StringRaw(it.callID)
		w.Key("name")
		w.StringRaw(it.name)
		if it.ns != "" {
			w.Key("namespace")
			w.String(it.ns)
		}
	}
	w.ObjectEnd()
}

func (it *item) statusFor(open bool) string {
	if open {
		return "in_progress"
	}
	return it.status
}

func (it *item) bytes() []byte {
	w := jsonx.NewWriter(make([]byte, 0, 128+len(it.summary)+len(it.sig)+len(it.args)+partsLen(it.parts)))
	it.write(w, false)
	return w.Bytes()
}

func partsLen(ps []part) int {
	n := 0
	for _, p := range ps {
		n += len(p.text) + len(p.logprobs) + 64
	}
	return n
}

func (p *part) write(w *jsonx.Writer) {
	if p.refusal {
		w.Fragment(`{"type":"refusal","refusal":`)
		w.StringRaw(p.text)
		w.ObjectEnd()
		return
	}
	w.Fragment(`{"type":"output_text","annotations":[],"logprobs":[`)
	if len(p.logprobs) > 0 {
		w.Raw(p.logprobs)
	}
	w.Fragment(`],"text":`)
	w.StringRaw(p.text)
	w.ObjectEnd()
}

// outcome is how a response ended, for the response object.
type outcome struct {
	status     string // in_progress, completed, incomplete, failed
	incomplete string // incomplete_details.reason
	errCode    string
	errMsg     string
	usage      []byte // Responses usage object, or nil
	tier       jsonx.Value
	output     [][]byte
}

// finishStatus maps a chat finish_reason to a response status and incomplete reason.
func finishStatus(fr string) (status, reason string) {
	switch fr {
	case "length":
		return "incomplete", "max_output_tokens"
	case "content_filter":
		return "incomplete", "content_filter"
	}
	return "completed", ""
}

// writeResponse writes the response object: every member the Responses API returns, the
// request's settings echoed (their defaults when absent).
func writeResponse(w *jsonx.Writer, m *Meta, o *outcome) {
	r := m.Req
	if r == nil {
		r = &Request{Store: true}
	}
	f := &r.f
	writeStatus(w, m, o, r)
	w.Key("instructions")
	if r.hasInstr {
		w.String(r.Instructions)
	} else {
		w.Null()
	}
	w.Key("max_output_tokens")
	valueOr(w, f.maxOutput, "null")
	w.Key("max_tool_calls")
	valueOr(w, f.maxToolCalls, "null")
	w.Key("model")
	w.String(m.Model)
	w.Fragment(`,"output":[`)
	for _, it := range o.output {
		w.Raw(it)
	}
	w.ArrayEnd()
	w.Key("parallel_tool_calls")
	valueOr(w, f.parallel, "true")
	w.Key("previous_response_id")
	if r.PreviousResponseID != "" {
		w.String(r.PreviousResponseID)
	} else {
		w.Null()
	}
	w.Key("prompt_cache_key")
	valueOr(w, f.promptCacheKey, "null")
	w.Key("prompt_cache_retention")
	valueOr(w, f.promptCacheRetention, "null")
	writeReasoningSettings(w, f.reasoning)
	w.Key("safety_identifier")
	valueOr(w, f.safetyID, "null")
	w.Key("service_tier")
	if o.tier.IsString() {
		w.Value(o.tier)
	} else {
		valueOr(w, f.serviceTier, `"default"`)
	}
	w.Key("store")
	w.Bool(r.Store)
	w.Key("temperature")
	valueOr(w, f.temperature, "null")
	writeTextSettings(w, f.text)
	w.Key("tool_choice")
	valueOr(w, f.toolChoice, `"auto"`)
	w.Key("tools")
	valueOr(w, f.tools, "[]")
	w.Key("top_logprobs")
	valueOr(w, f.topLogprobs, "0")
	w.Key("top_p")
	valueOr(w, f.topP, "null")
	w.Key("truncation")
	valueOr(w, f.truncation, `"disabled"`)
	w.Key("usage")
	if o.usage != nil {
		w.Raw(o.usage)
	} else {
		w.Null()
	}
	w.Key("user")
	valueOr(w, f.user, "null")
	writeMetadata(w, r.Metadata)
	w.ObjectEnd()
}

// writeStatus opens the response object and writes what says where the run stands: its id,
// creation time, status, and the completion time, error or incomplete reason that go with it.
func writeStatus(w *jsonx.Writer, m *Meta, o *outcome, r *Request) {
	w.Fragment(`{"id":`)
	w.String(m.ID)
	w.Fragment(`,"object":"response","created_at":`)
	w.Int(m.CreatedAt)
	w.Key("status")
	w.String(o.status)
	w.Key("background")
	w.Bool(r.Background)
	w.Key("completed_at")
	if o.status == "completed" {
		w.Int(m.now())
	} else {
		w.Null()
	}
	w.Key("error")
	if o.status == "failed" {
		w.Fragment(`{"code":`)
		w.String(o.errCode)
		w.Key("message")
		w.String(o.errMsg)
		w.ObjectEnd()
	} else {
		w.Null()
	}
	w.Key("incomplete_details")
	if o.incomplete != "" {
		w.Fragment(`{"reason":`)
		w.String(o.incomplete)
		w.ObjectEnd()
	} else {
		w.Null()
	}
}

// writeReasoningSettings echoes the request's reasoning settings as the "reasoning" member; the
// deprecated generate_summary stands in for summary when only it was sent.
func writeReasoningSettings(w *jsonx.Writer, reasoning jsonx.Value) {
	w.Fragment(`,"reasoning":{"effort":`)
	valueOr(w, reasoning.Get("effort"), "null")
	w.Key("summary")
	if s := reasoning.Get("summary"); s.Exists() && !s.IsNull() {
		w.Value(s)
	} else {
		valueOr(w, reasoning.Get("generate_summary"), "null")
	}
	w.ObjectEnd()
}

// writeTextSettings echoes the request's text settings as the "text" member, with the API's defaults.
func writeTextSettings(w *jsonx.Writer, text jsonx.Value) {
	w.Fragment(`,"text":{"format":`)
	valueOr(w, text.Get("format"), `{"type":"text"}`)
	w.Key("verbosity")
	valueOr(w, text.Get("verbosity"), `"medium"`)
	w.ObjectEnd()
}

// writeMetadata echoes the request's metadata object, {} when it had none.
func writeMetadata(w *jsonx.Writer, metadata []byte) {
	w.Key("metadata")
	if metadata == nil {
		w.Fragment(`{}`)
		return
	}
	if v, err := jsonx.Parse(metadata); err == nil && bytes.ContainsAny(metadata, "\r\n") {
		w.Copy(v) // see valueOr
	} else {
		w.Raw(metadata)
	}
}

func valueOr(w *jsonx.Writer, v jsonx.Value, def string) {
	if v.Exists() && !v.IsNull() {
		// A value echoed from a pretty-printed request is re-encoded compact: a line break
		// would end an SSE data line in the middle of the event.
		if bytes.ContainsAny(v.Raw(), "\r\n") {
			w.Copy(v)
			return
		}
		w.Value(v)
		return
	}
	w.Raw([]byte(def))
}

// responsesUsage converts chat usage to the Responses usage object; nil when there is none.
func responsesUsage(u jsonx.Value) []byte {
	if !u.IsObject() {
		return nil
	}
	var f [5]jsonx.Value
	u.Fields(f[:], "prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details", "completion_tokens_details")
	in, _ := f[0].Int()
	out, _ := f[1].Int()
	total, ok := f[2].Int()
	if !ok {
		total = in + out
	}
	cached, _ := f[3].Get("cached_tokens").Int()
	reasoning, _ := f[4].Get("reasoning_tokens").Int()
	w := jsonx.NewWriter(make([]byte, 0, 160))
	w.Fragment(`{"input_tokens":`)
	w.Int(in)
	w.Fragment(`,"input_tokens_details":{"cached_tokens":`)
	w.Int(cached)
	w.Fragment(`},"output_tokens":`)
	w.Int(out)
	w.Fragment(`,"output_tokens_details":{"reasoning_tokens":`)
	w.Int(reasoning)
	w.Fragment(`},"total_tokens":`)
	w.Int(total)
	w.ObjectEnd()
	return w.Bytes()
}

// appendContentRaw appends a chat message content (a string, or an array of text parts) still
// JSON-escaped.
func appendContentRaw(dst []byte, c jsonx.Value) []byte {
	if c.IsString() {
		return c.AppendRawStr(dst)
	}
	for _, p := range c.Elems() {
		if t := p.Get("text"); t.IsString() {
			dst = t.AppendRawStr(dst)
		}
	}
	return dst
}

func appendLogprobs(dst []byte, lp jsonx.Value) []byte {
	for _, e := range lp.Get("content").Elems() {
		if len(dst) > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, e.Raw()...)
	}
	return dst
}

// FromChat converts a non-streamed chat.completion (choice 0) into a Responses response object;
// output are its output items, in order: reasoning, message, function calls.
func FromChat(chat []byte, m Meta) (resp []byte, output [][]byte, err error) {
	v, err := jsonx.Parse(chat)
	if err != nil {
		return nil, nil, fmt.Errorf("responsesapi: chat completion is not valid JSON: %w", err)
	}
	var f [4]jsonx.Value
	v.Fields(f[:], "choices", "usage", "error", "service_tier")
	if f[2].IsObject() {
		return nil, nil, fmt.Errorf("responsesapi: chat completion is an error: %s", f[2].Get("message").Str())
	}
	choice := f[0].Index(0)
	if !choice.IsObject() {
		return nil, nil, fmt.Errorf("responsesapi: chat completion has no choices")
	}
	var cf [3]jsonx.Value
	choice.Fields(cf[:], "message", "finish_reason", "logprobs")
	msg := cf[0]
	var mf [5]jsonx.Value
	msg.Fields(mf[:], "content", "refusal", "reasoning_content", "reasoning_signature", "tool_calls")
	var items []*item
	add := func(kind int) *item {
		prefix := [...]string{"rs", "msg", "fc"}[kind]
		it := &item{kind: kind, id: m.newID(prefix), index: len(items), status: "completed"}
		items = append(items, it)
		return it
	}
	if rc, sig := mf[2], mf[3]; (rc.IsString() && !rc.Is("")) || sig.IsString() {
		it := add(kindReasoning)
		it.summary = rc.AppendRawStr(nil)
		if sig.IsString() {
			it.sig, it.hasSig = sig.AppendRawStr(nil), true
		}
	}
	text := appendContentRaw(nil, mf[0])
	refusal := mf[1].AppendRawStr(nil)
	if len(text) > 0 || len(refusal) > 0 {
		it := add(kindMessage)
		if len(text) > 0 {
			it.parts = append(it.parts, part{text: text, logprobs: appendLogprobs(nil, cf[2])})
		}
		if len(refusal) > 0 {
			it.parts = append(it.parts, part{refusal: true, text: refusal})
		}
	}
	for _, tc := range mf[4].Elems() {
		fn := tc.Get("function")
		it := add(kindCall)
		it.callID = tc.Get("id").AppendRawStr(nil)
		it.name = fn.Get("name").AppendRawStr(nil)
		it.splitName(m.Req)
		it.args = fn.Get("arguments").AppendRawStr(nil)
	}
	if len(items) == 0 {
		// An empty answer is still a message, as OpenAI sends it.
		add(kindMessage).parts = []part{{}}
	}
	o := outcome{usage: responsesUsage(f[1]), tier: f[3]}
	o.status, o.incomplete = finishStatus(cf[1].Str())
	if o.status == "incomplete" {
		items[len(items)-1].status = "incomplete"
	}
	o.output = make([][]byte, len(items))
	size := 0
	for i, it := range items {
		o.output[i] = it.bytes()
		size += len(o.output[i])
	}
	w := jsonx.NewWriter(make([]byte, 0, size+1024))
	writeResponse(w, &m, &o)
	return w.Bytes(), o.output, nil
}
