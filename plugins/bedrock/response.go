package bedrock

import (
	"strings"

	"github.com/sluice-gw/sluice/plugins/internal/xlate"
	"github.com/sluice-gw/sluice/sdk/jsonx"
)

func finishReason(sr jsonx.Value) string {
	switch {
	case !sr.IsString():
		return ""
	case sr.Is("max_tokens"), sr.Is("model_context_window_exceeded"):
		return "length"
	case sr.Is("tool_use"):
		return "tool_calls"
	case sr.Is("guardrail_intervened"), sr.Is("content_filtered"):
		return "content_filter"
	}
	return "stop" // end_turn, stop_sequence
}

// readUsage: Converse reports cache reads and writes apart from inputTokens; OpenAI's
// prompt_tokens include them.
func readUsage(u jsonx.Value, into *xlate.Usage) {
	in, _ := u.Get("inputTokens").Int()
	cr, hasCR := u.Get("cacheReadInputTokens").Int()
	cw, hasCW := u.Get("cacheWriteInputTokens").Int()
	into.Prompt = in + cr + cw
	into.Completion, _ = u.Get("outputTokens").Int()
	into.Cached, into.HasCached = cr, hasCR
	into.CacheWrite, into.HasCacheWrite = cw, hasCW
}

// TranslateResponse turns a Converse response (or error) envelope into an OpenAI chat.completion
// (or error) envelope. Converse responses carry no id or model, so the id is derived from the
// request id and the model is the envelope's.
func TranslateResponse(in []byte) ([]byte, error) {
	resp, err := xlate.ParseResponse(in)
	if err != nil {
		return nil, err
	}
	body := resp.Body
	if resp.Status >= 400 {
		return errorResponse(resp.Status, body), nil
	}
	if !body.IsObject() {
		return nil, xlate.UpstreamError("bedrock: response body is not an object")
	}
	content := body.Get("output", "message", "content")
	text, reasoning := xlate.Scratch(xlate.SlotText, 0), xlate.Scratch(xlate.SlotText2, 0)
	tools := 0
	answered := false
	var signature jsonx.Value
	var bf [3]jsonx.Value
	for _, b := range content.Elems() {
		b.Fields(bf[:], "text", "toolUse", "reasoningContent")
		switch {
		case bf[0].IsString():
			text = bf[0].AppendRawStr(text)
		case bf[1].IsObject() && bf[1].Get("name").Is(xlate.AnswerTool):
			// Structured output through the answer tool: its input is the answer.
			text = xlate.AppendEscaped(text, bf[1].Get("input").Raw())
			answered = true
		case bf[1].IsObject():
			tools++
		case bf[2].IsObject():
			rt := bf[2].Get("reasoningText")
			reasoning = rt.Get("text").AppendRawStr(reasoning)
			if s := rt.Get("signature"); s.IsString() {
				signature = s
			}
		}
	}
	w := xlate.StartCompletion(len(body.Raw()) + 256)
	w.String("chatcmpl-" + resp.RequestID)
	xlate.OpenChoices(w, resp.Now, resp.Model)
	xlate.BeginChoice(w, 0, text, tools > 0)
	xlate.WriteReasoning(w, reasoning)
	if len(reasoning) > 0 && signature.IsString() {
		w.Key("reasoning_signature")
		w.Value(signature)
	}
	if tools > 0 {
		w.Key("tool_calls")
		w.ArrayStart()
		var tf [3]jsonx.Value
		for _, b := range content.Elems() {
			tu := b.Get("toolUse")
			if !tu.IsObject() || tu.Get("name").Is(xlate.AnswerTool) {
				continue
			}
			tu.Fields(tf[:], "toolUseId", "name", "input")
			xlate.WriteToolCall(w, tf[0], tf[1], tf[2])
		}
		w.ArrayEnd()
	}
	finish := finishReason(body.Get("stopReason"))
	if answered && tools == 0 && finish == "tool_calls" {
		finish = "stop"
	}
	xlate.EndChoice(w, finish)
	var u xlate.Usage
	readUsage(body.Get("usage"), &u)
	xlate.Keep(xlate.SlotText, text)
	xlate.Keep(xlate.SlotText2, reasoning)
	return xlate.FinishCompletion(w, u), nil
}

// errorResponse maps a Bedrock error body {"message":"..."} (the exception name, when the body
// has one in __type, becomes the code).
func errorResponse(status int, body jsonx.Value) []byte {
	msg := body.Get("message").Str()
	if msg == "" {
		msg = body.Get("Message").Str()
	}
	msg = xlate.ErrorMessage(msg, body, status)
	code := body.Get("__type").Str()
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	return xlate.ErrorResponse(status, msg, xlate.ErrorType(status), code)
}
