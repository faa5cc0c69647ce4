package fakeprovider

import (
	"strings"
	"testing"
)

// TestBedrockDocumentsAndReasoning: documents must follow Converse's name rules and sit beside
// a text block; reasoning blocks come back only with a signature this server issued for that
// text; thinking excludes sampling changes and forced tools, and a tool-using assistant turn
// must start with its reasoning.
func TestBedrockDocumentsAndReasoning(t *testing.T) {
	up := NewBedrock(t, WithCredentials(testAKID, testSecret), WithRegion("us-east-1"))
	doc := func(name string, text bool) string {
		c := `{"document":{"format":"pdf","name":"` + name + `","source":{"bytes":"JVBERi0xLjQK"}}}`
		if text {
			c = `{"text":"sum up"},` + c
		}
		return `{"messages":[{"role":"user","content":[` + c + `]}]}`
	}
	ok := func(name, body string) {
		t.Helper()
		if resp := signedPost(t, up, "converse", body, testSecret); resp.StatusCode != 200 {
			t.Errorf("%s: status %d %v", name, resp.StatusCode, decodeBody(t, resp))
		}
	}
	bad := func(name, body, want string) {
		t.Helper()
		resp := signedPost(t, up, "converse", body, testSecret)
		m := decodeBody(t, resp)
		if msg, _ := m["message"].(string); resp.StatusCode != 400 || !strings.Contains(msg, want) {
			t.Errorf("%s: status %d %v, want 400 with %q", name, resp.StatusCode, m, want)
		}
	}
	ok("document", doc("Q3 report (0-1)", true))
	bad("name with a dot", doc("report.pdf", true), "document.name may only contain")
	bad("double space", doc("a  b", true), "document.name may only contain")
	bad("no text", doc("report", false), "must also contain a text block")

	up.Enqueue(Reply{Thinking: "weigh it", ToolCalls: []ToolCall{{ID: "t1", Name: "f", Arguments: `{}`}}})
	m := decodeBody(t, signedPost(t, up, "converse", `{"messages":[{"role":"user","content":[{"text":"q"}]}],
"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{"type":"object"}}}}]}}`, testSecret))
	sig, _ := dig(m, "output", "message", "content", 0, "reasoningContent", "reasoningText", "signature").(string)
	if !strings.HasPrefix(sig, "sig_fake_") {
		t.Fatalf("no signature in %v", m)
	}
	think := `"additionalModelRequestFields":{"thinking":{"type":"enabled","budget_tokens":1024}}`
	turn := func(first, inference string) string {
		return `{"messages":[{"role":"user","content":[{"text":"q"}]},
{"role":"assistant","content":[` + first + `{"toolUse":{"toolUseId":"t1","name":"f","input":{}}}]},
{"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"text":"ok"}]}}]}],
"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{"type":"object"}}}}]},
"inferenceConfig":{"maxTokens":2048` + inference + `},` + think + `}`
	}
	reasoning := func(text, sig string) string {
		return `{"reasoningContent":{"reasoningText":{"text":"` + text + `","signature":"` + sig + `"}}},`
	}
	ok("signed reasoning", turn(reasoning("weigh it", sig), ""))
	bad("altered reasoning", turn(reasoning("weigh that", sig), ""), "Invalid `signature`")
	bad("foreign signature", turn(reasoning("weigh it", "c2ln"), ""), "Invalid `signature`")
	bad("no reasoning first", turn("", ""), "must start with a thinking block")
	bad("temperature", turn(reasoning("weigh it", sig), `,"temperature":0.5`), "temperature")
	bad("small budget", strings.Replace(turn(reasoning("weigh it", sig), ""), `"budget_tokens":1024`, `"budget_tokens":100`, 1), "greater than or equal to 1024")
}
