package openai

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sluice-gw/sluice/sdk/jsonx"
)

func TestParseRequestRefusesDuplicateKeys(t *testing.T) {
	for in, key := range map[string]string{
		`{"model":"a/b","model":"c/d"}`:                              "model",
		`{"model":"a/b","messages":[],"stream":true,"stream":false}`: "stream",
		`{"m\u006fdel":"a/b","model":"c/d"}`:                         "model",
	} {
		_, err := ParseRequest([]byte(in))
		var de *DuplicateKeyError
		if !errors.As(err, &de) || de.Key != key {
			t.Errorf("%s: err %v, want a duplicate %q", in, err, key)
		}
	}
	// Nested duplicates are the upstream's business (and JSON allows them).
	if _, err := ParseRequest([]byte(`{"metadata":{"a":1,"a":2}}`)); err != nil {
		t.Fatal(err)
	}
}

func TestParseRequestCounts(t *testing.T) {
	r, err := ParseRequest([]byte(`{"messages":[{"role":"user","content":"a"}, {"role":"user","content":[1,2,3]} ,{}],"tools":[],"x":[1,2]}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Messages != 3 || r.Tools != 0 {
		t.Fatalf("messages %d tools %d", r.Messages, r.Tools)
	}
	r, _ = ParseRequest([]byte(`{"tools":[{"type":"function"},{"type":"function"}],"messages":"not an array"}`))
	if r.Messages != 0 || r.Tools != 2 {
		t.Fatalf("messages %d tools %d", r.Messages, r.Tools)
	}
	if _, err := ParseRequest([]byte(`{"messages":[1 2]}`)); err == nil {
		t.Fatal("bad array accepted")
	}
}

func TestParseRequestDepth(t *testing.T) {
	nest := func(levels int) []byte {
		// The body's own object is one level.
		return []byte(`{"a":` + strings.Repeat("[", levels-1) + strings.Repeat("]", levels-1) + `}`)
	}
	if _, err := ParseRequest(nest(jsonx.MaxDepth)); err != nil {
		t.Fatalf("%d levels refused: %v", jsonx.MaxDepth, err)
	}
	if _, err := ParseRequest(nest(jsonx.MaxDepth + 1)); err == nil {
		t.Fatalf("%d levels accepted", jsonx.MaxDepth+1)
	}
	// The same limit as jsonx, so no reader accepts what another refuses.
	if jsonx.Valid(nest(jsonx.MaxDepth+1)) || !jsonx.Valid(nest(jsonx.MaxDepth)) {
		t.Fatal("jsonx disagrees on the depth limit")
	}
	msgs := []byte(`{"messages":[` + strings.Repeat("[", jsonx.MaxDepth-1) + strings.Repeat("]", jsonx.MaxDepth-1) + `]}`)
	if _, err := ParseRequest(msgs); err == nil {
		t.Fatal("deep messages accepted")
	}
}

func TestCheckModel(t *testing.T) {
	for _, ok := range []string{"openai/gpt-4o-mini", "bedrock/anthropic.claude-3-5-sonnet-20240620-v1:0", "or/meta-llama/llama-3-70b:free", strings.Repeat("m", MaxModelName)} {
		if err := CheckModel(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{strings.Repeat("m", MaxModelName+1), "a/b c", "a/b\n", "a/\x00", "a/é", "a/\xff"} {
		if err := CheckModel(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestErrorBodyIsJSON(t *testing.T) {
	e := Errorf(400, "c\x01", "quote \" backslash \\ nul \x00 bad \xff\xfe line\u2028 cut \xe2\x82")
	e.Param = "p\x7f"
	b := e.Body()
	var v struct {
		Error struct{ Message, Type, Param, Code string }
	}
	if err := json.Unmarshal(b, &v); err != nil || !utf8.Valid(b) {
		t.Fatalf("invalid JSON %q: %v", b, err)
	}
	if !strings.Contains(v.Error.Message, "nul \x00 bad") {
		t.Fatalf("message %q", v.Error.Message)
	}
}

// FuzzErrorBody: the error body is valid UTF-8 JSON for any message, code and param, and
// carries the message (valid UTF-8 parts unchanged).
func FuzzErrorBody(f *testing.F) {
	f.Add("plain", "code", "")
	f.Add("\x00\x1f\"\\\xff\xe2\x82", "c\n", "p\t")
	f.Fuzz(func(t *testing.T, msg, code, param string) {
		e := Errorf(418, code, msg)
		e.Param = param
		b := e.Body()
		if !utf8.Valid(b) || !json.Valid(b) {
			t.Fatalf("invalid JSON for %q: %q", msg, b)
		}
		var v struct{ Error struct{ Message string } }
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		if utf8.ValidString(msg) && v.Error.Message != msg {
			t.Fatalf("message %q came back %q", msg, v.Error.Message)
		}
	})
}

// FuzzQuote: Quote is valid JSON for any string and decodes back to it when it is UTF-8.
func FuzzQuote(f *testing.F) {
	f.Add("a/b")
	f.Add("\x00\xff\u2028\"")
	f.Fuzz(func(t *testing.T, s string) {
		q := Quote(s)
		var back string
		if err := json.Unmarshal(q, &back); err != nil || !utf8.Valid(q) {
			t.Fatalf("Quote(%q) = %q: %v", s, q, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("Quote(%q) decodes to %q", s, back)
		}
	})
}
