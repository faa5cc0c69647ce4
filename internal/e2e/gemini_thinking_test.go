package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
)

// thinkingGemini starts a Gemini fake that checks thought signatures (thinking is on, as
// reasoning_effort asks) and plays a three-turn tool loop: two parallel weather calls, then a
// time call once their results are in, then the answer. It counts the functionResponse parts
// of the request to know the step.
func thinkingGemini(t *testing.T) (*fakeprovider.Server, *Sluice) {
	up := fakeprovider.NewGemini(t, fakeprovider.WithKey(gemKey))
	up.Script(func(r fakeprovider.Received) fakeprovider.Reply {
		results := strings.Count(string(r.Body), `"functionResponse"`)
		switch {
		case results == 0:
			return fakeprovider.Reply{Thinking: "Two cities: call the tool twice.", ToolCalls: []fakeprovider.ToolCall{
				{Name: "get_weather", Arguments: `{"city":"Paris"}`}, {Name: "get_weather", Arguments: `{"city":"Rome"}`}}}
		case results == 2:
			return fakeprovider.Reply{Thinking: "Now the local time.", ToolCalls: []fakeprovider.ToolCall{
				{Name: "get_time", Arguments: `{"tz":"CET"}`}}}
		}
		return fakeprovider.Reply{Thinking: "All known.", Text: "Paris 18C, Rome 24C, 14:00."}
	})
	s := startSluice(t, baseConfig+fmt.Sprintf(`
[providers.gemini]
base_url = %q
api_key = %q
`, up.URL+"/v1beta", gemKey))
	return up, s
}

const thinkingTools = `[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}},
{"type":"function","function":{"name":"get_time","parameters":{"type":"object","properties":{"tz":{"type":"string"}}}}}]`

// chatTurn is an assistant message as a client rebuilds it from a completion or a stream.
type chatTurn struct {
	Role             string         `json:"role"`
	Content          *string        `json:"content"`
	ReasoningContent string         `json:"reasoning_content,omitempty"`
	Signature        string         `json:"reasoning_signature,omitempty"`
	ToolCalls        []chatToolCall `json:"tool_calls,omitempty"`
}

type chatToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// chatTurnOf reads the assistant message of a completion, or accumulates it from the chunks of
// a stream as a client does: text members concatenated, tool calls by index.
func chatTurnOf(t *testing.T, stream bool, body string) chatTurn {
	t.Helper()
	if !stream {
		var m struct {
			Choices []struct {
				Message chatTurn `json:"message"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(body), &m); err != nil || len(m.Choices) != 1 {
			t.Fatalf("completion %v: %s", err, body)
		}
		return m.Choices[0].Message
	}
	turn := chatTurn{Role: "assistant"}
	var content string
	_, data := sseEvents([]byte(body))
	for _, d := range data {
		if d == "[DONE]" {
			break
		}
		var c struct {
			Choices []struct {
				Delta struct {
					Content          string `json:"content"`
					ReasoningContent string `json:"reasoning_content"`
					Signature        string `json:"reasoning_signature"`
					ToolCalls        []struct {
						Index int `json:"index"`
						chatToolCall
					} `json:"tool_calls"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(d), &c); err != nil {
			t.Fatalf("chunk %v: %s", err, d)
		}
		for _, ch := range c.Choices {
			content += ch.Delta.Content
			turn.ReasoningContent += ch.Delta.ReasoningContent
			turn.Signature += ch.Delta.Signature
			for _, tc := range ch.Delta.ToolCalls {
				for len(turn.ToolCalls) <= tc.Index {
					turn.ToolCalls = append(turn.ToolCalls, chatToolCall{Type: "function"})
				}
				at := &turn.ToolCalls[tc.Index]
				if tc.ID != "" {
					at.ID = tc.ID
				}
				at.Function.Name += tc.Function.Name
				at.Function.Arguments += tc.Function.Arguments
			}
		}
	}
	if content != "" || len(turn.ToolCalls) == 0 {
		turn.Content = &content
	}
	return turn
}

// TestGeminiThoughtSignaturesChat: a three-turn tool loop with reasoning_effort through chat
// completions to a Gemini that refuses a step without its thought signature. The client echoes
// the assistant messages as they came, reasoning_content and reasoning_signature included, and
// every turn is accepted; the same turn without the signature is refused with Gemini's 400.
func TestGeminiThoughtSignaturesChat(t *testing.T) {
	up, s := thinkingGemini(t)
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			up.ClearRequests()
			msgs := []any{map[string]any{"role": "user", "content": "Weather and time in Paris and Rome?"}}
			var unsigned []any // turn 2 with the first assistant message stripped of its signature
			for turn := 1; turn <= 3; turn++ {
				raw, _ := json.Marshal(msgs)
				req := fmt.Sprintf(`{"model":"gemini/gemini-2.5-flash","reasoning_effort":"low","stream":%v,"tools":%s,"messages":%s}`, stream, thinkingTools, raw)
				code, _, body := post(t, s.URL+"/v1/chat/completions", req)
				if code != 200 {
					t.Fatalf("turn %d: %d %s", turn, code, body)
				}
				a := chatTurnOf(t, stream, body)
				if a.ReasoningContent == "" {
					t.Errorf("turn %d: no reasoning_content: %+v", turn, a)
				}
				if turn == 3 {
					if a.Content == nil || *a.Content != "Paris 18C, Rome 24C, 14:00." || len(a.ToolCalls) != 0 {
						t.Errorf("turn 3: %+v", a)
					}
					break
				}
				if want := []int{2, 1}[turn-1]; len(a.ToolCalls) != want || !strings.HasPrefix(a.Signature, "gemini:") {
					t.Fatalf("turn %d: want %d tool calls and a Gemini signature: %+v", turn, want, a)
				}
				if turn == 1 {
					bare := a
					bare.Signature = ""
					unsigned = append(append([]any{}, msgs...), bare)
				}
				msgs = append(msgs, a)
				for _, tc := range a.ToolCalls {
					result := map[string]any{"role": "tool", "tool_call_id": tc.ID, "content": "ok " + tc.Function.Arguments}
					msgs = append(msgs, result)
					if turn == 1 {
						unsigned = append(unsigned, result)
					}
				}
			}
			for _, r := range up.Requests() {
				if r.Invalid != "" {
					t.Errorf("request %d refused: %s", r.Seq, r.Invalid)
				}
			}
			if n := len(up.Requests()); n != 3 {
				t.Errorf("%d upstream requests, want 3", n)
			}
			raw, _ := json.Marshal(unsigned)
			code, _, body := post(t, s.URL+"/v1/chat/completions", fmt.Sprintf(`{"model":"gemini/gemini-2.5-flash","reasoning_effort":"low","tools":%s,"messages":%s}`, thinkingTools, raw))
			if code != 400 || !strings.Contains(body, "missing a thought_signature") {
				t.Errorf("turn 2 without the signature: %d %s", code, body)
			}
		})
	}
}

// responsesOutput reads the response object of a Responses reply: the body, or the
// response.completed event of a stream.
func responsesOutput(t *testing.T, stream bool, body string) (id string, output []map[string]any) {
	t.Helper()
	obj := body
	if stream {
		obj = ""
		_, data := sseEvents([]byte(body))
		for _, d := range data {
			var ev struct {
				Type     string          `json:"type"`
				Response json.RawMessage `json:"response"`
			}
			if json.Unmarshal([]byte(d), &ev) == nil && ev.Type == "response.completed" {
				obj = string(ev.Response)
			}
		}
	}
	var m struct {
		ID     string           `json:"id"`
		Output []map[string]any `json:"output"`
	}
	if err := json.Unmarshal([]byte(obj), &m); err != nil || m.ID == "" {
		t.Fatalf("no response object (%v) in %s", err, body)
	}
	return m.ID, m.Output
}

