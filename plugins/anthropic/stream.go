package anthropic

import (
	"github.com/sluice-gw/sluice/plugins/internal/xlate"
	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// streamState is what the host keeps between translate_chunk calls for one stream.
type streamState struct {
	ID      string
	Model   string
	Created int64
	Usage   xlate.Usage
	In      int64 // input_tokens alone; output usage arrives later
	Blocks  xlate.ToolBlocks
	Finish  string
	Started bool
	// Answer is 1 + the content block of the answer tool (structured output), 0 for none.
	Answer int64
}

func (s *streamState) decode(v jsonx.Value) {
	for k, f := range v.Members() {
		switch {
		case k.Is("id"):
			s.ID = f.Str()
		case k.Is("model"):
			s.Model = f.Str()
		case k.Is("created"):
			s.Created, _ = f.Int()
		case k.Is("prompt"):
			s.Usage.Prompt, _ = f.Int()
		case k.Is("completion"):
			s.Usage.Completion, _ = f.Int()
		case k.Is("cached"):
			s.Usage.Cached, s.Usage.HasCached = f.Int()
		case k.Is("cache_write"):
			s.Usage.CacheWrite, s.Usage.HasCacheWrite = f.Int()
		case k.Is("blocks"):
			s.Blocks.Decode(f)
		case k.Is("finish"):
			s.Finish = f.Str()
		case k.Is("started"):
			s.Started, _ = f.Bool()
		case k.Is("answer"):
			s.Answer, _ = f.Int()
		}
	}
}

func (s *streamState) encode() []byte {
	w := jsonx.NewWriter(xlate.Scratch(xlate.SlotState, 128))
	w.ObjectStart()
	w.Key("id")
	w.String(s.ID)
	w.Key("model")
	w.String(s.Model)
	w.Key("created")
	w.Int(s.Created)
	w.Key("prompt")
	w.Int(s.Usage.Prompt)
	w.Key("completion")
	w.Int(s.Usage.Completion)
	if s.Usage.HasCached {
		w.Key("cached")
		w.Int(s.Usage.Cached)
	}
	if s.Usage.HasCacheWrite {
		w.Key("cache_write")
		w.Int(s.Usage.CacheWrite)
	}
	w.Key("blocks")
	s.Blocks.Write(w)
	w.Key("finish")
	w.String(s.Finish)
	w.Key("started")
	w.Bool(s.Started)
	if s.Answer > 0 {
		w.Key("answer")
		w.Int(s.Answer)
	}
	w.ObjectEnd()
	xlate.Keep(xlate.SlotState, w.Bytes())
	return w.Bytes()
}

// TranslateChunk turns a batch of Anthropic SSE events into OpenAI chunks. message_stop ends
// the stream with a usage-only chunk; an error event ends it with an error.
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
	w := out.W
	buf := xlate.Scratch(xlate.SlotText, 0)
	var ef [2]jsonx.Value
	var df [4]jsonx.Value // type, index, delta, content_block
	var f [5]jsonx.Value  // type, text, thinking, partial_json, signature
	for _, ev := range ci.Events.Elems() {
		if out.Done {
			break
		}
		ev.Fields(ef[:], "event", "data")
		name, data := ef[0], ef[1]
		data.Fields(df[:], "type", "index", "delta", "content_block")
		if !name.Exists() {
			name = df[0]
		}
		ch := xlate.Chunk{ID: st.ID, Model: st.Model, Created: st.Created}
		switch {
		case name.Is("message_start"):
			msg := data.Get("message")
			if id := msg.Get("id").Str(); id != "" {
				st.ID = id
			}
			if m := msg.Get("model").Str(); m != "" {
				st.Model = m
			}
			readUsage(msg.Get("usage"), &st.Usage)
			st.Started = true
			ch = xlate.Chunk{ID: st.ID, Model: st.Model, Created: st.Created}
			ch.Role(w)
		case name.Is("content_block_start"):
			idx, _ := df[1].Int()
			cb := df[3]
			switch t := cb.Get("type"); {
			case t.Is("tool_use") && cb.Get("name").Is(xlate.AnswerTool):
				st.Answer = idx + 1 // its input streams as the content
			case t.Is("tool_use"):
				ch.ToolCallDelta(w, st.Blocks.Add(idx), cb.Get("id").Str(), cb.Get("name").Str(), nil)
			case t.Is("text"):
				if buf = cb.Get("text").AppendRawStr(buf[:0]); len(buf) > 0 {
					ch.TextDeltaRaw(w, "content", buf)
				}
			}
		case name.Is("content_block_delta"):
			df[2].Fields(f[:], "type", "text", "thinking", "partial_json", "signature")
			switch t := f[0]; {
			case t.Is("text_delta"):
				buf = f[1].AppendRawStr(buf[:0])
				ch.TextDeltaRaw(w, "content", buf)
			case t.Is("thinking_delta"):
				buf = f[2].AppendRawStr(buf[:0])
				ch.TextDeltaRaw(w, "reasoning_content", buf)
			case t.Is("signature_delta"):
				buf = f[4].AppendRawStr(buf[:0])
				ch.TextDeltaRaw(w, "reasoning_signature", buf)
			case t.Is("input_json_delta"):
				idx, _ := df[1].Int()
				if st.Answer == idx+1 {
					buf = f[3].AppendStr(buf[:0])
					ch.TextDelta(w, "content", buf)
					break
				}
				ti := st.Blocks.Index(idx)
				if ti < 0 {
					out.BadEvent("anthropic: input_json_delta for an unknown content block")
					break
				}
				buf = f[3].AppendStr(buf[:0])
				ch.ToolCallDelta(w, ti, "", "", buf)
			}
		case name.Is("message_delta"):
			// Its usage is cumulative; recent API versions repeat the input and cache counts.
			u := data.Get("usage")
			if u.Get("input_tokens").Exists() {
				readUsage(u, &st.Usage)
			} else if out, ok := u.Get("output_tokens").Int(); ok {
				st.Usage.Completion = out
			}
			fr := finishReason(data.Get("delta", "stop_reason"))
			if fr == "tool_calls" && st.Answer > 0 && len(st.Blocks) == 0 {
				fr = "stop"
			}
			if fr != "" {
				st.Finish = fr
				ch.Finish(w, fr)
			}
		case name.Is("message_stop"):
			ch.UsageChunk(w, st.Usage)
			out.Done = true
		case name.Is("error"):
			e := data.Get("error")
			code, msg := e.Get("type").Str(), e.Get("message").Str()
			if msg == "" {
				msg = "anthropic: stream error"
			}
			typ := "api_error"
			if code == "invalid_request_error" {
				typ = code
			}
			out.Fail(msg, typ, code)
		case name.Is("__end__"):
			// The upstream closed without message_stop: a cut stream.
			if !out.Done {
				out.Incomplete("anthropic: stream ended before message_stop")
			}
		}
	}
	xlate.Keep(xlate.SlotText, buf)
	return out.Close(st.encode()), nil
}
