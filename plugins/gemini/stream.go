package gemini

import (
	"github.com/sluice-gw/sluice/plugins/internal/xlate"
	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// streamState is kept by the host between translate_chunk calls.
type streamState struct {
	ID      string
	Model   string
	Created int64
	Started bool
	Tools   int64 // tool calls emitted so far (their delta index)
	Finish  string
	Usage   xlate.Usage
}

func (s *streamState) decode(v jsonx.Value) {
	// One Fields pass per object rather than a chain of key comparisons per member.
	var f [7]jsonx.Value
	v.Fields(f[:], "id", "model", "created", "started", "tools", "finish", "usage")
	s.ID = f[0].Str()
	s.Model = f[1].Str()
	s.Created, _ = f[2].Int()
	s.Started, _ = f[3].Bool()
	s.Tools, _ = f[4].Int()
	s.Finish = f[5].Str()
	var u [4]jsonx.Value
	f[6].Fields(u[:], "p", "c", "r", "k")
	s.Usage.Prompt, _ = u[0].Int()
	s.Usage.Completion, _ = u[1].Int()
	s.Usage.Reasoning, s.Usage.HasReasoning = u[2].Int()
	s.Usage.Cached, s.Usage.HasCached = u[3].Int()
}

func (s *streamState) encode() []byte {
	w := jsonx.NewWriter(xlate.Scratch(xlate.SlotState, 160))
	w.ObjectStart()
	w.Key("id")
	w.String(s.ID)
	w.Key("model")
	w.String(s.Model)
	w.Key("created")
	w.Int(s.Created)
	w.Key("started")
	w.Bool(s.Started)
	w.Key("tools")
	w.Int(s.Tools)
	w.Key("finish")
	w.String(s.Finish)
	w.Key("usage")
	w.ObjectStart()
	w.Key("p")
	w.Int(s.Usage.Prompt)
	w.Key("c")
	w.Int(s.Usage.Completion)
	if s.Usage.HasReasoning {
		w.Key("r")
		w.Int(s.Usage.Reasoning)
	}
	if s.Usage.HasCached {
		w.Key("k")
		w.Int(s.Usage.Cached)
	}
	w.ObjectEnd()
	w.ObjectEnd()
	xlate.Keep(xlate.SlotState, w.Bytes())
	return w.Bytes()
}

// TranslateChunk turns a batch of streamGenerateContent SSE events (each a
// GenerateContentResponse) into OpenAI chunks. See the package comment for how the stream ends.
func TranslateChunk(in []byte) ([]byte, error) {
	ci, out, err := xlate.OpenStream(in)
	if err != nil {
		return nil, err
	}
	var st streamState
	st.decode(ci.State)
	if st.Model == "" {
		st.Model = ci.Model
	}
	if st.Created == 0 {
		st.Created = ci.Now
	}
	if st.ID == "" {
		st.ID = "chatcmpl-" + ci.RequestID
	}
	w := out.W
	var ef [2]jsonx.Value
	// Cursor loops (NextElem) rather than Elems: three nested iterators per event cost more
	// than the walking in a wasm guest.
	for ev, evi := ci.Events.NextElem(0); ev.Exists() && !out.Done; ev, evi = ci.Events.NextElem(evi) {
		ev.Fields(ef[:], "event", "data")
		if ef[0].Is("__end__") {
			out.EndAtClose(xlate.Chunk{ID: st.ID, Model: st.Model, Created: st.Created}, st.Finish, st.Usage,
				"gemini: stream ended without a finishReason")
			break
		}
		data := ef[1]
		// One pass over each object: each Get walks it from the start.
		var df [6]jsonx.Value
		data.Fields(df[:], "error", "candidates", "promptFeedback", "modelVersion", "responseId", "usageMetadata")
		if e := df[0]; e.IsObject() {
			msg := e.Get("message").Str()
			if msg == "" {
				msg = "gemini: stream error"
			}
			out.Fail(msg, "api_error", e.Get("status").Str())
			break
		}
		cands := df[1]
		if br := df[2].Get("blockReason"); br.IsString() && cands.Len() == 0 {
			out.Fail("gemini: prompt blocked by safety filters: "+br.Str(), "invalid_request_error", "content_filter")
			break
		}
		if m := df[3].Str(); m != "" && !st.Started {
			st.Model = m
		}
		if id := df[4].Str(); id != "" && !st.Started {
			st.ID = id
		}
		readUsage(df[5], &st.Usage)
		ci2 := int64(0)
		for c, cpos := cands.NextElem(0); c.Exists(); c, cpos = cands.NextElem(cpos) {
			st.candidate(w, c, ci2, ci.RequestID)
			ci2++
		}
	}
	return out.Close(st.encode()), nil
}

// candidate writes the chunks of candidate c (the ci-th of its event): the role on the
// stream's first, a delta per part, and the finish reason when it has one.
func (st *streamState) candidate(w *jsonx.Writer, c jsonx.Value, ci int64, requestID string) {
	idx := ci
	var cf [3]jsonx.Value
	c.Fields(cf[:], "index", "content", "finishReason")
	if n, ok := cf[0].Int(); ok {
		idx = n
	}
	ch := xlate.Chunk{ID: st.ID, Model: st.Model, Created: st.Created, Index: idx}
	if !st.Started {
		st.Started = true
		ch.Role(w)
	}
	var af [1]jsonx.Value
	cf[1].Fields(af[:], "parts")
	parts := af[0]
	for p, ppos := parts.NextElem(0); p.Exists(); p, ppos = parts.NextElem(ppos) {
		st.part(w, &ch, p, idx, requestID)
	}
	if fr, blocked := finishReason(cf[2]); fr != "" {
		if fr == "stop" && st.Tools > 0 {
			fr = "tool_calls"
		}
		st.Finish = fr
		ch.Begin(w)
		if blocked {
			w.Key("refusal")
			w.String("gemini: response blocked (finishReason " + cf[2].Str() + ")")
		}
		ch.End(w, fr)
	}
}

// part writes one part of candidate idx as a delta: its thought signature, then a tool call,
// a reasoning text or a content text.
func (st *streamState) part(w *jsonx.Writer, ch *xlate.Chunk, p jsonx.Value, idx int64, requestID string) {
	var pf [4]jsonx.Value
	p.Fields(pf[:], "functionCall", "thought", "text", "thoughtSignature")
	// The signature's segment goes before the part it belongs to, so the Responses bridge
	// keeps the reasoning item ahead of the function call.
	if sig := pf[3]; sig.IsString() && !sig.Is("") {
		call := int64(-1)
		if pf[0].IsObject() {
			call = st.Tools
		}
		ch.TextDeltaRaw(w, "reasoning_signature", appendSigSegment(nil, call, sig))
	}
	if fc := pf[0]; fc.IsObject() {
		var af [2]jsonx.Value
		fc.Fields(af[:], "name", "args")
		args := []byte("{}")
		if a := af[1]; a.IsObject() {
			args = a.Raw()
		}
		ch.ToolCallDelta(w, st.Tools, toolCallID(requestID, idx, st.Tools), af[0].Str(), args)
		st.Tools++
		return
	}
	key := "content"
	if isTrue(pf[1]) {
		key = "reasoning_content"
	}
	// The escaped text goes straight from the input to the output, without a copy in between.
	if t := pf[2]; t.IsString() && len(t.Raw()) > 2 {
		ch.TextDeltaRaw(w, key, t.Raw()[1:len(t.Raw())-1])
	}
}
