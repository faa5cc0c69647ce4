package gateway

import (
	"testing"

	"github.com/sluice-gw/sluice/host/telemetry"
)

func TestChatFirstEvent(t *testing.T) {
	const head = `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":`
	for _, c := range []struct {
		chunk string
		want  telemetry.FirstEvent
	}{
		{head + `{"role":"assistant","content":"","refusal":null},"finish_reason":null}]}`, telemetry.FirstEventRole},
		{head + `{"role":"assistant","content":"Hel"},"finish_reason":null}]}`, telemetry.FirstEventContent},
		{head + `{"content":"Hel"},"finish_reason":null}]}`, telemetry.FirstEventContent},
		{head + `{"role":"assistant","content":null,"reasoning_content":"Let me"},"finish_reason":null}]}`, telemetry.FirstEventReasoning},
		{head + `{"reasoning":"Let me"},"finish_reason":null}]}`, telemetry.FirstEventReasoning},
		{head + `{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]},"finish_reason":null}]}`, telemetry.FirstEventToolCall},
		{head + `{"role":"assistant","refusal":"I can't"},"finish_reason":null}]}`, telemetry.FirstEventRefusal},
		// Keys quoted inside text are escaped, so they are not members.
		{head + `{"role":"assistant","content":"","refusal":null,"x":"\"tool_calls\":[ \"content\":\"x"},"finish_reason":null}]}`, telemetry.FirstEventRole},
		{`{"id":"c","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":0,"total_tokens":1}}`, telemetry.FirstEventUsage},
		{head + `{},"finish_reason":"stop"}]}`, telemetry.FirstEventOther},
		{``, telemetry.FirstEventOther},
	} {
		if got := chatFirstEvent([]byte(c.chunk)); got != c.want {
			t.Errorf("%s: %v, want %v", c.chunk, got, c.want)
		}
	}
}

// Each attempt's first chunk is classified, not a failed attempt's.
func TestNoteFirstEventPerAttempt(t *testing.T) {
	var c call
	c.ttft = 5
	c.noteFirstEvent([]byte(`{"choices":[{"delta":{"role":"assistant","content":""}}]}`))
	c.noteFirstEvent([]byte(`{"choices":[{"delta":{"content":"later"}}]}`))
	if c.firstEvent != telemetry.FirstEventRole {
		t.Fatalf("first attempt: %v", c.firstEvent)
	}
	c.ttft = 9 // the next attempt's first chunk
	c.noteFirstEvent([]byte(`{"choices":[{"delta":{"tool_calls":[{"index":0}]}}]}`))
	if c.firstEvent != telemetry.FirstEventToolCall {
		t.Fatalf("second attempt: %v", c.firstEvent)
	}
}
