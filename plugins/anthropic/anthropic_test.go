package anthropic

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/sluice-gw/sluice/plugins/internal/xlatetest"
)

var funcs = xlatetest.Funcs{Request: TranslateRequest, Response: TranslateResponse, Chunk: TranslateChunk}

func TestGolden(t *testing.T) { xlatetest.Run(t, "testdata", funcs) }

func TestStreamSplit(t *testing.T) { xlatetest.StreamSplitAll(t, TranslateChunk, "testdata") }

// TestStreamStateAcrossBatches feeds the golden stream one event per call, carrying state the
// way the host does, and checks the tool call keeps its index and the usage survives.
func TestStreamStateAcrossBatches(t *testing.T) {
	var env struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(mustRead(t, "testdata/chunk_text_and_tools.in.json"), &env); err != nil {
		t.Fatal(err)
	}
	state := json.RawMessage("null")
	var chunks []map[string]any
	done := false
	for _, ev := range env.Events {
		in, _ := json.Marshal(map[string]any{"model": "m", "now": 7, "state": state, "events": []json.RawMessage{ev}})
		out, err := TranslateChunk(in)
		if err != nil {
			t.Fatal(err)
		}
		var o struct {
			State  json.RawMessage  `json:"state"`
			Chunks []map[string]any `json:"chunks"`
			Done   bool             `json:"done"`
		}
		if err := json.Unmarshal(out, &o); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		state, done = o.State, o.Done
		chunks = append(chunks, o.Chunks...)
	}
	if !done {
		t.Fatal("stream not done after message_stop")
	}
	last := chunks[len(chunks)-1]
	u := last["usage"].(map[string]any)
	if u["prompt_tokens"] != 28.0 || u["completion_tokens"] != 42.0 || u["total_tokens"] != 70.0 {
		t.Errorf("usage = %v", u)
	}
	var args string
	for _, c := range chunks {
		for _, ch := range c["choices"].([]any) {
			d := ch.(map[string]any)["delta"].(map[string]any)
			tcs, _ := d["tool_calls"].([]any)
			for _, tc := range tcs {
				tcm := tc.(map[string]any)
				if tcm["index"] != 0.0 {
					t.Errorf("tool index = %v", tcm["index"])
				}
				args += tcm["function"].(map[string]any)["arguments"].(string)
			}
			if c["id"] != "msg_s1" {
				t.Errorf("chunk id = %v", c["id"])
			}
		}
	}
	if args != `{"city": "Paris"}` {
		t.Errorf("arguments = %q", args)
	}
}

func FuzzTranslate(f *testing.F) {
	for _, s := range xlatetest.Seeds("testdata") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		xlatetest.Fuzz(t, funcs, in)
	})
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
