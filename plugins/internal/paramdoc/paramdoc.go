// Package paramdoc renders docs/parameters.md, the table of what each first-party translator
// does with every OpenAI chat completions parameter, content part type and Responses API
// parameter. The chat rows come from xlate.ChatParams, the table the translators apply; the
// content and Responses rows are tables here. The package's tests drive every row through the
// translators (and the Responses bridge) and fail when a translator does something else, and
// fail when the checked-in document differs from Render (go test -update rewrites it).
package paramdoc

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/sluice-gw/sluice/plugins/internal/xlate"
)

// Part is one chat content part type and each translator's handling of it.
type Part struct {
	Name string
	// Message is the messages (JSON, comma-separated) carrying the part, for the test.
	Message string
	By      map[string]xlate.Rule
	// Has is, for mapped rows, a fragment of each provider's body the part must produce.
	Has map[string]string
}

const pdf = `data:application/pdf;base64,JVBERi0xLjQK`

// Parts are the chat content part types.
var Parts = []Part{
	{Name: "user message: text", Message: `{"role":"user","content":[{"type":"text","text":"hi"}]}`, By: map[string]xlate.Rule{
		xlate.Anthropic: {How: xlate.Mapped, Target: "text block"}, xlate.Bedrock: {How: xlate.Mapped, Target: "text block"}, xlate.Gemini: {How: xlate.Mapped, Target: "text part"}}, Has: map[string]string{xlate.Anthropic: `"text":"hi"`, xlate.Bedrock: `"text":"hi"`, xlate.Gemini: `"text":"hi"`}},
	{Name: "user message: image_url (base64 data URI)", Message: `{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}`, By: map[string]xlate.Rule{
		xlate.Anthropic: {How: xlate.Mapped, Target: "image block, base64 source"}, xlate.Bedrock: {How: xlate.Mapped, Target: "image block (png, jpeg, gif, webp)"}, xlate.Gemini: {How: xlate.Mapped, Target: "inlineData"}}, Has: map[string]string{xlate.Anthropic: `"type":"image","source":{"type":"base64"`, xlate.Bedrock: `"image":{"format":"png"`, xlate.Gemini: `"inlineData":{"mimeType":"image/png"`}},
	{Name: "user message: image_url (https URL)", Message: `{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}]}`, By: map[string]xlate.Rule{
		xlate.Anthropic: {How: xlate.Mapped, Target: "image block, url source"}, xlate.Bedrock: {How: xlate.Refused, Target: "Converse cannot fetch URLs"}, xlate.Gemini: {How: xlate.Mapped, Target: "fileData.fileUri"}}, Has: map[string]string{xlate.Anthropic: `"source":{"type":"url"`, xlate.Gemini: `"fileData":{"mimeType":"image/png"`}},
	{Name: "user message: file (file_data, PDF)", Message: `{"role":"user","content":[{"type":"text","text":"hi"},{"type":"file","file":{"file_data":"` + pdf + `","filename":"report.pdf"}}]}`, By: map[string]xlate.Rule{
		xlate.Anthropic: {How: xlate.Mapped, Target: "document block (title = filename)"}, xlate.Bedrock: {How: xlate.Mapped, Target: "document block (name from the filename)"}, xlate.Gemini: {How: xlate.Mapped, Target: "inlineData"}}, Has: map[string]string{xlate.Anthropic: `"type":"document"`, xlate.Bedrock: `"document":{"format":"pdf","name":"report (0-1)"`, xlate.Gemini: `"inlineData":{"mimeType":"application/pdf"`}},
	{Name: "user message: file (file_id)", Message: `{"role":"user","content":[{"type":"text","text":"hi"},{"type":"file","file":{"file_id":"file-abc"}}]}`, By: map[string]xlate.Rule{
		xlate.Anthropic: {How: xlate.Refused, Target: "no files API; send file_data"}, xlate.Bedrock: {How: xlate.Refused, Target: "no files API; send file_data"}, xlate.Gemini: {How: xlate.Refused, Target: "no files API; send file_data"}}},
	{Name: "user message: input_audio", Message: `{"role":"user","content":[{"type":"text","text":"hi"},{"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}}]}`, By: map[string]xlate.Rule{
		xlate.Anthropic: {How: xlate.Refused, Target: "no audio input"}, xlate.Bedrock: {How: xlate.Refused, Target: "no audio input in Converse"}, xlate.Gemini: {How: xlate.Mapped, Target: "inlineData (audio/wav, audio/mp3)"}}, Has: map[string]string{xlate.Gemini: `"inlineData":{"mimeType":"audio/wav"`}},
	{Name: "tool message: image_url (base64)", Message: `{"role":"user","content":"hi"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":[{"type":"text","text":"shot"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]}`, By: map[string]xlate.Rule{
		xlate.Anthropic: {How: xlate.Mapped, Target: "image block in the tool_result"}, xlate.Bedrock: {How: xlate.Mapped, Target: "image block in the toolResult"}, xlate.Gemini: {How: xlate.Refused, Target: "functionResponse takes text"}}, Has: map[string]string{xlate.Anthropic: `"type":"tool_result","tool_use_id":"c1","content":[{"type":"text","text":"shot"},{"type":"image"`, xlate.Bedrock: `"toolResult":{"toolUseId":"c1","content":[{"text":"shot"},{"image":`}},
	{Name: "system message: image_url", Message: `{"role":"system","content":[{"type":"text","text":"be brief"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]},{"role":"user","content":"hi"}`, By: map[string]xlate.Rule{
		xlate.Anthropic: {How: xlate.Refused, Target: "system prompts are text"}, xlate.Bedrock: {How: xlate.Refused, Target: "system prompts are text"}, xlate.Gemini: {How: xlate.Refused, Target: "system prompts are text"}}},
	{Name: "assistant message: refusal", Message: `{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"refusal","refusal":"no"}]},{"role":"user","content":"why"}`, By: map[string]xlate.Rule{
		xlate.Anthropic: {How: xlate.Mapped, Target: "text block"}, xlate.Bedrock: {How: xlate.Mapped, Target: "text block"}, xlate.Gemini: {How: xlate.Mapped, Target: "text part"}}, Has: map[string]string{xlate.Anthropic: `"role":"assistant","content":[{"type":"text","text":"no"}`, xlate.Bedrock: `"role":"assistant","content":[{"text":"no"}`, xlate.Gemini: `"role":"model","parts":[{"text":"no"}`}},
	{Name: "assistant message: image_url", Message: `{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]},{"role":"user","content":"why"}`, By: map[string]xlate.Rule{
		xlate.Anthropic: {How: xlate.Refused, Target: "assistant turns are text and tool calls"}, xlate.Bedrock: {How: xlate.Refused, Target: "assistant turns are text and tool calls"}, xlate.Gemini: {How: xlate.Refused, Target: "assistant turns are text and tool calls"}}},
}

