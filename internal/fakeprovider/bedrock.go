package fakeprovider

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

var sigv4RE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([A-Z0-9]+)/(\d{8})/([a-z0-9-]+)/bedrock/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$`)

// bedrockAuth checks SigV4 (shape always; signature when credentials are configured) or a
// Bedrock API key; it returns the exception type and message on failure.
func (s *Server) bedrockAuth(r *http.Request, body []byte) (string, string) {
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return "MissingAuthenticationTokenException", "Missing Authentication Token"
	}
	if key, ok := strings.CutPrefix(authz, "Bearer "); ok {
		if s.cfg.key == "" || key != s.cfg.key {
			return "UnrecognizedClientException", "The security token included in the request is invalid."
		}
		return "", ""
	}
	m := sigv4RE.FindStringSubmatch(authz)
	if m == nil {
		return "IncompleteSignatureException", "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters with AWS4-HMAC-SHA256."
	}
	akid, date, region, signed := m[1], m[2], m[3], strings.Split(m[4], ";")
	amzDate := r.Header.Get("X-Amz-Date")
	at, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return "IncompleteSignatureException", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
	}
	if !strings.HasPrefix(amzDate, date) {
		return "InvalidSignatureException", "Credential should be scoped to a valid region and date " + amzDate[:8] + "."
	}
	if s.cfg.region != "" && region != s.cfg.region {
		return "InvalidSignatureException", "Credential should be scoped to a valid region, not '" + region + "'."
	}
	has := map[string]bool{}
	for _, h := range signed {
		has[h] = true
	}
	if !has["host"] || !has["x-amz-date"] {
		return "InvalidSignatureException", "Signed headers must include host and x-amz-date."
	}
	creds := aws.Credentials{AccessKeyID: s.cfg.akid, SecretAccessKey: s.cfg.secret, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if s.cfg.awsCreds != nil {
		var exc, msg string
		if creds, exc, msg = checkStoredCreds(s.cfg.awsCreds, akid, r); exc != "" {
			return exc, msg
		}
	} else {
		if s.cfg.akid == "" {
			return "", ""
		}
		if akid != s.cfg.akid {
			return "UnrecognizedClientException", "The security token included in the request is invalid."
		}
	}
	want, err := resign(r, body, signed, region, at, creds)
	if err != nil || want != authz {
		return "InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."
	}
	return "", ""
}

// resign signs a copy of r carrying only the headers the client signed and returns the
// Authorization header the signer produces.
func resign(r *http.Request, body []byte, signed []string, region string, at time.Time, creds aws.Credentials) (string, error) {
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	cp, err := http.NewRequest(r.Method, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("fakeprovider: sigv4: %w", err)
	}
	cp.URL.Path, cp.URL.RawPath = r.URL.Path, r.URL.RawPath
	cp.Host = r.Host
	for _, h := range signed {
		switch h {
		case "host":
		case "content-length":
			cp.ContentLength = int64(len(body))
		default:
			if v, ok := r.Header[http.CanonicalHeaderKey(h)]; ok {
				cp.Header[http.CanonicalHeaderKey(h)] = v
			}
		}
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" {
		hash = h
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, cp, hash, "bedrock", region, at); err != nil {
		return "", fmt.Errorf("fakeprovider: sigv4: %w", err)
	}
	return cp.Header.Get("Authorization"), nil
}

func oneKey(m map[string]any) (string, any, bool) {
	if len(m) != 1 {
		return "", nil, false
	}
	for k, v := range m {
		return k, v, true
	}
	return "", nil, false
}

var bedrockImageFormats = knownFields("png", "jpeg", "gif", "webp")

func validateBedrockBlock(role string, blk map[string]any, at string, toolUses, results map[string]bool) string {
	k, v, ok := oneKey(blk)
	if !ok {
		return at + " must have exactly one member set"
	}
	inner, _ := v.(map[string]any)
	switch k {
	case "text":
		if _, ok := v.(string); !ok {
			return at + ".text must be a string"
		}
	case "image":
		if f, _ := inner["format"].(string); !bedrockImageFormats[f] {
			return at + ".image.format must be one of png, jpeg, gif, webp"
		}
		src, _ := inner["source"].(map[string]any)
		b, _ := src["bytes"].(string)
		if _, err := base64.StdEncoding.DecodeString(b); err != nil || b == "" {
			return at + ".image.source.bytes must be base64-encoded image bytes"
		}
	case "document", "video", "guardContent", "reasoningContent", "citationsContent":
	case "cachePoint":
		if inner["type"] != "default" {
			return at + ".cachePoint.type must be 'default'"
		}
	case "toolUse":
		if role != "assistant" {
			return at + ".toolUse is only valid in assistant messages"
		}
		id, _ := inner["toolUseId"].(string)
		name, _ := inner["name"].(string)
		if id == "" || name == "" {
			return at + ".toolUse requires toolUseId and name"
		}
		if _, ok := inner["input"]; !ok {
			return at + ".toolUse.input is required"
		}
		toolUses[id] = true
	case "toolResult":
		if role != "user" {
			return at + ".toolResult is only valid in user messages"
		}
		id, _ := inner["toolUseId"].(string)
		if id == "" {
			return at + ".toolResult.toolUseId is required"
		}
		content, ok := inner["content"].([]any)
		if !ok {
			return at + ".toolResult.content is required"
		}
		for i, raw := range content {
			c, _ := raw.(map[string]any)
			ck, _, ok := oneKey(c)
			if !ok || !knownFields("text", "json", "image", "document", "video")[ck] {
				return fmt.Sprintf("%s.toolResult.content.%d must be one of text, json, image, document, video", at, i)
			}
		}
		if st, ok := inner["status"]; ok && st != "success" && st != "error" {
			return at + ".toolResult.status must be success or error"
		}
		results[id] = true
	default:
		return at + ": unknown content block member '" + k + "'"
	}
	return ""
}

// validateBedrock checks a Converse request; it returns the ValidationException message or "".
func validateBedrock(m map[string]any) string {
	top := knownFields("messages", "system", "inferenceConfig", "toolConfig", "guardrailConfig",
		"additionalModelRequestFields", "additionalModelResponseFieldPaths", "promptVariables",
		"requestMetadata", "performanceConfig")
	for k := range m {
		if !top[k] {
			return "Malformed input request: extraneous key [" + k + "] is not permitted, please reformat your input and try again."
		}
	}
	msgs, ok := m["messages"].([]any)
	if !ok || len(msgs) == 0 {
		return "A conversation must start with a user message. Try again with a conversation that starts with a user message."
	}
	prev := ""
	var prevUses map[string]bool
	for i, raw := range msgs {
		msg, _ := raw.(map[string]any)
		role, _ := msg["role"].(string)
		at := fmt.Sprintf("messages.%d", i)
		if role != "user" && role != "assistant" {
			return at + ".role must be user or assistant"
		}
		if i == 0 && role != "user" {
			return "A conversation must start with a user message. Try again with a conversation that starts with a user message."
		}
		if role == prev {
			return "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again."
		}
		prev = role
		content, ok := msg["content"].([]any)
		if !ok || len(content) == 0 {
			return at + ".content must contain at least one content block"
		}
		uses, results := map[string]bool{}, map[string]bool{}
		for j, rb := range content {
			blk, _ := rb.(map[string]any)
			if e := validateBedrockBlock(role, blk, fmt.Sprintf("%s.content.%d", at, j), uses, results); e != "" {
				return e
			}
		}
		for id := range results {
			if !prevUses[id] {
				return "The toolResult blocks at " + at + " contain a toolUseId " + id + " with no matching toolUse block in the previous turn."
			}
		}
		if role == "user" {
			for id := range prevUses {
				if !results[id] {
					return "Expected toolResult blocks at " + at + " for the following Ids: " + id
				}
			}
		}
		prevUses = uses
	}
	if v, ok := m["system"]; ok {
		sys, ok := v.([]any)
		if !ok {
			return "system must be a list of system content blocks"
		}
		for i, raw := range sys {
			b, _ := raw.(map[string]any)
			k, _, ok := oneKey(b)
			if !ok || !knownFields("text", "guardContent", "cachePoint")[k] {
				return fmt.Sprintf("system.%d must be one of text, guardContent, cachePoint", i)
			}
		}
	}
	if v, ok := m["inferenceConfig"]; ok {
		ic, _ := v.(map[string]any)
		for k := range ic {
			if !knownFields("maxTokens", "temperature", "topP", "stopSequences")[k] {
				return "Malformed input request: inferenceConfig key [" + k + "] is not permitted"
			}
		}
		if mt, ok := ic["maxTokens"]; ok {
			if n, ok := isInt(mt); !ok || n < 1 {
				return "inferenceConfig.maxTokens must be an integer >= 1"
			}
		}
	}
	if v, ok := m["toolConfig"]; ok {
		tc, _ := v.(map[string]any)
		tools, ok := tc["tools"].([]any)
		if !ok || len(tools) == 0 {
			return "toolConfig.tools must contain at least one tool"
		}
		names := map[string]bool{}
		for i, raw := range tools {
			t, _ := raw.(map[string]any)
			k, tv, ok := oneKey(t)
			if ok && k == "cachePoint" {
				continue
			}
			spec, _ := tv.(map[string]any)
			name, _ := spec["name"].(string)
			schema, _ := spec["inputSchema"].(map[string]any)
			if !ok || k != "toolSpec" || !toolNameRE.MatchString(name) {
				return fmt.Sprintf("toolConfig.tools.%d.toolSpec requires a valid name", i)
			}
			if _, ok := schema["json"].(map[string]any); !ok {
				return fmt.Sprintf("toolConfig.tools.%d.toolSpec.inputSchema.json is required", i)
			}
			names[name] = true
		}
		if c, ok := tc["toolChoice"]; ok {
			cm, _ := c.(map[string]any)
			k, cv, ok := oneKey(cm)
			switch {
			case !ok || !knownFields("auto", "any", "tool")[k]:
				return "toolConfig.toolChoice must be one of auto, any, tool"
			case k == "tool":
				inner, _ := cv.(map[string]any)
				if n, _ := inner["name"].(string); !names[n] {
					return "toolConfig.toolChoice.tool.name must name a tool in toolConfig.tools"
				}
			}
		}
	}
	return ""
}

var bedrockStatus = map[string]int{
	"ValidationException": 400, "AccessDeniedException": 403, "ResourceNotFoundException": 404,
	"ThrottlingException": 429, "ServiceQuotaExceededException": 429, "ModelTimeoutException": 408,
	"InternalServerException": 500, "ServiceUnavailableException": 503, "ModelNotReadyException": 429,
	"ModelErrorException": 424, "UnrecognizedClientException": 403, "InvalidSignatureException": 403,
	"MissingAuthenticationTokenException": 403, "ExpiredTokenException": 403, "IncompleteSignatureException": 403,
}

func bedrockExceptionFor(status int) string {
	switch status {
	case 400:
		return "ValidationException"
	case 403:
		return "AccessDeniedException"
	case 404:
		return "ResourceNotFoundException"
	case 408:
		return "ModelTimeoutException"
	case 429:
		return "ThrottlingException"
	case 503:
		return "ServiceUnavailableException"
	}
	return "InternalServerException"
}

func (s *Server) serveBedrock(w http.ResponseWriter, r *http.Request) {
	rec, err := newReceived(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var body map[string]any
	var embedded []byte
	var embedTokens int
	exc := ""
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/model/")
	seg, op, _ := strings.Cut(rest, "/")
	model, _ := url.PathUnescape(seg)
	rec.Model = model
	invoke := op == "invoke" || op == "invoke-with-response-stream"
	rec.Stream = op == "converse-stream" || op == "invoke-with-response-stream"
	if !ok || model == "" || (op != "converse" && op != "converse-stream" && !invoke) || r.Method != http.MethodPost {
		exc, rec.Invalid = "UnknownOperationException", "Unknown operation"
	} else if exc, rec.Invalid = s.bedrockAuth(r, rec.Body); exc == "" {
		switch body, err = decodeObject(rec.Body); {
		case err != nil:
			exc, rec.Invalid = "ValidationException", "Malformed input request, please reformat your input and try again."
		case invoke && isBedrockEmbed(model) && !rec.Stream:
			if embedded, embedTokens, rec.Invalid = bedrockEmbedAnswer(model, body); rec.Invalid != "" {
				exc = "ValidationException"
			}
		case invoke:
			if rec.Invalid = validateInvoke(r, model, body); rec.Invalid != "" {
				exc = "ValidationException"
			}
		default:
			if rec.Invalid = validateBedrock(body); rec.Invalid == "" {
				rec.Invalid = s.validateBedrockExtra(body)
			}
			if rec.Invalid != "" {
				exc = "ValidationException"
			}
		}
	}
	reply := s.record(rec)
	x := s.newExchange(w, r, reply)
	x.w.Header().Set("X-Amzn-Requestid", fmt.Sprintf("00000000-0000-4000-8000-%012d", rec.Seq))
	if rec.Invalid != "" {
		status := bedrockStatus[exc]
		if status == 0 {
			status = http.StatusNotFound
		}
		x.w.Header().Set("X-Amzn-Errortype", exc)
		x.body(status, "application/json", mustJSON(map[string]string{"message": rec.Invalid}))
		return
	}
	if reply.Status >= 400 && reply.Body == nil {
		msg := reply.Message
		if msg == "" {
			msg = http.StatusText(reply.Status)
		}
		x.w.Header().Set("X-Amzn-Errortype", bedrockExceptionFor(reply.Status))
		x.body(reply.Status, "application/json", mustJSON(map[string]string{"message": msg}))
		return
	}
	if reply.Body != nil && (!rec.Stream || reply.Chunks == nil) {
		x.body(http.StatusOK, "application/json", reply.Body)
		return
	}
	if embedded != nil {
		x.w.Header().Set("X-Amzn-Bedrock-Input-Token-Count", strconv.Itoa(embedTokens))
		x.body(http.StatusOK, "application/json", embedded)
		return
	}
	if invoke {
		s.invokeReply(x, rec, body)
		return
	}
	s.bedrockReply(x, rec, body)
}

func bedrockText(content any) string {
	blocks, _ := content.([]any)
	var out []string
	for _, raw := range blocks {
		b, _ := raw.(map[string]any)
		if t, ok := b["text"].(string); ok {
			out = append(out, t)
		}
	}
	return strings.Join(out, " ")
}

func (s *Server) bedrockReply(x *exchange, rec *Received, body map[string]any) {
	reply := &x.reply
	echo, promptWords := "", words(bedrockText(body["system"]))
	msgs, _ := body["messages"].([]any)
	for _, raw := range msgs {
		m, _ := raw.(map[string]any)
		t := bedrockText(m["content"])
		promptWords += words(t)
		if m["role"] == "user" {
			echo = t
		}
	}
	text := s.replyText(reply, echo)
	stop := reply.FinishReason
	if stop == "" {
		stop = "end_turn"
		if len(reply.ToolCalls) > 0 {
			stop = "tool_use"
		}
	}
	seq := strconv.Itoa(rec.Seq)
	var content []any
	if reply.Thinking != "" {
		content = append(content, map[string]any{"reasoningContent": map[string]any{
			"reasoningText": map[string]any{"text": reply.Thinking, "signature": s.sign(seq, reply.Thinking)}}})
	}
	if text != "" {
		content = append(content, map[string]any{"text": text})
	}
	outWords := words(text) + words(reply.Thinking)
	for i, c := range reply.ToolCalls {
		var input any = map[string]any{}
		_ = json.Unmarshal([]byte(toolArgs(c)), &input)
		id := c.ID
		if id == "" {
			id = "tooluse_fake_" + seq + "_" + strconv.Itoa(i)
		}
		content = append(content, map[string]any{"toolUse": map[string]any{"toolUseId": id, "name": c.Name, "input": input}})
		outWords += words(c.Name) + words(c.Arguments)
	}
	in, out := pick(reply.Usage.Input, promptWords), pick(reply.Usage.Output, outWords)
	usage := map[string]any{"inputTokens": in, "outputTokens": out, "totalTokens": in + out}
	if reply.Usage.CacheRead > 0 {
		usage["cacheReadInputTokens"] = reply.Usage.CacheRead
	}
	if reply.Usage.CacheWrite > 0 {
		usage["cacheWriteInputTokens"] = reply.Usage.CacheWrite
	}
	metrics := map[string]any{"latencyMs": 1}
	if !rec.Stream {
		if content == nil {
			content = []any{}
		}
		x.body(http.StatusOK, "application/json", mustJSON(map[string]any{
			"output":     map[string]any{"message": map[string]any{"role": "assistant", "content": content}},
			"stopReason": stop, "usage": usage, "metrics": metrics,
		}))
		return
	}
	chunks := reply.Chunks
	if chunks == nil {
		ev := func(typ string, payload map[string]any) string {
			return string(mustJSON(map[string]any{typ: payload}))
		}
		chunks = append(chunks, ev("messageStart", map[string]any{"role": "assistant"}))
		for i, blk := range content {
			b := blk.(map[string]any)
			switch {
			case b["reasoningContent"] != nil:
				for _, p := range split(reply.Thinking, reply.Pieces) {
					chunks = append(chunks, ev("contentBlockDelta", map[string]any{"contentBlockIndex": i,
						"delta": map[string]any{"reasoningContent": map[string]any{"text": p}}}))
				}
				chunks = append(chunks, ev("contentBlockDelta", map[string]any{"contentBlockIndex": i,
					"delta": map[string]any{"reasoningContent": map[string]any{"signature": b["reasoningContent"].(map[string]any)["reasoningText"].(map[string]any)["signature"]}}}))
			case b["text"] != nil:
				for _, p := range split(text, reply.Pieces) {
					chunks = append(chunks, ev("contentBlockDelta", map[string]any{"contentBlockIndex": i,
						"delta": map[string]any{"text": p}}))
				}
			case b["toolUse"] != nil:
				tu := b["toolUse"].(map[string]any)
				chunks = append(chunks, ev("contentBlockStart", map[string]any{"contentBlockIndex": i,
					"start": map[string]any{"toolUse": map[string]any{"toolUseId": tu["toolUseId"], "name": tu["name"]}}}))
				args := string(mustJSON(tu["input"]))
				for _, p := range []string{args[:len(args)/2], args[len(args)/2:]} {
					chunks = append(chunks, ev("contentBlockDelta", map[string]any{"contentBlockIndex": i,
						"delta": map[string]any{"toolUse": map[string]any{"input": p}}}))
				}
			}
			chunks = append(chunks, ev("contentBlockStop", map[string]any{"contentBlockIndex": i}))
		}
		chunks = append(chunks, ev("messageStop", map[string]any{"stopReason": stop}))
		chunks = append(chunks, ev("metadata", map[string]any{"usage": usage, "metrics": metrics}))
	}
	if !x.begin(http.StatusOK, "application/vnd.amazon.eventstream") {
		return
	}
	f := newFramer()
	for _, c := range chunks {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(c), &m); err != nil || len(m) != 1 {
			panic(fmt.Sprintf("fakeprovider: bedrock chunk %q is not a one-key object", c))
		}
		for typ, payload := range m {
			if !x.chunk(f.frame(typ, payload)) {
				return
			}
		}
	}
	x.end(nil)
}

// framer encodes AWS event-stream messages.
type framer struct {
	enc *eventstream.Encoder
	buf bytes.Buffer
}

func newFramer() *framer { return &framer{enc: eventstream.NewEncoder()} }

// frame is one event-stream message: an exception when typ ends in "Exception", else an event
// of that type. The bytes are valid until the next call.
func (f *framer) frame(typ string, payload []byte) []byte {
	msg := eventstream.Message{Payload: payload}
	if strings.HasSuffix(typ, "Exception") {
		msg.Headers.Set(":message-type", eventstream.StringValue("exception"))
		msg.Headers.Set(":exception-type", eventstream.StringValue(typ))
	} else {
		msg.Headers.Set(":message-type", eventstream.StringValue("event"))
		msg.Headers.Set(":event-type", eventstream.StringValue(typ))
	}
	msg.Headers.Set(":content-type", eventstream.StringValue("application/json"))
	f.buf.Reset()
	if err := f.enc.Encode(&f.buf, msg); err != nil {
		panic(fmt.Sprintf("fakeprovider: encode event: %v", err))
	}
	return f.buf.Bytes()
}
