package xlate

import "github.com/sluice-gw/sluice/sdk/jsonx"

// StartCompletion starts a translate_response output (status 200) in the SlotOut buffer with a
// chat.completion body, up to the id member's key: the caller writes the id, then OpenChoices.
func StartCompletion(sizeHint int) *jsonx.Writer {
	w := jsonx.NewWriter(Scratch(SlotOut, sizeHint))
	w.ObjectStart()
	w.Key("status")
	w.Int(200)
	w.Key("body")
	w.ObjectStart()
	w.Key("id")
	return w
}

// OpenChoices writes the chat.completion members after the id and opens the choices array.
func OpenChoices(w *jsonx.Writer, created int64, model string) {
	w.Key("object")
	w.String("chat.completion")
	w.Key("created")
	w.Int(created)
	w.Key("model")
	w.String(model)
	w.Key("choices")
	w.ArrayStart()
}

// BeginChoice opens a choice and its assistant message and writes the content: the text (still
// JSON-escaped), or null when it is empty and null is set (a message of tool calls only).
func BeginChoice(w *jsonx.Writer, index int64, text []byte, null bool) {
	w.ObjectStart()
	w.Key("index")
	w.Int(index)
	w.Key("message")
	w.ObjectStart()
	w.Key("role")
	w.String("assistant")
	w.Key("content")
	if len(text) == 0 && null {
		w.Null()
	} else {
		w.StringRaw(text)
	}
}

// WriteReasoning writes reasoning_content (still JSON-escaped) when there is any.
func WriteReasoning(w *jsonx.Writer, reasoning []byte) {
	if len(reasoning) > 0 {
		w.Key("reasoning_content")
		w.StringRaw(reasoning)
	}
}

// WriteToolCall writes an OpenAI tool call whose arguments string is the JSON text of input
// ("{}" when input is absent).
func WriteToolCall(w *jsonx.Writer, id, name, input jsonx.Value) {
	w.ObjectStart()
	w.Key("id")
	w.Value(id)
	w.Key("type")
	w.String("function")
	w.Key("function")
	w.ObjectStart()
	w.Key("name")
	w.Value(name)
	w.Key("arguments")
	if input.Exists() {
		w.StringBytes(input.Raw())
	} else {
		w.String("{}")
	}
	w.ObjectEnd()
	w.ObjectEnd()
}

// EndChoice closes the message and writes logprobs and finish_reason (null when empty), closing
// the choice.
func EndChoice(w *jsonx.Writer, finish string) {
	w.ObjectEnd()
	w.Key("logprobs")
	w.Null()
	w.Key("finish_reason")
	if finish == "" {
		w.Null()
	} else {
		w.String(finish)
	}
	w.ObjectEnd()
}

// FinishCompletion closes the choices, writes the usage and finishes the output.
func FinishCompletion(w *jsonx.Writer, u Usage) []byte {
	w.ArrayEnd()
	w.Key("usage")
	u.Write(w)
	return FinishOut(w)
}

// ErrorMessage is msg, or when the provider's error shape gave none, ErrorMessageFromBody.
func ErrorMessage(msg string, body jsonx.Value, status int) string {
	if msg == "" {
		return ErrorMessageFromBody(body, status)
	}
	return msg
}
