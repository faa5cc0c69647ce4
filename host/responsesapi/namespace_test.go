package responsesapi

import (
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// A namespace tool's functions travel as chat functions named namespace__name, and a call to
// one comes back as a function_call naming the function and its namespace, streamed or not.
func TestNamespaceToolsRoundTrip(t *testing.T) {
	body := `{"model":"m","client_metadata":{"x-turn":"1"},"input":[
		{"type":"message","role":"user","content":"spawn one"},
		{"type":"function_call","call_id":"c0","name":"close_agent","namespace":"multi_agent_v1","arguments":"{}"},
		{"type":"function_call_output","call_id":"c0","output":"closed"}],
		"tools":[{"type":"function","name":"exec_command","parameters":{"type":"object"}},
		{"type":"namespace","name":"multi_agent_v1","description":"agents","tools":[
			{"type":"function","name":"spawn_agent","description":"spawn","parameters":{"type":"object"},"strict":false},
			{"type":"function","name":"close_agent","parameters":{"type":"object"}}]}]}`
	r, err := Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.BuiltinTools) != 0 || strings.Join(r.Ignored, ",") != "client_metadata" {
		t.Fatalf("builtin %v ignored %v", r.BuiltinTools, r.Ignored)
	}
	chat, err := r.ToChat(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"name":"exec_command"`, `"name":"multi_agent_v1__spawn_agent"`, `"name":"multi_agent_v1__close_agent"`} {
		if !strings.Contains(string(chat), want) {
			t.Errorf("chat body lacks %s:\n%s", want, chat)
		}
	}
	if strings.Contains(string(chat), "client_metadata") || strings.Count(string(chat), "multi_agent_v1__close_agent") != 2 {
		t.Errorf("chat body:\n%s", chat)
	}
	m := Meta{ID: "resp_1", Model: "m", Req: r}
	answer := `{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,
		"tool_calls":[{"id":"call_9","type":"function","function":{"name":"multi_agent_v1__spawn_agent","arguments":"{\"n\":1}"}},
		{"id":"call_8","type":"function","function":{"name":"exec_command","arguments":"{}"}}]}}]}`
	_, out, err := FromChat([]byte(answer), m)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || jsonx.Get(out[0], "name").Str() != "spawn_agent" || jsonx.Get(out[0], "namespace").Str() != "multi_agent_v1" ||
		jsonx.Get(out[1], "name").Str() != "exec_command" || jsonx.Get(out[1], "namespace").Exists() {
		t.Errorf("output items:\n%s", out)
	}
	sc := NewStreamConverter(m)
	var evs []Event
	for _, ch := range []string{
		`{"id":"x","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_9","type":"function","function":{"name":"multi_agent_v1__spawn_agent","arguments":""}}]}}]}`,
		`{"id":"x","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]},"finish_reason":"tool_calls"}]}`,
	} {
		e, err := sc.Chunk([]byte(ch))
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e...)
	}
	evs = append(evs, sc.Finish()...)
	var added, done bool
	for _, e := range evs {
		if e.Type == "response.output_item.added" || e.Type == "response.output_item.done" {
			it := jsonx.Get(e.Data, "item")
			if it.Get("name").Str() != "spawn_agent" || it.Get("namespace").Str() != "multi_agent_v1" {
				t.Errorf("%s: %s", e.Type, e.Data)
			}
			added, done = added || e.Type == "response.output_item.added", done || e.Type == "response.output_item.done"
		}
	}
	if !added || !done {
		t.Errorf("no function_call item events: %d events", len(evs))
	}
}
