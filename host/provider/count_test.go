package provider

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/internal/fakeprovider"
	"github.com/sluice-gw/sluice/plugins/gemini"
)

// geminiTranslator runs the Gemini translator's Go code in place of its wasm build.
type geminiTranslator struct{}

func (geminiTranslator) Name() string { return "gemini" }
func (geminiTranslator) TranslateRequest(_ context.Context, in []byte) ([]byte, error) {
	return gemini.TranslateRequest(in)
}
func (geminiTranslator) TranslateResponse(context.Context, []byte) ([]byte, error) { return nil, nil }
func (geminiTranslator) TranslateChunk(context.Context, []byte) ([]byte, error)    { return nil, nil }

func geminiProvider(t *testing.T, base string) *Provider {
	t.Helper()
	p, err := New(&config.Provider{Name: "gem", Kind: "gemini", BaseURL: base, APIKey: "gk", Auth: "x-goog-api-key", Translator: "gemini"},
		func(string) (Translator, error) { return geminiTranslator{}, nil }, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGeminiCountTokens: the chat request reaches models/{model}:countTokens as the
// generateContent body the translator builds, wrapped in generateContentRequest with its model.
func TestGeminiCountTokens(t *testing.T) {
	up := fakeprovider.NewGemini(t, fakeprovider.WithKey("gk"))
	p := geminiProvider(t, up.URL+"/v1beta")
	chat := `{"model":"gem/gemini-2.5-flash","max_tokens":50,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"count these words please"}]}`
	n, err := p.CountTokens(context.Background(), []byte(chat), "gemini-2.5-flash")
	if err != nil || n != 6 {
		t.Fatalf("CountTokens = %d, %v; want 6", n, err)
	}
	r := up.Requests()[0]
	if r.Path != "/v1beta/models/gemini-2.5-flash:countTokens" || r.Invalid != "" || r.Header.Get("x-goog-api-key") != "gk" {
		t.Errorf("upstream got %s (invalid %q, key %q)", r.Path, r.Invalid, r.Header.Get("x-goog-api-key"))
	}
	var got struct {
		Req map[string]json.RawMessage `json:"generateContentRequest"`
	}
	if err := json.Unmarshal(r.Body, &got); err != nil || string(got.Req["model"]) != `"models/gemini-2.5-flash"` ||
		got.Req["contents"] == nil || got.Req["systemInstruction"] == nil || got.Req["generationConfig"] == nil {
		t.Errorf("body %s", r.Body)
	}

	up.Enqueue(fakeprovider.Reply{Status: 500})
	if _, err := p.CountTokens(context.Background(), []byte(chat), "gemini-2.5-flash"); err == nil || !strings.Contains(err.Error(), "countTokens answered 500") {
		t.Errorf("upstream 500: %v", err)
	}
	openai, _ := New(&config.Provider{Name: "o", Kind: "openai", BaseURL: up.URL, Auth: "none"}, nil, Options{})
	if _, err := openai.CountTokens(context.Background(), []byte(chat), "m"); !errors.Is(err, ErrNoCounter) || openai.HasCounter() {
		t.Errorf("openai provider: %v", err)
	}
}
