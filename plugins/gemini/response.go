package gemini

import (
	"strconv"

	"github.com/sluice-gw/sluice/plugins/internal/xlate"
	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// finishReason maps Gemini's finishReason; blocked reports the safety-type reasons.
func finishReason(fr jsonx.Value) (reason string, blocked bool) {
	switch {
	case !fr.IsString(), fr.Is("FINISH_REASON_UNSPECIFIED"):
		return "", false
	case fr.Is("STOP"):
		return "stop", false
	case fr.Is("MAX_TOKENS"):
		return "length", false
	case fr.Is("SAFETY"), fr.Is("RECITATION"), fr.Is("BLOCKLIST"), fr.Is("PROHIBITED_CONTENT"),
		fr.Is("SPII"), fr.Is("IMAGE_SAFETY"), fr.Is("LANGUAGE"):
		return "content_filter", true
	case fr.Is("MALFORMED_FUNCTION_CALL"), fr.Is("UNEXPECTED_TOOL_CALL"):
		return "stop", false
	}
	return "stop", false
}

func readUsage(um jsonx.Value, u *xlate.Usage) {
	if !um.IsObject() {
		return
	}
	// One pass: every stream event carries usageMetadata.
	var f [4]jsonx.Value
	um.Fields(f[:], "promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount", "cachedContentTokenCount")
	u.Prompt, _ = f[0].Int()
	cand, _ := f[1].Int()
	thoughts, hasThoughts := f[2].Int()
	// OpenAI counts reasoning inside completion_tokens; Gemini reports it separately.
	u.Completion = cand + thoughts
	u.Reasoning, u.HasReasoning = thoughts, hasThoughts
	u.Cached, u.HasCached = f[3].Int()
}

// toolCallID is deterministic so a retried translation and the stream produce the same ids.
func toolCallID(requestID string, choice, n int64) string {
	return "call_" + requestID + "_" + strconv.FormatInt(choice, 10) + "_" + strconv.FormatInt(n, 10)
}

func blockedError(reason string) []byte {
	return xlate.ErrorResponse(400, "gemini: prompt blocked by safety filters: "+reason, "invalid_request_error", "content_filter")
}

// TranslateResponse turns a GenerateContentResponse (or Google error) envelope into an OpenAI
// chat.completion (or error) envelope.
func TranslateResponse(in []byte) ([]byte, error) {
	resp, err := xlate.ParseResponse(in)
	if err != nil {
		return nil, err
	}
	body := resp.Body
	// One pass over the body: each Get walks it from the start, skipping the candidates.
	var f [6]jsonx.Value
	body.Fields(f[:], "error", "candidates", "promptFeedback", "modelVersion", "responseId", "usageMetadata")
	if resp.Status >= 400 || f[0].IsObject() || body.IsArray() && body.Index(0).Get("error").IsObject() {
		return errorResponse(resp.Status, body), nil
	}
	if !body.IsObject() {
		return nil, xlate.UpstreamError("gemini: response body is not an object")
	}
	cands := f[1]
	if br := f[2].Get("blockReason"); br.IsString() && cands.Len() == 0 {
		return blockedError(br.Str()), nil
	}
	model := f[3].Str()
	if model == "" {
		model = resp.Model
	}
	id := f[4].Str()
	if id == "" {
		id = "chatcmpl-" + resp.RequestID
	}
	w := xlate.StartCompletion(len(body.Raw()) + 256)
	w.String(id)
	xlate.OpenChoices(w, resp.Now, model)
	bufs := candidateBufs{text: xlate.Scratch(xlate.SlotText, 0), thought: xlate.Scratch(xlate.SlotText2, 0)}
	for ci, c := range cands.Elems() {
		bufs.writeCandidate(w, c, int64(ci), resp.RequestID)
	}
	var u xlate.Usage
	readUsage(f[5], &u)
	xlate.Keep(xlate.SlotText, bufs.text)
	xlate.Keep(xlate.SlotText2, bufs.thought)
	return xlate.FinishCompletion(w, u), nil
}

// candidateBufs are the buffers one candidate's parts are gathered into, reused from one
// candidate to the next.
type candidateBufs struct {
	text, thought []byte // still escaped
	sigs          []byte // the thought signatures' segments
}

// writeCandidate writes candidate c (the ci-th) as one choice: its text, reasoning, thought
// signatures and tool calls.
func (b *candidateBufs) writeCandidate(w *jsonx.Writer, c jsonx.Value, ci int64, requestID string) {
	idx := ci
	var cf [3]jsonx.Value
	c.Fields(cf[:], "index", "content", "finishReason")
	if n, ok := cf[0].Int(); ok {
		idx = n
	}
	var af [1]jsonx.Value
	cf[1].Fields(af[:], "parts")
	parts := af[0]
	calls := b.readParts(parts)
	fr, blocked := finishReason(cf[2])
	if calls > 0 && fr == "stop" {
		fr = "tool_calls"
	}
	xlate.BeginChoice(w, idx, b.text, calls > 0 || blocked)
	if blocked {
		w.Key("refusal")
		w.String("gemini: response blocked (finishReason " + cf[2].Str() + ")")
	}
	xlate.WriteReasoning(w, b.thought)
	if len(b.sigs) > 0 {
		w.Key("reasoning_signature")
		w.StringBytes(b.sigs)
	}
	if calls > 0 {
		writeToolCalls(w, parts, requestID, idx)
	}
	xlate.EndChoice(w, fr)
}

// readParts gathers the parts' text, thought text and signatures into b, and returns how many
// function calls there are.
func (b *candidateBufs) readParts(parts jsonx.Value) int64 {
	b.text, b.thought, b.sigs = b.text[:0], b.thought[:0], b.sigs[:0]
	calls := int64(0)
	var pf [4]jsonx.Value
	for _, p := range parts.Elems() {
		p.Fields(pf[:], "functionCall", "thought", "text", "thoughtSignature")
		if sig := pf[3]; sig.IsString() && !sig.Is("") {
			call := int64(-1)
			if pf[0].IsObject() {
				call = calls
			}
			b.sigs = appendSigSegment(b.sigs, call, sig)
		}
		switch {
		case pf[0].IsObject():
			calls++
		case pf[1].Raw() != nil && isTrue(pf[1]):
			b.thought = pf[2].AppendRawStr(b.thought)
		default:
			b.text = pf[2].AppendRawStr(b.text)
		}
	}
	return calls
}

// writeToolCalls writes the function calls among parts as the choice's tool_calls.
func writeToolCalls(w *jsonx.Writer, parts jsonx.Value, requestID string, idx int64) {
	var af [1]jsonx.Value
	w.Key("tool_calls")
	w.ArrayStart()
	n := int64(0)
	for _, p := range parts.Elems() {
		p.Fields(af[:], "functionCall")
		fc := af[0]
		if !fc.IsObject() {
			continue
		}
		writeToolCall(w, fc, toolCallID(requestID, idx, n))
		n++
	}
	w.ArrayEnd()
}

func isTrue(v jsonx.Value) bool {
	b, _ := v.Bool()
	return b
}

func writeToolCall(w *jsonx.Writer, fc jsonx.Value, id string) {
	w.ObjectStart()
	w.Key("id")
	w.String(id)
	w.Key("type")
	w.String("function")
	w.Key("function")
	w.ObjectStart()
	var f [2]jsonx.Value
	fc.Fields(f[:], "name", "args")
	w.Key("name")
	w.Value(f[0])
	w.Key("arguments")
	if args := f[1]; args.IsObject() {
		w.StringBytes(args.Raw())
	} else {
		w.String("{}")
	}
	w.ObjectEnd()
	w.ObjectEnd()
}

// errorResponse maps {"error":{"code":400,"message":"...","status":"INVALID_ARGUMENT"}}.
// Some Google front ends wrap it in a one-element array.
func errorResponse(status int, body jsonx.Value) []byte {
	if body.IsArray() {
		body = body.Index(0)
	}
	e := body.Get("error")
	if status < 400 {
		status = 500
		if n, ok := e.Get("code").Int(); ok && n >= 400 {
			status = int(n)
		}
	}
	msg := e.Get("message").Str()
	msg = xlate.ErrorMessage(msg, body, status)
	return xlate.ErrorResponse(status, msg, xlate.ErrorType(status), e.Get("status").Str())
}
