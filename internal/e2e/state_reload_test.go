package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReloadKeepsLimitAndCacheState: a config reload that leaves the stores' settings alone
// keeps rate-limit state and cached answers; a reload is not a way around a limit.
func TestReloadKeepsLimitAndCacheState(t *testing.T) {
	cfg := baseConfig + `
[providers.demo]
chunk_delay = "0s"

[cache]
enabled = true

[[limits]]
scope = "global"
unit = "requests"
rate = "3/min"
burst = 3
`
	dir := t.TempDir()
	path := filepath.Join(dir, "sluice.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startSluiceArgs(t, []string{"serve", "-c", path})
	chat := s.URL + "/v1/chat/completions"
	body := `{"model":"demo/echo","messages":[{"role":"user","content":"keep me"}]}`
	if code, h, _ := post(t, chat, body); code != 200 || h.Get("X-Sluice-Cache") != "MISS" {
		t.Fatalf("first: %d cache=%s", code, h.Get("X-Sluice-Cache"))
	}
	if code, _, _ := post(t, chat, `{"model":"demo/echo","messages":[{"role":"user","content":"other"}]}`); code != 200 {
		t.Fatalf("second: %d", code)
	}
	// Reload with an unrelated change.
	if err := os.WriteFile(path, []byte(cfg+"\n[aliases]\nfast = \"demo/echo\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, b := post(t, s.Admin+"/admin/reload", ""); code != 200 {
		t.Fatalf("reload: %d %s", code, b)
	}
	code, h, _ := post(t, chat, body)
	if code != 200 || h.Get("X-Sluice-Cache") != "HIT" {
		t.Fatalf("after reload the cached answer is gone: %d cache=%s", code, h.Get("X-Sluice-Cache"))
	}
	code, _, b := post(t, chat, `{"model":"fast","messages":[{"role":"user","content":"x"}]}`)
	if code != 429 || !strings.Contains(b, "rate_limit") {
		t.Fatalf("after reload the limit restarted from zero: %d %s", code, b)
	}
}

// TestConfigFileWatch: saving the config file reloads it, with no signal or admin call; a
// broken save is refused and the running configuration keeps serving.
func TestConfigFileWatch(t *testing.T) {
	cfg := baseConfig + "\n[providers.demo]\nchunk_delay = \"0s\"\n"
	dir := t.TempDir()
	path := filepath.Join(dir, "sluice.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startSluiceArgs(t, []string{"serve", "-c", path})
	chat := s.URL + "/v1/chat/completions"
	req := `{"model":"quick","messages":[{"role":"user","content":"hi"}]}`
	if code, _, _ := post(t, chat, req); code != 404 {
		t.Fatalf("alias before it exists: %d", code)
	}
	// Write a new file and rename it over the old one, as editors do.
	tmp := filepath.Join(dir, ".sluice.toml.tmp")
	os.WriteFile(tmp, []byte(cfg+"\n[aliases]\nquick = \"demo/echo\"\n"), 0o600)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { code, _, _ := post(t, chat, req); return code == 200 }, "the saved alias to go live")
	os.WriteFile(path, []byte(cfg+"\n[aliases\nbroken"), 0o600)
	waitFor(t, func() bool { return strings.Contains(s.Logs(), "reload was refused") }, "the broken save to be refused")
	if code, _, _ := post(t, chat, req); code != 200 {
		t.Fatalf("a broken save took the alias away: %d", code)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}
