package fakeprovider

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

const invokeBody = `{"anthropic_version":"bedrock-2023-05-31","anthropic_beta":["interleaved-thinking-2025-05-14"],"max_tokens":2048,
"system":[{"type":"text","text":"be brief","cache_control":{"type":"ephemeral"}}],
"messages":[{"role":"user","content":[{"type":"text","text":"hello claude","cache_control":{"type":"ephemeral"}}]}],
"thinking":{"type":"enabled","budget_tokens":1024},"metadata":{"user_id":"u1"}}`

func TestBedrockInvoke(t *testing.T) {
	up := NewBedrock(t, WithCredentials(testAKID, testSecret), WithRegion("us-east-1"))
	resp := signedPost(t, up, "invoke", invokeBody, testSecret)
	m := decodeBody(t, resp)
	if resp.StatusCode != 200 || m["type"] != "message" || dig(m, "content", 0, "text") != "hello claude" ||
		m["model"] != "claude-3-haiku-20240307" || !strings.HasPrefix(m["id"].(string), "msg_bdrk_") ||
		m["stop_reason"] != "end_turn" || dig(m, "usage", "input_tokens") != 1.0 || dig(m, "usage", "cache_creation_input_tokens") != 4.0 || dig(m, "usage", "output_tokens") != 2.0 {
		t.Fatalf("status %d reply %v", resp.StatusCode, m)
	}
	if resp.Header.Get("X-Amzn-Bedrock-Output-Token-Count") != "2" {
		t.Errorf("token count headers %v", resp.Header)
	}
	r := up.Requests()[0]
	if r.Invalid != "" || r.Stream || r.Model != "anthropic.claude-3-haiku-20240307-v1:0" || !strings.HasSuffix(r.Path, "/invoke") {
		t.Errorf("recorded %+v", r)
	}
	up.Enqueue(Reply{Thinking: "let me see", ToolCalls: []ToolCall{{Name: "f", Arguments: `{"b":2}`}}, FinishReason: "max_tokens",
		Usage: Usage{CacheRead: 7, CacheWrite: 3}})
	m = decodeBody(t, signedPost(t, up, "invoke", invokeBody, testSecret))
	if dig(m, "content", 0, "type") != "thinking" || dig(m, "content", 1, "input", "b") != 2.0 || m["stop_reason"] != "max_tokens" ||
		dig(m, "usage", "cache_read_input_tokens") != 7.0 || dig(m, "usage", "cache_creation_input_tokens") != 3.0 {
		t.Errorf("scripted reply %v", m)
	}
}

// invokeEvents decodes an InvokeModelWithResponseStream body into the Anthropic events its
// chunks carry, checking each message's headers.
func invokeEvents(t *testing.T, msgs []anyMessage) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, msg := range msgs {
		if msg.mtype != "event" || msg.etype != "chunk" || msg.ctype != "application/json" {
			t.Fatalf("headers :message-type %q :event-type %q :content-type %q", msg.mtype, msg.etype, msg.ctype)
		}
		var c struct {
			Bytes string `json:"bytes"`
		}
		if err := json.Unmarshal(msg.payload, &c); err != nil {
			t.Fatal(err)
		}
		raw, err := base64.StdEncoding.DecodeString(c.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, mustDecode(t, string(raw)))
	}
	return out
}

type anyMessage struct {
	mtype, etype, ctype, xtype string
	payload                    []byte
}

