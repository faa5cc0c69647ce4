package fakeprovider

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// created is the fixed "created" timestamp of every OpenAI object, for deterministic output.
const created = 1700000000

type oaMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type oaRequest struct {
	Model         string `json:"model"`
	Stream        bool   `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Messages   []oaMessage     `json:"messages"`
	Prompt     json.RawMessage `json:"prompt"`
	Input      json.RawMessage `json:"input"`
	Dimensions int             `json:"dimensions"`
	Encoding   string          `json:"encoding_format"`
}

func (q *oaRequest) includeUsage() bool {
	return q.StreamOptions != nil && q.StreamOptions.IncludeUsage
}

// contentText flattens an OpenAI/Anthropic-style content value (a string or an array of
// parts with "text") to text.
func contentText(raw json.RawMessage) string {
	if len(raw) == 0 || raw[0] == 'n' {
		return ""
	}
	if raw[0] == '"' {
		var s string
		_ = json.Unmarshal(raw, &s)
		return s
	}
	var parts []struct {
		Text string `json:"text"`
	}
	_ = json.Unmarshal(raw, &parts)
	var b []string
	for _, p := range parts {
		if p.Text != "" {
			b = append(b, p.Text)
		}
	}
	return strings.Join(b, " ")
}

func (s *Server) serveOpenAI(w http.ResponseWriter, r *http.Request) {
	rec, err := newReceived(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req oaRequest
	status := http.StatusBadRequest
	code := "invalid_request_error"
	path := strings.TrimSuffix(r.URL.Path, "/")
	if (path == "/v1/responses" || strings.HasPrefix(path, "/v1/responses/")) && !s.cfg.noResponses {
		s.serveResponses(w, r, rec, path)
		return
	}
	known := path == "/v1/chat/completions" || path == "/v1/completions" || path == "/v1/embeddings"
	switch {
	case s.cfg.key != "" && r.Header.Get("Authorization") != "Bearer "+s.cfg.key:
		status, code = http.StatusUnauthorized, "invalid_api_key"
		rec.Invalid = "Incorrect API key provided."
	case path == "/v1/responses" || strings.HasPrefix(path, "/v1/responses/"):
		status, code = http.StatusNotFound, ""
		rec.Invalid = "Invalid URL (" + r.Method + " " + path + ")"
	case known && r.Method != http.MethodPost:
		status, code = http.StatusMethodNotAllowed, "method_not_allowed"
		rec.Invalid = "Method " + r.Method + " is not allowed for " + path + "."
	case known:
		if err := json.Unmarshal(rec.Body, &req); err != nil {
			rec.Invalid = "We could not parse the JSON body of your request."
			break
		}
		rec.Model, rec.Stream = req.Model, req.Stream
		switch {
		case req.Model == "":
			rec.Invalid = "you must provide a model parameter"
		case path == "/v1/chat/completions" && len(req.Messages) == 0:
			rec.Invalid = "[] is too short - 'messages'"
		case path == "/v1/completions" && len(req.Prompt) == 0:
			rec.Invalid = "prompt is required"
		case path == "/v1/embeddings" && len(req.Input) == 0:
			rec.Invalid = "'input' is a required property"
		}
	}
	reply := s.record(rec)
	x := s.newExchange(w, r, reply)
	if rec.Invalid != "" {
		x.body(status, "application/json", openAIError(status, code, rec.Invalid))
		return
	}
	if reply.Status >= 400 && reply.Body == nil {
		msg := reply.Message
		if msg == "" {
			msg = http.StatusText(reply.Status)
		}
		x.body(reply.Status, "application/json", openAIError(reply.Status, "", msg))
		return
	}
	if reply.Body != nil && (!rec.Stream || reply.Chunks == nil) {
		x.body(http.StatusOK, "application/json", reply.Body)
		return
	}
	switch path {
	case "/v1/chat/completions":
		s.openAIChat(x, rec, &req)
	case "/v1/completions":
		s.openAICompletion(x, rec, &req)
	case "/v1/embeddings":
		s.openAIEmbeddings(x, rec, &req)
	case "/v1/models":
		s.openAIModels(x, "")
	default:
		if id, ok := strings.CutPrefix(path, "/v1/models/"); ok && r.Method == http.MethodGet {
			s.openAIModels(x, id)
			return
		}
		echo := map[string]any{
			"method":       rec.Method,
			"path":         rec.Path,
			"query":        rec.RawQuery,
			"content_type": r.Header.Get("Content-Type"),
			"body":         string(rec.Body),
		}
		x.body(http.StatusOK, "application/json", mustJSON(echo))
	}
}

// openAIError renders OpenAI's error object for status.
func openAIError(status int, code, msg string) []byte {
	typ := "invalid_request_error"
	switch {
	case status == http.StatusTooManyRequests:
		typ = "requests"
		if code == "" {
			code = "rate_limit_exceeded"
		}
	case status >= 500:
		typ = "server_error"
	case status == http.StatusNotFound && code == "":
		code = "not_found"
	}
	var c any
	if code != "" {
		c = code
	}
	return mustJSON(map[string]any{"error": map[string]any{
		"message": msg, "type": typ, "param": nil, "code": c,
	}})
}

// replyText is the text a derived reply carries: the scripted text, the fixed benchmark
// text, or the echo of the request.
func (s *Server) replyText(reply *Reply, echo string) string {
	switch {
	case reply.Text != "":
		return reply.Text
	case len(reply.ToolCalls) > 0:
		return ""
	case s.fixed != nil:
		return s.fixed.text
	}
	return echo
}

func lastUserText(msgs []oaMessage) (last string, promptWords int) {
	for _, m := range msgs {
		t := contentText(m.Content)
		promptWords += words(t)
		if m.Role == "user" {
			last = t
		}
	}
	return last, promptWords
}

func toolCallID(c ToolCall, seq, i int) string {
	if c.ID != "" {
		return c.ID
	}
	return "call_fake_" + strconv.Itoa(seq) + "_" + strconv.Itoa(i)
}

func toolArgs(c ToolCall) string {
	if c.Arguments == "" {
		return "{}"
	}
	return c.Arguments
}

type oaUsage struct{ prompt, completion, cached, reasoning int }

func (u oaUsage) append(b []byte) []byte {
	b = append(b, `{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(u.prompt), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(u.completion), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(u.prompt+u.completion), 10)
	if u.cached > 0 {
		b = append(b, `,"prompt_tokens_details":{"cached_tokens":`...)
		b = strconv.AppendInt(b, int64(u.cached), 10)
		b = append(b, '}')
	}
	if u.reasoning > 0 {
		b = append(b, `,"completion_tokens_details":{"reasoning_tokens":`...)
		b = strconv.AppendInt(b, int64(u.reasoning), 10)
		b = append(b, '}')
	}
	return append(b, '}')
}

