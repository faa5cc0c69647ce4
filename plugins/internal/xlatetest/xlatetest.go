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
