package telemetry

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestRedactHeaders(t *testing.T) {
	r := NewRedactor(RedactConfig{Headers: []string{"x-tenant-secret"}})
	h := http.Header{}
	h.Set("Authorization", "Bearer sk-live-abcdefghijklmnopqrstuvwx")
	h.Set("x-api-key", "sk-ant-api03-abcdefghijklmnop")
	h.Set("X-Goog-Api-Key", "AIzaSyA-abcdefghijklmnopqrstuvwxyz01234")
	h.Set("X-Tenant-Secret", "hunter2")
	h.Set("Content-Type", "application/json")
	h.Set("X-Debug", "token sk-abcdefghijklmnopqrstuvwxyz in a custom header")
	h.Add("Cookie", "a=1")
	got := r.Headers(h)
	want := map[string]string{
		"Authorization":   "Bearer " + Redacted,
		"X-Api-Key":       Redacted,
		"X-Goog-Api-Key":  Redacted,
		"X-Tenant-Secret": Redacted,
		"Content-Type":    "application/json",
		"X-Debug":         "token " + Redacted + " in a custom header",
		"Cookie":          Redacted,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if h.Get("Authorization") == got["Authorization"] {
		t.Error("input header was modified")
	}
}

func TestRedactJSONBody(t *testing.T) {
	r := NewRedactor(RedactConfig{Fields: []string{"ssn", "credentials"}})
	in := `{"model":"gpt-4o-mini","api_key":"sk-abc","user":{"SSN":"123-45-6789","name":"Ann"},` +
		`"credentials":{"aws":{"secret":"x"}},"messages":[{"role":"user","content":"my key is sk-proj-ABCDEFGHIJKLMNOPQRSTUV ok"}],` +
		`"n":1.50,"stream":true,"stop":null,"tags":["a",2]}`
	out := r.Body([]byte(in))
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if v["api_key"] != Redacted || v["credentials"] != Redacted || v["user"].(map[string]any)["SSN"] != Redacted || v["user"].(map[string]any)["name"] != "Ann" {
		t.Errorf("fields not redacted: %s", out)
	}
	if strings.Contains(out, "sk-proj-") || !strings.Contains(out, "my key is "+Redacted+" ok") {
		t.Errorf("secret in text not scrubbed: %s", out)
	}
	// Key order and number formatting are kept.
	if !strings.HasPrefix(out, `{"model":"gpt-4o-mini","api_key":`) || !strings.Contains(out, `"n":1.50,"stream":true,"stop":null,"tags":["a",2]}`) {
		t.Errorf("shape changed: %s", out)
	}
}

func TestRedactCapsAndFallsBack(t *testing.T) {
	r := NewRedactor(RedactConfig{MaxBytes: 64})
	big := `{"password":"pw","messages":["` + strings.Repeat("x", 500) + `"]}`
	out := r.Body([]byte(big))
	if !strings.HasPrefix(out, `{"password":"[REDACTED]","messages":["xxx`) || !strings.HasSuffix(out, fmt.Sprintf("...[truncated, %d bytes]", len(big))) || len(out) > 64+40 {
		t.Errorf("capped body = %q", out)
	}
	if strings.Contains(out, `"pw"`) {
		t.Error("password leaked")
	}
	// Cut-off JSON still gets field and secret redaction.
	cut := `{"model":"m","api_key": "sk-abcdefghijklmnopqrstuvwxyz","password":12345,"messages":[{"content":"Bearer abcdefghijkl`
	out = NewRedactor(RedactConfig{}).Body([]byte(cut))
	for _, leak := range []string{"sk-abcdef", "12345", "abcdefghijkl"} {
		if strings.Contains(out, leak) {
			t.Errorf("%q leaked in %q", leak, out)
		}
	}
	if !strings.Contains(out, `"model":"m"`) {
		t.Errorf("non-secret content lost: %q", out)
	}
	if got := r.Body([]byte("plain text Bearer abcdefghijklmnop")); got != "plain text "+Redacted {
		t.Errorf("text body = %q", got)
	}
	if r.Body(nil) != "" {
		t.Error("empty body not empty")
	}
}
