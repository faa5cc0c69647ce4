package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
	"github.com/sluice-gw/sluice/sdk/abi"
	w "github.com/sluice-gw/sluice/sdk/conformance/wasmbin"
)

// A looping, a recursing and a memory-hungry guest are each stopped with an error naming the
// plugin, while the built-in anthropic translator (a plugin in the same sandbox) keeps serving
// the requests sent at the same time.
func TestSandboxContainment(t *testing.T) {
	ant := fakeprovider.NewAnthropic(t, fakeprovider.WithKey(antKey))
	dir := t.TempDir()
	wasm := filepath.Join(dir, "guard.wasm")
	if err := os.WriteFile(wasm, guestWasm(t, "v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startSluice(t, `policies = ["guard"]`+baseConfig+fmt.Sprintf(`
[providers.anthropic]
base_url = %q
api_key = %q

[plugins.guard]
path = %q
timeout = "100ms"
memory = "32MiB"
pool = 3
`, ant.URL, antKey, wasm))
	for _, c := range []struct {
		model, status, code string
	}{
		{"loop", "504", "plugin_timeout"},
		{"recurse", "502", "plugin_stack_exhausted"},
		{"hog", "502", "plugin_trapped"},
	} {
		t.Run(c.model, func(t *testing.T) {
			var wg sync.WaitGroup
			bad := make(chan string, 2)
			for range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					code, _, body := post(t, s.URL+"/v1/chat/completions", pchat(c.model))
					msg, _, ecode := openAIError(t, body)
					if fmt.Sprint(code) != c.status || ecode != c.code || !strings.Contains(msg, `plugin "guard"`) {
						bad <- fmt.Sprintf("%s: %d %s", c.model, code, body)
					}
				}()
			}
			good := make(chan string, 10)
			for range 10 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					code, _, body := post(t, s.URL+"/v1/chat/completions", `{"model":"anthropic/claude-haiku-4-5","max_tokens":50,"messages":[{"role":"user","content":"hello"}]}`)
					if code != 200 {
						good <- fmt.Sprintf("%d %s", code, body)
					}
				}()
			}
			wg.Wait()
			close(bad)
			close(good)
			for m := range bad {
				t.Error("runaway guest:", m)
			}
			for m := range good {
				t.Error("request served alongside:", m)
			}
		})
	}
	if logs := s.Logs(); !strings.Contains(logs, "out of memory") || !strings.Contains(logs, "runaway recursion") {
		t.Fatalf("logs lack the traps' causes:\n%s", logs)
	}
	checkReceived(t, "anthropic", ant, 30, anthropicHeaders)
}

// A 16 MiB chat body is translated by the built-in anthropic translator end to end.
func TestTranslate16MiB(t *testing.T) {
	ant := fakeprovider.NewAnthropic(t, fakeprovider.WithKey(antKey))
	s := startSluice(t, baseConfig+fmt.Sprintf(`
[providers.anthropic]
base_url = %q
api_key = %q
`, ant.URL, antKey))
	// The gateway's body limit is 16 MiB: fill it.
	head := `{"model":"anthropic/claude-haiku-4-5","max_tokens":50,"messages":[{"role":"user","content":"`
	tail := `"}]}`
	text := strings.Repeat("all work and no play ", (16<<20-len(head)-len(tail))/21)
	body := head + text + tail
	if len(body) > 16<<20 || len(body) < 16<<20-64 {
		t.Fatalf("body of %d bytes", len(body))
	}
	start := time.Now()
	code, _, resp := post(t, s.URL+"/v1/chat/completions", body)
	t.Logf("16 MiB request answered in %s", time.Since(start))
	if code != 200 {
		t.Fatalf("16 MiB body: %d %.2000s", code, resp)
	}
	reqs := ant.Requests()
	if len(reqs) != 1 {
		t.Fatalf("anthropic received %d requests", len(reqs))
	}
	var got struct {
		Messages []struct {
			Content any `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(reqs[0].Body, &got); err != nil || len(got.Messages) != 1 {
		t.Fatalf("upstream body: %v", err)
	}
	if !strings.Contains(string(reqs[0].Body), text) {
		t.Fatalf("the upstream body (%d bytes) does not carry the 16 MiB text whole", len(reqs[0].Body))
	}
	checkReceived(t, "anthropic", ant, 1, anthropicHeaders)
}

// pathTranslator is a handmade translator whose translate_request returns path, to test the
// host's check of translator paths.
func pathTranslator(path string) []byte {
	m := &w.Module{}
	m.Memory(1, 0)
	m.ExportMemory(abi.ExportMemory)
	i32, i64 := []w.ValType{w.I32}, []w.ValType{w.I64}
	m.ExportFunc(abi.ExportVersion, m.Func(nil, i32, nil, w.I32Const(abi.Version)...))
	m.ExportFunc(abi.ExportAlloc, m.Func(i32, i32, nil, w.I32Const(8192)...))
	out, _ := json.Marshal(map[string]any{"method": "POST", "path": path, "query": "", "headers": map[string]string{}, "body": map[string]any{}})
	const at = 1024
	m.Data(at, out)
	ret := w.I64Const(int64(at)<<32 | int64(len(out)))
	m.ExportFunc(abi.ExportName(abi.HookTranslateRequest), m.Func([]w.ValType{w.I32, w.I32}, i64, nil, ret...))
	m.ExportFunc(abi.ExportName(abi.HookTranslateResponse), m.Func([]w.ValType{w.I32, w.I32}, i64, nil, ret...))
	return m.Bytes()
}

// A translator may only return a path: one that would take the provider's key to another
// host is refused before anything is sent.
func TestTranslatorPathCheck(t *testing.T) {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123"))
	dir := t.TempDir()
	cfg := baseConfig
	bad := []string{"@evil.example/x", "//evil.example/x", "https://evil.example/x", `/\evil.example`, "evil.example/x"}
	for i, path := range append(bad, "/v1/chat/completions") {
		f := filepath.Join(dir, fmt.Sprintf("t%d.wasm", i))
		if err := os.WriteFile(f, pathTranslator(path), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg += fmt.Sprintf(`
[plugins.t%d]
path = %q

[providers.p%d]
kind = "openai"
base_url = %q
api_key = "sk-upstream-secret-123"
translator = "t%d"
`, i, f, i, up.URL, i)
	}
	s := startSluice(t, cfg)
	for i, path := range bad {
		code, _, body := post(t, s.URL+"/v1/chat/completions", pchat(fmt.Sprintf("p%d/m", i)))
		msg, _, _ := openAIError(t, body)
		if code < 500 || !strings.Contains(msg, "t"+fmt.Sprint(i)) {
			t.Errorf("path %q: %d %s", path, code, body)
		}
	}
	if n := len(up.Requests()); n != 0 {
		t.Fatalf("the upstream received %d requests from refused paths", n)
	}
	// The one good path reaches the upstream.
	post(t, s.URL+"/v1/chat/completions", pchat(fmt.Sprintf("p%d/m", len(bad))))
	if n := len(up.Requests()); n != 1 {
		t.Fatalf("the good path: upstream received %d requests", n)
	}
}
