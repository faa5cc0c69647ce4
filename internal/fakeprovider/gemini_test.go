package fakeprovider

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
)

const gemBody = `{"systemInstruction":{"parts":[{"text":"be brief"}]},
"contents":[{"role":"user","parts":[{"text":"hello gemini"},{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}}]},
{"role":"model","parts":[{"functionCall":{"name":"f","args":{"a":1}}}]},
{"role":"user","parts":[{"functionResponse":{"name":"f","response":{"ok":true}}},{"text":"thanks now"}]}],
"tools":[{"functionDeclarations":[{"name":"f","description":"d","parameters":{"type":"OBJECT","properties":{"a":{"type":"INTEGER"}}}}]}],
"toolConfig":{"functionCallingConfig":{"mode":"AUTO"}},
"generationConfig":{"temperature":0.1,"maxOutputTokens":50,"stop_sequences":["x"]}}`

func TestGeminiNonStream(t *testing.T) {
	up := NewGemini(t, WithKey("gk"))
	resp := post(t, up.URL+"/v1beta/models/gemini-2.5-flash:generateContent", map[string]string{"x-goog-api-key": "gk"}, gemBody)
	m := decodeBody(t, resp)
	if resp.StatusCode != 200 || dig(m, "candidates", 0, "content", "parts", 0, "text") != "thanks now" ||
		dig(m, "candidates", 0, "content", "role") != "model" || dig(m, "candidates", 0, "finishReason") != "STOP" ||
		dig(m, "usageMetadata", "promptTokenCount") != 6.0 || dig(m, "usageMetadata", "candidatesTokenCount") != 2.0 ||
		dig(m, "usageMetadata", "totalTokenCount") != 8.0 {
		t.Fatalf("status %d reply %v", resp.StatusCode, m)
	}
	if r := up.Requests(); r[0].Model != "gemini-2.5-flash" || r[0].Stream {
		t.Errorf("recorded %+v", r[0])
	}

	up.Enqueue(Reply{ToolCalls: []ToolCall{{Name: "g", Arguments: `{"x":"y"}`}}}, Reply{FinishReason: "SAFETY"})
	m = decodeBody(t, post(t, up.URL+"/v1beta/models/gemini-2.5-flash:generateContent?key=gk", nil, gemBody))
	if dig(m, "candidates", 0, "content", "parts", 0, "functionCall", "args", "x") != "y" {
		t.Errorf("function call reply %v", m)
	}
	m = decodeBody(t, post(t, up.URL+"/v1beta/models/gemini-2.5-flash:generateContent?key=gk", nil, gemBody))
	if dig(m, "candidates", 0, "finishReason") != "SAFETY" || dig(m, "candidates", 0, "safetyRatings", 0, "blocked") != true ||
		dig(m, "candidates", 0, "content") != nil {
		t.Errorf("safety reply %v", m)
	}
}

func TestGeminiStream(t *testing.T) {
	up := NewGemini(t)
	hdr := map[string]string{"x-goog-api-key": "k"}
	resp := post(t, up.URL+"/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", hdr, gemBody)
	raw, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(raw), "\r\n\r\n") {
		t.Errorf("events not CRLF-terminated: %q", raw)
	}
	events, err := readSSE(strings.NewReader(string(raw)))
	if err != nil || len(events) != 2 {
		t.Fatalf("%d events, err %v", len(events), err)
	}
	var text string
	for _, e := range events {
		text += dig(mustDecode(t, e.Data), "candidates", 0, "content", "parts", 0, "text").(string)
	}
	last := mustDecode(t, events[1].Data)
	if text != "thanks now" || dig(last, "candidates", 0, "finishReason") != "STOP" || dig(last, "usageMetadata", "totalTokenCount") != 8.0 {
		t.Errorf("text %q last %v", text, last)
	}

	// Without alt=sse the stream is a JSON array.
	resp = post(t, up.URL+"/v1beta/models/gemini-2.5-flash:streamGenerateContent", hdr, gemBody)
	var arr []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&arr); err != nil || len(arr) != 2 {
		t.Errorf("array stream %v err %v", arr, err)
	}
}

