package demo

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func chat(t *testing.T, body string) (content, finish string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://demo/v1/chat/completions", strings.NewReader(body))
	resp, err := (&Transport{}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		Choices []struct {
			Message      struct{ Content string }
			FinishReason string `json:"finish_reason"`
		}
	}
	if err := json.Unmarshal(b, &out); err != nil || len(out.Choices) != 1 {
		t.Fatalf("%v: %s", err, b)
	}
	return out.Choices[0].Message.Content, out.Choices[0].FinishReason
}

func TestOutputCapped(t *testing.T) {
	text, finish := chat(t, `{"model":"lorem","max_tokens":20000000,"messages":[{"role":"user","content":"x"}]}`)
	if n := len(strings.Fields(text)); n != MaxOutput || finish != "length" {
		t.Fatalf("lorem with a huge max_tokens: %d words, finish %q; want %d and length", n, finish, MaxOutput)
	}
	text, finish = chat(t, `{"model":"lorem","max_tokens":7,"messages":[{"role":"user","content":"x"}]}`)
	if n := len(strings.Fields(text)); n != 7 || finish != "stop" {
		t.Fatalf("lorem max_tokens 7: %d words, finish %q", n, finish)
	}
	text, finish = chat(t, `{"model":"echo","max_tokens":3,"messages":[{"role":"user","content":"one two three four"}]}`)
	if text != "You said: one" || finish != "length" {
		t.Fatalf("echo cut at 3: %q %q", text, finish)
	}
	long := strings.Repeat("w ", MaxOutput+10)
	text, finish = chat(t, `{"model":"echo","messages":[{"role":"user","content":"`+long+`"}]}`)
	if n := len(strings.Fields(text)); n != MaxOutput || finish != "length" {
		t.Fatalf("echo of a long prompt: %d words, finish %q", n, finish)
	}
	if text, finish = chat(t, `{"model":"echo","messages":[{"role":"user","content":"hi"}]}`); text != "You said: hi" || finish != "stop" {
		t.Fatalf("echo: %q %q", text, finish)
	}
}
