package anthropic

import (
	"github.com/sluice-gw/sluice/plugins/internal/xlate"
	"github.com/sluice-gw/sluice/sdk/jsonx"
)

func finishReason(stop jsonx.Value) string {
	switch {
	case stop.Is("end_turn"), stop.Is("stop_sequence"), stop.Is("pause_turn"):
		return "stop"
	case stop.Is("max_tokens"), stop.Is("model_context_window_exceeded"):
		return "length"
	case stop.Is("tool_use"):
		return "tool_calls"
	case stop.Is("refusal"):
		return "content_filter"
	case stop.IsString():
		return "stop"
	}
	return ""
}

// readUsage reads an Anthropic usage object; cache reads and writes count as prompt tokens, as
// OpenAI counts cached tokens inside prompt_tokens.
func readUsage(u jsonx.Value, into *xlate.Usage) {
	var f [4]jsonx.Value
	u.Fields(f[:], "input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "output_tokens")
	in, _ := f[0].Int()
	cr, hasCR := f[1].Int()
	cw, hasCW := f[2].Int()
	into.Prompt = in + cr + cw
	into.Completion, _ = f[3].Int()
	into.Cached, into.HasCached = cr, hasCR
	into.CacheWrite, into.HasCacheWrite = cw, hasCW
}

// TranslateResponse turns an Anthropic Messages response (or error) envelope into an OpenAI
// chat.completion (or error) envelope.
func TranslateResponse(in []byte) ([]byte, error) {
	resp, err := xlate.ParseResponse(in)
	if err != nil {
		return nil, err
	}
	if resp.Status >= 400 || resp.Body.Get("type").Is("error") {
		return errorResponse(resp.Status, resp.Body), nil
	}
	body := resp.Body
	if !body.IsObject() {
		return nil, xlate.UpstreamError("anthropic: response body is not an object")
	}
	var top [5]jsonx.Value
	body.Fields(top[:], "id", "model", "content", "stop_reason", "usage")
	text, thinking := xlate.Scratch(xlate.SlotText, 0), xlate.Scratch(xlate.SlotText2, 0)
	defer func() { xlate.Keep(xlate.SlotText, text); xlate.Keep(xlate.SlotText2, thinking) }()
	var tools [][3]jsonx.Value // id, name, input
	var signature jsonx.Value  // of the last thinking block
	answered := false
	var f [7]jsonx.Value
	for _, b := range top[2].Elems() {
		b.Fields(f[:], "type", "text", "thinking", "id", "name", "input", "signature")
		switch t := f[0]; {
		case t.Is("text"):
			text = f[1].AppendRawStr(text)
		case t.Is("thinking"):
			thinking = f[2].AppendRawStr(thinking)
			if f[6].IsString() {
				signature = f[6]
			}
		case t.Is("tool_use"):
			if f[4].Is(xlate.AnswerTool) {
				// Structured output through the answer tool: its input is the answer.
				text = xlate.AppendEscaped(text, f[5].Raw())
				answered = true
				continue
			}
			tools = append(tools, [3]jsonx.Value{f[3], f[4], f[5]})
		}
	}
	finish := finishReason(top[3])
	if answered && len(tools) == 0 && finish == "tool_calls" {
		finish = "stop"
	}
	refusal := top[3].Is("refusal") && len(text) > 0
	model := top[1].Str()
	if model == "" {
		model = resp.Model
	}
	w := xlate.StartCompletion(len(body.Raw()) + 256)
	w.Value(top[0])
	xlate.OpenChoices(w, resp.Now, model)
	if refusal {
		// A refusal is the refusal member, as OpenAI answers a structured output it declines.
		xlate.BeginChoice(w, 0, nil, true)
		w.Key("refusal")
		w.StringRaw(text)
	} else {
		xlate.BeginChoice(w, 0, text, len(tools) > 0)
	}
	xlate.WriteReasoning(w, thinking)
	if len(thinking) > 0 && signature.IsString() {
		w.Key("reasoning_signature")
		w.Value(signature)
	}
	if len(tools) > 0 {
		w.Key("tool_calls")
		w.ArrayStart()
		for _, tu := range tools {
			xlate.WriteToolCall(w, tu[0], tu[1], tu[2])
		}
		w.ArrayEnd()
	}
	xlate.EndChoice(w, finish)
	var u xlate.Usage
	readUsage(top[4], &u)
	return xlate.FinishCompletion(w, u), nil
}

// errorResponse maps {"type":"error","error":{"type","message"}} to an OpenAI error under the
// same status; Anthropic's error types already use OpenAI's names, and the type is also the code
// so clients can tell overloaded_error (529) apart.
func errorResponse(status int, body jsonx.Value) []byte {
	if status < 400 {
		status = 500
	}
	e := body.Get("error")
	typ, msg := e.Get("type").Str(), e.Get("message").Str()
	msg = xlate.ErrorMessage(msg, body, status)
	code := typ
	switch typ {
	case "", "overloaded_error":
		typ = xlate.ErrorType(status)
	}
	return xlate.ErrorResponse(status, msg, typ, code)
}
