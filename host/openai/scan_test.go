package openai

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseRequest(t *testing.T) {
	body := []byte(` {"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"hi \"there\" \u00e9"}],
	"stream":true,"stream_options":{"include_usage":true},"max_tokens":50,"temperature":0.5,"user":"u1"} `)
	r, err := ParseRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	if r.Model != "openai/gpt-4o-mini" || !r.Stream || !r.IncludeUsage || r.MaxTokens != 50 || *r.Temperature != 0.5 || r.User != "u1" || r.TokenEstimate == 0 {
		t.Fatalf("parsed %+v", r)
	}
	out := r.Set("model", Quote("gpt-4o-mini"))
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil || m["model"] != "gpt-4o-mini" {
		t.Fatalf("set model: %s %v", out, err)
	}
	out = r.Set("seed", []byte("7"))
	if err := json.Unmarshal(out, &m); err != nil || m["seed"] != 7.0 {
		t.Fatalf("add key: %s %v", out, err)
	}
	for _, k := range []string{"model", "user", "stream_options"} {
		out = r.Delete(k)
		m = nil
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("delete %s: %s %v", k, out, err)
		}
		if _, ok := m[k]; ok || len(m) != 6 {
			t.Fatalf("delete %s left %v", k, m)
		}
	}
	one, _ := ParseRequest([]byte(`{"a":1}`))
	if got := string(one.Delete("a")); got != `{}` {
		t.Fatalf("delete only key: %s", got)
	}
	if got := string(one.Set("b", []byte("2"))); got != `{"a":1,"b":2}` {
		t.Fatalf("add: %s", got)
	}
	empty, _ := ParseRequest([]byte(`{}`))
	if got := string(empty.Set("b", []byte("2"))); got != `{"b":2}` {
		t.Fatalf("add to empty: %s", got)
	}
}

func TestParseRequestErrors(t *testing.T) {
	for _, in := range []string{``, `[]`, `{"model":}`, `{"model":"x"`, `{"model":"x"} x`, `{"stream":"yes"}`, `{"max_tokens":-1}`, `{"model":3}`, `{"a":tru}`, `{"a":"\u12"}`} {
		if _, err := ParseRequest([]byte(in)); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize([]byte(`{"id":"x","model":"m","choices":[{"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":2}}}`), true)
	if s.Model != "m" || s.FinishReason != "stop" || s.Usage == nil || s.Usage.TotalTokens != 7 || s.Usage.CachedTokens != 2 {
		t.Fatalf("%+v %+v", s, s.Usage)
	}
	s = Summarize([]byte(`{"choices":[],"usage":{"prompt_tokens":600,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":400,"cache_creation_tokens":150}}}`), false)
	if s.Usage == nil || s.Usage.CachedTokens != 400 || s.Usage.CacheCreationTokens != 150 || s.Usage.TotalTokens != 601 {
		t.Fatalf("cache usage: %+v", s.Usage)
	}
	if !IsUsageOnlyChunk([]byte(`{"choices":[],"usage":{"prompt_tokens":1}}`)) || IsUsageOnlyChunk([]byte(`{"choices":[{}],"usage":null}`)) {
		t.Fatal("usage-only chunk detection")
	}
}

// FuzzParseRequest: never panics; when it accepts, encoding/json accepts too and edits stay valid.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(`{"model":"a/b","stream":true,"messages":[{"role":"user","content":"x"}]}`))
	f.Add([]byte(`{"a":[1,2,{"b":null}],"c":"\u00e9"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := ParseRequest(in)
		if err != nil {
			return
		}
		if !json.Valid(in) {
			t.Fatalf("accepted invalid JSON %q", in)
		}
		// Round trip: encoding/json sees the same top-level keys (no duplicates slipped by)
		// and the same model.
		var m map[string]json.RawMessage
		if err := json.Unmarshal(in, &m); err != nil {
			t.Fatal(err)
		}
		if len(m) != len(r.fields) && !strings.Contains(string(in), `\u`) {
			t.Fatalf("%q: %d keys here, %d for encoding/json", in, len(r.fields), len(m))
		}
		if raw, ok := m["model"]; ok && utf8.ValidString(r.Model) && !strings.Contains(string(raw), `\u`) {
			var model string
			if json.Unmarshal(raw, &model) == nil && model != r.Model {
				t.Fatalf("%q: model %q here, %q for encoding/json", in, r.Model, model)
			}
		}
		for _, out := range [][]byte{r.Set("model", Quote("x")), r.Delete("model"), r.Set("zz", []byte(`{"k":1}`)),
			r.With(Edit{"model", Quote("y")}, Edit{"stream_options", []byte(`{"include_usage":true}`)})} {
			if !json.Valid(out) {
				t.Fatalf("edit of %q produced invalid %q", in, out)
			}
		}
	})
}

func TestSummarizeShapes(t *testing.T) {
	for _, tc := range []struct {
		in     string
		full   bool
		model  string
		total  int64
		finish string
	}{
		{`{"choices":[{"delta":{"content":"x"},"finish_reason":null}]}`, false, "", 0, ""},
		{`{"model":"m\u00e9","choices":[{"index":0,"finish_reason":"length"}],"usage":null}`, true, "mé", 0, "length"},
		{`{"choices":[],"usage":{"prompt_tokens":2,"completion_tokens":5}}`, false, "", 7, ""},
		{`not json`, true, "", 0, ""},
	} {
		s := Summarize([]byte(tc.in), tc.full)
		var total int64
		if s.Usage != nil {
			total = s.Usage.TotalTokens
		}
		if s.Model != tc.model || total != tc.total || s.FinishReason != tc.finish {
			t.Errorf("%s: got %+v total %d", tc.in, s, total)
		}
	}
}

func BenchmarkSummarize1K(b *testing.B) {
	body := []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"` + strings.Repeat("lorem ipsum ", 70) + `"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":140,"total_tokens":150}}`)
	b.ReportAllocs()
	for b.Loop() {
		Summarize(body, true)
	}
}

func BenchmarkParseRequest1K(b *testing.B) {
	body := []byte(`{"model":"openai/gpt-4o-mini","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"` + strings.Repeat("lorem ipsum ", 75) + `"}],"temperature":0.2,"max_tokens":100}`)
	b.ReportAllocs()
	for b.Loop() {
		r, _ := ParseRequest(body)
		_ = r.Set("model", Quote("gpt-4o-mini"))
	}
}

func TestWith(t *testing.T) {
	r, err := ParseRequest([]byte(`{"stream_options":{"x":1},"model":"a/b","stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	got := string(r.With(Edit{"model", Quote("b")}, Edit{"stream_options", []byte(`{"include_usage":true}`)}, Edit{"seed", []byte("3")}))
	if want := `{"stream_options":{"include_usage":true},"model":"b","stream":true,"seed":3}`; got != want {
		t.Fatalf("got %s want %s", got, want)
	}
	empty, _ := ParseRequest([]byte(`{}`))
	if got := string(empty.With(Edit{"a", []byte("1")}, Edit{"b", []byte("2")})); got != `{"a":1,"b":2}` {
		t.Fatalf("empty: %s", got)
	}
}
