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
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/sluice-gw/sluice/host/plugin"
)

// ModulePath is the module the SDK lives in.
const ModulePath = "github.com/sluice-gw/sluice"

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
	sdkSrc := fs.String("sdk", "", "sluice source checkout, for a plugin outside it (default: found from the working directory)")
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
	data := map[string]string{"Name": name, "Hook": *hook}
	files := map[string]string{"main.go": tmpl.main, "logic.go": tmpl.logic, "logic_test.go": tmpl.test, "README.md": readmeTmpl}
	// A plugin inside the sluice tree builds as part of its module. Outside, it gets its own
	// go.mod requiring the sluice module through a replace directive to a local checkout (the
	// SDK is std-lib only, so nothing is downloaded) and sluice's go.sum.
	if _, inside := findModuleRoot(target); !inside {
		src := *sdkSrc
		if src == "" {
			var found bool
			if src, found = findModuleRoot("."); !found {
				return errors.New("plugin new: the target is outside a sluice checkout; pass --sdk PATH_TO_SLUICE_SOURCE")
			}
		}
		src, _ = filepath.Abs(src)
		if root, ok := findModuleRoot(src); !ok || root != src {
			return fmt.Errorf("plugin new: --sdk %s is not the root of the %s module", src, ModulePath)
		}
		data["SDK"] = src
		files["go.mod"] = goModTmpl
		if sum, err := os.ReadFile(filepath.Join(src, "go.sum")); err == nil {
			if err := os.WriteFile(filepath.Join(target, "go.sum"), sum, 0o644); err != nil {
				return fmt.Errorf("plugin new: %w", err)
			}
		}
	}
	// Plain placeholder replacement, not text/template: templates reach reflect's method
	// lookup, which turns off the linker's dead-code elimination for the whole binary.
	fill := strings.NewReplacer("{{.Name}}", data["Name"], "{{.Hook}}", data["Hook"], "{{.SDK}}", data["SDK"])
	for fname, body := range files {
		if err := os.WriteFile(filepath.Join(target, fname), []byte(fill.Replace(body)), 0o644); err != nil {
			return fmt.Errorf("plugin new: %w", err)
		}
	}
	fmt.Fprintf(stdout, "created %s (hook %s)\n  test:  cd %s && go test ./...\n  build: sluice plugin build %s\n", target, *hook, target, target)
	return nil
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
