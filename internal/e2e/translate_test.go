package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
		case strings.Contains(b, "marker-after-tool"):
			// a tool loop's second turn still carries the first turn's marker-tool
		case strings.Contains(b, "marker-json"):
			return fakeprovider.Reply{Text: `{"city":"Paris"}`}
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
	// /v1/messages to an Anthropic upstream is the native path: the SDK's own version header
	// reaches the upstream, which then judges the body by that version, as Anthropic would.
	for _, r := range f.ant.Requests() {
		if v := r.Header.Get("anthropic-version"); v != fakeprovider.AnthropicStrictVersion {
			t.Errorf("the upstream got anthropic-version %q, want the client's %q", v, fakeprovider.AnthropicStrictVersion)
		}
	}
}

// customTranslator is the logic of a user's own translator: it forwards chat requests to an
// OpenAI-compatible path with every message's text upper-cased and a marker header, and tags
// the answer's id, so a test can see both directions went through it.
const customTranslator = `package main

import (
	"encoding/json"
	"strings"

	"github.com/sluice-gw/sluice/sdk"
)

const tag = "TAG"

func TranslateRequest(in []byte) ([]byte, error) {
	var env struct {
		Endpoint string         ` + "`json:\"endpoint\"`" + `
		Model    string         ` + "`json:\"model\"`" + `
		Body     map[string]any ` + "`json:\"body\"`" + `
	}
	if err := json.Unmarshal(in, &env); err != nil {
		return nil, sdk.Errorf(400, "invalid_request", "%v", err)
	}
	if env.Endpoint != "chat.completions" {
		return nil, sdk.Errorf(400, "unsupported_endpoint", "endpoint %s is not supported", env.Endpoint)
	}
	msgs, _ := env.Body["messages"].([]any)
	for _, m := range msgs {
		if mm, ok := m.(map[string]any); ok {
			if s, ok := mm["content"].(string); ok {
				mm["content"] = strings.ToUpper(s)
			}
		}
	}
	env.Body["model"] = env.Model
	return json.Marshal(map[string]any{
		"method": "POST", "path": "/chat/completions", "query": "",
		"headers": map[string]string{"x-custom-translator": tag},
		"body":    env.Body,
	})
}

func TranslateResponse(in []byte) ([]byte, error) {
	var env struct {
		Status int            ` + "`json:\"status\"`" + `
		Body   map[string]any ` + "`json:\"body\"`" + `
	}
	if err := json.Unmarshal(in, &env); err != nil {
		return nil, sdk.Errorf(502, "bad_upstream", "%v", err)
	}
	if id, ok := env.Body["id"].(string); ok {
		env.Body["id"] = tag + "-" + id
	}
	return json.Marshal(map[string]any{"status": env.Status, "body": env.Body})
}

// TranslateChunk passes OpenAI stream chunks through; the upstream's close ends the stream.
func TranslateChunk(in []byte) ([]byte, error) {
	var env struct {
		Events []struct {
			Event string          ` + "`json:\"event\"`" + `
			Data  json.RawMessage ` + "`json:\"data\"`" + `
		} ` + "`json:\"events\"`" + `
	}
	if err := json.Unmarshal(in, &env); err != nil {
		return nil, sdk.Errorf(502, "bad_upstream", "%v", err)
	}
	out := struct {
		State  any               ` + "`json:\"state\"`" + `
		Chunks []json.RawMessage ` + "`json:\"chunks\"`" + `
		Done   bool              ` + "`json:\"done\"`" + `
	}{Chunks: []json.RawMessage{}}
	for _, e := range env.Events {
		if e.Event == "__end__" {
			out.Done = true
			continue
		}
		out.Chunks = append(out.Chunks, e.Data)
	}
	return json.Marshal(out)
}
`

// customMain registers all three translate hooks (the scaffold's main has no stream hook).
const customMain = `//go:build wasip1

package main

import "github.com/sluice-gw/sluice/sdk"

func init() {
	sdk.Handle(sdk.HookTranslateRequest, TranslateRequest)
	sdk.Handle(sdk.HookTranslateResponse, TranslateResponse)
	sdk.Handle(sdk.HookTranslateChunk, TranslateChunk)
}

func main() {}
`

