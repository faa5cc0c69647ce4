package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/host/pricing"
	"github.com/sluice-gw/sluice/internal/fakeprovider"
)

// nativeScript answers by marker words, so the Node script chooses each upstream's behaviour.
func nativeScript(f fakeprovider.Format) func(fakeprovider.Received) fakeprovider.Reply {
	return func(r fakeprovider.Received) fakeprovider.Reply {
		b := string(r.Body)
		switch {
		case strings.Contains(b, "marker-think-native") && strings.Contains(b, `"tool_result"`):
			return fakeprovider.Reply{Text: "It is 18C in Paris."}
		case strings.Contains(b, "marker-think-native"):
			return fakeprovider.Reply{Thinking: "The user wants the weather; call the tool.",
				ToolCalls: []fakeprovider.ToolCall{{Name: "get_weather", Arguments: `{"city":"Paris"}`}}}
		case strings.Contains(b, "marker-bad"):
			return fakeprovider.Reply{Status: 400, Message: "the upstream refused this request"}
		case strings.Contains(b, "marker-busy"):
			return fakeprovider.Reply{Status: overloaded[f], Message: "the upstream is overloaded"}
		case strings.Contains(b, "marker-500"):
			return fakeprovider.Reply{Status: 500, Message: "the upstream broke"}
		case strings.Contains(b, "marker-html-"):
			// A proxy in front of the upstream answers in its own shape.
			status := 502
			if strings.Contains(b, "marker-html-503") {
				status = 503
			}
			return fakeprovider.Reply{Status: status, Body: []byte("<html><body><h1>Bad Gateway</h1></body></html>"),
				Headers: http.Header{"Content-Type": {"text/html"}}}
		case strings.Contains(b, "marker-429"):
			r := fakeprovider.RetryAfter(7 * time.Second)
			r.Message = "slow down"
			return r
		}
		return fakeprovider.Reply{}
	}
}

// readNative decodes one of the requests the Node script recorded, with its model rewritten as
// sluice sends it upstream.
func readNative(t *testing.T, rec map[string]json.RawMessage, name, upstreamModel string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(rec[name], &m); err != nil {
		t.Fatalf("recorded %s: %v", name, err)
	}
	m["model"] = upstreamModel
	return m
}

// sameJSON reports whether an upstream body decodes to want.
func sameJSON(t *testing.T, body []byte, want map[string]any) bool {
	t.Helper()
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(got, want)
}