func readInvokeStream(t *testing.T, up *Server, reply Reply) ([]anyMessage, error) {
	t.Helper()
	up.Enqueue(reply)
	resp := signedPost(t, up, "invoke-with-response-stream", invokeBody, testSecret)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.amazon.eventstream" {
		t.Fatalf("status %d content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	msgs, err := decodeEvents(t, resp.Body)
	var out []anyMessage
	for _, m := range msgs {
		out = append(out, anyMessage{
			mtype: m.Headers.Get(":message-type").String(), etype: valueOr(m, ":event-type"),
			ctype: m.Headers.Get(":content-type").String(), xtype: valueOr(m, ":exception-type"), payload: m.Payload,
		})
	}
	return out, err
}

func TestBedrockInvokeStream(t *testing.T) {
	up := NewBedrock(t, WithCredentials(testAKID, testSecret))
	msgs, err := readInvokeStream(t, up, Reply{Thinking: "hmm ok", Text: "one two", ToolCalls: []ToolCall{{Name: "f", Arguments: `{"a":1}`}},
		Usage: Usage{CacheRead: 5}})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	var text, thinking, args, stop string
	var outTokens any
	events := invokeEvents(t, msgs)
	for _, e := range events {
		types = append(types, e["type"].(string))
		switch dig(e, "delta", "type") {
		case "text_delta":
			text += dig(e, "delta", "text").(string)
		case "thinking_delta":
			thinking += dig(e, "delta", "thinking").(string)
		case "input_json_delta":
			args += dig(e, "delta", "partial_json").(string)
		}
		if e["type"] == "message_delta" {
			stop, _ = dig(e, "delta", "stop_reason").(string)
			outTokens = dig(e, "usage", "output_tokens")
		}
	}
	want := []string{"message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_delta",
		"content_block_stop", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
		"content_block_start", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"}
	if strings.Join(types, ",") != strings.Join(want, ",") {
		t.Errorf("event order\n got %v\nwant %v", types, want)
	}
	if text != "one two" || thinking != "hmm ok" || args != `{"a":1}` || stop != "tool_use" || outTokens == nil {
		t.Errorf("text %q thinking %q args %q stop %q output tokens %v", text, thinking, args, stop, outTokens)
	}
	if dig(events[0], "message", "model") != "claude-3-haiku-20240307" || dig(events[0], "message", "usage", "cache_read_input_tokens") != 5.0 {
		t.Errorf("message_start %v", events[0])
	}
	if dig(events[len(events)-1], "amazon-bedrock-invocationMetrics", "outputTokenCount") == nil {
		t.Errorf("message_stop has no invocation metrics: %v", events[len(events)-1])
	}
	if r := up.Requests()[0]; !r.Stream || r.Invalid != "" {
		t.Errorf("recorded %+v", r)
	}
}

func TestBedrockInvokeStreamScripted(t *testing.T) {
	up := NewBedrock(t)
	msgs, err := readInvokeStream(t, up, Reply{Chunks: []string{`{"type":"message_start","message":{"id":"m"}}`,
		`{"modelStreamErrorException":{"message":"the model broke"}}`}})
	if err != nil || len(msgs) != 2 {
		t.Fatalf("%d messages, err %v", len(msgs), err)
	}
	if e := invokeEvents(t, msgs[:1]); e[0]["type"] != "message_start" {
		t.Errorf("first chunk %v", e)
	}
	if msgs[1].mtype != "exception" || msgs[1].xtype != "modelStreamErrorException" || !bytes.Contains(msgs[1].payload, []byte("the model broke")) {
		t.Errorf("exception %+v", msgs[1])
	}
}

func TestBedrockInvokeStreamCut(t *testing.T) {
	up := NewBedrock(t)
	msgs, err := readInvokeStream(t, up, Reply{Fault: CutAfter(3)})
	if len(msgs) != 3 || err == nil {
		t.Errorf("%d messages, err %v", len(msgs), err)
	}
	if e := invokeEvents(t, msgs); e[0]["type"] != "message_start" {
		t.Errorf("events %v", e)
	}
}

func TestBedrockInvokeErrors(t *testing.T) {
	up := NewBedrock(t)
	up.Enqueue(Reply{Status: 429, Message: "Too many requests, please wait before trying again."})
	resp := signedPost(t, up, "invoke", invokeBody, testSecret)
	if m := decodeBody(t, resp); resp.StatusCode != 429 || resp.Header.Get("X-Amzn-Errortype") != "ThrottlingException" ||
		!strings.Contains(m["message"].(string), "Too many") {
		t.Errorf("scripted 429: status %d %v", resp.StatusCode, m)
	}
	resp = signedPost(t, up, "invoke", invokeBody, "")
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("signature not verified without credentials, yet status %d", resp.StatusCode)
	}
	strict := NewBedrock(t, WithCredentials(testAKID, testSecret))
	resp = signedPost(t, strict, "invoke-with-response-stream", invokeBody, "wrong-secret")
	if m := decodeBody(t, resp); resp.StatusCode != 403 || resp.Header.Get("X-Amzn-Errortype") != "InvalidSignatureException" {
		t.Errorf("bad signature: status %d %v", resp.StatusCode, m)
	}
}

func TestBedrockInvokeValidation(t *testing.T) {
	up := NewBedrock(t)
	user := `"messages":[{"role":"user","content":"x"}]`
	v := `"anthropic_version":"bedrock-2023-05-31"`
	cases := map[string]struct{ body, want string }{
		"no version":        {`{"max_tokens":5,` + user + `}`, "required key [anthropic_version]"},
		"wrong version":     {`{"anthropic_version":"2023-06-01","max_tokens":5,` + user + `}`, "anthropic_version"},
		"model in body":     {`{` + v + `,"model":"claude","max_tokens":5,` + user + `}`, "extraneous key [model]"},
		"stream in body":    {`{` + v + `,"stream":true,"max_tokens":5,` + user + `}`, "extraneous key [stream]"},
		"beta not an array": {`{` + v + `,"anthropic_beta":"x","max_tokens":5,` + user + `}`, "#/anthropic_beta"},
		"beta not strings":  {`{` + v + `,"anthropic_beta":[1],"max_tokens":5,` + user + `}`, "#/anthropic_beta/0"},
		"no max_tokens":     {`{` + v + `,` + user + `}`, "required key [max_tokens]"},
		"unknown field":     {`{` + v + `,"max_tokens":5,"n":2,` + user + `}`, "n: Extra inputs are not permitted"},
		"metadata extra":    {`{` + v + `,"max_tokens":5,"metadata":{"tags":["a"]},` + user + `}`, "metadata.tags"},
		"assistant first":   {`{` + v + `,"max_tokens":5,"messages":[{"role":"assistant","content":"x"}]}`, "first message"},
		"thinking budget":   {`{` + v + `,"max_tokens":1024,"thinking":{"type":"enabled","budget_tokens":1024},` + user + `}`, "budget_tokens"},
		"converse body":     {`{"messages":[{"role":"user","content":[{"text":"x"}]}]}`, "anthropic_version"},
	}
	for name, c := range cases {
		resp := signedPost(t, up, "invoke", c.body, testSecret)
		m := decodeBody(t, resp)
		msg, _ := m["message"].(string)
		if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-Errortype") != "ValidationException" || !strings.Contains(msg, c.want) {
			t.Errorf("%s: status %d body %v, want a ValidationException naming %q", name, resp.StatusCode, m, c.want)
		}
	}
	if up.Stats().Rejected != int64(len(cases)) {
		t.Errorf("stats %+v", up.Stats())
	}
	// The Converse operations keep their own schema: a Messages body is refused there.
	resp := signedPost(t, up, "converse", invokeBody, testSecret)
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("converse took a Messages body: status %d", resp.StatusCode)
	}
}

func valueOr(m eventstream.Message, name string) string {
	if v := m.Headers.Get(name); v != nil {
		return v.String()
	}
	return ""
}

func TestBedrockInvokeOnlyClaude(t *testing.T) {
	up := NewBedrock(t, WithKey("br-key"))
	body := strings.Replace(invokeBody, "bedrock-2023-05-31", BedrockAnthropicVersion, 1)
	resp := post(t, up.URL+"/model/meta.llama3-70b-instruct-v1:0/invoke", map[string]string{"Authorization": "Bearer br-key"}, body)
	if m := decodeBody(t, resp); resp.StatusCode != 400 || !strings.Contains(m["message"].(string), "Anthropic models only") {
		t.Errorf("non-Claude invoke: status %d %v", resp.StatusCode, m)
	}
	resp = post(t, up.URL+"/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke", map[string]string{"Authorization": "Bearer br-key"}, body)
	if m := decodeBody(t, resp); resp.StatusCode != 200 || m["model"] != "claude-sonnet-4-5-20250929" {
		t.Errorf("inference-profile invoke: status %d %v", resp.StatusCode, m)
	}
}
