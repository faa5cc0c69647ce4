package provider

import "testing"

// A translator's path can only ever address the provider's own host.
func TestTranslatedURL(t *testing.T) {
	p := &Provider{BaseURL: "https://api.example.com/v1"}
	for _, ok := range []struct{ path, query, want string }{
		{"/messages", "", "https://api.example.com/v1/messages"},
		{"/models/gemini-2.5-flash:generateContent", "?alt=sse", "https://api.example.com/v1/models/gemini-2.5-flash:generateContent?alt=sse"},
		{"/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse", "", "https://api.example.com/v1/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"},
	} {
		got, err := p.translatedURL(ok.path, ok.query)
		if err != nil || got != ok.want {
			t.Errorf("%q %q: %q, %v", ok.path, ok.query, got, err)
		}
	}
	for _, bad := range []string{"@other.host/x", "other.host/x", "//other.host/x", "/x@other.host", "/x#frag", "/x?y=1", "https://other.host/x", "", `/\other.host`} {
		if got, err := p.translatedURL(bad, ""); err == nil {
			t.Errorf("%q accepted as %q", bad, got)
		}
	}
	if _, err := p.translatedURL("/x", "a=1#frag"); err == nil {
		t.Error("a query with a fragment accepted")
	}
	q := &Provider{BaseURL: "http://127.0.0.1:8000"}
	if _, err := q.translatedURL(":9999/x", ""); err == nil {
		t.Error("a port change accepted")
	}
}
