package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/host/messagesapi"
)

// TestAnthropicWriterNativeErrors: a native error passes as written when it is Anthropic's
// shape, and is rewritten into it otherwise, 503 as overloaded.
func TestAnthropicWriterNativeErrors(t *testing.T) {
	for _, c := range []struct {
		status     int
		body, want string
		wantStatus int
	}{
		{400, `{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}`, `{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}`, 400},
		{502, "<html>\n<h1>Bad Gateway</h1></html>", `{"type":"error","error":{"type":"api_error","message":"provider anthropic answered 502: <html> <h1>Bad Gateway</h1></html>"}}`, 502},
		{503, `{"message":"upstream connect error"}`, `{"type":"error","error":{"type":"overloaded_error","message":"upstream connect error"}}`, 529},
		{401, `{"error":{"message":"wrong key","type":"invalid_request_error"}}`, `{"type":"error","error":{"type":"authentication_error","message":"wrong key"}}`, 401},
	} {
		rec := httptest.NewRecorder()
		rec.Header().Set("X-Sluice-Provider", "anthropic")
		a := newAnthropicWriter(rec, &dialect{native: true}, messagesapi.Converted{})
		a.Header().Set("Content-Type", "application/json")
		a.WriteHeader(c.status)
		_, _ = a.Write([]byte(c.body))
		a.finish()
		if rec.Code != c.wantStatus || strings.TrimSpace(rec.Body.String()) != c.want {
			t.Errorf("%d %q: got %d %s", c.status, c.body, rec.Code, rec.Body)
		}
	}
	// A native success passes through at once.
	rec := httptest.NewRecorder()
	a := newAnthropicWriter(rec, &dialect{native: true}, messagesapi.Converted{})
	a.WriteHeader(http.StatusOK)
	_, _ = a.Write([]byte(`{"type":"message"}`))
	a.finish()
	if rec.Code != 200 || rec.Body.String() != `{"type":"message"}` {
		t.Errorf("native success: %d %s", rec.Code, rec.Body)
	}
}
