package fakeprovider

import (
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
)

// Embedding endpoints of the Gemini API (embedContent, batchEmbedContents), Vertex AI
// (predict) and Bedrock (InvokeModel with Titan and Cohere embed bodies). Bodies are checked
// strictly against each API's documented fields; vectors are Vector(text, dims), so a test can
// compare what came back with what the fake sent.

// Vector is the deterministic unit vector the fakes answer for text, in dims dimensions.
func Vector(text string, dims int) []float32 {
	h := fnv.New64a()
	h.Write([]byte(text))
	seed := h.Sum64()
	v := make([]float32, dims)
	var sum float64
	for i := range v {
		seed = seed*6364136223846793005 + 1442695040888963407
		x := float64(int64(seed>>11))/float64(1<<52) - 1
		v[i] = float32(x)
		sum += x * x
	}
	n := math.Sqrt(sum)
	for i := range v {
		v[i] = float32(float64(v[i]) / n)
	}
	return v
}

// EmbedTokens is the token count the fakes report for an embedded text: one per word.
func EmbedTokens(text string) int { return max(1, words(text)) }

var (
	geminiEmbedTop = knownFields("model", "content", "taskType", "title", "outputDimensionality")
	geminiTasks    = knownFields("TASK_TYPE_UNSPECIFIED", "RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT",
		"SEMANTIC_SIMILARITY", "CLASSIFICATION", "CLUSTERING", "QUESTION_ANSWERING", "FACT_VERIFICATION",
		"CODE_RETRIEVAL_QUERY")
)

// geminiEmbedDims is a Google embedding model's full size and whether it takes
// outputDimensionality.
func geminiEmbedDims(model string) (int, bool) {
	switch {
	case strings.HasPrefix(model, "gemini-embedding"):
		return 3072, true
	case strings.HasPrefix(model, "text-embedding-00"), strings.HasPrefix(model, "text-multilingual-embedding"):
		return 768, true
	}
	return 0, false
}

// validateGeminiEmbed checks one EmbedContentRequest and returns its text and dimensions.
func validateGeminiEmbed(model string, m map[string]any, at string, batch bool) (string, int, string) {
	full, ok := geminiEmbedDims(model)
	if !ok {
		return "", 0, "models/" + model + " is not found for API version v1beta, or is not supported for embedContent."
	}
	if msg := checkFields(m, geminiEmbedTop, at); msg != "" {
		return "", 0, msg
	}
	mv, has := m["model"]
	if batch && !has {
		return "", 0, "* BatchEmbedContentsRequest." + at + ".model: model is required.\n"
	}
	if has && mv != "models/"+model {
		return "", 0, fmt.Sprintf("Model name in request %q does not match the model in the URL models/%s.", stringOf(mv), model)
	}
	c, _ := m["content"].(map[string]any)
	if c == nil {
		return "", 0, "* EmbedContentRequest.content: content is required.\n"
	}
	if msg := checkFields(c, knownFields("parts", "role"), at+"content"); msg != "" {
		return "", 0, msg
	}
	parts, _ := c["parts"].([]any)
	if len(parts) == 0 {
		return "", 0, "* EmbedContentRequest.content.parts: contents.parts must not be empty.\n"
	}
	var text strings.Builder
	for _, p := range parts {
		pm, _ := p.(map[string]any)
		if msg := checkFields(pm, knownFields("text"), at+"content.parts"); msg != "" {
			return "", 0, msg
		}
		s, ok := pm["text"].(string)
		if !ok {
			return "", 0, "* EmbedContentRequest.content.parts: only text parts are embedded.\n"
		}
		text.WriteString(s)
	}
	if t, ok := field(m, "taskType").(string); ok && !geminiTasks[t] {
		return "", 0, fmt.Sprintf("Invalid value at '%staskType' (type.googleapis.com/google.ai.generativelanguage.v1beta.TaskType), %q", at, t)
	}
	if _, ok := field(m, "title").(string); ok && field(m, "taskType") != "RETRIEVAL_DOCUMENT" {
		return "", 0, "Document title is only supported for RETRIEVAL_DOCUMENT task type."
	}
	dims := full
	if v := field(m, "outputDimensionality"); v != nil {
		n, ok := isInt(v)
		if !ok || n < 1 || int(n) > full {
			return "", 0, fmt.Sprintf("* EmbedContentRequest.output_dimensionality: must be between 1 and %d, got %s.\n", full, stringOf(v))
		}
		dims = int(n)
	}
	return text.String(), dims, ""
}

