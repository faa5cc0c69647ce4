package responsesapi

import (
	"bytes"
	"testing"
)

// TestReleaseReuse: a table handed back by Release serves later requests of other sizes and
// shapes exactly as a fresh one does, and Release twice or on a failed parse is harmless.
func TestReleaseReuse(t *testing.T) {
	big := benchRequest(t)
	bodies := [][]byte{
		big,
		[]byte(`{"model":"m","instructions":"Be brief.","input":"What is the capital of France?","max_output_tokens":20}`),
		big,
		[]byte(`{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"a \"quoted\" \u00e9 text"}]}],"tools":[{"type":"function","name":"f","parameters":{"type":"object"}}],"stream":true}`),
	}
	want := make([][]byte, len(bodies))
	for i, b := range bodies {
		r, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if want[i], err = r.ToChat(nil); err != nil {
			t.Fatal(err)
		}
		// Not released: these tables are never reused.
	}
	for round := range 3 {
		for i, b := range bodies {
			r, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.ToChat(nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want[i]) {
				t.Fatalf("round %d body %d: with a reused table\n got %s\nwant %s", round, i, got, want[i])
			}
			r.Release()
			r.Release()
		}
	}
	if _, err := Parse([]byte(`{"model":"m","input":[}`)); err == nil {
		t.Fatal("bad JSON parsed")
	}
	r, err := Parse(bodies[1])
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := r.ToChat(nil); !bytes.Equal(got, want[1]) {
		t.Fatalf("after a failed parse: %s", got)
	}
}
