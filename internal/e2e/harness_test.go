package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	binPath string
	repo    string
)

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	repo = filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	dir, err := os.MkdirTemp("", "sluice-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "sluice")
	build := exec.Command("go", "build", "-o", binPath, "./cmd/sluice")
	build.Dir = repo
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building sluice:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Sluice is one running `sluice serve` process.
type Sluice struct {
	URL   string // http://host:port
	Admin string // http://host:port of the admin listener, "" when off
	cmd   *exec.Cmd
	logs  *syncBuffer
	done  chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var addrRE = regexp.MustCompile(`msg="sluice listening" addr=(http://\S+) admin=(\S*)`)

// startSluice runs sluice with the given config text and waits until it listens. The config
// should set listen/admin_listen to 127.0.0.1:0; env adds variables.
func startSluice(t *testing.T, cfg string, env ...string) *Sluice {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sluice.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return startSluiceArgs(t, []string{"serve", "-c", path}, env...)
}

func startSluiceArgs(t *testing.T, args []string, env ...string) *Sluice {
	t.Helper()
	s := &Sluice{logs: &syncBuffer{}, done: make(chan error, 1)}
	s.cmd = exec.Command(binPath, args...)
	s.cmd.Env = append(append(cleanEnv(), "SLUICE_PLUGIN_CACHE="+filepath.Join(os.TempDir(), "sluice-e2e-wasm-cache")), env...)
	pr, pw := io.Pipe()
	s.cmd.Stderr = io.MultiWriter(s.logs, pw)
	s.cmd.Stdout = s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- s.cmd.Wait(); pw.Close() }()
	found := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		sent := false
		for sc.Scan() {
			if m := addrRE.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m
				sent = true
			}
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case m := <-found:
		s.URL = m[1]
		if m[2] != "" {
			s.Admin = "http://" + m[2]
		}
	case err := <-s.done:
		t.Fatalf("sluice exited before listening: %v\n%s", err, s.logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("sluice did not listen within 30s\n%s", s.logs.String())
	}
	t.Cleanup(func() {
		s.Stop(t)
		if t.Failed() {
			t.Logf("sluice log:\n%s", s.logs.String())
		}
	})
	return s
}

// cleanEnv drops provider keys from the test environment so tests see only what they set.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasSuffix(k, "_API_KEY") || strings.HasSuffix(k, "_BASE_URL") || strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "SLUICE_") || strings.HasPrefix(k, "OTEL_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// Stop sends SIGTERM and waits for a clean exit.
func (s *Sluice) Stop(t *testing.T) {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		t.Errorf("sluice did not stop within 15s of SIGTERM")
	}
}

// Logs returns everything the process wrote so far.
func (s *Sluice) Logs() string { return s.logs.String() }

// post sends a JSON body and returns status, headers and body.
func post(t *testing.T, url, body string, headers ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// node runs a test script of the node/ folder with node's test runner.
func node(t *testing.T, script string, env ...string) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is not installed: %v", err)
	}
	dir := filepath.Join(repo, "internal", "e2e", "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "openai")); err != nil {
		t.Fatalf("the Node SDKs are not installed: run `make test-deps` (npm ci in %s)", dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--test", "--test-reporter=spec", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node %s failed: %v\n%s", script, err, out)
	}
	return string(out)
}

const baseConfig = `
[server]
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[log]
level = "debug"
format = "text"
`