func pick(override, derived int) int {
	if override != 0 {
		return override
	}
	return derived
}

func (s *Server) openAIChat(x *exchange, rec *Received, req *oaRequest) {
	reply := &x.reply
	echo, promptWords := lastUserText(req.Messages)
	text := s.replyText(reply, echo)
	textJSON := []byte(nil)
	if s.fixed != nil && text == s.fixed.text {
		textJSON = s.fixed.json
	}
	finish := reply.FinishReason
	if finish == "" {
		finish = "stop"
		if len(reply.ToolCalls) > 0 {
			finish = "tool_calls"
		}
	}
	completion := words(text)
	for _, c := range reply.ToolCalls {
		completion += words(c.Name) + words(c.Arguments)
	}
	u := oaUsage{
		prompt:     pick(reply.Usage.Input, promptWords),
		completion: pick(reply.Usage.Output, completion),
		cached:     reply.Usage.CacheRead,
		reasoning:  reply.Usage.Reasoning,
	}
	id := "chatcmpl-fake-" + strconv.Itoa(rec.Seq)
	if !rec.Stream {
		b := make([]byte, 0, 256+len(text)+len(textJSON))
		b = append(b, `{"id":`...)
		b = appendJSONString(b, id)
		b = append(b, `,"object":"chat.completion","created":1700000000,"model":`...)
		b = appendJSONString(b, req.Model)
		b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
		switch {
		case textJSON != nil:
			b = append(b, textJSON...)
		case text == "" && len(reply.ToolCalls) > 0:
			b = append(b, "null"...)
		default:
			b = appendJSONString(b, text)
		}
		b = append(b, `,"refusal":null`...)
		if len(reply.ToolCalls) > 0 {
			b = append(b, `,"tool_calls":[`...)
			for i, c := range reply.ToolCalls {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"id":`...)
				b = appendJSONString(b, toolCallID(c, rec.Seq, i))
				b = append(b, `,"type":"function","function":{"name":`...)
				b = appendJSONString(b, c.Name)
				b = append(b, `,"arguments":`...)
				b = appendJSONString(b, toolArgs(c))
				b = append(b, "}}"...)
			}
			b = append(b, ']')
		}
		b = append(b, `},"logprobs":null,"finish_reason":`...)
		b = appendJSONString(b, finish)
		b = append(b, `}],"usage":`...)
		b = u.append(b)
		b = append(b, `,"system_fingerprint":"fp_fake"}`...)
		x.body(http.StatusOK, "application/json", b)
		return
	}

	if !x.begin(http.StatusOK, "text/event-stream") {
		return
	}
	usage := req.includeUsage()
	if reply.Chunks != nil {
		for _, c := range reply.Chunks {
			if !x.chunk(sseData(c)) {
				return
			}
		}
		x.end([]byte("data: [DONE]\n\n"))
		return
	}
	head := make([]byte, 0, 160)
	head = append(head, `{"id":`...)
	head = appendJSONString(head, id)
	head = append(head, `,"object":"chat.completion.chunk","created":1700000000,"model":`...)
	head = appendJSONString(head, req.Model)
	head = append(head, `,"system_fingerprint":"fp_fake","choices":[{"index":0,"delta":`...)
	tail := []byte(`,"logprobs":null,"finish_reason":null}]`)
	if usage {
		tail = append(tail, `,"usage":null`...)
	}
	tail = append(tail, '}')
	frame := func(delta []byte) []byte {
		b := make([]byte, 0, 6+len(head)+len(delta)+len(tail)+2)
		b = append(b, "data: "...)
		b = append(b, head...)
		b = append(b, delta...)
		b = append(b, tail...)
		return append(b, '\n', '\n')
	}
	if !x.chunk(frame([]byte(`{"role":"assistant","content":"","refusal":null}`))) {
		return
	}
	for _, piece := range split(text, reply.Pieces) {
		d := append([]byte(`{"content":`), appendJSONString(nil, piece)...)
		if !x.chunk(frame(append(d, '}'))) {
			return
		}
	}
	for i, c := range reply.ToolCalls {
		d := []byte(`{"tool_calls":[{"index":`)
		d = strconv.AppendInt(d, int64(i), 10)
		d = append(d, `,"id":`...)
		d = appendJSONString(d, toolCallID(c, rec.Seq, i))
		d = append(d, `,"type":"function","function":{"name":`...)
		d = appendJSONString(d, c.Name)
		d = append(d, `,"arguments":""}}]}`...)
		if !x.chunk(frame(d)) {
			return
		}
		args := toolArgs(c)
		for _, part := range []string{args[:len(args)/2], args[len(args)/2:]} {
			d := []byte(`{"tool_calls":[{"index":`)
			d = strconv.AppendInt(d, int64(i), 10)
			d = append(d, `,"function":{"arguments":`...)
			d = appendJSONString(d, part)
			d = append(d, `}}]}`...)
			if !x.chunk(frame(d)) {
				return
			}
		}
	}
	last := make([]byte, 0, 6+len(head)+80)
	last = append(last, "data: "...)
	last = append(last, head...)
	last = append(last, `{},"logprobs":null,"finish_reason":`...)
	last = appendJSONString(last, finish)
	last = append(last, "}]"...)
	if usage {
		last = append(last, `,"usage":null`...)
	}
	last = append(last, "}\n\n"...)
	if !x.chunk(last) {
		return
	}
	if usage {
		b := []byte(`data: {"id":`)
		b = appendJSONString(b, id)
		b = append(b, `,"object":"chat.completion.chunk","created":1700000000,"model":`...)
		b = appendJSONString(b, req.Model)
		b = append(b, `,"system_fingerprint":"fp_fake","choices":[],"usage":`...)
		b = u.append(b)
		b = append(b, "}\n\n"...)
		if !x.chunk(b) {
			return
		}
	}
	x.end([]byte("data: [DONE]\n\n"))
}

func sseData(payload string) []byte {
	return []byte("data: " + payload + "\n\n")
}

// promptTexts reads a completions prompt or embeddings input: a string, an array of
// strings, or token arrays (rendered as their count of tokens).
func promptTexts(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		return many
	}
	var tokens []int
	if json.Unmarshal(raw, &tokens) == nil {
		return []string{strings.Repeat("t ", len(tokens))}
	}
	var batches [][]int
	_ = json.Unmarshal(raw, &batches)
	out := make([]string, len(batches))
	for i, t := range batches {
		out[i] = strings.Repeat("t ", len(t))
	}
	return out
}

func (s *Server) openAICompletion(x *exchange, rec *Received, req *oaRequest) {
	reply := &x.reply
	prompts := promptTexts(req.Prompt)
	echo, promptWords := "", 0
	for _, p := range prompts {
		promptWords += words(p)
		echo = p
	}
	text := s.replyText(reply, echo)
	finish := reply.FinishReason
	if finish == "" {
		finish = "stop"
	}
	id := "cmpl-fake-" + strconv.Itoa(rec.Seq)
	usage := map[string]int{
		"prompt_tokens":     pick(reply.Usage.Input, promptWords),
		"completion_tokens": pick(reply.Usage.Output, words(text)),
	}
	usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
	obj := func(text string, finish any) map[string]any {
		return map[string]any{
			"id": id, "object": "text_completion", "created": created, "model": req.Model,
			"choices": []any{map[string]any{"text": text, "index": 0, "logprobs": nil, "finish_reason": finish}},
		}
	}
	if !rec.Stream {
		o := obj(text, finish)
		o["usage"] = usage
		x.body(http.StatusOK, "application/json", mustJSON(o))
		return
	}
	if !x.begin(http.StatusOK, "text/event-stream") {
		return
	}
	if reply.Chunks != nil {
		for _, c := range reply.Chunks {
			if !x.chunk(sseData(c)) {
				return
			}
		}
		x.end([]byte("data: [DONE]\n\n"))
		return
	}
	for _, piece := range split(text, reply.Pieces) {
		if !x.chunk(sseData(string(mustJSON(obj(piece, nil))))) {
			return
		}
	}
	if !x.chunk(sseData(string(mustJSON(obj("", finish))))) {
		return
	}
	if req.includeUsage() {
		o := obj("", nil)
		o["choices"] = []any{}
		o["usage"] = usage
		if !x.chunk(sseData(string(mustJSON(o)))) {
			return
		}
	}
	x.end([]byte("data: [DONE]\n\n"))
}

// embedding derives a deterministic unit-free vector from text.
func embedding(text string, dims int) []float32 {
	v := make([]float32, dims)
	for i := range v {
		h := fnv.New64a()
		h.Write([]byte(text))
		h.Write([]byte{byte(i), byte(i >> 8)})
		v[i] = float32(h.Sum64()%2000)/1000 - 1
	}
	return v
}

func (s *Server) openAIEmbeddings(x *exchange, rec *Received, req *oaRequest) {
	inputs := promptTexts(req.Input)
	dims := req.Dimensions
	if dims <= 0 {
		dims = 8
	}
	data := make([]any, len(inputs))
	total := 0
	for i, in := range inputs {
		total += words(in)
		vec := embedding(in, dims)
		var e any = vec
		if req.Encoding == "base64" {
			raw := make([]byte, 4*len(vec))
			for j, f := range vec {
				binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(f))
			}
			e = base64.StdEncoding.EncodeToString(raw)
		}
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": e}
	}
	total = pick(x.reply.Usage.Input, total)
	x.body(http.StatusOK, "application/json", mustJSON(map[string]any{
		"object": "list", "data": data, "model": req.Model,
		"usage": map[string]int{"prompt_tokens": total, "total_tokens": total},
	}))
}

func (s *Server) openAIModels(x *exchange, id string) {
	ids := s.cfg.models
	if ids == nil {
		ids = []string{"gpt-4o-mini", "gpt-4o", "text-embedding-3-small"}
	}
	model := func(id string) map[string]any {
		return map[string]any{"id": id, "object": "model", "created": created, "owned_by": "fakeprovider"}
	}
	if id != "" {
		for _, m := range ids {
			if m == id {
				x.body(http.StatusOK, "application/json", mustJSON(model(id)))
				return
			}
		}
		x.body(http.StatusNotFound, "application/json",
			openAIError(http.StatusNotFound, "model_not_found", "The model '"+id+"' does not exist"))
		return
	}
	data := make([]any, len(ids))
	for i, m := range ids {
		data[i] = model(m)
	}
	x.body(http.StatusOK, "application/json", mustJSON(map[string]any{"object": "list", "data": data}))
}