// serveGeminiEmbed answers embedContent or batchEmbedContents; it returns the validation
// error, or "" after writing the answer.
func geminiEmbedAnswer(model, method string, body map[string]any) ([]byte, string) {
	if method == "embedContent" {
		text, dims, msg := validateGeminiEmbed(model, body, "", false)
		if msg != "" {
			return nil, msg
		}
		return mustJSON(map[string]any{"embedding": map[string]any{"values": Vector(text, dims)}}), ""
	}
	if msg := checkFields(body, knownFields("requests"), ""); msg != "" {
		return nil, msg
	}
	reqs, _ := body["requests"].([]any)
	if len(reqs) == 0 {
		return nil, "* BatchEmbedContentsRequest.requests: requests must not be empty.\n"
	}
	if len(reqs) > 100 {
		return nil, "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch.\n"
	}
	out := make([]any, 0, len(reqs))
	for i, r := range reqs {
		rm, _ := r.(map[string]any)
		text, dims, msg := validateGeminiEmbed(model, rm, "requests["+strconv.Itoa(i)+"].", true)
		if msg != "" {
			return nil, msg
		}
		out = append(out, map[string]any{"values": Vector(text, dims)})
	}
	return mustJSON(map[string]any{"embeddings": out}), ""
}

// vertexPredictAnswer answers predict on a Google embedding model of Vertex AI.
func vertexPredictAnswer(model string, body map[string]any) ([]byte, string) {
	full, ok := geminiEmbedDims(model)
	if !ok {
		return nil, "Publisher Model `publishers/google/models/" + model + "` was not found or your project does not have access to it."
	}
	for k := range body {
		if k != "instances" && k != "parameters" {
			return nil, fmt.Sprintf("Invalid JSON payload received. Unknown name %q: Cannot find field.", k)
		}
	}
	inst, _ := body["instances"].([]any)
	if len(inst) == 0 {
		return nil, "instances must not be empty"
	}
	if strings.HasPrefix(model, "gemini-") && len(inst) > 1 {
		return nil, "Unable to submit request because the model supports only 1 instance per request."
	}
	dims := full
	if p, ok := body["parameters"].(map[string]any); ok {
		for k, v := range p {
			switch k {
			case "outputDimensionality":
				n, ok := isInt(v)
				if !ok || n < 1 || int(n) > full {
					return nil, "outputDimensionality must be between 1 and " + strconv.Itoa(full)
				}
				dims = int(n)
			case "autoTruncate":
			default:
				return nil, "Unknown parameter " + strconv.Quote(k)
			}
		}
	} else if body["parameters"] != nil {
		return nil, "parameters must be an object"
	}
	preds := make([]any, 0, len(inst))
	for _, in := range inst {
		im, _ := in.(map[string]any)
		for k := range im {
			if k != "content" && k != "task_type" && k != "title" {
				return nil, "Unknown instance field " + strconv.Quote(k)
			}
		}
		text, ok := im["content"].(string)
		if !ok || text == "" {
			return nil, "instance content must be a non-empty string"
		}
		if t, ok := im["task_type"].(string); ok && !geminiTasks[t] {
			return nil, "Unsupported task_type " + strconv.Quote(t)
		}
		preds = append(preds, map[string]any{"embeddings": map[string]any{
			"values": Vector(text, dims), "statistics": map[string]any{"token_count": EmbedTokens(text), "truncated": false},
		}})
	}
	return mustJSON(map[string]any{"predictions": preds}), ""
}

// isBedrockEmbed reports the embedding models the Bedrock fake serves through InvokeModel.
func isBedrockEmbed(model string) bool {
	return strings.Contains(model, "amazon.titan-embed") || strings.Contains(model, "cohere.embed")
}

