package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
)

const (
	antKey    = "sk-ant-e2e-key-1"
	gemKey    = "gm-e2e-key-2"
	awsID     = "AKIDE2ETEST"
	awsSecret = "e2e-secret-access-key"
	awsRegion = "eu-west-3"
)

// nativeLength is each provider's own spelling of "stopped at max_tokens".
var nativeLength = map[fakeprovider.Format]string{
	fakeprovider.FormatOpenAI:    "length",
	fakeprovider.FormatAnthropic: "max_tokens",
	fakeprovider.FormatGemini:    "MAX_TOKENS",
	fakeprovider.FormatBedrock:   "max_tokens",
}

// overloaded is the status each provider uses when it is busy.
var overloaded = map[fakeprovider.Format]int{
	fakeprovider.FormatOpenAI:    503,
	fakeprovider.FormatAnthropic: 529,
	fakeprovider.FormatGemini:    503,
	fakeprovider.FormatBedrock:   503,
}

// scriptByMarker makes a fake answer according to a marker word in the request body, so the
// Node scripts can choose the upstream behaviour without talking to the fake.
func scriptByMarker(up *fakeprovider.Server, f fakeprovider.Format) {
	up.Script(func(r fakeprovider.Received) fakeprovider.Reply {
		b := string(r.Body)
		switch {
		case strings.Contains(b, "marker-tool"):
			return fakeprovider.Reply{ToolCalls: []fakeprovider.ToolCall{{Name: "get_weather", Arguments: `{"city":"Paris","unit":"c"}`}}}
		case strings.Contains(b, "marker-length"):
			return fakeprovider.Reply{Text: "cut short here", FinishReason: nativeLength[f]}
		case strings.Contains(b, "marker-usage"):
			return fakeprovider.Reply{Text: "counted answer", Usage: fakeprovider.Usage{Input: 12, Output: 5}}
		case strings.Contains(b, "marker-safety"):
			return fakeprovider.Reply{FinishReason: "SAFETY", Text: ""}
		case strings.Contains(b, "marker-bad"):
			return fakeprovider.Reply{Status: 400, Message: "the upstream refused this request"}
		case strings.Contains(b, "marker-busy"):
			return fakeprovider.Reply{Status: overloaded[f], Message: "the upstream is overloaded"}
		}
		return fakeprovider.Reply{}
	})
}

type translateFakes struct {
	ant, gem, bed, oai *fakeprovider.Server
}

func startTranslateFakes(t *testing.T) translateFakes {
	f := translateFakes{
		ant: fakeprovider.NewAnthropic(t, fakeprovider.WithKey(antKey)),
		gem: fakeprovider.NewGemini(t, fakeprovider.WithKey(gemKey)),
		bed: fakeprovider.NewBedrock(t, fakeprovider.WithCredentials(awsID, awsSecret), fakeprovider.WithRegion(awsRegion)),
		oai: fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123")),
	}
	scriptByMarker(f.ant, fakeprovider.FormatAnthropic)
	scriptByMarker(f.gem, fakeprovider.FormatGemini)
	scriptByMarker(f.bed, fakeprovider.FormatBedrock)
	scriptByMarker(f.oai, fakeprovider.FormatOpenAI)
	return f
}

func translateConfig(f translateFakes) string {
	return baseConfig + fmt.Sprintf(`
[providers.anthropic]
base_url = %q
api_key = %q

[providers.gemini]
base_url = %q
api_key = %q

[providers.bedrock]
base_url = %q
region = %q
access_key_id = %q
secret_access_key = %q

[providers.up]
kind = "openai"
base_url = %q
api_key = "sk-upstream-secret-123"

[providers.demo]
chunk_delay = "0s"
`, f.ant.URL, antKey, f.gem.URL+"/v1beta", gemKey, f.bed.URL, awsRegion, awsID, awsSecret, f.oai.URL)
}

// checkReceived asserts that every request a fake saw passed its validator and carried the
// provider's own authentication, and that at least min requests arrived.
func checkReceived(t *testing.T, name string, up *fakeprovider.Server, min int, check func(fakeprovider.Received) string) {
	t.Helper()
	got := up.Requests()
	if len(got) < min {
		t.Errorf("%s: the fake received %d requests, want at least %d", name, len(got), min)
	}
	for _, r := range got {
		if r.Invalid != "" {
			t.Errorf("%s: request %d %s was invalid: %s\n%s", name, r.Seq, r.Path, r.Invalid, r.Body)
		}
		if msg := check(r); msg != "" {
			t.Errorf("%s: request %d %s: %s", name, r.Seq, r.Path, msg)
		}
	}
}

func anthropicHeaders(r fakeprovider.Received) string {
	if r.Header.Get("x-api-key") != antKey {
		return fmt.Sprintf("x-api-key = %q", r.Header.Get("x-api-key"))
	}
	if r.Header.Get("anthropic-version") == "" {
		return "no anthropic-version header"
	}
	if r.Path != "/v1/messages" {
		return "path " + r.Path
	}
	return ""
}