func TestGeminiRejections(t *testing.T) {
	up := NewGemini(t, WithKey("gk"))
	url := up.URL + "/v1beta/models/gemini-2.5-flash:generateContent"
	hdr := map[string]string{"x-goog-api-key": "gk"}
	user := `"contents":[{"role":"user","parts":[{"text":"x"}]}]`
	cases := []struct {
		name    string
		headers map[string]string
		body    string
		status  int
		want    string
	}{
		{"no key", nil, "{" + user + "}", 403, "unregistered callers"},
		{"bad key", map[string]string{"x-goog-api-key": "nope"}, "{" + user + "}", 400, "API key not valid"},
		{"no contents", hdr, `{}`, 400, "contents is not specified"},
		{"assistant role", hdr, `{"contents":[{"role":"assistant","parts":[{"text":"x"}]}]}`, 400, "valid role"},
		{"unknown part", hdr, `{"contents":[{"role":"user","parts":[{"image_url":"x"}]}]}`, 400, `Unknown name "image_url"`},
		{"two data fields", hdr, `{"contents":[{"role":"user","parts":[{"text":"x","inlineData":{"mimeType":"a/b","data":"AA=="}}]}]}`, 400, "oneof"},
		{"bad base64", hdr, `{"contents":[{"role":"user","parts":[{"inlineData":{"mimeType":"image/png","data":"%%%"}}]}]}`, 400, "Base64"},
		{"unknown top-level", hdr, `{"messages":[],` + user + `}`, 400, `Unknown name "messages"`},
		{"openai generation field", hdr, `{` + user + `,"generationConfig":{"max_tokens":5}}`, 400, `Unknown name "max_tokens" at 'generation_config'`},
		{"additionalProperties", hdr, `{` + user + `,"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"object","additionalProperties":false}}}}]}]}`, 400, `Unknown name "additionalProperties"`},
		{"$schema", hdr, `{` + user + `,"tools":[{"functionDeclarations":[{"name":"f","parameters":{"$schema":"http://json-schema.org/draft-07/schema#","type":"object"}}]}]}`, 400, `Unknown name "$schema"`},
		{"lower-case mode", hdr, `{` + user + `,"toolConfig":{"functionCallingConfig":{"mode":"auto"}}}`, 400, "mode"},
		{"unknown method", hdr, "{" + user + "}", 404, "not found"},
	}
	for _, c := range cases {
		u := url
		if c.name == "unknown method" {
			u = strings.Replace(url, "generateContent", "embedText", 1)
		}
		resp := post(t, u, c.headers, c.body)
		m := decodeBody(t, resp)
		msg, _ := dig(m, "error", "message").(string)
		if resp.StatusCode != c.status || dig(m, "error", "code") != float64(c.status) || dig(m, "error", "status") != geminiStatus(c.status) ||
			!strings.Contains(msg, c.want) {
			t.Errorf("%s: status %d body %v", c.name, resp.StatusCode, m)
		}
	}
}

func TestGeminiFaults(t *testing.T) {
	up := NewGemini(t)
	up.Enqueue(RetryAfter(1e9), Reply{Fault: CutAfter(1), Text: "a b c"})
	hdr := map[string]string{"x-goog-api-key": "k"}
	resp := post(t, up.URL+"/v1beta/models/m:generateContent", hdr, gemBody)
	if m := decodeBody(t, resp); resp.StatusCode != 429 || dig(m, "error", "status") != "RESOURCE_EXHAUSTED" || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("status %d body %v", resp.StatusCode, m)
	}
	resp = post(t, up.URL+"/v1beta/models/m:streamGenerateContent?alt=sse", hdr, gemBody)
	events, err := readSSE(resp.Body)
	if len(events) != 1 || err == nil {
		t.Errorf("events %v err %v", events, err)
	}
}

