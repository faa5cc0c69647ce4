package fakeprovider

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
)

// BedrockAnthropicVersion is the only anthropic_version InvokeModel accepts for Claude models.
const BedrockAnthropicVersion = "bedrock-2023-05-31"

// malformed words a schema refusal the way Bedrock's request validator does.
func malformed(detail string) string {
	return "Malformed input request: " + detail + ", please reformat your input and try again."
}

// validateInvoke checks an InvokeModel request. Only Anthropic's models are served, with the
// Messages body Bedrock takes for them: the version and beta features in the body, the model
// in the path, the stream choice in the operation.
func validateInvoke(r *http.Request, model string, m map[string]any) string {
	if !strings.Contains(model, "anthropic.claude") {
		return "fakeprovider: InvokeModel is served for Anthropic models only (a model id containing anthropic.claude), not " + model
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return "The provided content type " + ct + " is not supported; use application/json"
	}
	v, ok := m["anthropic_version"]
	if !ok {
		return malformed("#: required key [anthropic_version] not found")
	}
	if s, _ := v.(string); s != BedrockAnthropicVersion {
		return malformed("#/anthropic_version: " + strconv.Quote(stringOf(v)) + " is not a valid enum value")
	}
	for _, k := range []string{"model", "stream"} {
		if _, ok := m[k]; ok {
			return malformed("#: extraneous key [" + k + "] is not permitted")
		}
	}
	if v, ok := m["anthropic_beta"]; ok {
		arr, ok := v.([]any)
		if !ok {
			return malformed("#/anthropic_beta: expected type: JSONArray, found: " + bedrockJSONKind(v))
		}
		for i, b := range arr {
			if s, ok := b.(string); !ok || s == "" {
				return malformed("#/anthropic_beta/" + strconv.Itoa(i) + ": expected type: String, found: " + bedrockJSONKind(b))
			}
		}
	}
	if _, ok := m["max_tokens"]; !ok {
		return malformed("#: required key [max_tokens] not found")
	}
	rest := make(map[string]any, len(m))
	for k, v := range m {
		if k != "anthropic_version" && k != "anthropic_beta" {
			rest[k] = v
		}
	}
	return validateMessagesBody(http.Header{}, rest, false)
}

func stringOf(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return string(mustJSON(v))
}

func bedrockJSONKind(v any) string {
	switch v.(type) {
	case string:
		return "String"
	case json.Number:
		return "Number"
	case bool:
		return "Boolean"
	case []any:
		return "JSONArray"
	case map[string]any:
		return "JSONObject"
	case nil:
		return "Null"
	}
	return "Unknown"
}

var modelVersionRE = regexp.MustCompile(`-v\d+(:\d+)?$`)

// claudeName is the model name Claude reports inside Bedrock: the model id without its region
// prefix, vendor and version suffix ("us.anthropic.claude-3-5-haiku-20241022-v1:0" ->
// "claude-3-5-haiku-20241022").
func claudeName(modelID string) string {
	if _, after, ok := strings.Cut(modelID, "anthropic."); ok {
		modelID = after
	}
	return modelVersionRE.ReplaceAllString(modelID, "")
}

// invokeReply answers InvokeModel like Claude on Bedrock: the Anthropic message whole, or its
// stream events base64-wrapped in event-stream chunk events, the last carrying Bedrock's
// invocation metrics. Reply.Chunks, when set, are Anthropic event JSONs, each sent as a chunk;
// a one-key object whose key ends in "Exception" is sent as that exception instead.
func (s *Server) invokeReply(x *exchange, rec *Received, body map[string]any) {
	m := s.anthropicMessage(&x.reply, rec, body, claudeName(rec.Model), "msg_bdrk_fake_")
	in, _ := m.usage["input_tokens"].(int)
	out, _ := m.usage["output_tokens"].(int)
	if !rec.Stream {
		h := x.w.Header()
		h.Set("X-Amzn-Bedrock-Input-Token-Count", strconv.Itoa(in))
		h.Set("X-Amzn-Bedrock-Output-Token-Count", strconv.Itoa(out))
		h.Set("X-Amzn-Bedrock-Invocation-Latency", "1")
		x.body(http.StatusOK, "application/json", m.json())
		return
	}
	x.w.Header().Set("X-Amzn-Bedrock-Content-Type", "application/json")
	if !x.begin(http.StatusOK, "application/vnd.amazon.eventstream") {
		return
	}
	f := newFramer()
	chunk := func(event []byte) bool {
		payload := mustJSON(map[string]string{"bytes": base64.StdEncoding.EncodeToString(event)})
		return x.chunk(f.frame("chunk", payload))
	}
	if x.reply.Chunks != nil {
		for _, c := range x.reply.Chunks {
			var one map[string]json.RawMessage
			if err := json.Unmarshal([]byte(c), &one); err == nil && len(one) == 1 {
				if typ, payload, _ := rawOneKey(one); strings.HasSuffix(typ, "Exception") {
					if !x.chunk(f.frame(typ, payload)) {
						return
					}
					continue
				}
			}
			if !chunk([]byte(c)) {
				return
			}
		}
		x.end(nil)
		return
	}
	metrics := map[string]any{"amazon-bedrock-invocationMetrics": map[string]any{
		"inputTokenCount": in, "outputTokenCount": out, "invocationLatency": 1, "firstByteLatency": 1,
	}}
	if m.events(false, metrics, chunk) {
		x.end(nil)
	}
}

func rawOneKey(m map[string]json.RawMessage) (string, []byte, bool) {
	for k, v := range m {
		return k, v, true
	}
	return "", nil, false
}