// RespParam is one Responses API parameter and what the Responses bridge makes of it: the chat
// parameter it becomes (whose row then applies), or the bridge's or gateway's own handling.
type RespParam struct {
	Name string
	// Sample is Responses request members setting it, for the test.
	Sample string
	// Chat is the chat parameter it becomes ("" when it becomes none).
	Chat string
	// How is set when Chat is "": Mapped means the gateway itself serves it (Note says how).
	How  xlate.Handling
	Note string
}

// RespParams are the Responses API request parameters.
var RespParams = []RespParam{
	{Name: "model", Sample: ``, Chat: "model"},
	{Name: "input", Sample: ``, Chat: "messages"},
	{Name: "instructions", Sample: `"instructions":"be brief"`, Chat: "messages", Note: "a system message first"},
	{Name: "stream", Sample: `"stream":true`, Chat: "stream"},
	{Name: "stream_options", Sample: `"stream_options":{"include_obfuscation":true}`, How: xlate.Ignored, Note: "include_obfuscation true: no padding is sent"},
	{Name: "max_output_tokens", Sample: `"max_output_tokens":100`, Chat: "max_completion_tokens"},
	{Name: "temperature", Sample: `"temperature":0.5`, Chat: "temperature"},
	{Name: "top_p", Sample: `"top_p":0.5`, Chat: "top_p"},
	{Name: "top_logprobs", Sample: `"top_logprobs":2`, Chat: "top_logprobs"},
	{Name: "tools", Sample: `"tools":[{"type":"function","name":"f","parameters":{"type":"object","properties":{}}}]`, Chat: "tools", Note: "function tools; built-in tools are refused"},
	{Name: "tool_choice", Sample: `"tools":[{"type":"function","name":"f","parameters":{"type":"object","properties":{}}}],"tool_choice":"required"`, Chat: "tool_choice"},
	{Name: "parallel_tool_calls", Sample: `"tools":[{"type":"function","name":"f","parameters":{"type":"object","properties":{}}}],"parallel_tool_calls":false`, Chat: "parallel_tool_calls"},
	{Name: "text.format", Sample: `"text":{"format":{"type":"json_schema","name":"r","schema":{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}}}`, Chat: "response_format"},
	{Name: "text.verbosity", Sample: `"text":{"verbosity":"low"}`, Chat: "verbosity"},
	{Name: "reasoning.effort", Sample: `"reasoning":{"effort":"high"}`, Chat: "reasoning_effort", Note: "reasoning comes back as reasoning items"},
	{Name: "user", Sample: `"user":"u-1"`, Chat: "user"},
	{Name: "safety_identifier", Sample: `"safety_identifier":"u-1"`, Chat: "safety_identifier"},
	{Name: "prompt_cache_key", Sample: `"prompt_cache_key":"k"`, Chat: "prompt_cache_key"},
	{Name: "prompt_cache_retention", Sample: `"prompt_cache_retention":"24h"`, Chat: "prompt_cache_retention"},
	{Name: "service_tier", Sample: `"service_tier":"flex"`, Chat: "service_tier"},
	{Name: "metadata", Sample: `"metadata":{"k":"v"}`, Chat: "metadata", Note: "also kept on the stored response"},
	{Name: "include", Sample: `"include":["message.output_text.logprobs"]`, Chat: "logprobs", Note: "message.output_text.logprobs turns on logprobs; the others need nothing"},
	{Name: "store", Sample: `"store":true`, How: xlate.Mapped, Note: "the gateway stores the response (Redis or memory)"},
	{Name: "previous_response_id", Sample: ``, How: xlate.Mapped, Note: "the gateway replays the stored turns"},
	{Name: "background", Sample: ``, How: xlate.Mapped, Note: "served by the gateway's stored responses"},
	{Name: "max_tool_calls", Sample: `"max_tool_calls":3`, How: xlate.Ignored, Note: "limits built-in tool calls only, which are refused"},
	{Name: "truncation", Sample: `"truncation":"auto"`, How: xlate.Ignored, Note: "\"auto\": the conversation is sent whole"},
	{Name: "client_metadata", Sample: `"client_metadata":{"k":"v"}`, How: xlate.Ignored, Note: "OpenAI's own bookkeeping"},
	{Name: "conversation", Sample: `"conversation":"conv_1"`, How: xlate.Refused, Note: "OpenAI-hosted conversations"},
	{Name: "prompt", Sample: `"prompt":{"id":"pmpt_1"}`, How: xlate.Refused, Note: "OpenAI-hosted prompt templates"},
}

