package e2e

import (
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
)

// answerTool is the tool the translators force for structured output where the provider has no
// JSON mode (Bedrock); a real Converse model called with toolChoice.tool answers with it.
const answerTool = "sluice_json_answer"

// toolResultKey is how each provider's request spells a tool result, which the loop script
// counts to know its step.
var toolResultKey = map[fakeprovider.Format]string{
	fakeprovider.FormatAnthropic: `"tool_result"`,
	fakeprovider.FormatGemini:    `"functionResponse"`,
	fakeprovider.FormatBedrock:   `"toolResult"`,
}

// scriptFidelity plays, by marker word: structured output (the JSON answer, as a call of the
// forced answer tool on Bedrock, and on Anthropic for json_object), a refusal, and a three-turn tool loop with reasoning (two weather calls,
// then a time call, then the answer); anything else is echoed.
func scriptFidelity(up *fakeprovider.Server, f fakeprovider.Format) {
	up.Script(func(r fakeprovider.Received) fakeprovider.Reply {
		b := string(r.Body)
		switch {
		case strings.Contains(b, "marker-jsonobject") && f != fakeprovider.FormatGemini,
			strings.Contains(b, "marker-structured") && f == fakeprovider.FormatBedrock:
			return fakeprovider.Reply{ToolCalls: []fakeprovider.ToolCall{{Name: answerTool, Arguments: `{"colour":"blue"}`}}}
		case strings.Contains(b, "marker-structured"), strings.Contains(b, "marker-jsonobject"):
			return fakeprovider.Reply{Text: `{"colour":"blue"}`}
		case strings.Contains(b, "marker-refuse"):
			return fakeprovider.Reply{Text: "I cannot help with that.", FinishReason: "refusal"}
		case strings.Contains(b, "marker-loop"):
			switch strings.Count(b, toolResultKey[f]) {
			case 0:
				return fakeprovider.Reply{Thinking: "Two cities: call the tool twice.", ToolCalls: []fakeprovider.ToolCall{
					{Name: "get_weather", Arguments: `{"city":"Paris"}`}, {Name: "get_weather", Arguments: `{"city":"Rome"}`}}}
			case 2:
				return fakeprovider.Reply{Thinking: "Now the local time.", ToolCalls: []fakeprovider.ToolCall{
					{Name: "get_time", Arguments: `{"tz":"CET"}`}}}
			}
			return fakeprovider.Reply{Thinking: "All known.", Text: "Paris 18C, Rome 24C, 14:00."}
		}
		return fakeprovider.Reply{}
	})
}

// TestTranslatorFidelityNodeSDK drives structured output, reasoning across a three-turn tool
// loop, PDFs and the parameter rules (x-sluice-ignored, refusals) through every translator with
// the official OpenAI Node SDK; the fakes refuse what the real APIs refuse (unsigned or altered
// reasoning, bad document names, thinking with sampling changes or forced tools).
func TestTranslatorFidelityNodeSDK(t *testing.T) {
	f := startTranslateFakes(t)
	scriptFidelity(f.ant, fakeprovider.FormatAnthropic)
	scriptFidelity(f.gem, fakeprovider.FormatGemini)
	scriptFidelity(f.bed, fakeprovider.FormatBedrock)
	s := startSluice(t, translateConfig(f))
	out := node(t, "xlate.test.mjs", "SLUICE_URL="+s.URL)
	if !strings.Contains(out, "pass 37") || !strings.Contains(out, "fail 0") {
		t.Fatalf("expected 37 passing node tests:\n%s", out)
	}
	checkReceived(t, "anthropic", f.ant, 10, anthropicHeaders)
	checkReceived(t, "gemini", f.gem, 10, geminiHeaders)
	checkReceived(t, "bedrock", f.bed, 10, bedrockHeaders)
	for _, c := range []struct {
		name  string
		up    *fakeprovider.Server
		parts [][]string
	}{
		{"anthropic", f.ant, [][]string{
			{`"output_config":{"format":{"type":"json_schema","schema":`, "marker-structured"},
			{`"type":"document"`, `"media_type":"application/pdf"`, `"title":"report.pdf"`},
			{`"tool_choice":{"type":"tool","name":"sluice_json_answer"}`, "marker-jsonobject"},
			{`"thinking":{"type":"enabled","budget_tokens":2048}`, `"type":"thinking"`, `"signature":"sig_fake_`},
		}},
		{"gemini", f.gem, [][]string{
			{`"responseSchema"`, `"responseMimeType":"application/json"`},
			{`"inlineData":{"mimeType":"application/pdf"`},
			{`"thinkingConfig":{"thinkingBudget":1024,"includeThoughts":true}`, `"thoughtSignature"`},
		}},
		{"bedrock", f.bed, [][]string{
			{`"toolChoice":{"tool":{"name":"sluice_json_answer"}}`},
			{`"toolChoice":{"tool":{"name":"sluice_json_answer"}}`, "marker-jsonobject", `"inputSchema":{"json":{"type":"object"}}`},
			{`"document":{"format":"pdf","name":"report (0-1)"`},
			{`"additionalModelRequestFields":{"thinking":{"type":"enabled","budget_tokens":2048}}`, `"reasoningContent"`, `"signature":"sig_fake_`},
		}},
	} {
		for _, p := range c.parts {
			if !bodyHas(c.up, p...) {
				t.Errorf("%s: no request body contains %q", c.name, p)
			}
		}
	}
}
