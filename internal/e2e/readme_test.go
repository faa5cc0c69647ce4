package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeBlocks returns the fenced code blocks of README.md with the given language.
func readmeBlocks(t *testing.T, lang string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)```" + lang + "\n(.*?)```")
	var out []string
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	return out
}

// TestReadme runs what the README tells a newcomer: its curl commands and SDK snippet against
// the embedded default config, its config through `sluice check`, and its plugin commands.
func TestReadme(t *testing.T) {
	s := startSluiceArgs(t, []string{"serve", "--listen", "127.0.0.1:0"}, "SLUICE_ADMIN_LISTEN=off", "SLUICE_DEMO_CHUNK_DELAY=0s")
	host := strings.TrimPrefix(s.URL, "http://")
	ran := 0
	for _, block := range readmeBlocks(t, "sh") {
		cmdText := strings.ReplaceAll(block, "\\\n", " ")
		if !strings.HasPrefix(strings.TrimSpace(cmdText), "curl") {
			continue
		}
		cmdText = strings.ReplaceAll(cmdText, "localhost:8080", host)
		out, err := exec.Command("bash", "-c", cmdText).CombinedOutput()
		if err != nil {
			t.Fatalf("README command failed: %s\n%v\n%s", cmdText, err, out)
		}
		if !strings.Contains(string(out), "You said:") && !strings.Contains(string(out), `"content":"said: "`) {
			t.Fatalf("README command gave no demo answer: %s\n%s", cmdText, out)
		}
		ran++
	}
	if ran < 2 {
		t.Fatalf("found %d curl commands in the README, want at least 2", ran)
	}

	js := readmeBlocks(t, "js")
	if len(js) != 1 {
		t.Fatalf("want one js block, found %d", len(js))
	}
	script := filepath.Join(repo, "internal", "e2e", "node", "readme-snippet.gen.mjs")
	if err := os.WriteFile(script, []byte(strings.ReplaceAll(js[0], "http://localhost:8080", s.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(script)
	cmd := exec.Command("node", script)
	cmd.Dir = filepath.Dir(script)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "You said: hello from the SDK" {
		t.Fatalf("README SDK snippet: %v\n%s", err, out)
	}

	for i, cfg := range readmeBlocks(t, "toml") {
		path := filepath.Join(t.TempDir(), "readme.toml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(binPath, "check", "-c", path).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "is valid") {
			t.Fatalf("README config %d does not pass sluice check: %v\n%s", i, err, out)
		}
	}
}

// TestReadmePluginCommands runs the README's plugin commands: scaffold, build, test.
func TestReadmePluginCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a wasm plugin")
	}
	var block string
	for _, b := range readmeBlocks(t, "sh") {
		if strings.Contains(b, "plugin new") {
			block = b
		}
	}
	if block == "" {
		t.Fatal("no plugin commands in the README")
	}
	// Inside the checkout, as a newcomer runs it, so the scaffold finds the SDK.
	dir, err := os.MkdirTemp(repo, ".readme-plugin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
		line, _, _ = strings.Cut(line, "#")
		fields := strings.Fields(line)
		if len(fields) < 2 || fields[0] != "bin/sluice" {
			continue
		}
		args := fields[1:]
		if args[1] == "test" {
			input := filepath.Join(dir, "input.json")
			os.WriteFile(input, []byte(`{"meta":{"request_id":"r1","endpoint":"chat.completions","model":"demo/echo","headers":{}},"candidates":[{"id":"a#0","provider":"demo","model":"echo","healthy":true},{"id":"b#1","provider":"demo","model":"lorem","healthy":true}]}`), 0o644)
		}
		cmd := exec.Command(binPath, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
		if args[1] == "test" && !strings.Contains(string(out), "order") {
			t.Fatalf("plugin test printed no route order:\n%s", out)
		}
	}
}
