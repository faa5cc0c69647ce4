package app

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDrainFlipsReady: at the start of a shutdown (what SIGTERM does through main's
// context) /ready answers 503 while the listener still accepts for drain_delay, a stream
// already running finishes, and only then does the listener close.
func TestDrainFlipsReady(t *testing.T) {
	cfg := `
[server]
admin_listen = "off"
drain_delay = "1500ms"
shutdown_timeout = "10s"

[providers.demo]
chunk_delay = "150ms"
`
	path := filepath.Join(t.TempDir(), "sluice.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, Options{ConfigPath: path, Listen: "127.0.0.1:0", Stdout: io.Discard, Stderr: io.Discard,
			PluginCacheDir: filepath.Join(os.TempDir(), "sluice-app-test-wasm-cache"),
			Ready:          func(a, _ string) { addr <- "http://" + a }})
	}()
	var url string
	select {
	case url = <-addr:
	case err := <-errc:
		t.Fatalf("app.Run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("not ready within 30s")
	}
	if code := status(t, url+"/ready"); code != 200 {
		t.Fatalf("/ready before shutdown: %d", code)
	}

	// A stream of about ten paced chunks, started before the shutdown.
	body := `{"model":"demo/echo","stream":true,"messages":[{"role":"user","content":"one two three four five six seven eight"}]}`
	resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	if !sc.Scan() {
		t.Fatal("stream sent nothing")
	}

	start := time.Now()
	cancel()
	var flipped time.Duration
	for time.Since(start) < time.Second {
		if code := status(t, url+"/ready"); code == http.StatusServiceUnavailable {
			flipped = time.Since(start)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if flipped == 0 {
		t.Fatal("/ready did not answer 503 within 1s of the shutdown starting")
	}
	// Still accepting during the delay: /health answers on a new connection.
	tr := &http.Transport{DisableKeepAlives: true}
	if r, err := (&http.Client{Transport: tr}).Get(url + "/health"); err != nil || r.StatusCode != 200 {
		t.Fatalf("/health during drain_delay: %v %v", r, err)
	}

	done := false
	for sc.Scan() {
		if sc.Text() == "data: [DONE]" {
			done = true
		}
	}
	if !done {
		t.Fatalf("the stream in flight did not finish: %v", sc.Err())
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("app.Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("app.Run did not return")
	}
	if took := time.Since(start); took < 1500*time.Millisecond {
		t.Fatalf("returned after %s, before drain_delay", took)
	}
	if _, err := (&http.Client{Transport: tr}).Get(url + "/health"); err == nil {
		t.Fatal("listener still open after shutdown")
	}
}

func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
