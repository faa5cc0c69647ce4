// Package plugintool implements `sluice plugin new|build|test`: scaffolding a plugin that uses
// the SDK, building it to a wasip1 reactor, and running one hook through the real host engine.
package plugintool

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/sluice-gw/sluice/host/plugin"
	"github.com/sluice-gw/sluice/sdk"
)

// ModulePath is sluice's main module.
const ModulePath = "github.com/sluice-gw/sluice"

// SDKModule is the module the SDK lives in.
const SDKModule = "github.com/sluice-gw/sluice/sdk"

const usage = `usage:
  sluice plugin new NAME --hook route|cache_key|translate|policy [--dir DIR] [--sdk SLUICE_SRC]
  sluice plugin build DIR [-o OUT.wasm]
  sluice plugin test PLUGIN.wasm --hook HOOK --input FILE.json [--config JSON] [--timeout D]`

// Run executes one plugin subcommand; args start after "plugin".
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errors.New("plugin: missing subcommand")
	}
	switch args[0] {
	case "new":
		return runNew(args[1:], stdout, stderr)
	case "build":
		return runBuild(ctx, args[1:], stdout, stderr)
	case "test":
		return runTest(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("plugin: unknown subcommand %q", args[0])
}

// parse lets flags follow positional arguments ("new NAME --hook route").
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") {
				if f := fs.Lookup(name); f != nil && i+1 < len(args) {
					if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !bf.IsBoolFlag() {
						i++
						flags = append(flags, args[i])
					}
				}
			}
			continue
		}
		pos = append(pos, a)
	}
	if err := fs.Parse(flags); err != nil {
		return nil, err
	}
	return pos, nil
}

// findModuleRoot walks up from dir to the directory whose go.mod declares ModulePath.
func findModuleRoot(dir string) (string, bool) {
	dir, _ = filepath.Abs(dir)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				if f := strings.Fields(l); len(f) == 2 && f[0] == "module" {
					return dir, f[1] == ModulePath
				}
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func runNew(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plugin new", flag.ContinueOnError)
	fs.SetOutput(stderr)
	hook := fs.String("hook", "", "route | cache_key | translate | policy")
	dir := fs.String("dir", "", "target directory (default ./NAME)")
	sdkSrc := fs.String("sdk", "", "use the SDK of this sluice checkout (or sdk/ directory) instead of the copy this binary carries")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("plugin new: want exactly one NAME")
	}
	name := pos[0]
	if !validName(name) {
		return fmt.Errorf("plugin new: name %q: use lower-case letters, digits and dashes", name)
	}
	tmpl, ok := scaffolds[*hook]
	if !ok {
		return fmt.Errorf("plugin new: --hook must be route, cache_key, translate or policy, not %q", *hook)
	}
	target := *dir
	if target == "" {
		target = name
	}
	if _, err := os.Stat(target); err == nil {
		if entries, _ := os.ReadDir(target); len(entries) > 0 {
			return fmt.Errorf("plugin new: %s exists and is not empty", target)
		}
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		return fmt.Errorf("plugin new: %w", err)
	}
	data := map[string]string{"Name": name, "Hook": *hook, "Call": tmpl.call, "ConfigArg": configArg(tmpl.config)}
	files := map[string]string{"main.go": tmpl.main, "logic.go": tmpl.logic, "logic_test.go": tmpl.test,
		"README.md": readmeTmpl, "input.json": tmpl.input + "\n"}
	// A plugin inside the sluice tree builds as part of its module. Outside, it gets its own
	// go.mod requiring the SDK module through a replace directive: to the sdk/ of a checkout
	// named by --sdk, or else to a copy of the SDK this binary carries, written next to the
	// plugin. The SDK is std-lib only, so nothing is downloaded either way.
	if _, inside := findModuleRoot(target); !inside {
		replace, err := sdkFor(target, *sdkSrc)
		if err != nil {
			return err
		}
		data["SDK"] = replace
		data["Go"] = goVersion()
		files["go.mod"] = goModTmpl
	}
	// Plain placeholder replacement, not text/template: templates reach reflect's method
	// lookup, which turns off the linker's dead-code elimination for the whole binary.
	var pairs []string
	for k, v := range data {
		pairs = append(pairs, "{{."+k+"}}", v)
	}
	fill := strings.NewReplacer(pairs...)
	for fname, body := range files {
		if err := os.WriteFile(filepath.Join(target, fname), []byte(fill.Replace(body)), 0o644); err != nil {
			return fmt.Errorf("plugin new: %w", err)
		}
	}
	fmt.Fprintf(stdout, "created %s (hook %s)\n  test:  cd %s && go test ./...\n  build: sluice plugin build %s\n  try:   sluice plugin test %s/%s.wasm --hook %s --input %s/input.json%s\n",
		target, *hook, target, target, target, filepath.Base(target), tmpl.call, target, configArg(tmpl.config))
	return nil
}

