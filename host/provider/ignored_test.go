package provider

import (
	"context"
	"testing"

	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/internal/fakeprovider"
	"github.com/sluice-gw/sluice/plugins/gemini"
)

// geminiFull runs the whole Gemini translator's Go code in place of its wasm build.
type geminiFull struct{ geminiTranslator }

func (geminiFull) TranslateResponse(_ context.Context, in []byte) ([]byte, error) {
	return gemini.TranslateResponse(in)
}

// TestTranslatedIgnoredHeader: the parameters a translator left out come back in
// X-Sluice-Ignored on the response; a request without any carries no such header.
func TestTranslatedIgnoredHeader(t *testing.T) {
	up := fakeprovider.NewGemini(t, fakeprovider.WithKey("gk"))
	p, err := New(&config.Provider{Name: "gem", Kind: "gemini", BaseURL: up.URL + "/v1beta", APIKey: "gk", Auth: "x-goog-api-key", Translator: "gemini"},
		func(string) (Translator, error) { return geminiFull{}, nil }, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ body, want string }{
		{`{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}],"user":"u-1","top_k":3}`, "user,top_k"},
		{`{"model":"gemini-2.5-flash","messages":[{"role":"user","content":"hi"}],"seed":3}`, ""},
	} {
		resp, err := p.Do(context.Background(), &Request{Endpoint: ChatCompletions, Model: "gemini-2.5-flash", Body: []byte(c.body), RequestID: "r1"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 200 {
			t.Fatalf("status %d: %s", resp.Status, resp.Body)
		}
		if got := resp.Header.Get(IgnoredHeader); got != c.want {
			t.Errorf("%s: %s = %q, want %q", c.body, IgnoredHeader, got, c.want)
		}
	}
}
