package app

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCheckEqualsServe holds `sluice check` and `sluice serve` together over every golden
// configuration of host/config: Check accepts exactly the configurations whose build Run
// completes (it then listens, is told it is ready and stops), and when both refuse one they
// say the same thing.
func TestCheckEqualsServe(t *testing.T) {
	var files []string
	for _, dir := range []string{"valid", "errors"} {
		fs, err := filepath.Glob(filepath.Join("..", "config", "testdata", dir, "*.toml"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, fs...)
	}
	sort.Strings(files)
	if len(files) < 20 {
		t.Fatalf("found only %d golden configurations", len(files))
	}
	files = append(files, "") // the embedded default
	files = append(files, extraConfigs(t)...)
	cache := filepath.Join(os.TempDir(), "sluice-app-test-wasm-cache")
	var accepted, refused int
	for _, path := range files {
		name := "default"
		if path != "" {
			name = filepath.Base(filepath.Dir(path)) + "/" + strings.TrimSuffix(filepath.Base(path), ".toml")
		}
		if filepath.IsAbs(path) {
			name = "extra/" + strings.TrimSuffix(filepath.Base(path), ".toml")
		}
		t.Run(name, func(t *testing.T) {
			rel := ""
			if path != "" {
				abs, err := filepath.Abs(path)
				if err != nil {
					t.Fatal(err)
				}
				setEnvFrom(t, abs)
				// Paths in the goldens (plugins, key files) are relative to host/config.
				t.Chdir(filepath.Join("..", "config"))
				rel = strings.TrimPrefix(filepath.ToSlash(abs), filepath.ToSlash(mustAbs(t, "."))+"/")
			}
			// The listeners do not matter here; a fixed admin port must not collide.
			t.Setenv("ADMIN", "127.0.0.1:0")
			opts := Options{ConfigPath: rel, Listen: "127.0.0.1:0", Stdout: io.Discard, Stderr: io.Discard, PluginCacheDir: cache}
			_, checkErr := Check(t.Context(), opts)

			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			ready := false
			opts.Ready = func(string, string) { ready = true; cancel() }
			runErr := Run(ctx, opts)
			switch {
			case checkErr == nil && !ready:
				t.Fatalf("check accepted it; serve refused it: %v", runErr)
			case checkErr != nil && ready:
				t.Fatalf("serve ran it; check refused it: %v", checkErr)
			case checkErr != nil && runErr == nil:
				t.Fatalf("check refused it (%v); serve returned no error", checkErr)
			case checkErr != nil && checkErr.Error() != runErr.Error():
				t.Fatalf("check and serve disagree on why:\ncheck: %v\nserve: %v", checkErr, runErr)
			}
			t.Logf("verdict: %v", checkErr)
			if want, ok := extraAccepted[name]; ok && want != (checkErr == nil) {
				t.Errorf("accepted = %v, want %v", checkErr == nil, want)
			}
			if checkErr == nil {
				accepted++
			} else {
				refused++
			}
		})
	}
	t.Logf("%d accepted by both, %d refused by both", accepted, refused)
}

// extraAccepted is the verdict each extra configuration must get from both.
var extraAccepted = map[string]bool{
	"extra/junk-plugin": false, "extra/route-hook-missing": false,
	"extra/translator-plugin": true, "extra/redis-down": true,
}

// extraConfigs are configurations that host/config accepts and only a build can refuse (a
// plugin file that is not WebAssembly, a route plugin without a route hook), or that both
// must accept without reaching outside (Redis down).
func extraConfigs(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	gz, err := os.ReadFile(filepath.Join("..", "builtin", "wasm", "translators.wasm.gz"))
	if err != nil {
		t.Skipf("embedded translators not built (make plugins): %v", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	wasm, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("junk.wasm", []byte("not wasm"))
	write("translator.wasm", wasm)
	var out []string
	for name, body := range map[string]string{
		"junk-plugin": `[plugins.p]
path = "junk.wasm"
`,
		"route-hook-missing": `[plugins.p]
path = "translator.wasm"
[routers.r]
strategy = "plugin"
plugin = "p"
targets = [{ model = "demo/echo" }]
`,
		// Neither check nor serve connects to Redis while building: nothing listens on port 1.
		"redis-down": `[redis]
url = "redis://127.0.0.1:1"
[cache]
enabled = true
store = "tiered"
[responses]
store = "redis"
[[limits]]
scope = "global"
rate = "10/s"
`,
		"translator-plugin": `[plugins.p]
path = "translator.wasm"
config = { translator = "anthropic" }
[providers.custom]
kind = "anthropic"
api_key = "k"
translator = "p"
`,
	} {
		out = append(out, write(name+".toml", []byte("[server]\nadmin_listen = \"off\"\n"+body)))
	}
	return out
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// setEnvFrom sets the variables of a golden's "# env NAME = "value"" header lines.
func setEnvFrom(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "# env ")
		if !ok {
			continue
		}
		name, quoted, ok := strings.Cut(line, " = ")
		if !ok {
			t.Fatalf("bad env line %q", sc.Text())
		}
		val, err := strconv.Unquote(quoted)
		if err != nil {
			t.Fatalf("bad env value in %q: %v", sc.Text(), err)
		}
		t.Setenv(name, val)
	}
}
