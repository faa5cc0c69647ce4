package fakeprovider

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Gemini's JSON is protobuf JSON: lowerCamel and snake_case names are both accepted.
func camel(k string) string {
	parts := strings.Split(k, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

func knownFields(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

var (
	geminiTop = knownFields("contents", "systemInstruction", "tools", "toolConfig", "generationConfig",
		"safetySettings", "cachedContent", "labels")
	geminiGenConfig = knownFields("temperature", "topP", "topK", "candidateCount", "maxOutputTokens",
		"stopSequences", "presencePenalty", "frequencyPenalty", "responseMimeType", "responseSchema",
		"responseJsonSchema", "seed", "responseLogprobs", "logprobs", "thinkingConfig",
		"responseModalities", "speechConfig", "mediaResolution", "enableEnhancedCivicAnswers",
		"imageConfig")
	geminiPart = knownFields("text", "inlineData", "fileData", "functionCall", "functionResponse",
		"executableCode", "codeExecutionResult", "thought", "thoughtSignature", "videoMetadata")
	geminiPartData = knownFields("text", "inlineData", "fileData", "functionCall", "functionResponse",
		"executableCode", "codeExecutionResult")
	geminiTool = knownFields("functionDeclarations", "googleSearch", "googleSearchRetrieval",
		"codeExecution", "urlContext")
	geminiDecl  = knownFields("name", "description", "parameters", "parametersJsonSchema", "response", "responseJsonSchema", "behavior")
	geminiModes = knownFields("AUTO", "ANY", "NONE", "VALIDATED", "MODE_UNSPECIFIED")
)

// unknownName renders the real API's message for an unknown JSON field.
func unknownName(name, at string) string {
	if at == "" {
		return fmt.Sprintf("Invalid JSON payload received. Unknown name %q: Cannot find field.", name)
	}
	return fmt.Sprintf("Invalid JSON payload received. Unknown name %q at '%s': Cannot find field.", name, at)
}

// checkFields reports the first key of m not in known (by its lowerCamel form).
func checkFields(m map[string]any, known map[string]bool, at string) string {
	for k := range m {
		if !known[camel(k)] {
			return unknownName(k, at)
		}
	}
	return ""
}

// field reads a key in either spelling.
func field(m map[string]any, camelName string) any {
	if v, ok := m[camelName]; ok {
		return v
	}
	var b strings.Builder
	for _, c := range camelName {
		if c >= 'A' && c <= 'Z' {
			b.WriteByte('_')
			c += 'a' - 'A'
		}
		b.WriteRune(c)
	}
	return m[b.String()]
}

// findSchemaKey finds additionalProperties or $schema anywhere in a parameters schema.
func findSchemaKey(v any, at string) string {
	switch s := v.(type) {
	case map[string]any:
		for k, inner := range s {
			if k == "additionalProperties" || k == "$schema" || k == "additional_properties" {
				return unknownName(k, at)
			}
			if msg := findSchemaKey(inner, at+"."+k); msg != "" {
				return msg
			}
		}
	case []any:
		for i, inner := range s {
			if msg := findSchemaKey(inner, fmt.Sprintf("%s[%d]", at, i)); msg != "" {
				return msg
			}
		}
	}
	return ""
}

func validateGeminiParts(parts any, at string) string {
	arr, ok := parts.([]any)
	if !ok || len(arr) == 0 {
		return "* GenerateContentRequest." + at + ".parts: contents.parts must not be empty.\n"
	}
	for i, raw := range arr {
		p, ok := raw.(map[string]any)
		where := fmt.Sprintf("%s.parts[%d]", at, i)
		if !ok {
			return "Invalid value at '" + where + "'"
		}
		if msg := checkFields(p, geminiPart, where); msg != "" {
			return msg
		}
		data := 0
		for k := range p {
			if geminiPartData[camel(k)] {
				data++
			}
		}
		if data != 1 {
			return "* GenerateContentRequest." + where + ".data: required oneof field 'data' must have one initialized field"
		}
		if v := field(p, "inlineData"); v != nil {
			d, _ := v.(map[string]any)
			mt, _ := field(d, "mimeType").(string)
			b64, _ := d["data"].(string)
			if mt == "" {
				return "* GenerateContentRequest." + where + ".inline_data.mime_type: mime_type must not be empty"
			}
			if _, err := base64.StdEncoding.DecodeString(b64); err != nil || b64 == "" {
				return "Invalid value at '" + where + ".inline_data.data' (TYPE_BYTES), Base64 decoding failed"
			}
		}
		if v := field(p, "functionCall"); v != nil {
			fc, _ := v.(map[string]any)
			if n, _ := fc["name"].(string); n == "" {
				return "* GenerateContentRequest." + where + ".function_call.name: Name cannot be empty."
			}
		}
		if v := field(p, "functionResponse"); v != nil {
			fr, _ := v.(map[string]any)
			if n, _ := fr["name"].(string); n == "" {
				return "* GenerateContentRequest." + where + ".function_response.name: Name cannot be empty."
			}
			if _, ok := fr["response"].(map[string]any); !ok {
				return "Invalid value at '" + where + ".function_response.response' (type.googleapis.com/google.protobuf.Struct)"
			}
		}
	}
	return ""
}

// validateGemini checks a generateContent request; it returns the error message or "".
func validateGemini(m map[string]any) string {
	if msg := checkFields(m, geminiTop, ""); msg != "" {
		return msg
	}
	contents, ok := m["contents"].([]any)
	if !ok || len(contents) == 0 {
		return "* GenerateContentRequest.contents: contents is not specified"
	}
	for i, raw := range contents {
		c, ok := raw.(map[string]any)
		at := fmt.Sprintf("contents[%d]", i)
		if !ok {
			return "Invalid value at '" + at + "'"
		}
		if msg := checkFields(c, knownFields("role", "parts"), at); msg != "" {
			return msg
		}
		if role, _ := c["role"].(string); role != "user" && role != "model" && !(role == "" && len(contents) == 1) {
			return fmt.Sprintf("Please use a valid role: user, model. (got %q at %s)", role, at)
		}
		if msg := validateGeminiParts(c["parts"], at); msg != "" {
			return msg
		}
	}
	if v := field(m, "systemInstruction"); v != nil {
		si, ok := v.(map[string]any)
		if !ok {
			return "Invalid value at 'system_instruction'"
		}
		if msg := checkFields(si, knownFields("role", "parts"), "system_instruction"); msg != "" {
			return msg
		}
		if msg := validateGeminiParts(si["parts"], "system_instruction"); msg != "" {
			return msg
		}
	}
	if v := field(m, "generationConfig"); v != nil {
		gc, ok := v.(map[string]any)
		if !ok {
			return "Invalid value at 'generation_config'"
		}
		if msg := checkFields(gc, geminiGenConfig, "generation_config"); msg != "" {
			return msg
		}
	}
	if v, ok := m["tools"]; ok {
		tools, ok := v.([]any)
		if !ok {
			return "Invalid value at 'tools'"
		}
		for i, raw := range tools {
			tool, _ := raw.(map[string]any)
			at := fmt.Sprintf("tools[%d]", i)
			if msg := checkFields(tool, geminiTool, at); msg != "" {
				return msg
			}
			decls, _ := field(tool, "functionDeclarations").([]any)
			for j, rd := range decls {
				d, _ := rd.(map[string]any)
				dat := fmt.Sprintf("%s.function_declarations[%d]", at, j)
				if msg := checkFields(d, geminiDecl, dat); msg != "" {
					return msg
				}
				if n, _ := d["name"].(string); n == "" {
					return "* GenerateContentRequest." + dat + ".name: Name cannot be empty."
				}
				if msg := findSchemaKey(d["parameters"], dat+".parameters"); msg != "" {
					return msg
				}
			}
		}
	}
	if v := field(m, "toolConfig"); v != nil {
		tc, _ := v.(map[string]any)
		if msg := checkFields(tc, knownFields("functionCallingConfig", "retrievalConfig"), "tool_config"); msg != "" {
			return msg
		}
		if fv := field(tc, "functionCallingConfig"); fv != nil {
			fc, _ := fv.(map[string]any)
			if msg := checkFields(fc, knownFields("mode", "allowedFunctionNames"), "tool_config.function_calling_config"); msg != "" {
				return msg
			}
			// The real API reportedly ignores a lower-case mode; rejecting it here surfaces
			// the translator bug instead of letting it pass silently.
			if mode, ok := fc["mode"]; ok {
				if s, _ := mode.(string); !geminiModes[s] {
					return fmt.Sprintf("Invalid value at 'tool_config.function_calling_config.mode' (type.googleapis.com/google.ai.generativelanguage.v1beta.FunctionCallingConfig.Mode), %q", s)
				}
			}
		}
	}
	return ""
}

func geminiStatus(code int) string {
	switch code {
	case 400:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 499:
		return "CANCELLED"
	case 503:
		return "UNAVAILABLE"
	case 504:
		return "DEADLINE_EXCEEDED"
	}
	if code >= 500 {
		return "INTERNAL"
	}
	return "INVALID_ARGUMENT"
}

func geminiError(code int, msg string) []byte {
	return mustJSON(map[string]any{"error": map[string]any{"code": code, "message": msg, "status": geminiStatus(code)}})
}

func (s *Server) serveGemini(w http.ResponseWriter, r *http.Request) {
	rec, err := newReceived(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	status := http.StatusBadRequest
	var body map[string]any
	var embedded []byte
	path := r.URL.Path
	rest, ok := strings.CutPrefix(path, "/v1beta/models/")
	if !ok {
		rest, ok = strings.CutPrefix(path, "/v1/models/")
	}
	model, method, _ := strings.Cut(rest, ":")
	rec.Model = model
	rec.Stream = method == "streamGenerateContent"
	key := r.Header.Get("X-Goog-Api-Key")
	if key == "" {
		key = r.URL.Query().Get("key")
	}
	switch {
	case !ok || model == "" || (method != "generateContent" && method != "streamGenerateContent" && method != "countTokens" && method != "embedContent" && method != "batchEmbedContents"):
		status = http.StatusNotFound
		rec.Invalid = "Requested entity was not found."
	case r.Method != http.MethodPost:
		status = http.StatusMethodNotAllowed
		rec.Invalid = "Method not allowed."
	case key == "":
		status = http.StatusForbidden
		rec.Invalid = "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."
	case s.cfg.key != "" && key != s.cfg.key:
		rec.Invalid = "API key not valid. Please pass a valid API key."
	default:
		if body, err = decodeObject(rec.Body); err != nil {
			rec.Invalid = "Invalid JSON payload received. " + err.Error()
			break
		}
		if method == "countTokens" {
			rec.Invalid = validateGeminiCount(model, body)
			break
		}
		if method == "embedContent" || method == "batchEmbedContents" {
			embedded, rec.Invalid = geminiEmbedAnswer(model, method, body)
			break
		}
		rec.Invalid = validateGemini(body)
		if rec.Invalid == "" && geminiThinking(model, body) {
			rec.Invalid = s.checkThoughtSignatures(body)
		}
	}
	reply := s.record(rec)
	x := s.newExchange(w, r, reply)
	if rec.Invalid != "" {
		x.body(status, "application/json; charset=UTF-8", geminiError(status, rec.Invalid))
		return
	}
	if reply.Status >= 400 && reply.Body == nil {
		msg := reply.Message
		if msg == "" {
			msg = http.StatusText(reply.Status)
		}
		x.body(reply.Status, "application/json; charset=UTF-8", geminiError(reply.Status, msg))
		return
	}
	if reply.Body != nil && (!rec.Stream || reply.Chunks == nil) {
		x.body(http.StatusOK, "application/json; charset=UTF-8", reply.Body)
		return
	}
	if embedded != nil {
		x.body(http.StatusOK, "application/json; charset=UTF-8", embedded)
		return
	}
	if method == "countTokens" {
		n := pick(reply.Usage.Input, geminiPromptWords(body))
		x.body(http.StatusOK, "application/json; charset=UTF-8", mustJSON(map[string]any{
			"totalTokens": n, "promptTokensDetails": []any{map[string]any{"modality": "TEXT", "tokenCount": n}},
		}))
		return
	}
	s.geminiReply(x, rec, body, r.URL.Query().Get("alt") == "sse")
}

func geminiText(content any) string {
	c, _ := content.(map[string]any)
	parts, _ := c["parts"].([]any)
	var out []string
	for _, raw := range parts {
		p, _ := raw.(map[string]any)
		if t, ok := p["text"].(string); ok {
			out = append(out, t)
		}
	}
	return strings.Join(out, " ")
}

func (s *Server) geminiReply(x *exchange, rec *Received, body map[string]any, sse bool) {
	reply := &x.reply
	echo, promptWords := "", words(geminiText(field(body, "systemInstruction")))
	contents, _ := body["contents"].([]any)
	for _, raw := range contents {
		c, _ := raw.(map[string]any)
		t := geminiText(c)
		promptWords += words(t)
		if c["role"] != "model" {
			echo = t
		}
	}
	text := s.replyText(reply, echo)
	finish := reply.FinishReason
	if finish == "" {
		finish = "STOP"
	}
	thinking, thoughts := geminiThinking(rec.Model, body), geminiIncludeThoughts(body)
	if thoughts && reply.Thinking == "" {
		reply.Thinking = "Thinking it over."
	}
	var calls []any
	outWords := words(text) + words(reply.Thinking)
	for i, c := range reply.ToolCalls {
		var args any = map[string]any{}
		_ = json.Unmarshal([]byte(toolArgs(c)), &args)
		part := map[string]any{"functionCall": map[string]any{"name": c.Name, "args": args}}
		// Like Gemini, only the first function call of a step carries the signature.
		if thinking && i == 0 {
			part["thoughtSignature"] = s.thoughtSign(rec.Seq, c.Name)
		}
		calls = append(calls, part)
		outWords += words(c.Name) + words(c.Arguments)
	}
	prompt := pick(reply.Usage.Input, promptWords)
	out := pick(reply.Usage.Output, outWords)
	usage := map[string]any{"promptTokenCount": prompt, "candidatesTokenCount": out, "totalTokenCount": prompt + out + reply.Usage.Reasoning}
	if reply.Usage.Reasoning > 0 {
		usage["thoughtsTokenCount"] = reply.Usage.Reasoning
	}
	if reply.Usage.CacheRead > 0 {
		usage["cachedContentTokenCount"] = reply.Usage.CacheRead
	}
	respID := "resp_fake_" + strconv.Itoa(rec.Seq)
	response := func(parts []any, last bool) map[string]any {
		cand := map[string]any{"index": 0}
		if len(parts) > 0 {
			cand["content"] = map[string]any{"role": "model", "parts": parts}
		}
		if last {
			cand["finishReason"] = finish
			if finish == "SAFETY" {
				cand["safetyRatings"] = []any{
					map[string]any{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true},
					map[string]any{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"},
				}
			}
		}
		m := map[string]any{"candidates": []any{cand}, "modelVersion": rec.Model, "responseId": respID}
		if last {
			m["usageMetadata"] = usage
		}
		return m
	}
	var parts []any
	if reply.Thinking != "" && (thoughts || !thinking) {
		parts = append(parts, map[string]any{"text": reply.Thinking, "thought": true})
	}
	if text != "" && finish != "SAFETY" {
		parts = append(parts, map[string]any{"text": text})
	}
	parts = append(parts, calls...)
	if !rec.Stream {
		x.body(http.StatusOK, "application/json; charset=UTF-8", mustJSON(response(parts, true)))
		return
	}
	var chunks []string
	if reply.Chunks != nil {
		chunks = reply.Chunks
	} else {
		var pieces [][]any
		if reply.Thinking != "" && (thoughts || !thinking) {
			pieces = append(pieces, []any{map[string]any{"text": reply.Thinking, "thought": true}})
		}
		if finish != "SAFETY" {
			for _, p := range split(text, reply.Pieces) {
				pieces = append(pieces, []any{map[string]any{"text": p}})
			}
		}
		if len(calls) > 0 {
			pieces = append(pieces, calls)
		}
		if len(pieces) == 0 {
			pieces = append(pieces, nil)
		}
		for i, p := range pieces {
			chunks = append(chunks, string(mustJSON(response(p, i == len(pieces)-1))))
		}
	}
	if !x.begin(http.StatusOK, map[bool]string{true: "text/event-stream", false: "application/json; charset=UTF-8"}[sse]) {
		return
	}
	if sse {
		// The API terminates each event with CRLF CRLF.
		for _, c := range chunks {
			if !x.chunk([]byte("data: " + c + "\r\n\r\n")) {
				return
			}
		}
		x.end(nil)
		return
	}
	// Without alt=sse the stream is one JSON array written element by element.
	for i, c := range chunks {
		sep := ",\r\n"
		if i == 0 {
			sep = "["
		}
		if !x.chunk([]byte(sep + c)) {
			return
		}
	}
	x.end([]byte("]"))
}

// validateGeminiCount checks a models.countTokens body: either contents alone, or a whole
// generateContentRequest naming the model as "models/<model>", never both.
func validateGeminiCount(model string, m map[string]any) string {
	for k := range m {
		if c := camel(k); c != "contents" && c != "generateContentRequest" {
			return fmt.Sprintf("Invalid JSON payload received. Unknown name %q: Cannot find field.", k)
		}
	}
	gcr, hasReq := field(m, "generateContentRequest").(map[string]any)
	_, hasContents := m["contents"]
	switch {
	case hasReq && hasContents:
		return "contents and generateContentRequest are mutually exclusive: send one or the other"
	case hasContents:
		return validateGemini(map[string]any{"contents": m["contents"]})
	case !hasReq:
		return "* CountTokensRequest: either contents or generateContentRequest must be set"
	}
	name, _ := gcr["model"].(string)
	if name == "" {
		return "* GenerateContentRequest.model: model is required"
	}
	if name != "models/"+model {
		return fmt.Sprintf("* GenerateContentRequest.model: %q does not match the model of the request path, %q", name, "models/"+model)
	}
	rest := make(map[string]any, len(gcr))
	for k, v := range gcr {
		if k != "model" {
			rest[k] = v
		}
	}
	return validateGemini(rest)
}

// geminiPromptWords is the fake's token count of a countTokens body: the words of the system
// instruction and contents.
func geminiPromptWords(m map[string]any) int {
	if gcr, ok := field(m, "generateContentRequest").(map[string]any); ok {
		m = gcr
	}
	n := words(geminiText(field(m, "systemInstruction")))
	contents, _ := m["contents"].([]any)
	for _, raw := range contents {
		n += words(geminiText(raw))
	}
	return n
}

// geminiThinking reports whether a request runs with thinking: a model whose name says so, or a
// thinkingConfig that does not turn it off (thinkingBudget 0 without a thinkingLevel).
func geminiThinking(model string, body map[string]any) bool {
	if strings.Contains(model, "thinking") {
		return true
	}
	gc, _ := field(body, "generationConfig").(map[string]any)
	tc, ok := field(gc, "thinkingConfig").(map[string]any)
	if !ok {
		return false
	}
	if level, _ := field(tc, "thinkingLevel").(string); level != "" {
		return true
	}
	switch b := field(tc, "thinkingBudget").(type) {
	case json.Number:
		return b.String() != "0"
	case float64:
		return b != 0
	}
	return true
}

// geminiIncludeThoughts reports thinkingConfig.includeThoughts: thought summaries are sent only
// when asked for.
func geminiIncludeThoughts(body map[string]any) bool {
	gc, _ := field(body, "generationConfig").(map[string]any)
	tc, _ := field(gc, "thinkingConfig").(map[string]any)
	b, _ := field(tc, "includeThoughts").(bool)
	return b
}

// skipSignature is the value Gemini documents for history it did not produce: it passes the
// signature check.
const skipSignature = "skip_thought_signature_validator"

// thoughtSign issues the thought signature of a step's first function call and remembers it.
func (s *Server) thoughtSign(seq int, name string) string {
	sum := sha256.Sum256([]byte(name))
	sig := base64.StdEncoding.EncodeToString([]byte("fake-thought/" + strconv.Itoa(seq) + "/" + hex.EncodeToString(sum[:6])))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.thought == nil {
		s.thought = make(map[string]string)
	}
	s.thought[sig] = name
	return sig
}

// checkThoughtSignatures refuses, as Gemini 3 does, a request whose current turn (the contents
// after the last user text) has a model step whose first functionCall part lacks the signature
// this server issued for it. Steps of earlier turns are not checked.
func (s *Server) checkThoughtSignatures(body map[string]any) string {
	contents, _ := body["contents"].([]any)
	start := 0
	for i, raw := range contents {
		c, _ := raw.(map[string]any)
		if c["role"] == "model" {
			continue
		}
		parts, _ := c["parts"].([]any)
		for _, rp := range parts {
			if p, _ := rp.(map[string]any); p["text"] != nil {
				start = i
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := start; i < len(contents); i++ {
		c, _ := contents[i].(map[string]any)
		if c["role"] != "model" {
			continue
		}
		parts, _ := c["parts"].([]any)
		for _, rp := range parts {
			p, _ := rp.(map[string]any)
			fc, ok := field(p, "functionCall").(map[string]any)
			if !ok {
				continue
			}
			name, _ := fc["name"].(string)
			sig, _ := field(p, "thoughtSignature").(string)
			switch want, issued := s.thought[sig]; {
			case sig == "":
				return fmt.Sprintf("Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call `default_api:%s` , position %d. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.", name, i+1)
			case sig != skipSignature && (!issued || want != name):
				return "Corrupted thought signature."
			}
			break // only a step's first function call carries one
		}
	}
	return ""
}
