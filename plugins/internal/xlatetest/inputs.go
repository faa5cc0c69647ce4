package xlatetest

import (
	"bytes"
)

// Inputs are one translator's benchmark envelopes: a ~2 KB provider response and one stream
// event in that provider's wire shape, with the state a stream has after its first event.
type Inputs struct {
	Response []byte
	// EventHead is the chunk envelope up to the events array; Event is one element of it.
	EventHead, Event string
}

// Events returns a translate_chunk envelope carrying n copies of the event.
func (in Inputs) Events(n int) []byte {
	var b bytes.Buffer
	b.WriteString(in.EventHead)
	b.WriteString(`,"events":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(in.Event)
	}
	b.WriteString("]}")
	return b.Bytes()
}

// Provider holds the inputs of each first-party translator, by plugin name.
var Provider = map[string]Inputs{
	"anthropic": {
		Response: []byte(`{"endpoint":"chat.completions","model":"claude-sonnet-4-5","request_id":"req-bench","now":1700000000,"status":200,
"body":{"id":"msg_bench","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"` +
			LongText + `"},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Rome","unit":"c"}}],
"stop_reason":"tool_use","usage":{"input_tokens":420,"cache_read_input_tokens":100,"output_tokens":380}}}`),
		EventHead: `{"model":"claude-sonnet-4-5","request_id":"req-bench","now":1700000000,
"state":{"id":"msg_bench","model":"claude-sonnet-4-5","created":1700000000,"prompt":520,"completion":0,"blocks":[],"finish":"","started":true}`,
		Event: `{"event":"content_block_delta","data":{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Paris will be cloudy "}}}`,
	},
	"gemini": {
		Response: []byte(`{"endpoint":"chat.completions","model":"gemini-2.5-flash","request_id":"req-bench","now":1700000000,"status":200,
"body":{"candidates":[{"content":{"role":"model","parts":[{"text":"` + LongText + `"},{"functionCall":{"name":"get_weather","args":{"city":"Rome","unit":"c"}}}]},"finishReason":"STOP","index":0}],
"usageMetadata":{"promptTokenCount":420,"candidatesTokenCount":380,"thoughtsTokenCount":50,"totalTokenCount":850},"modelVersion":"gemini-2.5-flash","responseId":"resp-bench"}}`),
		EventHead: `{"model":"gemini-2.5-flash","request_id":"req-bench","now":1700000000,
"state":{"id":"resp-bench","model":"gemini-2.5-flash","created":1700000000,"started":true,"tools":0,"finish":"","usage":{"p":420,"c":0}}`,
		Event: `{"event":"","data":{"candidates":[{"content":{"role":"model","parts":[{"text":"Paris will be cloudy "}]},"index":0}],"usageMetadata":{"promptTokenCount":420,"candidatesTokenCount":4},"modelVersion":"gemini-2.5-flash","responseId":"resp-bench"}}`,
	},
	"bedrock": {
		Response: []byte(`{"endpoint":"chat.completions","model":"anthropic.claude-3-5-haiku-20241022-v1:0","request_id":"req-bench","now":1700000000,"status":200,
"body":{"output":{"message":{"role":"assistant","content":[{"text":"` + LongText + `"},{"toolUse":{"toolUseId":"tooluse_1","name":"get_weather","input":{"city":"Rome","unit":"c"}}}]}},
"stopReason":"tool_use","usage":{"inputTokens":420,"outputTokens":380,"totalTokens":800},"metrics":{"latencyMs":900}}}`),
		EventHead: `{"model":"anthropic.claude-3-5-haiku-20241022-v1:0","request_id":"req-bench","now":1700000000,
"state":{"created":1700000000,"blocks":[],"finish":""}`,
		Event: `{"event":"contentBlockDelta","data":{"contentBlockIndex":0,"delta":{"text":"Paris will be cloudy "}}}`,
	},
}

// OpenAIResponse is a ~2 KB OpenAI chat completion, the passthrough path's answer.
var OpenAIResponse = []byte(`{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"` +
	LongText + `","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\",\"unit\":\"c\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":420,"completion_tokens":380,"total_tokens":800}}`)
