package fakeprovider

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testAKID   = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	brModel    = "anthropic.claude-3-haiku-20240307-v1%3A0"
)

const brBody = `{"system":[{"text":"be brief"}],"inferenceConfig":{"maxTokens":100,"temperature":0.2},
"messages":[{"role":"user","content":[{"text":"hello bedrock"},{"image":{"format":"png","source":{"bytes":"iVBORw0KGgo="}}}]},
{"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"f","input":{"a":1}}}]},
{"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"json":{"ok":true}}],"status":"success"}},{"text":"go on"}]}],
"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{"type":"object"}}}}],"toolChoice":{"auto":{}}}}`

// signedPost sends body to /model/{brModel}/{op}, SigV4-signed with secret.
func signedPost(t *testing.T, up *Server, op, body, secret string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, up.URL+"/model/x/"+op, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Path = "/model/anthropic.claude-3-haiku-20240307-v1:0/" + op
	req.URL.RawPath = "/model/" + brModel + "/" + op
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256([]byte(body))
	err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: secret},
		req, hex.EncodeToString(sum[:]), "bedrock", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestBedrockConverse(t *testing.T) {
	up := NewBedrock(t, WithCredentials(testAKID, testSecret), WithRegion("us-east-1"))
	resp := signedPost(t, up, "converse", brBody, testSecret)
	m := decodeBody(t, resp)
	if resp.StatusCode != 200 || dig(m, "output", "message", "content", 0, "text") != "go on" ||
		dig(m, "stopReason") != "end_turn" || dig(m, "usage", "inputTokens") != 6.0 ||
		dig(m, "usage", "totalTokens") != 8.0 || dig(m, "metrics", "latencyMs") == nil {
		t.Fatalf("status %d reply %v", resp.StatusCode, m)
	}
	if r := up.Requests(); r[0].Model != "anthropic.claude-3-haiku-20240307-v1:0" || r[0].Stream {
		t.Errorf("recorded %+v", r[0])
	}
	up.Enqueue(Reply{FinishReason: "guardrail_intervened", ToolCalls: []ToolCall{{Name: "f", Arguments: `{"b":2}`}}})
	m = decodeBody(t, signedPost(t, up, "converse", brBody, testSecret))
	if dig(m, "stopReason") != "guardrail_intervened" || dig(m, "output", "message", "content", 0, "toolUse", "input", "b") != 2.0 {
		t.Errorf("scripted reply %v", m)
	}
}

func decodeEvents(t *testing.T, r io.Reader) ([]eventstream.Message, error) {
	t.Helper()
	dec := eventstream.NewDecoder()
	var out []eventstream.Message
	for {
		msg, err := dec.Decode(r, nil)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, msg)
	}
}

func TestBedrockConverseStream(t *testing.T) {
	up := NewBedrock(t, WithCredentials(testAKID, testSecret))
	up.Enqueue(Reply{Text: "one two", ToolCalls: []ToolCall{{Name: "f", Arguments: `{"a":1}`}}})
	resp := signedPost(t, up, "converse-stream", brBody, testSecret)
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.amazon.eventstream" {
		t.Fatalf("content type %q", ct)
	}
	msgs, err := decodeEvents(t, resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	var text, args, stop string
	var usage map[string]any
	for _, msg := range msgs {
		if msg.Headers.Get(":message-type").String() != "event" || msg.Headers.Get(":content-type").String() != "application/json" {
			t.Errorf("headers %v", msg.Headers)
		}
		typ := msg.Headers.Get(":event-type").String()
		types = append(types, typ)
		var p map[string]any
		if err := json.Unmarshal(msg.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if s, ok := dig(p, "delta", "text").(string); ok {
			text += s
		}
		if s, ok := dig(p, "delta", "toolUse", "input").(string); ok {
			args += s
		}
		if typ == "messageStop" {
			stop, _ = p["stopReason"].(string)
		}
		if typ == "metadata" {
			usage, _ = p["usage"].(map[string]any)
		}
	}
	if types[0] != "messageStart" || types[len(types)-2] != "messageStop" || types[len(types)-1] != "metadata" {
		t.Errorf("event order %v", types)
	}
	if text != "one two" || args != `{"a":1}` || stop != "tool_use" || usage["totalTokens"] == nil {
		t.Errorf("text %q args %q stop %q usage %v", text, args, stop, usage)
	}
}

func TestBedrockStreamException(t *testing.T) {
	up := NewBedrock(t)
	up.Enqueue(Reply{Chunks: []string{`{"messageStart":{"role":"assistant"}}`, `{"throttlingException":{"message":"slow down"}}`}})
	msgs, err := decodeEvents(t, signedPost(t, up, "converse-stream", brBody, testSecret).Body)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("%d messages, err %v", len(msgs), err)
	}
	h := msgs[1].Headers
	if h.Get(":message-type").String() != "exception" || h.Get(":exception-type").String() != "throttlingException" ||
		!bytes.Contains(msgs[1].Payload, []byte("slow down")) {
		t.Errorf("exception message %v %s", h, msgs[1].Payload)
	}
}

