package provider

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sluice-gw/sluice/host/openai"
	"github.com/sluice-gw/sluice/sdk/jsonx"
)

func TestSnippet(t *testing.T) {
	// The cut at 200 bytes falls inside "€" (3 bytes at 199..201): the partial rune goes.
	in := []byte(strings.Repeat("a", 199) + "€ and more")
	got := snippet(in)
	if got != strings.Repeat("a", 199)+"..." {
		t.Fatalf("snippet = %q", got)
	}
	if got := snippet([]byte("  short \xff body  ")); got != "short \uFFFD body" {
		t.Fatalf("snippet = %q", got)
	}
}

func TestLooksLikeOpenAIError(t *testing.T) {
	if !looksLikeOpenAIError([]byte(` {"error":{"message":"x","type":"t"}} `)) {
		t.Fatal("a real error body is not relayed")
	}
	for _, b := range []string{`{"error":{"message":"cut`, `{"error" "message"}`, `<html>error message</html>`} {
		if looksLikeOpenAIError([]byte(b)) {
			t.Errorf("%q would be relayed as JSON", b)
		}
	}
}

// FuzzUpstreamErrorBody: the error body made from any upstream body is valid JSON.
func FuzzUpstreamErrorBody(f *testing.F) {
	f.Add([]byte(strings.Repeat("a", 199) + "€\x00\xff"))
	f.Add([]byte(`{"error":{"message":"x"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		out := b
		if !looksLikeOpenAIError(b) {
			out = (&openai.Error{Status: 500, Type: "api_error", Code: "upstream_error", Message: "provider p answered 500: " + snippet(b)}).Body()
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON from upstream body %q: %q", b, out)
		}
		// Invalid bytes become U+FFFD (3 bytes each).
		if s := snippet(b); !utf8.ValidString(s) || len(s) > 3*snippetMax+len("...") {
			t.Fatalf("snippet %q", s)
		}
	})
}

// FuzzEnvelopeHead: translator envelopes are valid JSON for any endpoint, model, request id,
// provider options and body.
func FuzzEnvelopeHead(f *testing.F) {
	f.Add("chat.completions", "claude-\x00\xff", "req\"\\\n")
	f.Fuzz(func(t *testing.T, endpoint, model, id string) {
		r := &Request{Endpoint: endpoint, Model: model, RequestID: id, Body: []byte(id)}
		b := (&Provider{Name: model, options: []byte(endpoint)}).requestEnvelope(r)
		if !json.Valid(b) || !utf8.Valid(b) {
			t.Fatalf("invalid envelope %q", b)
		}
		var v struct{ Model string }
		if err := json.Unmarshal(b, &v); err != nil || utf8.ValidString(model) && v.Model != model {
			t.Fatalf("model %q came back %q (%v)", model, v.Model, err)
		}
	})
}

func TestOpenAIStreamRefusesInvalidJSON(t *testing.T) {
	p := &Provider{Name: "p"}
	body := io.NopCloser(strings.NewReader("data: {\"a\":1}\n\ndata: {\"cut\n\ndata: [DONE]\n\n"))
	s := newOpenAIStream(p, body, 0)
	if b, err := s.Next(); err != nil || string(b) != `{"a":1}` {
		t.Fatalf("first event: %q %v", b, err)
	}
	var ae *AttemptError
	if _, err := s.Next(); !errors.As(err, &ae) || ae.Kind != FailBroken {
		t.Fatalf("invalid event: %v", err)
	}
}

func BenchmarkStreamEventCheck(b *testing.B) {
	ev := []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","system_fingerprint":"fp","choices":[{"index":0,"delta":{"content":"lorem "},"logprobs":null,"finish_reason":null}]}`)
	for b.Loop() {
		_ = jsonx.Valid(ev)
	}
}