// TestGeminiThoughtSignaturesResponses: the same loop through /v1/responses, once chained with
// previous_response_id and once with the whole history (the reasoning items as returned, their
// encrypted_content included) echoed in input; streamed and not, every turn is accepted.
func TestGeminiThoughtSignaturesResponses(t *testing.T) {
	up, s := thinkingGemini(t)
	const tools = `[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}},
{"type":"function","name":"get_time","parameters":{"type":"object","properties":{"tz":{"type":"string"}}}}]`
	for _, chained := range []bool{true, false} {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("chained=%v/stream=%v", chained, stream), func(t *testing.T) {
				up.ClearRequests()
				history := []any{map[string]any{"role": "user", "content": "Weather and time in Paris and Rome?"}}
				input, prev := history, ""
				for turn := 1; turn <= 3; turn++ {
					raw, _ := json.Marshal(input)
					req := fmt.Sprintf(`{"model":"gemini/gemini-2.5-flash","reasoning":{"effort":"low"},"stream":%v,"tools":%s,"input":%s`, stream, tools, raw)
					if prev != "" {
						req += `,"previous_response_id":"` + prev + `"`
					}
					code, _, body := post(t, s.URL+"/v1/responses", req+"}")
					if code != 200 {
						t.Fatalf("turn %d: %d %s", turn, code, body)
					}
					id, output := responsesOutput(t, stream, body)
					var calls, outputs []any
					sig := ""
					for _, it := range output {
						switch it["type"] {
						case "reasoning":
							s, _ := it["encrypted_content"].(string)
							sig += s
						case "function_call":
							calls = append(calls, it)
							outputs = append(outputs, map[string]any{"type": "function_call_output", "call_id": it["call_id"], "output": "ok " + fmt.Sprint(it["arguments"])})
						}
					}
					if turn == 3 {
						if !strings.Contains(fmt.Sprint(output), "Paris 18C, Rome 24C, 14:00.") || len(calls) != 0 {
							t.Errorf("turn 3 output %v", output)
						}
						break
					}
					if want := []int{2, 1}[turn-1]; len(calls) != want || !strings.HasPrefix(sig, "gemini:") || output[0]["type"] != "reasoning" {
						t.Fatalf("turn %d: want a signed reasoning item first and %d calls: %v", turn, want, output)
					}
					if chained {
						input, prev = outputs, id
						continue
					}
					if turn == 1 {
						// The same history with the reasoning item stripped of its
						// encrypted_content is refused by Gemini's signature check.
						var bare []any
						for _, it := range output {
							c := map[string]any{}
							for k, v := range it {
								if k != "encrypted_content" {
									c[k] = v
								}
							}
							bare = append(bare, c)
						}
						raw, _ := json.Marshal(append(append(append([]any{}, history...), bare...), outputs...))
						code, _, body := post(t, s.URL+"/v1/responses", fmt.Sprintf(`{"model":"gemini/gemini-2.5-flash","reasoning":{"effort":"low"},"store":false,"tools":%s,"input":%s}`, tools, raw))
						if code != 400 || !strings.Contains(body, "missing a thought_signature") {
							t.Errorf("history without encrypted_content: %d %s", code, body)
						}
					}
					for _, it := range output {
						history = append(history, it)
					}
					history = append(history, outputs...)
					input = history
				}
				for _, r := range up.Requests() {
					if r.Invalid != "" && !strings.Contains(r.Invalid, "missing a thought_signature") {
						t.Errorf("request %d refused: %s\n%s", r.Seq, r.Invalid, r.Body)
					}
				}
				if n, want := len(up.Requests()), map[bool]int{true: 3, false: 4}[chained]; n != want {
					t.Errorf("%d upstream requests, want %d", n, want)
				}
			})
		}
	}
}

// messagesTurn reads the assistant content blocks of a /v1/messages reply, or rebuilds them from
// a stream's events as an Anthropic client does.
func messagesTurn(t *testing.T, stream bool, body string) []map[string]any {
	t.Helper()
	if !stream {
		var m struct {
			Content []map[string]any `json:"content"`
		}
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("message %v: %s", err, body)
		}
		return m.Content
	}
	var blocks []map[string]any
	var inputs []string
	_, data := sseEvents([]byte(body))
	for _, d := range data {
		var ev struct {
			Type         string         `json:"type"`
			Index        int            `json:"index"`
			ContentBlock map[string]any `json:"content_block"`
			Delta        map[string]any `json:"delta"`
		}
		if err := json.Unmarshal([]byte(d), &ev); err != nil {
			t.Fatalf("event %v: %s", err, d)
		}
		switch ev.Type {
		case "content_block_start":
			for len(blocks) <= ev.Index {
				blocks, inputs = append(blocks, nil), append(inputs, "")
			}
			blocks[ev.Index] = ev.ContentBlock
		case "content_block_delta":
			b := blocks[ev.Index]
			switch ev.Delta["type"] {
			case "thinking_delta":
				b["thinking"] = fmt.Sprint(b["thinking"]) + fmt.Sprint(ev.Delta["thinking"])
			case "signature_delta":
				b["signature"] = fmt.Sprint(b["signature"]) + fmt.Sprint(ev.Delta["signature"])
			case "text_delta":
				b["text"] = fmt.Sprint(b["text"]) + fmt.Sprint(ev.Delta["text"])
			case "input_json_delta":
				inputs[ev.Index] += fmt.Sprint(ev.Delta["partial_json"])
			}
		}
	}
	for i, b := range blocks {
		if b["type"] == "tool_use" && inputs[i] != "" {
			var in any
			if err := json.Unmarshal([]byte(inputs[i]), &in); err != nil {
				t.Fatalf("tool input %q: %v", inputs[i], err)
			}
			b["input"] = in
		}
	}
	return blocks
}

