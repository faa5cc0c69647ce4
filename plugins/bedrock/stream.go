package bedrock

import (
	"strings"

	"github.com/sluice-gw/sluice/plugins/internal/xlate"
	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// streamState is kept by the host between translate_chunk calls.
type streamState struct {
	Created int64
	Blocks  xlate.ToolBlocks
	Finish  string
	Usage   xlate.Usage
	// Answer is 1 + the content block of the answer tool (structured output), 0 for none.
	Answer int64
}

func (s *streamState) decode(v jsonx.Value) {
	for k, f := range v.Members() {
		switch {
		case k.Is("created"):
			s.Created, _ = f.Int()
		case k.Is("blocks"):
			s.Blocks.Decode(f)
		case k.Is("finish"):
			s.Finish = f.Str()
		case k.Is("answer"):
			s.Answer, _ = f.Int()
		}
	}
}

func (s *streamState) encode() []byte {
	w := jsonx.NewWriter(xlate.Scratch(xlate.SlotState, 64))
	w.ObjectStart()
	w.Key("created")
	w.Int(s.Created)
	w.Key("blocks")
	s.Blocks.Write(w)
	w.Key("finish")
	w.String(s.Finish)
	if s.Answer > 0 {
		w.Key("answer")
		w.Int(s.Answer)
	}
	w.ObjectEnd()
	xlate.Keep(xlate.SlotState, w.Bytes())
	return w.Bytes()
}

// TranslateChunk turns a batch of ConverseStream events into OpenAI chunks. The metadata event
// (after messageStop) carries usage and ends the stream; if the upstream closes after
// messageStop without it, the stream ends at the host's {"event":"__end__"} with zero usage.
// Exception events (throttlingException, modelStreamErrorException, ...) end it with an error.
func TranslateChunk(in []byte) ([]byte, error) {
	ci, out, err := xlate.OpenStream(in)
	if err != nil {
		return nil, err
	}
	var st streamState
	st.decode(ci.State)
	if st.Created == 0 {
		st.Created = ci.Now
	}
	ch := xlate.Chunk{ID: "chatcmpl-" + ci.RequestID, Model: ci.Model, Created: st.Created}
	w := out.W
	buf := xlate.Scratch(xlate.SlotText, 0)
	var ef [2]jsonx.Value
	var f [3]jsonx.Value // text, toolUse, reasoningContent
	for _, ev := range ci.Events.Elems() {
		if out.Done {
			break
		}
		ev.Fields(ef[:], "event", "data")
		name, data := ef[0], ef[1]
		switch {
		case name.Is("messageStart"):
			ch.Role(w)
		case name.Is("contentBlockStart"):
			if tu := data.Get("start", "toolUse"); tu.IsObject() {
				idx, _ := data.Get("contentBlockIndex").Int()
				if tu.Get("name").Is(xlate.AnswerTool) {
					st.Answer = idx + 1 // its input streams as the content
					break
				}
				ch.ToolCallDelta(w, st.Blocks.Add(idx), tu.Get("toolUseId").Str(), tu.Get("name").Str(), nil)
			}
		case name.Is("contentBlockDelta"):
			data.Get("delta").Fields(f[:], "text", "toolUse", "reasoningContent")
			switch {
			case f[0].IsString():
				buf = f[0].AppendRawStr(buf[:0])
				ch.TextDeltaRaw(w, "content", buf)
			case f[1].IsObject():
				idx, _ := data.Get("contentBlockIndex").Int()
				if st.Answer == idx+1 {
					buf = f[1].Get("input").AppendStr(buf[:0])
					ch.TextDelta(w, "content", buf)
					break
				}
				ti := st.Blocks.Index(idx)
				if ti < 0 {
					out.BadEvent("bedrock: toolUse delta for an unknown content block")
					break
				}
				buf = f[1].Get("input").AppendStr(buf[:0])
				ch.ToolCallDelta(w, ti, "", "", buf)
			case f[2].Get("text").IsString():
				buf = f[2].Get("text").AppendRawStr(buf[:0])
				ch.TextDeltaRaw(w, "reasoning_content", buf)
			case f[2].Get("signature").IsString():
				buf = f[2].Get("signature").AppendRawStr(buf[:0])
				ch.TextDeltaRaw(w, "reasoning_signature", buf)
			}
		case name.Is("messageStop"):
			st.Finish = finishReason(data.Get("stopReason"))
			if st.Finish == "" || st.Finish == "tool_calls" && st.Answer > 0 && len(st.Blocks) == 0 {
				st.Finish = "stop"
			}
			ch.Finish(w, st.Finish)
		case name.Is("metadata"):
			readUsage(data.Get("usage"), &st.Usage)
			ch.UsageChunk(w, st.Usage)
			out.Done = true
		case name.Is("__end__"):
			out.EndAtClose(ch, st.Finish, st.Usage, "bedrock: stream ended before messageStop")
		case strings.HasSuffix(name.Str(), "Exception"):
			code, msg := name.Str(), data.Get("message").Str()
			if msg == "" {
				msg = "bedrock: " + code
			}
			typ := "api_error"
			switch code {
			case "throttlingException", "serviceUnavailableException":
				typ = "rate_limit_error"
			case "validationException":
				typ = "invalid_request_error"
			}
			out.Fail(msg, typ, code)
		}
	}
	xlate.Keep(xlate.SlotText, buf)
	return out.Close(st.encode()), nil
}
