package provider

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

func TestBedrockMessagesBody(t *testing.T) {
	in := `{"model":"bedrock/anthropic.claude-x","stream":true,"max_tokens":9,"messages":[{"role":"user","content":"hi"}],"metadata":{"user_id":"u"}}`
	out, err := bedrockMessagesBody([]byte(in), betaList([]string{"a-1, b-2", "c-3"}))
	if err != nil {
		t.Fatal(err)
	}
	var got, want map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	_ = json.Unmarshal([]byte(`{"max_tokens":9,"messages":[{"role":"user","content":"hi"}],"metadata":{"user_id":"u"},
		"anthropic_version":"bedrock-2023-05-31","anthropic_beta":["a-1","b-2","c-3"]}`), &want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %s", out)
	}
	out, _ = bedrockMessagesBody([]byte(`{"max_tokens":1,"messages":[]}`), nil)
	if bytes.Contains(out, []byte("anthropic_beta")) || !bytes.Contains(out, []byte(`"anthropic_version":"bedrock-2023-05-31"`)) {
		t.Errorf("no beta: %s", out)
	}
}

func TestBedrockEventsDecode(t *testing.T) {
	var buf bytes.Buffer
	enc := eventstream.NewEncoder()
	frame := func(mtype, key, val string, payload string) {
		m := eventstream.Message{Payload: []byte(payload)}
		m.Headers.Set(":message-type", eventstream.StringValue(mtype))
		m.Headers.Set(key, eventstream.StringValue(val))
		if err := enc.Encode(&buf, m); err != nil {
			t.Fatal(err)
		}
	}
	chunk := func(ev string) string {
		return `{"bytes":"` + base64.StdEncoding.EncodeToString([]byte(ev)) + `"}`
	}
	frame("event", ":event-type", "chunk", chunk(`{"type":"message_start","message":{}}`))
	frame("event", ":event-type", "other", `{}`)
	frame("event", ":event-type", "chunk", chunk(`{"type":"content_block_delta","delta":{"type":"text_delta","text":"x"}}`))
	frame("exception", ":exception-type", "throttlingException", `{"message":"slow down"}`)
	p := &Provider{Name: "bedrock"}
	s := &bedrockEvents{p: p, body: newIdleReader(io.NopCloser(&buf), 0), dec: eventstream.NewDecoder()}
	var names []string
	var last []byte
	for {
		name, data, err := s.NextEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
		last = append([]byte(nil), data...)
	}
	if !reflect.DeepEqual(names, []string{"message_start", "content_block_delta", "error"}) {
		t.Errorf("events %v", names)
	}
	var e struct {
		Type  string
		Error struct{ Type, Message string }
	}
	if err := json.Unmarshal(last, &e); err != nil || e.Type != "error" || e.Error.Type != "rate_limit_error" || e.Error.Message != "bedrock: slow down" {
		t.Errorf("exception event %s", last)
	}
}

// FuzzBedrockEvents: whatever bytes Bedrock sends, decoding ends in an event, an error or EOF,
// never a panic, and every event carries its data.
func FuzzBedrockEvents(f *testing.F) {
	var buf bytes.Buffer
	enc := eventstream.NewEncoder()
	for _, ev := range []string{`{"type":"message_start"}`, `not json`, ``} {
		m := eventstream.Message{Payload: []byte(`{"bytes":"` + base64.StdEncoding.EncodeToString([]byte(ev)) + `"}`)}
		m.Headers.Set(":message-type", eventstream.StringValue("event"))
		m.Headers.Set(":event-type", eventstream.StringValue("chunk"))
		_ = enc.Encode(&buf, m)
	}
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:buf.Len()/2])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s := &bedrockEvents{p: &Provider{Name: "bedrock"}, body: newIdleReader(io.NopCloser(bytes.NewReader(b)), 0), dec: eventstream.NewDecoder()}
		for i := 0; i < 1000; i++ {
			name, data, err := s.NextEvent()
			if err != nil {
				return
			}
			if name == "error" && !json.Valid(data) {
				t.Fatalf("error event is not JSON: %q", data)
			}
		}
	})
}

func TestExceptionStatus(t *testing.T) {
	for name, want := range map[string]int{
		"validationException": 400, "ThrottlingException": 429, "serviceUnavailableException": 503,
		"modelStreamErrorException": 500, "internalServerException": 500,
	} {
		if got := exceptionStatus(name); got != want {
			t.Errorf("%s: %d, want %d", name, got, want)
		}
	}
}
