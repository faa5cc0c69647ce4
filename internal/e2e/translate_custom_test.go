package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
)

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
