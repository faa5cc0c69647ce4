package plugintool

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/host/plugin"
	"github.com/sluice-gw/sluice/sdk/conformance/guestcheck"
)

// TestBinaryOutsideCheckout is what a user with only the sluice binary and Go does: in a
// directory outside any checkout, with a fresh HOME, no GOFLAGS and no module proxy, it runs
// `sluice plugin new` for each hook kind, the scaffold's own test, `sluice plugin build`, and
// the `sluice plugin test` command line the scaffold's README gives (sample call plus checks).
// A scaffold changed to keep state between calls must then fail the checks, saying so.
func TestBinaryOutsideCheckout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and Go wasm guests")
	}
	bin := filepath.Join(t.TempDir(), "sluice")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/sluice")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build sluice: %v\n%s", err, b)
	}
	work := t.TempDir()
	if _, inside := findModuleRoot(work); inside {
		t.Fatalf("%s is inside a sluice checkout", work)
	}
	home := filepath.Join(work, "home")
	os.MkdirAll(home, 0o755)
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "GOFLAGS=", "GOPROXY=off", "GOTOOLCHAIN=local",
		// A build cache holds no modules; sharing it only saves recompiling the standard library.
		"GOCACHE=" + filepath.Join(os.TempDir(), "sluice-plugintool-test-cache"),
	}
	sh := func(t *testing.T, dir string, name string, args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = dir, env
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	for _, hook := range []string{"route", "cache_key", "policy", "translate"} {
		t.Run(hook, func(t *testing.T) {
			name := "my-" + strings.ReplaceAll(hook, "_", "-")
			if out, err := sh(t, work, bin, "plugin", "new", name, "--hook", hook); err != nil {
				t.Fatalf("new: %v\n%s", err, out)
			}
			dir := filepath.Join(work, name)
			if out, err := sh(t, dir, "go", "test", "./..."); err != nil {
				t.Fatalf("the scaffold's test: %v\n%s", err, out)
			}
			if out, err := sh(t, dir, bin, "plugin", "build", "."); err != nil {
				t.Fatalf("build: %v\n%s", err, out)
			}
			line := readmeTestLine(t, filepath.Join(dir, "README.md"))
			if !strings.Contains(line, "--input input.json") {
				t.Fatalf("README's test line %q names no sample input", line)
			}
			out, err := sh(t, dir, "sh", "-c", strings.Replace(line, "sluice", bin, 1))
			if err != nil || !strings.Contains(out, "checks: ok") {
				t.Fatalf("%s: %v\n%s", line, err, out)
			}
		})
	}
	// AssemblyScript plugins, with the compiler make test-deps installs in sdk/as (npm ci) put
	// on PATH instead of the plugin's own npm install, which needs the registry.
	ascDir, _ := filepath.Abs("../../sdk/as/node_modules/.bin")
	if _, err := os.Stat(filepath.Join(ascDir, "asc")); err != nil {
		t.Logf("no %s (make test-deps): AssemblyScript plugins not tested", filepath.Join(ascDir, "asc"))
	} else {
		for _, hook := range []string{"route", "cache_key", "policy"} {
			t.Run("as/"+hook, func(t *testing.T) {
				name := "as-" + strings.ReplaceAll(hook, "_", "-")
				if out, err := sh(t, work, bin, "plugin", "new", name, "--hook", hook, "--lang", "as"); err != nil {
					t.Fatalf("new: %v\n%s", err, out)
				}
				dir := filepath.Join(work, name)
				if _, err := exec.LookPath("asc"); err != nil {
					out, err := sh(t, dir, bin, "plugin", "build", ".")
					if err == nil || !strings.Contains(out, "npm install") || !strings.Contains(out, "asc") {
						t.Fatalf("build without a compiler: %v, want the missing asc named\n%s", err, out)
					}
				}
				old := env[0]
				env[0] = "PATH=" + ascDir + string(os.PathListSeparator) + os.Getenv("PATH")
				defer func() { env[0] = old }()
				if out, err := sh(t, dir, bin, "plugin", "build", "."); err != nil {
					t.Fatalf("build: %v\n%s", err, out)
				}
				line := readmeTestLine(t, filepath.Join(dir, "README.md"))
				out, err := sh(t, dir, "sh", "-c", strings.Replace(line, "sluice", bin, 1))
				if err != nil || !strings.Contains(out, "checks: ok") {
					t.Fatalf("%s: %v\n%s", line, err, out)
				}
				goName := "my-" + strings.ReplaceAll(hook, "_", "-")
				sameAnswers(t, filepath.Join(work, goName, goName+".wasm"), filepath.Join(dir, name+".wasm"),
					asScaffolds[hook].call, asScaffolds[hook].input, scaffolds[hook].config)
			})
		}
	}
	t.Run("stateful route fails the checks", func(t *testing.T) {
		dir := filepath.Join(work, "my-route")
		logic, err := os.ReadFile(filepath.Join(dir, "logic.go"))
		if err != nil {
			t.Skip("the route scaffold failed")
		}
		// Every call drops one more candidate: the same input gets another answer later.
		logic = bytes.Replace(logic, []byte("\tvar out sdk.RouteOutput\n"), []byte("\tvar out sdk.RouteOutput\n\tcalls++\n\tif calls > 3 {\n\t\thealthy = healthy[:0]\n\t}\n"), 1)
		logic = append(logic, "\nvar calls int\n"...)
		os.WriteFile(filepath.Join(dir, "logic.go"), logic, 0o644)
		if out, err := sh(t, dir, bin, "plugin", "build", "."); err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
		out, err := sh(t, dir, bin, "plugin", "test", "my-route.wasm", "--hook", "route", "--input", "input.json", "--fuzz", "20")
		if err == nil || !strings.Contains(out, "FAIL state: hook route, input ") || !strings.Contains(out, "the sample's answer changed") {
			t.Fatalf("a stateful plugin passed or was not named: %v\n%s", err, out)
		}
	})
	t.Run("leaking cache_key fails the checks", func(t *testing.T) {
		dir := filepath.Join(work, "my-cache-key")
		logic, err := os.ReadFile(filepath.Join(dir, "logic.go"))
		if err != nil {
			t.Skip("the cache_key scaffold failed")
		}
		// 100 bytes kept for good on every call.
		logic = bytes.Replace(logic, []byte("\tuser := "), []byte("\tkeep = append(keep, make([]byte, 100)...)\n\tuser := "), 1)
		logic = append(logic, "\nvar keep []byte\n"...)
		os.WriteFile(filepath.Join(dir, "logic.go"), logic, 0o644)
		if out, err := sh(t, dir, bin, "plugin", "build", "."); err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
		out, err := sh(t, dir, bin, "plugin", "test", "my-cache-key.wasm", "--hook", "cache_key", "--input", "input.json", "--fuzz", "20")
		if err == nil || !strings.Contains(out, "FAIL memory: hook cache_key") || strings.Contains(out, "FAIL state") {
			t.Fatalf("a leaking plugin passed or was not named: %v\n%s", err, out)
		}
	})
}

