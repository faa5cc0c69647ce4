package responsesapi

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// checkEvents checks the Responses streaming contract: valid JSON payloads whose type matches
// and whose sequence_number counts from 0; created and in_progress first; items added in
// output order, each event naming an open item by item_id and output_index; parts opened
// and closed in order; every item done before the single terminal event, which comes last
// and lists the items.
func checkEvents(t testing.TB, evs []Event) {
	t.Helper()
	type itemState struct {
		id         string
		done       bool
		parts      int
		partOpen   bool
		summary    int
		summaryOpn bool
	}
	var items []*itemState
	terminal := 0
	for i, e := range evs {
		var d struct {
			Type         string
			Seq          *int64  `json:"sequence_number"`
			ItemID       *string `json:"item_id"`
			OutputIndex  *int    `json:"output_index"`
			ContentIndex *int    `json:"content_index"`
			SummaryIndex *int    `json:"summary_index"`
			Item         *struct{ ID string }
			Response     *struct {
				Status string
				Output []struct{ ID string }
			}
		}
		if !json.Valid(e.Data) {
			t.Fatalf("event %d (%s): invalid JSON %q", i, e.Type, e.Data)
		}
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatalf("event %d: %v: %s", i, err, e.Data)
		}
		if d.Type != e.Type {
			t.Fatalf("event %d: Type %q, payload type %q", i, e.Type, d.Type)
		}
		if d.Seq == nil || *d.Seq != int64(i) {
			t.Fatalf("event %d (%s): sequence_number %v", i, e.Type, d.Seq)
		}
		if terminal > 0 {
			t.Fatalf("event %d (%s) after the terminal event", i, e.Type)
		}
		switch {
		case i == 0 && e.Type != "response.created", i == 1 && e.Type != "response.in_progress":
			t.Fatalf("event %d is %s", i, e.Type)
		}
		var it *itemState
		if d.ItemID != nil {
			if d.OutputIndex == nil || *d.OutputIndex >= len(items) || items[*d.OutputIndex].id != *d.ItemID {
				t.Fatalf("event %d (%s) names item %s at %v, not an added item", i, e.Type, *d.ItemID, d.OutputIndex)
			}
			it = items[*d.OutputIndex]
			if it.done {
				t.Fatalf("event %d (%s) for a done item", i, e.Type)
			}
		}
		content := func(open bool) {
			if d.ContentIndex == nil || *d.ContentIndex != it.parts-1 || it.partOpen != open {
				t.Fatalf("event %d (%s): content_index %v with %d parts, open %v", i, e.Type, d.ContentIndex, it.parts, it.partOpen)
			}
		}
		summary := func(open bool) {
			if d.SummaryIndex == nil || *d.SummaryIndex != it.summary-1 || it.summaryOpn != open {
				t.Fatalf("event %d (%s): summary_index %v", i, e.Type, d.SummaryIndex)
			}
		}
		switch e.Type {
		case "response.created", "response.in_progress":
			if i > 1 || d.Response == nil || d.Response.Status != "in_progress" {
				t.Fatalf("event %d: %s", i, e.Data)
			}
		case "response.output_item.added":
			if d.Item == nil || d.OutputIndex == nil || *d.OutputIndex != len(items) {
				t.Fatalf("event %d: added at %v with %d items", i, d.OutputIndex, len(items))
			}
			for _, o := range items {
				if !o.done {
					t.Fatalf("event %d: item added while %s is open", i, o.id)
				}
			}
			items = append(items, &itemState{id: d.Item.ID})
		case "response.output_item.done":
			if d.Item == nil || d.OutputIndex == nil || *d.OutputIndex >= len(items) || items[*d.OutputIndex].id != d.Item.ID {
				t.Fatalf("event %d: done for an unknown item", i)
			}
			o := items[*d.OutputIndex]
			if o.done || o.partOpen || o.summaryOpn {
				t.Fatalf("event %d: item %s done twice or with an open part", i, o.id)
			}
			o.done = true
		case "response.content_part.added":
			if it.partOpen {
				t.Fatalf("event %d: part added while one is open", i)
			}
			it.parts++
			it.partOpen = true
			content(true)
		case "response.output_text.delta", "response.output_text.done", "response.refusal.delta", "response.refusal.done":
			content(true)
		case "response.content_part.done":
			content(true)
			it.partOpen = false
		case "response.reasoning_summary_part.added":
			it.summary++
			it.summaryOpn = true
			summary(true)
		case "response.reasoning_summary_text.delta", "response.reasoning_summary_text.done":
			summary(true)
		case "response.reasoning_summary_part.done":
			summary(true)
			it.summaryOpn = false
		case "response.function_call_arguments.delta", "response.function_call_arguments.done":
			if it == nil {
				t.Fatalf("event %d: no item", i)
			}
		case "error":
		case "response.completed", "response.incomplete", "response.failed":
			terminal++
			want := strings.TrimPrefix(e.Type, "response.")
			if d.Response == nil || d.Response.Status != want {
				t.Fatalf("event %d: %s with status %v", i, e.Type, d.Response)
			}
			if e.Type != "response.failed" {
				for _, o := range items {
					if !o.done {
						t.Fatalf("terminal event with item %s open", o.id)
					}
				}
			}
			if len(d.Response.Output) != len(items) {
				t.Fatalf("terminal response lists %d items, %d were added", len(d.Response.Output), len(items))
			}
			for k, o := range d.Response.Output {
				if o.ID != items[k].id {
					t.Fatalf("terminal output %d is %s, added %s", k, o.ID, items[k].id)
				}
			}
		default:
			t.Fatalf("event %d: unknown type %s", i, e.Type)
		}
	}
	if terminal != 1 {
		t.Fatalf("%d terminal events", terminal)
	}
}