func geminiHeaders(r fakeprovider.Received) string {
	if r.Header.Get("x-goog-api-key") != gemKey {
		return fmt.Sprintf("x-goog-api-key = %q", r.Header.Get("x-goog-api-key"))
	}
	if r.Header.Get("Authorization") != "" {
		return "an Authorization header was sent besides x-goog-api-key"
	}
	if !strings.HasPrefix(r.Path, "/v1beta/models/") {
		return "path " + r.Path
	}
	return ""
}

func bedrockHeaders(r fakeprovider.Received) string {
	auth := r.Header.Get("Authorization")
	want := "AWS4-HMAC-SHA256 Credential=" + awsID + "/"
	if !strings.HasPrefix(auth, want) || !strings.Contains(auth, "/"+awsRegion+"/bedrock/aws4_request") || !strings.Contains(auth, "SignedHeaders=") || !strings.Contains(auth, "Signature=") {
		return "Authorization " + auth
	}
	if r.Header.Get("X-Amz-Date") == "" || r.Header.Get("X-Amz-Content-Sha256") == "" && !strings.Contains(auth, "x-amz-date") {
		return "no X-Amz-Date"
	}
	if !strings.HasPrefix(r.Path, "/model/") {
		return "path " + r.Path
	}
	return ""
}

// bodyHas reports whether some request body of up contains every one of parts.
func bodyHas(up *fakeprovider.Server, parts ...string) bool {
	for _, r := range up.Requests() {
		ok := true
		for _, p := range parts {
			if !strings.Contains(string(r.Body), p) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func TestTranslateNodeOpenAISDK(t *testing.T) {
	f := startTranslateFakes(t)
	s := startSluice(t, translateConfig(f))
	out := node(t, "translate.test.mjs", "SLUICE_URL="+s.URL)
	if !strings.Contains(out, "pass 34") || !strings.Contains(out, "fail 0") {
		t.Fatalf("expected 34 passing node tests:\n%s", out)
	}
	checkReceived(t, "anthropic", f.ant, 11, anthropicHeaders)
	checkReceived(t, "gemini", f.gem, 11, geminiHeaders)
	checkReceived(t, "bedrock", f.bed, 11, bedrockHeaders)

	// What the translators sent, in each provider's own shape.
	for _, c := range []struct {
		name  string
		up    *fakeprovider.Server
		parts [][]string
	}{
		{"anthropic", f.ant, [][]string{
			{`"system"`, "You are terse."},
			{`"type":"base64"`, `"media_type":"image/png"`},
			{`"type":"url"`, "https://example.com/cat.png"},
			{`"tool_use"`, `"tool_result"`, "get_weather"},
			{`"tools"`, `"input_schema"`},
			{`"stream":true`},
		}},
		{"gemini", f.gem, [][]string{
			{`"systemInstruction"`, "You are terse."},
			{`"inlineData"`, `"mimeType":"image/png"`},
			{`"functionDeclarations"`, "get_weather"},
			{`"functionResponse"`},
		}},
		{"bedrock", f.bed, [][]string{
			{`"system"`, "You are terse."},
			{`"image"`, `"format":"png"`},
			{`"toolConfig"`, "get_weather"},
			{`"toolResult"`},
		}},
	} {
		for _, p := range c.parts {
			if !bodyHas(c.up, p...) {
				t.Errorf("%s: no request body contains %q", c.name, p)
			}
		}
	}
	var streamed bool
	for _, r := range f.gem.Requests() {
		if strings.HasSuffix(r.Path, ":streamGenerateContent") && r.Query().Get("alt") == "sse" {
			streamed = true
		}
	}
	if !streamed {
		t.Error("gemini: no streamGenerateContent?alt=sse request")
	}
	streamed = false
	for _, r := range f.bed.Requests() {
		if strings.HasSuffix(r.Path, "/converse-stream") {
			streamed = true
		}
	}
	if !streamed {
		t.Error("bedrock: no converse-stream request")
	}
	for _, k := range []string{antKey, gemKey, awsSecret} {
		if strings.Contains(s.Logs(), k) {
			t.Errorf("a provider secret appears in the log")
		}
	}
}

func TestMessagesNodeAnthropicSDK(t *testing.T) {
	f := startTranslateFakes(t)
	s := startSluice(t, translateConfig(f))
	out := node(t, "messages.test.mjs", "SLUICE_URL="+s.URL)
	if !strings.Contains(out, "pass 10") || !strings.Contains(out, "fail 0") {
		t.Fatalf("expected 10 passing node tests:\n%s", out)
	}
	checkReceived(t, "anthropic", f.ant, 3, anthropicHeaders)
	checkReceived(t, "openai", f.oai, 3, func(r fakeprovider.Received) string {
		if r.Header.Get("Authorization") != "Bearer sk-upstream-secret-123" {
			return "Authorization " + r.Header.Get("Authorization")
		}
		if r.Path != "/v1/chat/completions" {
			return "path " + r.Path
		}
		return ""
	})
	// The Anthropic SDK's own version header must not reach the upstream: the translator
	// chooses the version it speaks.
	for _, r := range f.ant.Requests() {
		if v := r.Header.Get("anthropic-version"); v == fakeprovider.AnthropicStrictVersion {
			t.Errorf("the client's anthropic-version %q reached the upstream", v)
		}
	}
}