// bedrockEmbedAnswer answers InvokeModel for a Titan or Cohere embedding model with the body
// and the input token count (Bedrock's X-Amzn-Bedrock-Input-Token-Count).
func bedrockEmbedAnswer(model string, m map[string]any) ([]byte, int, string) {
	extraneous := func(allowed ...string) string {
		ok := knownFields(allowed...)
		for k := range m {
			if !ok[k] {
				return malformed("#: extraneous key [" + k + "] is not permitted")
			}
		}
		return ""
	}
	switch {
	case strings.Contains(model, "amazon.titan-embed-text-v2"):
		if msg := extraneous("inputText", "dimensions", "normalize", "embeddingTypes"); msg != "" {
			return nil, 0, msg
		}
		text, ok := m["inputText"].(string)
		if !ok || text == "" {
			return nil, 0, malformed("#: required key [inputText] not found")
		}
		dims := 1024
		if v, ok := m["dimensions"]; ok {
			n, _ := isInt(v)
			if n != 256 && n != 512 && n != 1024 {
				return nil, 0, malformed("#/dimensions: " + stringOf(v) + " is not a valid enum value")
			}
			dims = int(n)
		}
		if v, ok := m["normalize"]; ok {
			if _, ok := v.(bool); !ok {
				return nil, 0, malformed("#/normalize: expected type: Boolean, found: " + bedrockJSONKind(v))
			}
		}
		byType := map[string]any{}
		if v, ok := m["embeddingTypes"]; ok {
			arr, _ := v.([]any)
			if len(arr) == 0 {
				return nil, 0, malformed("#/embeddingTypes: expected minimum item count: 1")
			}
			for _, t := range arr {
				switch t {
				case "float":
					byType["float"] = Vector(text, dims)
				case "binary":
					byType["binary"] = []int{}
				default:
					return nil, 0, malformed("#/embeddingTypes: " + stringOf(t) + " is not a valid enum value")
				}
			}
		}
		n := EmbedTokens(text)
		out := map[string]any{"embedding": Vector(text, dims), "inputTextTokenCount": n}
		if len(byType) > 0 {
			out["embeddingsByType"] = byType
		}
		return mustJSON(out), n, ""
	case strings.Contains(model, "amazon.titan-embed"):
		if msg := extraneous("inputText"); msg != "" {
			return nil, 0, msg
		}
		text, ok := m["inputText"].(string)
		if !ok || text == "" {
			return nil, 0, malformed("#: required key [inputText] not found")
		}
		n := EmbedTokens(text)
		return mustJSON(map[string]any{"embedding": Vector(text, 1536), "inputTextTokenCount": n}), n, ""
	default: // cohere.embed-*
		v4 := strings.Contains(model, "embed-v4")
		allowed := []string{"texts", "images", "input_type", "truncate", "embedding_types"}
		if v4 {
			allowed = append(allowed, "inputs", "output_dimension", "max_tokens")
		}
		if msg := extraneous(allowed...); msg != "" {
			return nil, 0, msg
		}
		it, ok := m["input_type"].(string)
		if !ok {
			return nil, 0, malformed("#: required key [input_type] not found")
		}
		if !knownFields("search_document", "search_query", "classification", "clustering", "image")[it] {
			return nil, 0, malformed("#/input_type: " + strconv.Quote(it) + " is not a valid enum value")
		}
		texts, _ := m["texts"].([]any)
		if len(texts) == 0 || len(texts) > 96 {
			return nil, 0, malformed("#/texts: expected between 1 and 96 items, found " + strconv.Itoa(len(texts)))
		}
		dims := 1024
		if v4 {
			dims = 1536
			if v, ok := m["output_dimension"]; ok {
				n, _ := isInt(v)
				if n != 256 && n != 512 && n != 1024 && n != 1536 {
					return nil, 0, malformed("#/output_dimension: " + stringOf(v) + " is not a valid enum value")
				}
				dims = int(n)
			}
		}
		tokens := 0
		vecs := make([]any, 0, len(texts))
		strs := make([]string, 0, len(texts))
		for i, t := range texts {
			s, ok := t.(string)
			if !ok {
				return nil, 0, malformed("#/texts/" + strconv.Itoa(i) + ": expected type: String, found: " + bedrockJSONKind(t))
			}
			vecs = append(vecs, Vector(s, dims))
			strs = append(strs, s)
			tokens += EmbedTokens(s)
		}
		out := map[string]any{"id": "emb-fake", "texts": strs}
		if v, ok := m["embedding_types"]; ok {
			arr, _ := v.([]any)
			by := map[string]any{}
			for _, t := range arr {
				if t != "float" && t != "int8" && t != "uint8" && t != "binary" && t != "ubinary" {
					return nil, 0, malformed("#/embedding_types: " + stringOf(t) + " is not a valid enum value")
				}
				if t == "float" {
					by["float"] = vecs
				} else {
					by[t.(string)] = []any{}
				}
			}
			out["embeddings"], out["response_type"] = by, "embeddings_by_type"
		} else {
			out["embeddings"], out["response_type"] = vecs, "embeddings_floats"
		}
		return mustJSON(out), tokens, ""
	}
}
