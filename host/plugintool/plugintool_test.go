package plugintool

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

// TestNewBuildTest scaffolds each kind of plugin outside the sluice tree with --sdk naming
// this checkout (so it gets its own go.mod with a replace to its sdk/), runs its native test,
// builds it to wasm and runs a hook through the real engine.
func TestNewBuildTest(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go wasm guests")
	}
	t.Setenv("XDG_CACHE_HOME", filepath.Join(os.TempDir(), "sluice-plugintool-test-cache"))
	cases := []struct {
		hook, call, input, config, want string
	}{
		{"route", "route", `{"meta":{"model":"m"},"candidates":[{"id":"a","healthy":true,"ewma_ms":30},{"id":"b","healthy":true,"ewma_ms":10}]}`, ``, `{"order":["b","a"]}`},
		{"cache_key", "cache_key", `{"meta":{"model":"m"},"key":"k","last_user":"Hi  There","system":""}`, ``, `{"key":"m\u0000\u0000hi there"}`},
		{"policy", "on_request", `{"meta":{"user":"eve"},"body":{}}`, `{"blocked_users":["eve"]}`, `{"action":"reject","status":403,"code":"user_blocked","message":"user eve is blocked"}`},
		{"translate", "translate_request", `{"endpoint":"chat.completions","model":"m","body":{"model":"m"}}`, ``, `{"method":"POST","path":"/v1/chat/completions","query":"","headers":{},"body":{"model":"m"}}`},
	}
	base := t.TempDir()
	for _, c := range cases {
		t.Run(c.hook, func(t *testing.T) {
			dir := filepath.Join(base, "my-"+strings.ReplaceAll(c.hook, "_", "-"))
			if _, _, err := run(t, "new", filepath.Base(dir), "--hook", c.hook, "--dir", dir, "--sdk", "../.."); err != nil {
				t.Fatal(err)
			}
			sdkDir, _ := filepath.Abs("../../sdk")
			gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
			if err != nil || !strings.Contains(string(gomod), "replace github.com/sluice-gw/sluice/sdk => "+sdkDir+"\n") {
				t.Fatalf("go.mod: %s %v", gomod, err)
			}
			cmd := exec.Command("go", "test", "./...")
			cmd.Dir = dir
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("native test of the scaffold: %v\n%s", err, b)
			}
			wasm := filepath.Join(dir, "out.wasm")
			stdout, _, err := run(t, "build", dir, "-o", wasm)
			if err != nil || !strings.Contains(stdout, "bytes") {
				t.Fatalf("build: %q %v", stdout, err)
			}
			in := filepath.Join(dir, "in.json")
			os.WriteFile(in, []byte(c.input), 0o644)
			// The checks run in TestBinaryOutsideCheckout.
			args := []string{"test", wasm, "--hook", c.call, "--input", in, "--checks=false"}
			if c.config != "" {
				args = append(args, "--config", c.config)
			}
			stdout, stderr, err := run(t, args...)
			if err != nil || strings.TrimSpace(stdout) != c.want {
				t.Fatalf("test: %q %v\n%s", stdout, err, stderr)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "missing subcommand"},
		{[]string{"frob"}, `unknown subcommand "frob"`},
		{[]string{"new", "x", "--hook", "nope", "--dir", dir}, "--hook must be"},
		{[]string{"new", "Bad Name", "--hook", "route"}, "use lower-case"},
		{[]string{"new", "x", "--hook", "translate", "--lang", "as", "--dir", dir}, "--lang as: --hook must be route, cache_key or policy"},
		{[]string{"new", "x", "--hook", "route", "--lang", "rust", "--dir", dir}, "--lang must be go or as"},
		{[]string{"test", "missing.wasm"}, "want PLUGIN.wasm"},
		{[]string{"test", "missing.wasm", "--hook", "sluice_frob"}, `no built-in sample for hook "sluice_frob"`},
		{[]string{"new", "x", "--hook", "route", "--dir", filepath.Join(dir, "x"), "--sdk", dir}, "holds neither"},
		{[]string{"test", filepath.Join(dir, "missing.wasm"), "--hook", "route", "--input", os.DevNull}, "no such file"},
	} {
		if _, _, err := run(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
}