// TestGeminiThoughtSignaturesMessages: the loop through /v1/messages with extended thinking, as
// Claude Code runs it against a Gemini model: the thinking blocks (signatures included) echoed
// in the history carry Gemini's signatures back, streamed and not.
func TestGeminiThoughtSignaturesMessages(t *testing.T) {
	up, s := thinkingGemini(t)
	const tools = `[{"name":"get_weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}},{"name":"get_time","input_schema":{"type":"object","properties":{"tz":{"type":"string"}}}}]`
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			up.ClearRequests()
			msgs := []any{map[string]any{"role": "user", "content": "Weather and time in Paris and Rome?"}}
			for turn := 1; turn <= 3; turn++ {
				raw, _ := json.Marshal(msgs)
				req := fmt.Sprintf(`{"model":"gemini/gemini-2.5-flash","max_tokens":4000,"thinking":{"type":"enabled","budget_tokens":2048},"stream":%v,"tools":%s,"messages":%s}`, stream, tools, raw)
				code, _, body := post(t, s.URL+"/v1/messages", req, "anthropic-version", "2023-06-01")
				if code != 200 {
					t.Fatalf("turn %d: %d %s", turn, code, body)
				}
				blocks := messagesTurn(t, stream, body)
				var results []any
				signed := false
				for _, b := range blocks {
					if b["type"] == "thinking" && strings.HasPrefix(fmt.Sprint(b["signature"]), "gemini:") {
						signed = true
					}
					if b["type"] == "tool_use" {
						results = append(results, map[string]any{"type": "tool_result", "tool_use_id": b["id"], "content": "ok"})
					}
				}
				if turn == 3 {
					if !strings.Contains(fmt.Sprint(blocks), "Paris 18C, Rome 24C, 14:00.") || len(results) != 0 {
						t.Errorf("turn 3: %v", blocks)
					}
					break
				}
				if want := []int{2, 1}[turn-1]; len(results) != want || !signed {
					t.Fatalf("turn %d: want a signed thinking block and %d tool uses: %v", turn, want, blocks)
				}
				msgs = append(msgs, map[string]any{"role": "assistant", "content": blocks}, map[string]any{"role": "user", "content": results})
			}
			for _, r := range up.Requests() {
				if r.Invalid != "" {
					t.Errorf("request %d refused: %s\n%s", r.Seq, r.Invalid, r.Body)
				}
			}
			if n := len(up.Requests()); n != 3 {
				t.Errorf("%d upstream requests, want 3", n)
			}
		})
	}
}

// TestGeminiThoughtSignaturesNodeSDK: the loop from the official OpenAI Node SDK, chat
// completions streamed and not and the Responses API chained and echoed; every request passes
// the fake's signature check.
func TestGeminiThoughtSignaturesNodeSDK(t *testing.T) {
	up, s := thinkingGemini(t)
	out := node(t, "gemini-thinking.test.mjs", "SLUICE_URL="+s.URL)
	if !strings.Contains(out, "pass 4") || !strings.Contains(out, "fail 0") {
		t.Fatalf("expected 4 passing node tests:\n%s", out)
	}
	checkReceived(t, "gemini", up, 12, func(r fakeprovider.Received) string {
		if !strings.Contains(string(r.Body), `"thinkingConfig":{"thinkingBudget":1024,"includeThoughts":true}`) {
			return "no thinkingConfig for reasoning_effort low"
		}
		return ""
	})
}
