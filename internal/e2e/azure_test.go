package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestAzureProvider: the azure kind sends to /deployments/{deployment}/... with api-version in
// the query and the key in api-key (never Authorization), streaming included.
func TestAzureProvider(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %s?%s key=%s auth=%q", r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("api-key"), r.Header.Get("Authorization")))
		mu.Unlock()
		if r.Header.Get("api-key") != "az-secret" {
			w.WriteHeader(401)
			io.WriteString(w, `{"error":{"code":"401","message":"Access denied due to invalid subscription key."}}`)
			return
		}
		if strings.Contains(string(body), `"stream":true`) {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":"azure "},"finish_reason":null}]}`+"\n\n")
			io.WriteString(w, `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"stream"},"finish_reason":"stop"}]}`+"\n\n")
			io.WriteString(w, `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`+"\n\n")
			io.WriteString(w, "data: [DONE]\n\n")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"c1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"from azure"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`)
	}))
	defer srv.Close()
	s := startSluice(t, baseConfig+fmt.Sprintf(`
[providers.az]
kind = "azure"
base_url = "%s/openai"
api_key = "az-secret"
api_version = "2024-10-21"
deployments = { "gpt-4o-mini" = "prod-mini" }
`, srv.URL))
	chat := s.URL + "/v1/chat/completions"
	code, h, body := post(t, chat, `{"model":"az/gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`, "Authorization", "Bearer client-key")
	if code != 200 || !strings.Contains(body, "from azure") || h.Get("X-Sluice-Provider") != "az" {
		t.Fatalf("azure: %d %s", code, body)
	}
	code, _, body = post(t, chat, `{"model":"az/gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if code != 200 || !strings.Contains(body, `"content":"stream"`) || !strings.Contains(body, "data: [DONE]") || strings.Contains(body, `"choices":[]`) {
		t.Fatalf("azure stream: %d %s", code, body)
	}
	// A model without a deployment mapping uses its own name as the deployment.
	post(t, chat, `{"model":"az/gpt-4.1","messages":[{"role":"user","content":"hi"}]}`)
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		`POST /openai/deployments/prod-mini/chat/completions?api-version=2024-10-21 key=az-secret auth=""`,
		`POST /openai/deployments/prod-mini/chat/completions?api-version=2024-10-21 key=az-secret auth=""`,
		`POST /openai/deployments/gpt-4.1/chat/completions?api-version=2024-10-21 key=az-secret auth=""`,
	}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Fatalf("azure upstream saw:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
}