// TestGeminiCountTokens: models.countTokens takes a whole generateContentRequest naming its
// model, or contents alone, and answers totalTokens (the prompt's words).
func TestGeminiCountTokens(t *testing.T) {
	up := NewGemini(t, WithKey("gk"))
	hdr := map[string]string{"x-goog-api-key": "gk"}
	url := up.URL + "/v1beta/models/gemini-2.5-flash:countTokens"
	req := strings.Replace(gemBody, `{"systemInstruction"`, `{"model":"models/gemini-2.5-flash","systemInstruction"`, 1)
	resp := post(t, url, hdr, `{"generateContentRequest":`+req+`}`)
	if m := decodeBody(t, resp); resp.StatusCode != 200 || m["totalTokens"] != 6.0 || dig(m, "promptTokensDetails", 0, "tokenCount") != 6.0 {
		t.Errorf("status %d body %v", resp.StatusCode, m)
	}
	resp = post(t, url, hdr, `{"contents":[{"role":"user","parts":[{"text":"three small words"}]}]}`)
	if m := decodeBody(t, resp); resp.StatusCode != 200 || m["totalTokens"] != 3.0 {
		t.Errorf("contents: status %d body %v", resp.StatusCode, m)
	}
	for _, c := range []struct{ body, want string }{
		{`{"generateContentRequest":` + gemBody + `}`, "model is required"},
		{`{"generateContentRequest":` + strings.Replace(req, "models/gemini-2.5-flash", "models/other", 1) + `}`, "does not match"},
		{`{"generateContentRequest":` + req + `,"contents":[]}`, "mutually exclusive"},
		{req, `Unknown name`},
		{`{"generateContentRequest":{"model":"models/gemini-2.5-flash","contents":[{"role":"user","parts":[{"image_url":"x"}]}]}}`, `Unknown name "image_url"`},
		{`{}`, "either contents or generateContentRequest"},
	} {
		resp := post(t, url, hdr, c.body)
		m := decodeBody(t, resp)
		msg, _ := dig(m, "error", "message").(string)
		if resp.StatusCode != 400 || !strings.Contains(msg, c.want) {
			t.Errorf("status %d %v, want 400 with %q", resp.StatusCode, m, c.want)
		}
	}
}