// TestStreamEqualsFromChat streams random answers cut into random chunks and checks that the
// final response is FromChat's for the same answer, byte for byte, and that the events keep
// the contract.
func TestStreamEqualsFromChat(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	pieces := []string{"Hel", "lo", " wörld", "\n", `"q"`, `\`, "\u2028", "😀", " ", "tab\t", "<b>"}
	text := func() string {
		var b strings.Builder
		for range rng.Intn(6) {
			b.WriteString(pieces[rng.Intn(len(pieces))])
		}
		return b.String()
	}
	split := func(s string) []string {
		var out []string
		r := []rune(s)
		for len(r) > 0 {
			n := 1 + rng.Intn(len(r))
			out = append(out, string(r[:n]))
			r = r[n:]
		}
		return out
	}
	finishes := []string{"stop", "length", "tool_calls", "content_filter"}
	req, err := Parse([]byte(`{"model":"m","input":"x","tools":[{"type":"function","name":"f","parameters":{}}],"metadata":{"k":"v"}}`))
	if err != nil {
		t.Fatal(err)
	}
	for n := range 500 {
		var chunks []json.RawMessage
		add := func(delta map[string]any, extra map[string]any) {
			ch := map[string]any{"id": "c", "object": "chat.completion.chunk",
				"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": nil}}}
			for k, v := range extra {
				ch[k] = v
			}
			b, _ := json.Marshal(ch)
			chunks = append(chunks, b)
		}
		add(map[string]any{"role": "assistant"}, nil)
		for _, p := range split(text()) {
			add(map[string]any{"reasoning_content": p}, nil)
		}
		if rng.Intn(3) == 0 {
			add(map[string]any{"reasoning_signature": fmt.Sprint("sig", n)}, nil)
		}
		for _, p := range split(text()) {
			add(map[string]any{"content": p}, map[string]any{"service_tier": "default"})
		}
		if rng.Intn(5) == 0 {
			for _, p := range split("I can't" + text()) {
				add(map[string]any{"refusal": p}, nil)
			}
		}
		for c := range rng.Intn(3) {
			args := split(`{"a":` + fmt.Sprint(c) + `,"s":"` + strings.ReplaceAll(text(), `"`, `'`) + `"}`)
			add(map[string]any{"tool_calls": []any{map[string]any{"index": c, "id": fmt.Sprint("call_", c),
				"type": "function", "function": map[string]any{"name": "f", "arguments": args[0]}}}}, nil)
			for _, a := range args[1:] {
				add(map[string]any{"tool_calls": []any{map[string]any{"index": c, "function": map[string]any{"arguments": a}}}}, nil)
			}
		}
		ch, _ := json.Marshal(map[string]any{"choices": []any{map[string]any{"index": 0, "delta": map[string]any{},
			"finish_reason": finishes[rng.Intn(len(finishes))]}}})
		chunks = append(chunks, ch)
		if rng.Intn(2) == 0 {
			u, _ := json.Marshal(map[string]any{"choices": []any{}, "usage": map[string]any{"prompt_tokens": 10 + n,
				"completion_tokens": n, "total_tokens": 10 + 2*n, "prompt_tokens_details": map[string]any{"cached_tokens": 3}}})
			chunks = append(chunks, u)
		}

		s := NewStreamConverter(testMeta(req))
		var evs []Event
		for _, c := range chunks {
			e, err := s.Chunk(c)
			if err != nil {
				t.Fatal(err)
			}
			evs = append(evs, e...)
		}
		evs = append(evs, s.Finish()...)
		checkEvents(t, evs)
		want, wantOut, err := FromChat(accumulate(t, chunks), testMeta(req))
		if err != nil {
			t.Fatal(err)
		}
		if string(s.Response()) != string(want) {
			t.Fatalf("case %d: stream and FromChat differ:\nstream %s\n  chat %s", n, s.Response(), want)
		}
		if len(s.Output()) != len(wantOut) {
			t.Fatalf("case %d: output lengths differ", n)
		}
	}
}
