package gateway

import (
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/host/openai"
	"github.com/sluice-gw/sluice/host/provider"
)

func TestNativeSummary(t *testing.T) {
	text := strings.Repeat("lorem ipsum dolor sit amet ", 40)
	for _, c := range []struct {
		name, dialect, body string
		usage               *openai.Usage
		finish              string
	}{
		{"responses completed", provider.Responses,
			`{"id":"resp_1","object":"response","status":"completed","output":[{"type":"message","content":[{"type":"output_text","text":"` + text + `"}]}],` +
				`"usage":{"input_tokens":12,"input_tokens_details":{"cached_tokens":4},"output_tokens":160,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":172},"user":null}`,
			&openai.Usage{PromptTokens: 12, CompletionTokens: 160, TotalTokens: 172, CachedTokens: 4}, "stop"},
		{"responses incomplete, filtered; status after usage", provider.Responses,
			`{"usage":{"input_tokens":1,"output_tokens":2},"incomplete_details":{"reason":"content_filter"},"status":"incomplete"}`,
			&openai.Usage{PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3}, "content_filter"},
		{"responses incomplete, out of tokens", provider.Responses,
			`{"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"usage":{"input_tokens":1,"output_tokens":2}}`,
			&openai.Usage{PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3}, "length"},
		{"responses failed, no usage", provider.Responses, `{"status":"failed","usage":null}`, nil, "error"},
		{"responses, a duplicate key: the last wins", provider.Responses,
			`{"status":"failed","usage":{"input_tokens":9},"status":"completed","usage":{"input_tokens":1,"output_tokens":1}}`,
			&openai.Usage{PromptTokens: 1, CompletionTokens: 1, TotalTokens: 2}, "stop"},
		{"messages with cache", provider.Messages,
			`{"id":"msg_1","type":"message","content":[{"type":"text","text":"` + text + `"}],"stop_reason":"end_turn",` +
				`"usage":{"input_tokens":3,"cache_creation_input_tokens":5,"cache_read_input_tokens":7,"output_tokens":11}}`,
			&openai.Usage{PromptTokens: 15, CompletionTokens: 11, TotalTokens: 26, CachedTokens: 7, CacheCreationTokens: 5}, "end_turn"},
		{"messages, stop reason last", provider.Messages,
			`{"usage":{"input_tokens":3,"output_tokens":1},"stop_reason":"tool_use"}`,
			&openai.Usage{PromptTokens: 3, CompletionTokens: 1, TotalTokens: 4}, "tool_use"},
		{"not JSON", provider.Messages, `{"usage":`, nil, ""},
		{"not an object", provider.Responses, `[{"status":"completed"}]`, nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			u, finish := nativeSummary(c.dialect, []byte(c.body))
			if finish != c.finish {
				t.Errorf("finish %q, want %q", finish, c.finish)
			}
			switch {
			case u == nil && c.usage == nil:
			case u == nil || c.usage == nil:
				t.Errorf("usage %+v, want %+v", u, c.usage)
			case *u != *c.usage:
				t.Errorf("usage %+v, want %+v", *u, *c.usage)
			}
		})
	}
}

// benchResponse is a Responses object as OpenAI returns it for a ~1 KB answer (members in the
// order of OpenAI's own, usage near the end).
func benchResponse() []byte {
	text := strings.Repeat("lorem ipsum dolor sit amet consectetur adipiscing elit ", 19)
	return []byte(`{"id":"resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b","object":"response","created_at":1741476542,"status":"completed",` +
		`"background":false,"error":null,"incomplete_details":null,"instructions":"You are terse.","max_output_tokens":256,"max_tool_calls":null,"model":"gpt-4.1-2025-04-14",` +
		`"output":[{"type":"message","id":"msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b","status":"completed","role":"assistant",` +
		`"content":[{"type":"output_text","text":"` + text + `","annotations":[],"logprobs":[]}]}],` +
		`"parallel_tool_calls":true,"previous_response_id":null,"prompt_cache_key":null,"reasoning":{"effort":null,"summary":null},"safety_identifier":null,` +
		`"service_tier":"default","store":false,"temperature":1.0,"text":{"format":{"type":"text"},"verbosity":"medium"},"tool_choice":"auto","tools":[],"top_logprobs":0,"top_p":1.0,"truncation":"disabled",` +
		`"usage":{"input_tokens":36,"input_tokens_details":{"cached_tokens":0},"output_tokens":160,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":196},"user":null,"metadata":{}}`)
}

func BenchmarkNativeSummaryResponses(b *testing.B) {
	body := benchResponse()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if u, f := nativeSummary(provider.Responses, body); u == nil || f != "stop" {
			b.Fatal("no summary")
		}
	}
}

func BenchmarkNativeSummaryMessages(b *testing.B) {
	text := strings.Repeat("lorem ipsum dolor sit amet consectetur adipiscing elit ", 19)
	body := []byte(`{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929",` +
		`"content":[{"type":"text","text":"` + text + `"}],"stop_reason":"end_turn","stop_sequence":null,` +
		`"usage":{"input_tokens":36,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":160,"service_tier":"standard"}}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if u, f := nativeSummary(provider.Messages, body); u == nil || f != "end_turn" {
			b.Fatal("no summary")
		}
	}
}