// TestMessagesNativeNodeSDK drives native-messages.test.mjs: the official Anthropic SDK on the
// native Messages path, then checks what the upstreams received: the SDK's requests whole
// (breakpoints, signed thinking, documents, search results), count_tokens at Anthropic and at
// Gemini's own counter.
func TestMessagesNativeNodeSDK(t *testing.T) {
	f := startTranslateFakes(t)
	f.ant.Script(nativeScript(fakeprovider.FormatAnthropic))
	f.oai.Script(nativeScript(fakeprovider.FormatOpenAI))
	f.gem.Script(nativeScript(fakeprovider.FormatGemini))
	cfg := strings.Replace(translateConfig(f), "[log]", "max_body_size = \"256KiB\"\n[log]", 1) + `
[routers.all-busy]
strategy = "priority"
targets = [{ model = "anthropic/claude-haiku-4-5" }, { model = "up/gpt-test" }]

[auth]
required = true

[[auth.keys]]
id = "full"
key = "sk-native-full"

[[auth.keys]]
id = "haiku-only"
key = "sk-native-haiku"
models = ["anthropic/claude-haiku-4-5"]

[[auth.keys]]
id = "limited"
key = "sk-native-limited"
limits = [{ name = "limited-requests", scope = "key", unit = "requests", rate = "1/hour", burst = 1 }]
`
	s := startSluice(t, cfg)
	price, ok := pricing.Default().Lookup("anthropic/claude-sonnet-4-5")
	if !ok || price.CacheWrite <= price.Input || price.CachedInput >= price.Input {
		t.Fatalf("claude-sonnet-4-5 has no cache prices: %+v", price)
	}
	pj, _ := json.Marshal(price)
	outFile := filepath.Join(t.TempDir(), "native.json")
	out := node(t, "native-messages.test.mjs", "SLUICE_URL="+s.URL, "SLUICE_ADMIN="+s.Admin, "CACHE_PRICE="+string(pj), "NATIVE_OUT="+outFile)
	if !strings.Contains(out, "pass 15") || !strings.Contains(out, "fail 0") {
		t.Fatalf("expected 15 passing node tests:\n%s", out)
	}
	raw, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}

	// The cached request reached Anthropic twice exactly as the SDK sent it: every breakpoint.
	cache := readNative(t, rec, "cache", "claude-sonnet-4-5")
	n := 0
	for _, r := range f.ant.Requests() {
		if r.Path != "/v1/messages" || !strings.Contains(string(r.Body), "marker-native-cache") {
			continue
		}
		n++
		if !sameJSON(t, r.Body, cache) {
			t.Errorf("cached request %d differs from the SDK's:\n%s", r.Seq, r.Body)
		}
		if c := strings.Count(string(r.Body), `"cache_control"`); c != 3 {
			t.Errorf("cached request %d carries %d breakpoints, want 3", r.Seq, c)
		}
	}
	if n != 2 {
		t.Errorf("the cached request reached the upstream %d times, want 2", n)
	}

	// The signed thinking block went back byte for byte: the same text and signature the fake
	// issued, first in the assistant turn, and the whole turn as the SDK sent it.
	var first []map[string]any
	if err := json.Unmarshal(rec["thinkFirst"], &first); err != nil || len(first) == 0 || first[0]["type"] != "thinking" {
		t.Fatalf("first thinking answer %s", rec["thinkFirst"])
	}
	sig, _ := first[0]["signature"].(string)
	second := readNative(t, rec, "thinkSecond", "claude-haiku-4-5")
	found := false
	for _, r := range f.ant.Requests() {
		b := string(r.Body)
		if !strings.Contains(b, "marker-think-native") || !strings.Contains(b, "18C and sunny") || r.Invalid != "" {
			continue
		}
		found = true
		if !sameJSON(t, r.Body, second) {
			t.Errorf("the tool-loop turn differs from the SDK's:\n%s", b)
		}
		sigJSON, _ := json.Marshal(sig)
		if !strings.Contains(b, `"signature":`+string(sigJSON)) {
			t.Errorf("signature %s is not in the upstream body byte for byte:\n%s", sigJSON, b)
		}
		if th := jpath(fidelityBody(t, f.ant, "18C and sunny"), "messages", 1, "content", 0); !reflect.DeepEqual(th, first[0]) {
			t.Errorf("thinking block sent back %v, issued %v", th, first[0])
		}
	}
	if !found {
		t.Error("no accepted tool-loop turn reached the upstream")
	}
	// The altered signature reached the upstream, which refused it.
	refusedSig := false
	for _, r := range f.ant.Requests() {
		refusedSig = refusedSig || strings.Contains(r.Invalid, "Invalid `signature` in `thinking` block")
	}
	if !refusedSig {
		t.Error("the upstream never refused an altered signature")
	}

	// The document and search_result blocks arrived whole.
	doc := readNative(t, rec, "doc", "claude-haiku-4-5")
	for _, r := range f.ant.Requests() {
		if strings.Contains(string(r.Body), "marker-native-doc") && !sameJSON(t, r.Body, doc) {
			t.Errorf("document request differs from the SDK's:\n%s", r.Body)
		}
	}

	// count_tokens at Anthropic: the SDK's body with the model rewritten.
	count := readNative(t, rec, "count", "claude-haiku-4-5")
	counted := 0
	for _, r := range f.ant.Requests() {
		if r.Path == "/v1/messages/count_tokens" && r.Invalid == "" && !strings.Contains(string(r.Body), "marker-") {
			counted++
			if !sameJSON(t, r.Body, count) {
				t.Errorf("count_tokens body differs from the SDK's:\n%s", r.Body)
			}
		}
	}
	if counted != 1 {
		t.Errorf("%d count_tokens requests reached Anthropic, want 1", counted)
	}
	// count_tokens at Gemini: models.countTokens with the generateContent request.
	var gemCounts []fakeprovider.Received
	for _, r := range f.gem.Requests() {
		if strings.HasSuffix(r.Path, ":countTokens") {
			gemCounts = append(gemCounts, r)
		}
	}
	if len(gemCounts) != 2 {
		t.Fatalf("%d countTokens requests reached Gemini, want 2", len(gemCounts))
	}
	g := gemCounts[0]
	var gb map[string]any
	_ = json.Unmarshal(g.Body, &gb)
	if g.Invalid != "" || g.Path != "/v1beta/models/gemini-2.5-flash:countTokens" ||
		jpath(gb, "generateContentRequest", "model") != "models/gemini-2.5-flash" ||
		jpath(gb, "generateContentRequest", "systemInstruction", "parts", 0, "text") != "You are terse." ||
		jpath(gb, "generateContentRequest", "contents", 0, "parts", 0, "text") != "count my five tokens please" {
		t.Errorf("Gemini countTokens request %s (invalid %q):\n%s", g.Path, g.Invalid, g.Body)
	}
	if msg := geminiHeaders(g); msg != "" {
		t.Errorf("Gemini countTokens: %s", msg)
	}
	// Every Anthropic request was valid, but for the altered signature, with the provider's key.
	for _, r := range f.ant.Requests() {
		if r.Invalid != "" && !strings.Contains(r.Invalid, "Invalid `signature`") {
			t.Errorf("anthropic: request %d %s was invalid: %s\n%s", r.Seq, r.Path, r.Invalid, r.Body)
		}
		if r.Path == "/v1/messages/count_tokens" {
			r.Path = "/v1/messages"
		}
		if msg := anthropicHeaders(r); msg != "" {
			t.Errorf("anthropic: request %d: %s", r.Seq, msg)
		}
	}
	// Nothing the keys were refused for reached an upstream.
	for _, up := range []*fakeprovider.Server{f.ant, f.oai} {
		if bodyHas(up, "second is limited") || bodyHas(up, "not allowed") || bodyHas(up, strings.Repeat("x", 300<<10)) {
			t.Errorf("a refused request reached %s", up.Format())
		}
	}
	if t.Failed() {
		t.Logf("node output:\n%s", out)
	}
}