func TestBedrockStreamCut(t *testing.T) {
	up := NewBedrock(t)
	up.Enqueue(Reply{Fault: CutAfter(2)})
	msgs, err := decodeEvents(t, signedPost(t, up, "converse-stream", brBody, testSecret).Body)
	if len(msgs) != 2 || err == nil {
		t.Errorf("%d messages, err %v", len(msgs), err)
	}
}

func TestBedrockAuthRejections(t *testing.T) {
	up := NewBedrock(t, WithCredentials(testAKID, testSecret), WithRegion("us-east-1"))
	resp := signedPost(t, up, "converse", brBody, "wrong-secret")
	if m := decodeBody(t, resp); resp.StatusCode != 403 || resp.Header.Get("X-Amzn-Errortype") != "InvalidSignatureException" ||
		!strings.Contains(m["message"].(string), "signature") {
		t.Errorf("bad signature: status %d %v", resp.StatusCode, m)
	}
	for name, authz := range map[string]string{
		"missing":   "",
		"malformed": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc",
	} {
		req, _ := http.NewRequest(http.MethodPost, up.URL+"/model/m/converse", strings.NewReader(brBody))
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 || resp.Header.Get("X-Amzn-Errortype") == "" {
			t.Errorf("%s: status %d type %q", name, resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"))
		}
	}
}

func TestBedrockValidation(t *testing.T) {
	up := NewBedrock(t)
	user := `{"role":"user","content":[{"text":"x"}]}`
	cases := map[string]string{
		"no messages":       `{}`,
		"assistant first":   `{"messages":[{"role":"assistant","content":[{"text":"x"}]}]}`,
		"no alternation":    `{"messages":[` + user + `,` + user + `]}`,
		"empty content":     `{"messages":[{"role":"user","content":[]}]}`,
		"two members":       `{"messages":[{"role":"user","content":[{"text":"x","image":{}}]}]}`,
		"bad image format":  `{"messages":[{"role":"user","content":[{"image":{"format":"bmp","source":{"bytes":"AA=="}}}]}]}`,
		"orphan toolResult": `{"messages":[{"role":"user","content":[{"toolResult":{"toolUseId":"t","content":[{"text":"r"}]}}]}]}`,
		"openai field":      `{"messages":[` + user + `],"max_tokens":5}`,
		"bad inference key": `{"messages":[` + user + `],"inferenceConfig":{"max_tokens":5}}`,
		"tool no schema":    `{"messages":[` + user + `],"toolConfig":{"tools":[{"toolSpec":{"name":"f"}}]}}`,
		"system string":     `{"messages":[` + user + `],"system":"x"}`,
	}
	for name, body := range cases {
		resp := signedPost(t, up, "converse", body, testSecret)
		m := decodeBody(t, resp)
		if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-Errortype") != "ValidationException" || m["message"] == "" {
			t.Errorf("%s: status %d body %v", name, resp.StatusCode, m)
		}
	}
	if up.Stats().Rejected != int64(len(cases)) {
		t.Errorf("stats %+v", up.Stats())
	}
}
