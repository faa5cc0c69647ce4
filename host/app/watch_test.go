package app

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWatchConfigMapSwap updates the config the way the kubelet updates a ConfigMap volume:
// the file is a symlink through ..data to a timestamped folder, and an update writes a new
// folder, points a new ..data_tmp symlink at it and renames that over ..data. No event names
// sluice.toml itself; the watcher must reload anyway.
func TestWatchConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	version := func(name, model string) {
		d := filepath.Join(dir, name)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		cfg := "[server]\nadmin_listen = \"off\"\n\n[providers.demo]\nmodels = [\"" + model + "\"]\n"
		if err := os.WriteFile(filepath.Join(d, "sluice.toml"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	version("..2026_12_03_10_00_00.1", "first-model")
	must(t, os.Symlink("..2026_12_03_10_00_00.1", filepath.Join(dir, "..data")))
	must(t, os.Symlink(filepath.Join("..data", "sluice.toml"), filepath.Join(dir, "sluice.toml")))

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	addr := make(chan string, 1)
	go func() {
		errc <- Run(ctx, Options{ConfigPath: filepath.Join(dir, "sluice.toml"), Listen: "127.0.0.1:0", Stdout: io.Discard, Stderr: io.Discard,
			PluginCacheDir: filepath.Join(os.TempDir(), "sluice-app-test-wasm-cache"),
			Ready:          func(a, _ string) { addr <- "http://" + a }})
	}()
	t.Cleanup(func() {
		cancel()
		<-errc
	})
	var url string
	select {
	case url = <-addr:
	case err := <-errc:
		t.Fatalf("app.Run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("not ready within 30s")
	}
	if m := models(t, url); !strings.Contains(m, "demo/first-model") {
		t.Fatalf("models before the swap: %s", m)
	}
	// Let the watcher start before the swap.
	time.Sleep(200 * time.Millisecond)

	version("..2026_12_03_10_05_00.2", "second-model")
	must(t, os.Symlink("..2026_12_03_10_05_00.2", filepath.Join(dir, "..data_tmp")))
	must(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	must(t, os.RemoveAll(filepath.Join(dir, "..2026_12_03_10_00_00.1")))

	deadline := time.Now().Add(5 * time.Second)
	for {
		m := models(t, url)
		if strings.Contains(m, "demo/second-model") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reload within 5s of the ..data swap; models: %s", m)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func models(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