// TestGeminiThoughtSignatures: with thinking on, the first function call of a step carries a
// thought signature, and a follow-up whose model step lacks it (or carries one this server did
// not issue for that call) is refused with Gemini's 400; earlier turns are not checked.
func TestGeminiThoughtSignatures(t *testing.T) {
	up := NewGemini(t)
	hdr := map[string]string{"x-goog-api-key": "k"}
	url := up.URL + "/v1beta/models/gemini-2.5-flash:generateContent"
	const gen = `"generationConfig":{"thinkingConfig":{"thinkingBudget":1024,"includeThoughts":true}}`
	up.Enqueue(Reply{ToolCalls: []ToolCall{{Name: "f", Arguments: `{"a":1}`}, {Name: "g", Arguments: `{}`}}})
	m := decodeBody(t, post(t, url, hdr, `{"contents":[{"role":"user","parts":[{"text":"go"}]}],`+gen+`}`))
	parts, _ := dig(m, "candidates", 0, "content", "parts").([]any)
	if len(parts) != 3 || dig(parts, 0, "thought") != true || dig(parts, 1, "functionCall", "name") != "f" ||
		dig(parts, 2, "thoughtSignature") != nil {
		t.Fatalf("parts %v", parts)
	}
	sig, _ := dig(parts, 1, "thoughtSignature").(string)
	if sig == "" {
		t.Fatalf("no signature on the first call: %v", parts)
	}
	followUp := func(fcPart string) string {
		return `{"contents":[{"role":"user","parts":[{"text":"go"}]},{"role":"model","parts":[` + fcPart +
			`,{"functionCall":{"name":"g","args":{}}}]},{"role":"user","parts":[{"functionResponse":{"name":"f","response":{}}},{"functionResponse":{"name":"g","response":{}}}]}],` + gen + `}`
	}
	for _, c := range []struct {
		name, part string
		status     int
		want       string
	}{
		{"echoed", `{"functionCall":{"name":"f","args":{"a":1}},"thoughtSignature":"` + sig + `"}`, 200, ""},
		{"skip value", `{"functionCall":{"name":"f","args":{"a":1}},"thoughtSignature":"skip_thought_signature_validator"}`, 200, ""},
		{"missing", `{"functionCall":{"name":"f","args":{"a":1}}}`, 400, "Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call `default_api:f` , position 2."},
		{"forged", `{"functionCall":{"name":"f","args":{"a":1}},"thoughtSignature":"Zm9yZ2Vk"}`, 400, "Corrupted thought signature."},
		{"for another call", `{"functionCall":{"name":"h","args":{}},"thoughtSignature":"` + sig + `"}`, 400, "Corrupted thought signature."},
	} {
		resp := post(t, url, hdr, followUp(c.part))
		m := decodeBody(t, resp)
		msg, _ := dig(m, "error", "message").(string)
		if resp.StatusCode != c.status || c.status == 400 && (dig(m, "error", "status") != "INVALID_ARGUMENT" || dig(m, "error", "code") != 400.0 || !strings.HasPrefix(msg, c.want)) {
			t.Errorf("%s: status %d body %v", c.name, resp.StatusCode, m)
		}
	}
	// A new user turn: the unsigned step before it is not checked; without thinking nothing is.
	later := strings.Replace(followUp(`{"functionCall":{"name":"f","args":{"a":1}}}`), `]}],`+gen, `]},{"role":"model","parts":[{"text":"done"}]},{"role":"user","parts":[{"text":"next"}]}],`+gen, 1)
	if resp := post(t, url, hdr, later); resp.StatusCode != 200 {
		t.Errorf("earlier turn checked: status %d %v", resp.StatusCode, decodeBody(t, resp))
	}
	off := strings.Replace(followUp(`{"functionCall":{"name":"f","args":{"a":1}}}`), `"thinkingBudget":1024,"includeThoughts":true`, `"thinkingBudget":0`, 1)
	if resp := post(t, url, hdr, off); resp.StatusCode != 200 {
		t.Errorf("thinking off: status %d %v", resp.StatusCode, decodeBody(t, resp))
	}
	// A thinking model signs (and checks) without a thinkingConfig, in streams too, and shows
	// no thoughts unless asked.
	up.Enqueue(Reply{ToolCalls: []ToolCall{{Name: "f", Arguments: `{}`}}, Thinking: "hidden"})
	resp := post(t, up.URL+"/v1beta/models/gemini-thinking-exp:streamGenerateContent?alt=sse", hdr, `{"contents":[{"role":"user","parts":[{"text":"go"}]}]}`)
	events, err := readSSE(resp.Body)
	if err != nil || len(events) != 1 {
		t.Fatalf("events %v err %v", events, err)
	}
	ev := mustDecode(t, events[0].Data)
	if s, _ := dig(ev, "candidates", 0, "content", "parts", 0, "thoughtSignature").(string); s == "" || strings.Contains(events[0].Data, "hidden") {
		t.Errorf("stream event %v", ev)
	}
	resp = post(t, up.URL+"/v1beta/models/gemini-thinking-exp:generateContent", hdr,
		`{"contents":[{"role":"user","parts":[{"text":"go"}]},{"role":"model","parts":[{"functionCall":{"name":"f","args":{}}}]},{"role":"user","parts":[{"functionResponse":{"name":"f","response":{}}}]}]}`)
	if resp.StatusCode != 400 {
		t.Errorf("thinking model, unsigned step: status %d", resp.StatusCode)
	}
}