// readmeTestLine is the `sluice plugin test` command line of a scaffold's README.
func readmeTestLine(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); strings.HasPrefix(l, "sluice plugin test ") {
			return l
		}
	}
	t.Fatalf("%s has no `sluice plugin test` line", path)
	return ""
}

// sameAnswers runs the Go and the AssemblyScript scaffold of one hook (the same logic) on the
// edge-case and fuzzed inputs of the checks: both SDKs must accept and refuse the same inputs
// and answer alike, which holds the AssemblyScript SDK to the Go SDK's JSON rules.
func sameAnswers(t *testing.T, goWasm, asWasm, hook, sample, config string) {
	t.Helper()
	ctx := context.Background()
	e, err := plugin.NewEngine(plugin.EngineOptions{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var cfg map[string]any
	if config != "" {
		json.Unmarshal([]byte(config), &cfg)
	}
	var gs []engineGuest
	for _, f := range []string{goWasm, asWasm} {
		p, err := e.Load(ctx, plugin.Spec{Name: filepath.Base(f), Path: f, Config: cfg, Sandbox: plugin.SandboxTrusted, Pool: 1})
		if err != nil {
			t.Fatal(err)
		}
		gs = append(gs, engineGuest{p})
	}
	inputs := [][]byte{[]byte(sample)}
	for _, edge := range guestcheck.EdgeInputs([]byte(sample)) {
		inputs = append(inputs, edge.Input)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for range 300 {
		inputs = append(inputs, guestcheck.Mutate(rng, []byte(sample)))
	}
	differ := 0
	for _, in := range inputs {
		a, aerr := gs[0].Call(ctx, hook, in)
		b, berr := gs[1].Call(ctx, hook, in)
		if aerr != nil || berr != nil {
			t.Fatalf("%s on %.80q: go %v, as %v", hook, in, aerr, berr)
		}
		if a.IsError != b.IsError || (!a.IsError && !bytes.Equal(a.Out, b.Out)) || (a.IsError && a.Status != b.Status) {
			differ++
			if differ <= 5 {
				t.Errorf("%s on %.120q:\n go %v %d %s %s\n as %v %d %s %s", hook, in, a.IsError, a.Status, a.Out, a.Message, b.IsError, b.Status, b.Out, b.Message)
			}
		}
	}
	if differ > 0 {
		t.Fatalf("%d of %d inputs answered differently", differ, len(inputs))
	}
}
