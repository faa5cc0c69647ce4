package xlate

import (
	"bytes"

	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// Handling is what a translator does with a chat request member.
type Handling uint8

// The handlings. No member is dropped in silence: it is mapped, refused with a 400 naming it,
// or ignored and named in the x-sluice-ignored response header.
const (
	// Mapped: the member becomes Rule.Target in the provider's request.
	Mapped Handling = iota + 1
	// Refused: a request setting the member (to anything but its default) is a 400 naming it.
	Refused
	// Ignored: the member is a hint the provider has no slot for; it is left out and named
	// in x-sluice-ignored.
	Ignored
)

// Rule is one translator's handling of one member. Target is the provider field it becomes
// (Mapped; a dotted path in the provider body, "path:..." for the URL path, "gateway" when the
// gateway handles it before the translator), or the reason (Refused, Ignored).
type Rule struct {
	How    Handling
	Target string
}

// Param is one OpenAI chat completions request member and what each translator does with it.
type Param struct {
	Name string
	// Sample is request members (JSON object members, without braces) that set the member to a
	// value that asks for something; the parameter test sends it through each translator.
	Sample string
	// Default reports a value that asks for nothing (n = 1, logprobs = false): such a value is
	// neither refused nor reported. Nil: only null asks for nothing.
	Default func(jsonx.Value) bool
	// By is the rule of each translator, by provider kind.
	By map[string]Rule
}

// The translators the table covers.
const (
	Anthropic = "anthropic"
	Bedrock   = "bedrock"
	Gemini    = "gemini"
)

// Translators are the provider kinds of the table, in the docs' column order.
var Translators = []string{Anthropic, Bedrock, Gemini}

func mapped(target string) Rule  { return Rule{Mapped, target} }
func refused(why string) Rule    { return Rule{Refused, why} }
func ignoredR(why string) Rule   { return Rule{Ignored, why} }
func all(r Rule) map[string]Rule { return map[string]Rule{Anthropic: r, Bedrock: r, Gemini: r} }

func isZero(v jsonx.Value) bool  { f, ok := v.Float(); return ok && f == 0 }
func isFalse(v jsonx.Value) bool { b, ok := v.Bool(); return ok && !b }
func isTrue(v jsonx.Value) bool  { b, ok := v.Bool(); return ok && b }
func isOne(v jsonx.Value) bool   { n, ok := v.Int(); return ok && n == 1 }
func isEmptyObject(v jsonx.Value) bool {
	return v.IsObject() && v.Len() == 0
}
func isTextOnly(v jsonx.Value) bool {
	if !v.IsArray() {
		return false
	}
	for _, e := range v.Elems() {
		if !e.Is("text") {
			return false
		}
	}
	return true
}

const tool = `"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{}}}}]`

// ChatParams is every OpenAI chat completions request member and each translator's handling:
// the translators apply it (CheckParams) and docs/parameters.md is generated from it.
var ChatParams = []Param{
	{Name: "model", Sample: ``, By: map[string]Rule{
		Anthropic: mapped("model"), Bedrock: mapped("path:/model/{model}/converse"), Gemini: mapped("path:/models/{model}:generateContent")}},
	{Name: "messages", Sample: ``, By: map[string]Rule{
		Anthropic: mapped("messages"), Bedrock: mapped("messages"), Gemini: mapped("contents")}},
	{Name: "stream", Sample: `"stream":true`, Default: isFalse, By: map[string]Rule{
		Anthropic: mapped("stream"), Bedrock: mapped("path:/converse-stream"), Gemini: mapped("path::streamGenerateContent")}},
	{Name: "stream_options", Sample: `"stream_options":{"include_usage":true}`, By: all(mapped("gateway"))},
	{Name: "max_tokens", Sample: `"max_tokens":100`, By: map[string]Rule{
		Anthropic: mapped("max_tokens"), Bedrock: mapped("inferenceConfig.maxTokens"), Gemini: mapped("generationConfig.maxOutputTokens")}},
	{Name: "max_completion_tokens", Sample: `"max_completion_tokens":100`, By: map[string]Rule{
		Anthropic: mapped("max_tokens"), Bedrock: mapped("inferenceConfig.maxTokens"), Gemini: mapped("generationConfig.maxOutputTokens")}},
	{Name: "temperature", Sample: `"temperature":0.5`, By: map[string]Rule{
		Anthropic: mapped("temperature"), Bedrock: mapped("inferenceConfig.temperature"), Gemini: mapped("generationConfig.temperature")}},
	{Name: "top_p", Sample: `"top_p":0.5`, By: map[string]Rule{
		Anthropic: mapped("top_p"), Bedrock: mapped("inferenceConfig.topP"), Gemini: mapped("generationConfig.topP")}},
	{Name: "stop", Sample: `"stop":["END"]`, By: map[string]Rule{
		Anthropic: mapped("stop_sequences"), Bedrock: mapped("inferenceConfig.stopSequences"), Gemini: mapped("generationConfig.stopSequences")}},
	{Name: "n", Sample: `"n":2`, Default: isOne, By: map[string]Rule{
		Anthropic: refused("one choice per request"), Bedrock: refused("one choice per request"), Gemini: mapped("generationConfig.candidateCount")}},
	{Name: "presence_penalty", Sample: `"presence_penalty":0.5`, Default: isZero, By: map[string]Rule{
		Anthropic: ignoredR("no penalties"), Bedrock: ignoredR("no penalties in Converse"), Gemini: mapped("generationConfig.presencePenalty")}},
	{Name: "frequency_penalty", Sample: `"frequency_penalty":0.5`, Default: isZero, By: map[string]Rule{
		Anthropic: ignoredR("no penalties"), Bedrock: ignoredR("no penalties in Converse"), Gemini: mapped("generationConfig.frequencyPenalty")}},
	{Name: "seed", Sample: `"seed":7`, By: map[string]Rule{
		Anthropic: ignoredR("no seed"), Bedrock: ignoredR("no seed in Converse"), Gemini: mapped("generationConfig.seed")}},
	{Name: "logit_bias", Sample: `"logit_bias":{"1234":-100}`, Default: isEmptyObject, By: all(refused("no token biases"))},
	{Name: "logprobs", Sample: `"logprobs":true`, Default: isFalse, By: all(refused("log probabilities are not translated"))},
	{Name: "top_logprobs", Sample: `"top_logprobs":2`, Default: isZero, By: all(refused("log probabilities are not translated"))},
	{Name: "tools", Sample: tool, By: map[string]Rule{
		Anthropic: mapped("tools"), Bedrock: mapped("toolConfig.tools"), Gemini: mapped("tools")}},
	{Name: "tool_choice", Sample: tool + `,"tool_choice":"required"`, By: map[string]Rule{
		Anthropic: mapped("tool_choice"), Bedrock: mapped("toolConfig.toolChoice"), Gemini: mapped("toolConfig.functionCallingConfig")}},
	{Name: "parallel_tool_calls", Sample: tool + `,"parallel_tool_calls":false`, Default: isTrue, By: map[string]Rule{
		Anthropic: mapped("tool_choice.disable_parallel_tool_use"), Bedrock: ignoredR("no switch in Converse"), Gemini: ignoredR("no switch")}},
	{Name: "functions", Sample: `"functions":[{"name":"f","parameters":{"type":"object"}}]`, By: all(refused("deprecated; send tools"))},
	{Name: "function_call", Sample: `"function_call":"auto"`, By: all(refused("deprecated; send tool_choice"))},
	{Name: "response_format", Sample: `"response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}}}`, By: map[string]Rule{
		Anthropic: mapped("output_config.format"), Bedrock: mapped("toolConfig.toolChoice.tool"), Gemini: mapped("generationConfig.responseSchema")}},
	{Name: "reasoning_effort", Sample: `"reasoning_effort":"high"`, By: map[string]Rule{
		Anthropic: mapped("thinking.budget_tokens"), Bedrock: mapped("additionalModelRequestFields.thinking.budget_tokens"), Gemini: mapped("generationConfig.thinkingConfig")}},
	{Name: "verbosity", Sample: `"verbosity":"low"`, By: all(ignoredR("no verbosity control"))},
	{Name: "user", Sample: `"user":"u-1"`, By: map[string]Rule{
		Anthropic: mapped("metadata.user_id"), Bedrock: ignoredR("no end-user field"), Gemini: ignoredR("no end-user field")}},
	{Name: "safety_identifier", Sample: `"safety_identifier":"u-1"`, By: map[string]Rule{
		Anthropic: mapped("metadata.user_id"), Bedrock: ignoredR("no end-user field"), Gemini: ignoredR("no end-user field")}},
	{Name: "metadata", Sample: `"metadata":{"k":"v"}`, By: all(ignoredR("OpenAI stored-completion tags"))},
	{Name: "store", Sample: `"store":true`, Default: isFalse, By: all(ignoredR("no stored completions"))},
	{Name: "service_tier", Sample: `"service_tier":"flex"`, By: all(ignoredR("OpenAI billing tiers"))},
	{Name: "prompt_cache_key", Sample: `"prompt_cache_key":"k"`, By: all(ignoredR("caching is keyed by cache_control breakpoints"))},
	{Name: "prompt_cache_retention", Sample: `"prompt_cache_retention":"24h"`, By: all(ignoredR("retention is set by cache_control.ttl"))},
	{Name: "prediction", Sample: `"prediction":{"type":"content","content":"x"}`, By: all(ignoredR("a latency hint; no predicted outputs"))},
	{Name: "modalities", Sample: `"modalities":["text","audio"]`, Default: isTextOnly, By: all(refused("text output only"))},
	{Name: "audio", Sample: `"audio":{"voice":"alloy","format":"wav"}`, By: all(refused("no audio output"))},
	{Name: "web_search_options", Sample: `"web_search_options":{}`, By: all(refused("no built-in web search through chat"))},
}

var paramIndex = func() map[string]int {
	m := make(map[string]int, len(ChatParams))
	for i, p := range ChatParams {
		m[p.Name] = i
	}
	return m
}()

// Params collects the members a translator leaves out, for the translate_request output's
// ignored list (the host names them in x-sluice-ignored).
type Params struct {
	Ignored []string
}

// Ignore adds name to the ignored list once.
func (p *Params) Ignore(name string) {
	for _, n := range p.Ignored {
		if n == name {
			return
		}
	}
	p.Ignored = append(p.Ignored, name)
}

// CheckParams applies ChatParams to the body for the provider kind: a member refused there is
// a 400 naming it; ignored members, and members the table does not know (extensions such as
// another provider's fields), are listed in the result. Members set to null or their default
// ask for nothing and are skipped.
func CheckParams(body jsonx.Value, provider string) (Params, error) {
	var out Params
	for k, v := range body.Members() {
		if v.IsNull() {
			continue
		}
		i, known := paramIndex[string(keyBytes(k))] // no allocation for the lookup
		if !known {
			if !extension[k.Str()] {
				out.Ignore(k.Str())
			}
			continue
		}
		p := &ChatParams[i]
		if p.Default != nil && p.Default(v) {
			continue
		}
		switch r := p.By[provider]; r.How {
		case Refused:
			return out, BadRequest("unsupported_parameter", "%s: parameter %s is not supported (%s)", provider, p.Name, r.Target)
		case Ignored:
			out.Ignore(p.Name)
		}
	}
	return out, nil
}

// keyBytes is a member name's bytes: the raw text inside its quotes, or the decoded name when
// it holds escapes.
func keyBytes(k jsonx.Value) []byte {
	raw := k.Raw()
	if len(raw) >= 2 && raw[0] == '"' && bytes.IndexByte(raw, '\\') < 0 {
		return raw[1 : len(raw)-1]
	}
	return []byte(k.Str())
}

// extension are the non-OpenAI members the translators read themselves (written by the
// Messages API bridge), so they are not reported as unknown.
var extension = map[string]bool{}

// WriteIgnored writes the ignored member of a translate_request output (nothing when empty).
func (p Params) WriteIgnored(w *jsonx.Writer) {
	if len(p.Ignored) == 0 {
		return
	}
	w.Key("ignored")
	w.ArrayStart()
	for _, n := range p.Ignored {
		w.String(n)
	}
	w.ArrayEnd()
}

// FinishRequest closes the provider body, writes the ignored list and closes the
// translate_request output, keeping the SlotOut buffer for the next call.
func FinishRequest(w *jsonx.Writer, p Params) []byte {
	w.ObjectEnd()
	p.WriteIgnored(w)
	w.ObjectEnd()
	Keep(SlotOut, w.Bytes())
	return w.Bytes()
}