func configArg(cfg string) string {
	if cfg == "" {
		return ""
	}
	return " --config '" + cfg + "'"
}

// SDKDir is where `plugin new` writes the SDK copy inside a plugin made outside a checkout.
const SDKDir = "sluice-sdk"

// sdkFor returns the replace target for the SDK module of a plugin in target: the sdk/ of the
// checkout (or the SDK directory) src, or, when src is empty, ./sluice-sdk after writing the
// embedded SDK there.
func sdkFor(target, src string) (string, error) {
	if src != "" {
		src, _ = filepath.Abs(src)
		for _, d := range []string{src, filepath.Join(src, "sdk")} {
			if modulePath(d) == SDKModule {
				return d, nil
			}
		}
		return "", fmt.Errorf("plugin new: --sdk %s holds neither the %s module nor a sluice checkout with it in sdk/", src, SDKModule)
	}
	if err := writeFS(sdk.Source(), filepath.Join(target, SDKDir)); err != nil {
		return "", fmt.Errorf("plugin new: write the SDK: %w", err)
	}
	return "./" + SDKDir, nil
}

// modulePath is the module declared by dir/go.mod, or "".
func modulePath(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "module" {
			return f[1]
		}
	}
	return ""
}

// goVersion is the go directive of the SDK's go.mod, which a plugin needs at least.
func goVersion() string {
	b, _ := fs.ReadFile(sdk.Source(), "go.mod")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "go" {
			return f[1]
		}
	}
	return "1.26"
}

// writeFS copies every file of src under dir.
func writeFS(src fs.FS, dir string) error {
	return fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		out := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		if strings.HasSuffix(p, "_test.go") {
			return nil // the SDK's own tests are not the plugin's
		}
		b, err := fs.ReadFile(src, p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	})
}

func validName(s string) bool {
	if s == "" || s[0] == '-' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func runBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plugin build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "output .wasm (default DIR/<dir name>.wasm)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("plugin build: want exactly one DIR")
	}
	dir, err := filepath.Abs(pos[0])
	if err != nil {
		return err
	}
	target := *out
	if target == "" {
		target = filepath.Join(dir, filepath.Base(dir)+".wasm")
	}
	target, _ = filepath.Abs(target)
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w", "-o", target, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("plugin build: go build: %w", err)
	}
	st, err := os.Stat(target)
	if err != nil {
		return fmt.Errorf("plugin build: %w", err)
	}
	fmt.Fprintf(stdout, "built %s (%d bytes, %.1f MiB) in %v\n", target, st.Size(), float64(st.Size())/(1<<20), time.Since(start).Round(time.Millisecond))
	return nil
}

func runTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("plugin test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	hook := fs.String("hook", "", "hook to call (route, cache_key, translate_request, on_request, ...)")
	input := fs.String("input", "", "input JSON file (- for stdin)")
	config := fs.String("config", "", "plugin config as a JSON object")
	timeout := fs.Duration("timeout", 5*time.Second, "per-call deadline")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *hook == "" || *input == "" {
		return errors.New("plugin test: want PLUGIN.wasm --hook HOOK --input FILE.json")
	}
	var in []byte
	if *input == "-" {
		in, err = io.ReadAll(os.Stdin)
	} else {
		in, err = os.ReadFile(*input)
	}
	if err != nil {
		return fmt.Errorf("plugin test: input: %w", err)
	}
	var cfg map[string]any
	if *config != "" {
		if err := json.Unmarshal([]byte(*config), &cfg); err != nil {
			return fmt.Errorf("plugin test: --config: %w", err)
		}
	}
	e, err := plugin.NewEngine(plugin.EngineOptions{Logger: slog.New(slog.NewTextHandler(stderr, nil))})
	if err != nil {
		return fmt.Errorf("plugin test: %w", err)
	}
	defer e.Close()
	name := strings.TrimSuffix(filepath.Base(pos[0]), ".wasm")
	start := time.Now()
	p, err := e.Load(ctx, plugin.Spec{Name: name, Path: pos[0], Config: cfg, Timeout: *timeout, Pool: 1})
	if err != nil {
		return fmt.Errorf("plugin test: %w", err)
	}
	loaded := time.Since(start)
	start = time.Now()
	out, err := p.Call(ctx, *hook, in)
	took := time.Since(start)
	if err != nil {
		var pe *plugin.Error
		if errors.As(err, &pe) && pe.Stderr != "" {
			fmt.Fprintf(stderr, "guest stderr:\n%s\n", pe.Stderr)
		}
		return fmt.Errorf("plugin test: %w", err)
	}
	fmt.Fprintf(stdout, "%s\n", out)
	fmt.Fprintf(stderr, "hooks %v; load %v; call %v\n", p.Hooks(), loaded.Round(time.Microsecond), took.Round(time.Microsecond))
	return nil
}
