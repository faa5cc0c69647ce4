package provider

import (
	"fmt"
	"net/http"
	"testing"
)

// TestFixedHeaders: the headers made once per provider reach the upstream on every request,
// and a client's own key still replaces the provider's.
func TestFixedHeaders(t *testing.T) {
	up := newRecorder(t)
	ps := providersFor(t, fmt.Sprintf(`
[providers.openai]
base_url = "%[1]s/v1"
api_key = "sk-host"
byok = true
headers = { "x-team" = "blue", "openai-organization" = "org-1" }

[providers.anthropic]
base_url = "%[1]s"
api_key = "ant-host"
`, up.URL))
	body := []byte(`{"model":"m","messages":[]}`)
	for i, c := range []struct {
		provider, clientKey string
		stream              bool
		header, want        string
	}{
		{"openai", "", false, "Authorization", "Bearer sk-host"},
		{"openai", "client-key", false, "Authorization", "Bearer client-key"},
		{"openai", "", true, "Authorization", "Bearer sk-host"},
		{"anthropic", "", false, "X-Api-Key", "ant-host"},
	} {
		trace := http.Header{"Traceparent": {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}
		_, _ = ps[c.provider].Do(t.Context(), &Request{Endpoint: ChatCompletions, Model: "m", Body: body, Stream: c.stream, ClientKey: c.clientKey, Header: trace})
		got := up.last(t).Header
		if v := got.Get(c.header); v != c.want {
			t.Errorf("%d: %s = %q, want %q", i, c.header, v, c.want)
		}
		accept := "application/json"
		if c.stream {
			accept = "text/event-stream"
		}
		if got.Get("Accept") != accept || got.Get("Content-Type") != "application/json" || got.Get("Traceparent") == "" {
			t.Errorf("%d: headers %v", i, got)
		}
		if c.provider == "openai" && (got.Get("X-Team") != "blue" || got.Get("Openai-Organization") != "org-1") {
			t.Errorf("%d: configured headers missing: %v", i, got)
		}
	}
}
