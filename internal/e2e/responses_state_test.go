package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
	"github.com/sluice-gw/sluice/internal/redistest"
)

func respID(t *testing.T, body string) string {
	t.Helper()
	var m struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(body), &m); err != nil || m.ID == "" {
		t.Fatalf("no response id in %s", body)
	}
	return m.ID
}

func getWith(t *testing.T, url string, headers ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestResponsesStoreScoped: a stored response belongs to the key that created it: another
// tenant can neither read it nor continue it (404, as for an unknown id), and store: false keeps
// nothing.
func TestResponsesStoreScoped(t *testing.T) {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithoutResponses())
	s := startSluice(t, baseConfig+fmt.Sprintf(`
[providers.up]
kind = "openai"
base_url = %q

[auth]
required = true

[[auth.keys]]
id = "alice"
key = "sk-alice-responses"
team = "acme"

[[auth.keys]]
id = "bob"
key = "sk-bob-responses"
team = "beta"
`, up.URL))
	alice := []string{"Authorization", "Bearer sk-alice-responses"}
	bob := []string{"Authorization", "Bearer sk-bob-responses"}
	code, _, body := post(t, s.URL+"/v1/responses", `{"model":"up/gpt-test","input":"alice's secret plan"}`, alice...)
	if code != 200 {
		t.Fatalf("create: %d %s", code, body)
	}
	id := respID(t, body)
	if code, body := getWith(t, s.URL+"/v1/responses/"+id, alice...); code != 200 || !strings.Contains(body, id) {
		t.Fatalf("owner GET: %d %s", code, body)
	}
	if code, body := getWith(t, s.URL+"/v1/responses/"+id, bob...); code != 404 || strings.Contains(body, "secret plan") {
		t.Errorf("another tenant's GET: %d %s", code, body)
	}
	if code, body := getWith(t, s.URL+"/v1/responses/"+id+"/input_items", bob...); code != 404 {
		t.Errorf("another tenant's input_items: %d %s", code, body)
	}
	up.ClearRequests()
	code, _, body = post(t, s.URL+"/v1/responses", `{"model":"up/gpt-test","previous_response_id":"`+id+`","input":"continue"}`, bob...)
	if code != 404 || !strings.Contains(body, "previous_response_id") {
		t.Errorf("another tenant continued: %d %s", code, body)
	}
	if len(up.Requests()) != 0 {
		t.Errorf("a refused continuation reached the upstream")
	}
	code, _, body = post(t, s.URL+"/v1/responses", `{"model":"up/gpt-test","previous_response_id":"`+id+`","input":"continue"}`, alice...)
	if code != 200 {
		t.Fatalf("owner continued: %d %s", code, body)
	}
	if rs := up.Requests(); len(rs) != 1 || !strings.Contains(string(rs[0].Body), "alice's secret plan") {
		t.Errorf("the continuation did not carry the first turn")
	}
	req, _ := http.NewRequest(http.MethodDelete, s.URL+"/v1/responses/"+id, nil)
	req.Header.Set(bob[0], bob[1])
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 404 {
		t.Errorf("another tenant deleted it: %v %v", err, resp.StatusCode)
	}
	code, _, body = post(t, s.URL+"/v1/responses", `{"model":"up/gpt-test","store":false,"input":"keep nothing"}`, alice...)
	if code != 200 {
		t.Fatalf("store false: %d %s", code, body)
	}
	if code, _ := getWith(t, s.URL+"/v1/responses/"+respID(t, body), alice...); code != 404 {
		t.Errorf("store: false was stored (GET %d)", code)
	}
}

// TestResponsesReplicasShareStore: with [redis], a conversation started on one replica is
// continued, read and listed on another.
func TestResponsesReplicasShareStore(t *testing.T) {
	rd := redistest.Start(t)
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithoutResponses())
	cfg := baseConfig + fmt.Sprintf(`
[providers.up]
kind = "openai"
base_url = %q

[redis]
url = %q
`, up.URL, rd.URL)
	a, b := startSluice(t, cfg), startSluice(t, cfg)
	code, _, body := post(t, a.URL+"/v1/responses", `{"model":"up/gpt-test","input":"remember the word heron","stream":true}`)
	if code != 200 || !strings.Contains(body, "response.completed") {
		t.Fatalf("replica a: %d %s", code, body)
	}
	i := strings.Index(body, `"id":"resp_`)
	if i < 0 {
		t.Fatalf("no response id in the stream: %s", body)
	}
	id := body[i+6 : i+6+len("resp_")+48]
	code, _, body = post(t, b.URL+"/v1/responses", `{"model":"up/gpt-test","previous_response_id":"`+id+`","input":"which word?"}`)
	if code != 200 {
		t.Fatalf("replica b continued: %d %s", code, body)
	}
	rs := up.Requests()
	if last := rs[len(rs)-1]; !strings.Contains(string(last.Body), "remember the word heron") {
		t.Errorf("replica b's upstream request lacks the first turn: %s", last.Body)
	}
	if code, body := getWith(t, b.URL+"/v1/responses/"+id); code != 200 || !strings.Contains(body, id) {
		t.Errorf("replica b GET: %d %s", code, body)
	}
	if code, body := getWith(t, b.URL+"/v1/responses/"+respID(t, body)+"/input_items"); code != 200 || !strings.Contains(body, "which word?") {
		t.Errorf("replica b input_items: %d %s", code, body)
	}
}

// TestResponsesAzureNative: Azure serves the Responses API: the body goes to
// {base}/responses?api-version=... with the deployment as the model and the api-key header.
func TestResponsesAzureNative(t *testing.T) {
	up := fakeprovider.NewOpenAI(t)
	s := startSluice(t, baseConfig+fmt.Sprintf(`
[providers.az]
kind = "azure"
base_url = %q
api_key = "az-secret"
api_version = "2025-04-01-preview"
deployments = { "gpt-4o-mini" = "prod-mini" }
`, up.URL))
	code, _, body := post(t, s.URL+"/v1/responses", `{"model":"az/gpt-4o-mini","input":"hello azure","include":["reasoning.encrypted_content"]}`)
	if code != 200 || !strings.Contains(body, `"object":"response"`) {
		t.Fatalf("%d %s", code, body)
	}
	rs := up.Requests()
	if len(rs) != 1 {
		t.Fatalf("upstream got %d requests", len(rs))
	}
	r := rs[0]
	if r.Path != "/v1/responses" || r.Query().Get("api-version") != "2025-04-01-preview" || r.Model != "prod-mini" || r.Invalid != "" {
		t.Errorf("upstream got %s ?%s model %q invalid %q", r.Path, r.RawQuery, r.Model, r.Invalid)
	}
	if r.Header.Get("api-key") != "az-secret" || r.Header.Get("Authorization") != "" {
		t.Errorf("azure credentials: api-key %q, Authorization %q", r.Header.Get("api-key"), r.Header.Get("Authorization"))
	}
	if !strings.Contains(string(r.Body), `"include":["reasoning.encrypted_content"]`) {
		t.Errorf("native body changed: %s", r.Body)
	}
}