func cell(r xlate.Rule) string {
	switch r.How {
	case xlate.Mapped:
		if strings.HasPrefix(r.Target, "path:") {
			return "mapped: URL `" + strings.TrimPrefix(r.Target, "path:") + "`"
		}
		if r.Target == "gateway" {
			return "mapped: by the gateway"
		}
		if strings.ContainsAny(r.Target, " (") {
			return "mapped: " + r.Target
		}
		return "mapped: `" + r.Target + "`"
	case xlate.Refused:
		return "**refused** (400): " + r.Target
	case xlate.Ignored:
		return "ignored, in `x-sluice-ignored`: " + r.Target
	}
	return "?"
}

func chatRule(name string) (xlate.Param, bool) {
	for _, p := range xlate.ChatParams {
		if p.Name == name {
			return p, true
		}
	}
	return xlate.Param{}, false
}

// Render returns docs/parameters.md.
func Render() []byte {
	var b bytes.Buffer
	b.WriteString(`# Parameters per provider

Generated from the translators' parameter table (plugins/internal/xlate/params.go) by
` + "`go test ./plugins/internal/paramdoc/ -update`" + `; the same package's tests send every row through
every translator and fail when one does something else. Do not edit by hand.

Every parameter a client sends is **mapped** to the provider field named, **refused** with a 400
` + "`unsupported_parameter`" + ` error naming it, or **ignored** (a hint the provider has no slot for) and
named in the ` + "`x-sluice-ignored`" + ` response header. A member no row knows is ignored and named the
same way. A parameter at its default (` + "`n: 1`, `logprobs: false`, `parallel_tool_calls: true`" + `,
zero penalties, null) asks for nothing and is neither refused nor named.

Dynamic cases the table cannot show: on Anthropic, ` + "`temperature` and `top_p`" + ` are ignored (and
named) when reasoning is on or ` + "`anthropic_version`" + ` is 2026-10-21 or later, which reject them; on
Bedrock they are ignored when reasoning is on. ` + "`reasoning_effort`" + ` on Bedrock applies to Claude
models only (other models: 400). Structured output through a forced tool (Bedrock, and
Anthropic ` + "`json_object`" + `) cannot be combined with ` + "`reasoning_effort`" + ` (400), as forced tools
exclude extended thinking.

## Chat completions parameters

| Parameter | anthropic | bedrock | gemini |
|---|---|---|---|
`)
	for _, p := range xlate.ChatParams {
		fmt.Fprintf(&b, "| `%s` |", p.Name)
		for _, t := range xlate.Translators {
			fmt.Fprintf(&b, " %s |", cell(p.By[t]))
		}
		b.WriteByte('\n')
	}
	b.WriteString(`
## Content part types

| Part | anthropic | bedrock | gemini |
|---|---|---|---|
`)
	for _, p := range Parts {
		fmt.Fprintf(&b, "| `%s` |", p.Name)
		for _, t := range xlate.Translators {
			fmt.Fprintf(&b, " %s |", cell(p.By[t]))
		}
		b.WriteByte('\n')
	}
	b.WriteString(`
## Responses API parameters (bridged to a translator)

A Responses request to a provider without the Responses API is bridged to chat completions
(host/responsesapi): each parameter becomes the chat parameter named, whose row above then
applies per provider, or is handled by the bridge or the gateway itself.

| Parameter | Becomes | anthropic | bedrock | gemini | Note |
|---|---|---|---|---|---|
`)
	for _, p := range RespParams {
		if p.Chat != "" {
			cp, _ := chatRule(p.Chat)
			fmt.Fprintf(&b, "| `%s` | chat `%s` |", p.Name, p.Chat)
			for _, t := range xlate.Translators {
				fmt.Fprintf(&b, " %s |", cell(cp.By[t]))
			}
		} else {
			fmt.Fprintf(&b, "| `%s` | %s | | | |", p.Name, bridgeCell(p.How))
		}
		fmt.Fprintf(&b, " %s |\n", p.Note)
	}
	b.WriteString(`
## Reasoning effort budgets

| reasoning_effort | anthropic, bedrock (Claude): thinking.budget_tokens | gemini 2.5: thinkingBudget | gemini 3+: thinkingLevel |
|---|---|---|---|
| none | off | 0 | minimal |
| minimal | 1024 | 512 | minimal |
| low | 2048 | 1024 | low |
| medium | 8192 | 8192 | medium |
| high | 16384 | 24576 | high |

OpenAI counts reasoning inside ` + "`max_completion_tokens`" + `: with a client limit the Claude budget is
capped below it (a limit under 1025 is a 400); without one ` + "`max_tokens`" + ` becomes
` + "`default_max_tokens`" + ` (4096) plus the budget. Pro models cannot turn thinking off: on Gemini 2.5
Pro none is the smallest budget, 128; Gemini 3 Pro takes only low and high (none and minimal
become low, medium becomes high). Reasoning text comes back as ` + "`reasoning_content`" + ` (chat, streamed
as deltas) and as reasoning items (Responses); the provider's signature as the
` + "`reasoning_signature`" + ` extension (a reasoning item's ` + "`encrypted_content`" + `), which the next request
carries back. Reasoning tokens are in ` + "`usage.completion_tokens_details.reasoning_tokens`" + ` where the
provider counts them (Gemini).

With the Anthropic provider option ` + "`thinking = \"adaptive\"`" + ` (for models that size their own
thinking), ` + "`reasoning_effort`" + ` becomes ` + "`thinking: {type: adaptive}`" + ` and ` + "`output_config.effort`" + ` (low
for minimal and low, medium, high) instead of a budget, and ` + "`max_tokens`" + ` is not raised.
`)
	return b.Bytes()
}

func bridgeCell(h xlate.Handling) string {
	switch h {
	case xlate.Mapped:
		return "served by the gateway"
	case xlate.Refused:
		return "**refused** (400) by the bridge"
	case xlate.Ignored:
		return "ignored, in `x-sluice-ignored`"
	}
	return "?"
}
