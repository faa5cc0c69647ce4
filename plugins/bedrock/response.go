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
	cw, _ := u.Get("cacheWriteInputTokens").Int()
	into.Prompt = in + cr + cw
	into.Completion, _ = u.Get("outputTokens").Int()
	into.Cached, into.HasCached = cr, hasCR
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
	var bf [3]jsonx.Value
	for _, b := range content.Elems() {
		b.Fields(bf[:], "text", "toolUse", "reasoningContent")
		switch {
		case bf[0].IsString():
			text = bf[0].AppendRawStr(text)
		case bf[1].IsObject():
			tools++
		case bf[2].IsObject():
			reasoning = bf[2].Get("reasoningText", "text").AppendRawStr(reasoning)
		}
	}
	w := jsonx.NewWriter(xlate.Scratch(xlate.SlotOut, len(body.Raw())+256))
	w.ObjectStart()
	w.Key("status")
	w.Int(200)
	w.Key("body")
	w.ObjectStart()
	w.Key("id")
	w.String("chatcmpl-" + resp.RequestID)
	w.Key("object")
	w.String("chat.completion")
	w.Key("created")
	w.Int(resp.Now)
	w.Key("model")
	w.String(resp.Model)
	w.Key("choices")
	w.ArrayStart()
	w.ObjectStart()
	w.Key("index")
	w.Int(0)
	w.Key("message")
	w.ObjectStart()
	w.Key("role")
	w.String("assistant")
	w.Key("content")
	if len(text) == 0 && tools > 0 {
		w.Null()
	} else {
		w.StringRaw(text)
	}
	if len(reasoning) > 0 {
		w.Key("reasoning_content")
		w.StringRaw(reasoning)
	}
	if tools > 0 {
		w.Key("tool_calls")
		w.ArrayStart()
		for _, b := range content.Elems() {
			tu := b.Get("toolUse")
			if !tu.IsObject() {
				continue
			}
			w.ObjectStart()
			w.Key("id")
			w.Value(tu.Get("toolUseId"))
			w.Key("type")
			w.String("function")
			w.Key("function")
			w.ObjectStart()
			w.Key("name")
			w.Value(tu.Get("name"))
			w.Key("arguments")
			if input := tu.Get("input"); input.Exists() {
				w.StringBytes(input.Raw())
			} else {
				w.String("{}")
			}
			w.ObjectEnd()
			w.ObjectEnd()
		}
		w.ArrayEnd()
	}
	w.ObjectEnd()
	w.Key("logprobs")
	w.Null()
	w.Key("finish_reason")
	if fr := finishReason(body.Get("stopReason")); fr != "" {
		w.String(fr)
	} else {
		w.Null()
	}
	w.ObjectEnd()
	w.ArrayEnd()
	var u xlate.Usage
	readUsage(body.Get("usage"), &u)
	w.Key("usage")
	u.Write(w)
	w.ObjectEnd()
	w.ObjectEnd()
	xlate.Keep(xlate.SlotText, text)
	xlate.Keep(xlate.SlotText2, reasoning)
	xlate.Keep(xlate.SlotOut, w.Bytes())
	return w.Bytes(), nil
}

// errorResponse maps a Bedrock error body {"message":"..."} (the exception name, when the body
// has one in __type, becomes the code).
func errorResponse(status int, body jsonx.Value) []byte {
	msg := body.Get("message").Str()
	if msg == "" {
		msg = body.Get("Message").Str()
	}
	if msg == "" {
		msg = xlate.ErrorMessageFromBody(body, status)
	}
	code := body.Get("__type").Str()
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	return xlate.ErrorResponse(status, msg, xlate.ErrorType(status), code)
}
