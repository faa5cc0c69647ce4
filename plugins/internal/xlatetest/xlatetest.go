// Package xlatetest is the translators' shared golden-file harness. A case is a file
// testdata/<hook>_<name>.in.json whose expected output is <hook>_<name>.out.json next to it
// (hook is request, response or chunk). Run `go test -update` to rewrite the expected files,
// then review the diff.
package xlatetest

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/sdk"
)

var update = flag.Bool("update", false, "rewrite golden .out.json files")

// Funcs are the three translate functions of one translator.
type Funcs struct {
	Request, Response, Chunk func([]byte) ([]byte, error)
}

func (f Funcs) pick(name string) func([]byte) ([]byte, error) {
	switch {
	case strings.HasPrefix(name, "request_"):
		return f.Request
	case strings.HasPrefix(name, "response_"):
		return f.Response
	case strings.HasPrefix(name, "chunk_"):
		return f.Chunk
	}
	return nil
}

// Run runs every golden case in dir. An error result is recorded as {"error":{status,code,...}}
// so expected failures are golden too.
func Run(t *testing.T, dir string, f Funcs) {
	t.Helper()
	ins, err := filepath.Glob(filepath.Join(dir, "*.in.json"))
	if err != nil || len(ins) == 0 {
		t.Fatalf("no golden cases in %s (%v)", dir, err)
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in.json")
		t.Run(name, func(t *testing.T) {
			fn := f.pick(name)
			if fn == nil {
				t.Fatalf("case %s: name must start with request_, response_ or chunk_", name)
			}
			input, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got := Output(t, fn, input)
			want := strings.TrimSuffix(in, ".in.json") + ".out.json"
			if *update {
				if err := os.WriteFile(want, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			exp, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, exp) {
				t.Errorf("output differs from %s:\n got: %s\nwant: %s", want, got, exp)
			}
		})
	}
}

// Output calls fn and returns its result indented, or the error as an indented error object.
// It fails the test when a result is not valid JSON.
func Output(t *testing.T, fn func([]byte) ([]byte, error), input []byte) []byte {
	t.Helper()
	out, err := fn(input)
	if err != nil {
		e, ok := err.(*sdk.Error)
		if !ok {
			t.Fatalf("error is %T, want *sdk.Error: %v", err, err)
		}
		out, _ = json.Marshal(map[string]any{"error": map[string]any{
			"status": e.Status, "type": e.Type, "code": e.Code, "message": e.Message}})
	}
	if !json.Valid(out) {
		t.Fatalf("invalid JSON output: %s", out)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, out, "", "  "); err != nil {
		t.Fatal(err)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

// CheckNoPanic calls fn on arbitrary input: it must not panic, must return either valid JSON or
// an *sdk.Error, and never both nil.
func CheckNoPanic(t *testing.T, fn func([]byte) ([]byte, error), input []byte) {
	t.Helper()
	out, err := fn(input)
	if err != nil {
		if _, ok := err.(*sdk.Error); !ok {
			t.Fatalf("error is %T, want *sdk.Error: %v", err, err)
		}
		return
	}
	if !json.Valid(out) {
		t.Fatalf("invalid JSON output %q for input %q", out, input)
	}
}

// Seeds returns the golden inputs of dir, for fuzz corpora.
func Seeds(dir string) [][]byte {
	ins, _ := filepath.Glob(filepath.Join(dir, "*.in.json"))
	var out [][]byte
	for _, in := range ins {
		if b, err := os.ReadFile(in); err == nil {
			out = append(out, b)
		}
	}
	return out
}

// StreamSplit checks that feeding the events of a translate_chunk golden input one per call,
// carrying state as the host does, yields the same chunks, done flag and error as one batched
// call. It returns the chunks.
func StreamSplit(t *testing.T, fn func([]byte) ([]byte, error), path string) []map[string]any {
	t.Helper()
	in, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(in, &env); err != nil {
		t.Fatal(err)
	}
	var events []json.RawMessage
	if err := json.Unmarshal(env["events"], &events); err != nil {
		t.Fatal(err)
	}
	type result struct {
		State  json.RawMessage  `json:"state"`
		Chunks []map[string]any `json:"chunks"`
		Done   bool             `json:"done"`
		Error  map[string]any   `json:"error"`
	}
	call := func(env map[string]json.RawMessage) result {
		b, _ := json.Marshal(env)
		out, err := fn(b)
		if err != nil {
			t.Fatal(err)
		}
		var r result
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return r
	}
	whole := call(env)
	var split result
	split.Chunks = []map[string]any{}
	for _, ev := range events {
		if split.Done {
			break
		}
		one, _ := json.Marshal([]json.RawMessage{ev})
		env["events"] = one
		r := call(env)
		env["state"] = r.State
		split.Chunks = append(split.Chunks, r.Chunks...)
		split.Done, split.Error = r.Done, r.Error
	}
	if whole.Chunks == nil {
		whole.Chunks = []map[string]any{}
	}
	a, _ := json.Marshal(whole.Chunks)
	b, _ := json.Marshal(split.Chunks)
	if string(a) != string(b) || whole.Done != split.Done || fmt.Sprint(whole.Error) != fmt.Sprint(split.Error) {
		t.Errorf("split stream differs from batched:\nbatched: %s done=%v err=%v\n  split: %s done=%v err=%v",
			a, whole.Done, whole.Error, b, split.Done, split.Error)
	}
	return split.Chunks
}

// StreamSplitAll runs StreamSplit on every chunk_*.in.json golden input in dir.
func StreamSplitAll(t *testing.T, fn func([]byte) ([]byte, error), dir string) {
	t.Helper()
	ins, _ := filepath.Glob(filepath.Join(dir, "chunk_*.in.json"))
	for _, in := range ins {
		t.Run(filepath.Base(in), func(t *testing.T) { StreamSplit(t, fn, in) })
	}
}

// Fuzz calls each translate function on in as is and, when in is valid JSON, wrapped as the
// body of a request and response envelope and as a stream event, so the fuzzer reaches the
// translation code past envelope parsing. See CheckNoPanic for what must hold.
func Fuzz(t *testing.T, f Funcs, in []byte) {
	t.Helper()
	CheckNoPanic(t, f.Request, in)
	CheckNoPanic(t, f.Response, in)
	CheckNoPanic(t, f.Chunk, in)
	if !json.Valid(in) {
		return
	}
	wrap := func(pre, post string) []byte {
		return append(append([]byte(pre), in...), post...)
	}
	CheckNoPanic(t, f.Request, wrap(`{"endpoint":"chat.completions","model":"m","stream":true,"provider":{"name":"p","options":{}},"request_id":"r","now":1,"body":`, `}`))
	CheckNoPanic(t, f.Request, wrap(`{"endpoint":"chat.completions","model":"m","provider":{"name":"p","options":{}},"body":{"messages":[{"role":"user","content":`, `}]}}`))
	CheckNoPanic(t, f.Response, wrap(`{"model":"m","request_id":"r","now":1,"status":200,"body":`, `}`))
	CheckNoPanic(t, f.Response, wrap(`{"model":"m","request_id":"r","now":1,"status":500,"body":`, `}`))
	CheckNoPanic(t, f.Chunk, wrap(`{"model":"m","request_id":"r","now":1,"state":null,"events":`, `}`))
	CheckNoPanic(t, f.Chunk, wrap(`{"model":"m","request_id":"r","now":1,"state":`, `,"events":[{"event":"__end__"}]}`))
	for _, name := range []string{"message_start", "content_block_start", "content_block_delta", "message_delta",
		"contentBlockStart", "contentBlockDelta", "messageStop", "metadata", "error", ""} {
		CheckNoPanic(t, f.Chunk, wrap(`{"model":"m","now":1,"state":null,"events":[{"event":"`+name+`","data":`, `}]}`))
	}
}

// BenchRequest is a translate_request envelope of about 2 KB: a multi-turn chat with a system
// prompt, a tool and a tool round trip.
func BenchRequest() []byte {
	long := strings.Repeat("Please keep the answer short and precise; cite the source when you can. ", 8)
	return []byte(`{"endpoint":"chat.completions","model":"bench-model","stream":false,
"provider":{"name":"p","options":{}},"request_id":"req-bench","now":1700000000,
"body":{"model":"bench-model","temperature":0.3,"max_tokens":800,"user":"user-1",
"messages":[{"role":"system","content":"You are a careful assistant. ` + long + `"},
{"role":"user","content":"What's the weather in Paris and in Rome today? ` + long + `"},
{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\",\"unit\":\"c\"}"}}]},
{"role":"tool","tool_call_id":"call_1","content":"{\"temp\":18,\"sky\":\"cloudy\"}"},
{"role":"user","content":"Thanks. And tomorrow? Answer in one sentence, please."}],
"tools":[{"type":"function","function":{"name":"get_weather","description":"Current weather for a city",
"parameters":{"type":"object","properties":{"city":{"type":"string","description":"City name"},"unit":{"type":"string","enum":["c","f"]}},"required":["city"],"additionalProperties":false}}}],
"tool_choice":"auto","stop":["\n\nUser:"]}}`)
}

// LongText is about 1.6 KB of prose with escapes, for response benchmarks.
var LongText = strings.Repeat(`Paris will be cloudy with a high of 18\u00b0C; Rome \"sunny\", 24\u00b0C.\n`, 24)

// Bench runs fn on in per iteration.
func Bench(b *testing.B, fn func([]byte) ([]byte, error), in []byte) {
	b.Helper()
	if _, err := fn(in); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := fn(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchEncodingJSON is the reference point for Bench: decoding in into generic values with
// encoding/json and encoding them again, which is what a reflection-based translator costs at
// least.
func BenchEncodingJSON(b *testing.B, in []byte) {
	b.Helper()
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		var v any
		if err := json.Unmarshal(in, &v); err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(v); err != nil {
			b.Fatal(err)
		}
	}
}