// buildCustomTranslator scaffolds a translate plugin with the sluice binary's own
// `plugin new`, replaces its logic, and builds it with `plugin build`.
func buildCustomTranslator(t *testing.T, dir, tag, out string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "main.go")); err != nil {
		run(t, binPath, "plugin", "new", "-hook", "translate", "-sdk", repo, "-dir", dir, "mytranslator")
		// The scaffold's own unit test checks the scaffold's logic, which is replaced here.
		if err := os.Remove(filepath.Join(dir, "logic_test.go")); err != nil {
			t.Fatal(err)
		}
	}
	src := strings.Replace(customTranslator, `const tag = "TAG"`, fmt.Sprintf("const tag = %q", tag), 1)
	if err := os.WriteFile(filepath.Join(dir, "logic.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(customMain), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := out + ".tmp"
	run(t, binPath, "plugin", "build", "-o", tmp, dir)
	// Rename, so the watcher never sees a half-written module.
	if err := os.Rename(tmp, out); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(cleanEnv(), "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func TestTranslateCustomPlugin(t *testing.T) {
	work := t.TempDir()
	dir := filepath.Join(work, "mytranslator")
	wasm := filepath.Join(work, "mytranslator.wasm")
	buildCustomTranslator(t, dir, "v1", wasm)

	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123"))
	// A provider of kind anthropic whose built-in translator is replaced by the user's one.
	alt := fakeprovider.NewOpenAI(t)
	s := startSluice(t, baseConfig+fmt.Sprintf(`
[plugins.mytranslator]
path = %q

[providers.mine]
kind = "openai"
base_url = %q
api_key = "sk-upstream-secret-123"
translator = "mytranslator"

[providers.anthropic]
base_url = %q
api_key = "sk-ant-unused"
translator = "mytranslator"
`, wasm, up.URL, alt.URL))

	code, _, body := post(t, s.URL+"/v1/chat/completions", `{"model":"mine/gpt-test","messages":[{"role":"user","content":"make me loud"}]}`)
	if code != 200 || !strings.Contains(body, "MAKE ME LOUD") || !strings.Contains(body, `"id":"v1-`) {
		t.Fatalf("custom translator: %d %s", code, body)
	}
	got := up.Requests()
	if len(got) != 1 || got[0].Invalid != "" || got[0].Header.Get("x-custom-translator") != "v1" || got[0].Header.Get("Authorization") != "Bearer sk-upstream-secret-123" {
		t.Fatalf("upstream saw %+v", got)
	}

	code, _, body = post(t, s.URL+"/v1/chat/completions", `{"model":"anthropic/claude-haiku-4-5","messages":[{"role":"user","content":"not anthropic"}]}`)
	if code != 200 || !strings.Contains(body, "NOT ANTHROPIC") {
		t.Fatalf("built-in translator overridden: %d %s", code, body)
	}
	if r := alt.Requests(); len(r) != 1 || r[0].Path != "/v1/chat/completions" || r[0].Header.Get("x-custom-translator") != "v1" {
		t.Fatalf("overriding upstream saw %+v", r)
	}

	// Streams go through translate_chunk.
	code, _, body = post(t, s.URL+"/v1/chat/completions", `{"model":"mine/gpt-test","stream":true,"messages":[{"role":"user","content":"stream me"}]}`)
	if code != 200 || !strings.Contains(body, "STREAM") || !strings.Contains(body, "data: [DONE]") {
		t.Fatalf("custom translator stream: %d %s", code, body)
	}

	// A new build of the plugin file is picked up by the running process.
	buildCustomTranslator(t, dir, "v2", wasm)
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _, body = post(t, s.URL+"/v1/chat/completions", `{"model":"mine/gpt-test","messages":[{"role":"user","content":"again"}]}`)
		if code == 200 && strings.Contains(body, `"id":"v2-`) {
			break
		}
		if code != 200 || !strings.Contains(body, `"id":"v1-`) || time.Now().After(deadline) {
			t.Fatalf("after rebuilding the plugin: %d %s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// rssMB reads a process's resident set size from /proc.
func rssMB(t *testing.T, pid int) float64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return float64(kb) / 1024
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestTranslateConcurrentStreams holds 1,000 streams open at once through the Anthropic
// translator against the fake Anthropic server sending slow chunks, checks each one arrives
// whole, and reports the gateway's resident memory per open stream.
func TestTranslateConcurrentStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 concurrent streams")
	}
	const streams, pieces = 1000, 20
	up := fakeprovider.NewAnthropic(t, fakeprovider.WithKey(antKey), fakeprovider.WithChunks(pieces),
		fakeprovider.WithChunkDelay(150*time.Millisecond), fakeprovider.WithoutRecording())
	s := startSluice(t, baseConfig+fmt.Sprintf(`
[providers.anthropic]
base_url = %q
api_key = %q
idle_timeout = "10s"
`, up.URL, antKey))
	pid := s.cmd.Process.Pid
	tr := &http.Transport{MaxIdleConnsPerHost: streams, MaxConnsPerHost: 0}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	words := strings.TrimSpace(strings.Repeat("word ", pieces))
	body := `{"model":"anthropic/claude-haiku-4-5","stream":true,"max_tokens":100,"messages":[{"role":"user","content":"` + words + `"}]}`
	stream := func() error {
		resp, err := client.Post(s.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != 200 || !bytes.HasSuffix(b, []byte("data: [DONE]\n\n")) || bytes.Count(b, []byte(`"content":"word`)) != pieces {
			return fmt.Errorf("status %d: %.300s", resp.StatusCode, b)
		}
		return nil
	}
	// Warm up: plugin instances, connection pools, the runtime's heap.
	for range 4 {
		if err := stream(); err != nil {
			t.Fatal(err)
		}
	}
	idle := rssMB(t, pid)
	var (
		wg       sync.WaitGroup
		failed   atomic.Int64
		firstErr atomic.Value
		peak     atomic.Int64 // KB
		stop     = make(chan struct{})
	)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				if kb := int64(rssMB(t, pid) * 1024); kb > peak.Load() {
					peak.Store(kb)
				}
			}
		}
	}()
	start := time.Now()
	for range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := stream(); err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
			}
		}()
	}
	wg.Wait()
	close(stop)
	took := time.Since(start)
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d streams failed; first: %v", n, streams, firstErr.Load())
	}
	// Every stream lasts pieces*150ms = 3s; all of them must have been open together.
	if took > 20*time.Second {
		t.Fatalf("%d streams took %s: they did not run concurrently", streams, took)
	}
	peakMB := float64(peak.Load()) / 1024
	t.Logf("%d concurrent translated streams in %s: RSS idle %.1f MB, peak %.1f MB, %.3f MB per stream",
		streams, took.Round(time.Millisecond), idle, peakMB, (peakMB-idle)/streams)
}
