package responsesapi

import (
	"fmt"

	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// Event is one Responses stream event: Data is the whole JSON payload, with "type" and
// "sequence_number" (send it as the SSE data, Type as the event name). Data is shared with
// Response and Output: do not modify it.
type Event struct {
	Type string
	Data []byte
}

// StreamConverter turns one stream of chat.completion.chunk objects into Responses events.
// At most one output item is open at a time, so items are added and done in output order, as
// OpenAI streams them. It is not safe for concurrent use; make one per stream.
type StreamConverter struct {
	m       Meta
	seq     int64
	started bool
	done    bool

	items  []*item
	output [][]byte // the closed items, rendered
	open   *item    // the open item, nil when none
	// The open item's open part: a message content part (partOpen) or a reasoning summary
	// part (summaryOpen).
	partOpen, summaryOpen bool
	tools                 map[int64]*item

	finish string
	usage  []byte
	tier   []byte // service_tier as the chunks gave it, JSON
	final  []byte // the response once the stream ended
	evs    []Event
}

// NewStreamConverter starts a converter for one response.
func NewStreamConverter(m Meta) *StreamConverter {
	return &StreamConverter{m: m}
}

// begin starts an event's payload with its type and sequence number.
func (s *StreamConverter) begin(typ string, size int) *jsonx.Writer {
	w := jsonx.NewWriter(make([]byte, 0, 96+len(typ)+size))
	w.Fragment(`{"type":`)
	w.String(typ)
	w.Fragment(`,"sequence_number":`)
	w.Int(s.seq)
	s.seq++
	return w
}

func (s *StreamConverter) emit(typ string, w *jsonx.Writer) {
	w.ObjectEnd()
	s.evs = append(s.evs, Event{Type: typ, Data: w.Bytes()})
}

// at writes item_id and output_index, and content_index or summary_index when idx >= 0.
func at(w *jsonx.Writer, it *item, idxKey string, idx int) {
	w.Key("item_id")
	w.String(it.id)
	w.Key("output_index")
	w.Int(int64(it.index))
	if idx >= 0 {
		w.Key(idxKey)
		w.Int(int64(idx))
	}
}

func (s *StreamConverter) outcome(status string) *outcome {
	o := &outcome{status: status, usage: s.usage, output: s.output}
	if s.tier != nil {
		o.tier, _ = jsonx.Parse(s.tier)
	}
	return o
}

func (s *StreamConverter) responseEvent(typ string, o *outcome) []byte {
	w := s.begin(typ, 1024)
	w.Key("response")
	start := w.Len()
	writeResponse(w, &s.m, o)
	resp := w.Bytes()[start:]
	s.emit(typ, w)
	return resp
}

func (s *StreamConverter) start() {
	if s.started {
		return
	}
	s.started = true
	o := s.outcome("in_progress")
	s.responseEvent("response.created", o)
	s.responseEvent("response.in_progress", o)
}

func (s *StreamConverter) take() []Event {
	evs := s.evs
	s.evs = nil
	return evs
}

// Chunk converts one chunk and returns the events it produces; the first call also emits
// response.created and response.in_progress. A chunk carrying an error is returned as an
// error (end the stream with Fail). Chunks after the end produce nothing.
func (s *StreamConverter) Chunk(chatChunk []byte) ([]Event, error) {
	ch, err := jsonx.Parse(chatChunk)
	if err != nil {
		return nil, fmt.Errorf("responsesapi: chunk is not valid JSON: %w", err)
	}
	var f [4]jsonx.Value
	ch.Fields(f[:], "choices", "usage", "error", "service_tier")
	if f[2].IsObject() {
		return nil, fmt.Errorf("responsesapi: upstream stream error: %s", f[2].Get("message").Str())
	}
	if s.done {
		return nil, nil
	}
	s.start()
	if u := responsesUsage(f[1]); u != nil {
		s.usage = u
	}
	if f[3].IsString() {
		s.tier = append(s.tier[:0], f[3].Raw()...)
	}
	for _, choice := range f[0].Elems() {
		if n, _ := choice.Get("index").Int(); n != 0 {
			continue // a response has one answer
		}
		var cf [3]jsonx.Value
		choice.Fields(cf[:], "delta", "finish_reason", "logprobs")
		var df [5]jsonx.Value
		cf[0].Fields(df[:], "reasoning_content", "reasoning_signature", "content", "refusal", "tool_calls")
		if r := df[0]; r.IsString() && !r.Is("") {
			s.reasoningDelta(r)
		}
		if sig := df[1]; sig.IsString() {
			it := s.ensure(kindReasoning)
			it.sig, it.hasSig = sig.AppendRawStr(it.sig), true
		}
		if t := df[2]; t.IsString() && !t.Is("") {
			s.textDelta(t, cf[2], false)
		}
		if t := df[3]; t.IsString() && !t.Is("") {
			s.textDelta(t, jsonx.Value{}, true)
		}
		for _, tc := range df[4].Elems() {
			if err := s.toolDelta(tc); err != nil {
				return s.take(), err
			}
		}
		if fr := cf[1]; fr.IsString() {
			s.finish = fr.Str()
		}
	}
	return s.take(), nil
}

// openKind closes the open item and opens a new one of kind (without its added event).
func (s *StreamConverter) openKind(kind int) *item {
	s.closeOpen("completed")
	prefix := [...]string{"rs", "msg", "fc"}[kind]
	it := &item{kind: kind, id: s.m.newID(prefix), index: len(s.items), status: "completed"}
	s.items = append(s.items, it)
	s.open = it
	return it
}

func (s *StreamConverter) added(it *item) {
	w := s.begin("response.output_item.added", 128)
	w.Key("output_index")
	w.Int(int64(it.index))
	w.Key("item")
	it.write(w, true)
	s.emit("response.output_item.added", w)
}

// ensure returns the open item if it is a reasoning item or message of kind, else opens one.
func (s *StreamConverter) ensure(kind int) *item {
	if it := s.open; it != nil && it.kind == kind {
		return it
	}
	it := s.openKind(kind)
	s.added(it)
	return it
}

func (s *StreamConverter) reasoningDelta(r jsonx.Value) {
	it := s.ensure(kindReasoning)
	if !s.summaryOpen {
		s.summaryOpen = true
		w := s.begin("response.reasoning_summary_part.added", 96)
		at(w, it, "summary_index", 0)
		w.Fragment(`,"part":{"type":"summary_text","text":""}`)
		s.emit("response.reasoning_summary_part.added", w)
	}
	n := len(it.summary)
	it.summary = r.AppendRawStr(it.summary)
	w := s.begin("response.reasoning_summary_text.delta", len(it.summary)-n)
	at(w, it, "summary_index", 0)
	w.Key("delta")
	w.StringRaw(it.summary[n:])
	s.emit("response.reasoning_summary_text.delta", w)
}

func (s *StreamConverter) textDelta(t, logprobs jsonx.Value, refusal bool) {
	it := s.ensure(kindMessage)
	s.openPart(it, refusal)
	p := &it.parts[len(it.parts)-1]
	n := len(p.text)
	p.text = t.AppendRawStr(p.text)
	typ := "response.output_text.delta"
	if refusal {
		typ = "response.refusal.delta"
	}
	w := s.begin(typ, len(p.text)-n)
	at(w, it, "content_index", len(it.parts)-1)
	w.Key("delta")
	w.StringRaw(p.text[n:])
	if !refusal {
		w.Fragment(`,"logprobs":[`)
		m := len(p.logprobs)
		p.logprobs = appendLogprobs(p.logprobs, logprobs)
		if lp := p.logprobs[m:]; len(lp) > 0 {
			if lp[0] == ',' {
				lp = lp[1:]
			}
			w.Raw(lp)
		}
		w.ArrayEnd()
	}
	s.emit(typ, w)
}

// openPart makes the open part of message it a text (or refusal) part.
func (s *StreamConverter) openPart(it *item, refusal bool) {
	if s.partOpen && it.parts[len(it.parts)-1].refusal != refusal {
		s.closePart(it)
	}
	if !s.partOpen {
		s.partOpen = true
		it.parts = append(it.parts, part{refusal: refusal})
		w := s.begin("response.content_part.added", 96)
		at(w, it, "content_index", len(it.parts)-1)
		if refusal {
			w.Fragment(`,"part":{"type":"refusal","refusal":""}`)
		} else {
			w.Fragment(`,"part":{"type":"output_text","annotations":[],"logprobs":[],"text":""}`)
		}
		s.emit("response.content_part.added", w)
	}
}

func (s *StreamConverter) toolDelta(tc jsonx.Value) error {
	var f [3]jsonx.Value
	tc.Fields(f[:], "index", "id", "function")
	idx, _ := f[0].Int()
	fn := f[2]
	it, known := s.tools[idx]
	if !known {
		it = s.openKind(kindCall)
		if s.tools == nil {
			s.tools = make(map[int64]*item)
		}
		s.tools[idx] = it
		if f[1].IsString() {
			it.callID = f[1].AppendRawStr(nil)
		} else {
			// A chat stream names the call in its first delta; if one did not, the call still
			// needs an id to be answered by.
			it.callID = []byte(s.m.newID("call"))
		}
		it.name = fn.Get("name").AppendRawStr(nil)
		it.splitName(s.m.Req)
		s.added(it)
	} else if it != s.open {
		return fmt.Errorf("responsesapi: tool call %d continued after its item was closed", idx)
	} else if len(it.name) == 0 {
		it.name = fn.Get("name").AppendRawStr(nil)
		it.splitName(s.m.Req)
	}
	if a := fn.Get("arguments"); a.IsString() && !a.Is("") {
		n := len(it.args)
		it.args = a.AppendRawStr(it.args)
		w := s.begin("response.function_call_arguments.delta", len(it.args)-n)
		at(w, it, "", -1)
		w.Key("delta")
		w.StringRaw(it.args[n:])
		s.emit("response.function_call_arguments.delta", w)
	}
	return nil
}

func (s *StreamConverter) closePart(it *item) {
	if !s.partOpen {
		return
	}
	s.partOpen = false
	i := len(it.parts) - 1
	p := &it.parts[i]
	typ := "response.output_text.done"
	if p.refusal {
		typ = "response.refusal.done"
	}
	w := s.begin(typ, len(p.text)+len(p.logprobs))
	at(w, it, "content_index", i)
	if p.refusal {
		w.Key("refusal")
		w.StringRaw(p.text)
	} else {
		w.Key("text")
		w.StringRaw(p.text)
		w.Fragment(`,"logprobs":[`)
		if len(p.logprobs) > 0 {
			w.Raw(p.logprobs)
		}
		w.ArrayEnd()
	}
	s.emit(typ, w)
	w = s.begin("response.content_part.done", len(p.text)+len(p.logprobs))
	at(w, it, "content_index", i)
	w.Key("part")
	p.write(w)
	s.emit("response.content_part.done", w)
}

// closeOpen ends the open item with status: its open part, its done events and
// output_item.done.
func (s *StreamConverter) closeOpen(status string) {
	it := s.open
	if it == nil {
		return
	}
	s.open = nil
	switch it.kind {
	case kindReasoning:
		if s.summaryOpen {
			s.summaryOpen = false
			w := s.begin("response.reasoning_summary_text.done", len(it.summary))
			at(w, it, "summary_index", 0)
			w.Key("text")
			w.StringRaw(it.summary)
			s.emit("response.reasoning_summary_text.done", w)
			w = s.begin("response.reasoning_summary_part.done", len(it.summary))
			at(w, it, "summary_index", 0)
			w.Fragment(`,"part":{"type":"summary_text","text":`)
			w.StringRaw(it.summary)
			w.ObjectEnd()
			s.emit("response.reasoning_summary_part.done", w)
		}
	case kindMessage:
		s.closePart(it)
	case kindCall:
		w := s.begin("response.function_call_arguments.done", len(it.args)+len(it.name))
		at(w, it, "", -1)
		w.Key("name")
		w.StringRaw(it.name)
		w.Key("arguments")
		w.StringRaw(it.args)
		s.emit("response.function_call_arguments.done", w)
	}
	it.status = status
	b := it.bytes()
	s.output = append(s.output, b)
	w := s.begin("response.output_item.done", len(b))
	w.Key("output_index")
	w.Int(int64(it.index))
	w.Key("item")
	w.Raw(b)
	s.emit("response.output_item.done", w)
}

// Finish ends the stream after the last chunk: it closes the open part and item, then emits
// response.completed or response.incomplete (from the finish_reason). Later calls return
// nothing.
func (s *StreamConverter) Finish() []Event {
	if s.done {
		return nil
	}
	s.start()
	status, reason := finishStatus(s.finish)
	if len(s.items) == 0 {
		// An empty answer is still a message, as FromChat makes it.
		s.openPart(s.ensure(kindMessage), false)
	}
	itemStatus := "completed"
	if status == "incomplete" {
		itemStatus = "incomplete"
	}
	s.closeOpen(itemStatus)
	s.done = true
	o := s.outcome(status)
	o.incomplete = reason
	typ := "response.completed"
	if status == "incomplete" {
		typ = "response.incomplete"
	}
	s.final = s.responseEvent(typ, o)
	return s.take()
}

// Fail ends the stream on a failure mid-way: an error event, then response.failed whose output
// holds the items so far (the open one as incomplete). Later calls return nothing.
func (s *StreamConverter) Fail(code, message string) []Event {
	if s.done {
		return nil
	}
	s.start()
	s.done = true
	w := s.begin("error", len(message)+len(code))
	w.Key("code")
	w.String(code)
	w.Key("message")
	w.String(message)
	w.Fragment(`,"param":null`)
	s.emit("error", w)
	if it := s.open; it != nil {
		s.open = nil
		it.status = "incomplete"
		s.output = append(s.output, it.bytes())
	}
	o := s.outcome("failed")
	o.errCode, o.errMsg = code, message
	s.final = s.responseEvent("response.failed", o)
	return s.take()
}

// Response returns the response object: the final one once the stream ended (equal to what
// FromChat returns for the same answer), else the response in progress.
func (s *StreamConverter) Response() []byte {
	if s.final != nil {
		return s.final
	}
	w := jsonx.NewWriter(make([]byte, 0, 1024))
	writeResponse(w, &s.m, s.outcome("in_progress"))
	return w.Bytes()
}

// Output returns the output items closed so far (all of them once the stream ended).
func (s *StreamConverter) Output() [][]byte { return s.output }
