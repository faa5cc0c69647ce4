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
	"github.com/sluice-gw/sluice/sdk/conformance/guestcheck"
)

// ModulePath is sluice's main module.
const ModulePath = "github.com/sluice-gw/sluice"

// SDKModule is the module the SDK lives in.
const SDKModule = "github.com/sluice-gw/sluice/sdk"

const usage = `usage:
  sluice plugin new NAME --hook route|cache_key|translate|policy [--lang go|as] [--dir DIR] [--sdk SLUICE_SRC]
  sluice plugin build DIR [-o OUT.wasm]
  sluice plugin test PLUGIN.wasm --hook HOOK [--input FILE.json] [--config JSON] [--timeout D]
      [--checks=false] [--fuzz N] [--calls N] [--mem-calls N] [--p50 D] [--p99 D] [--stateful] [--seed N]`

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
	lang := fs.String("lang", "go", "go | as (AssemblyScript: route, cache_key and policy)")
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
	var tmpl scaffold
	var ok bool
	switch *lang {
	case "go":
		if tmpl, ok = scaffolds[*hook]; !ok {
			return fmt.Errorf("plugin new: --hook must be route, cache_key, translate or policy, not %q", *hook)
		}
	case "as":
		if tmpl, ok = asScaffolds[*hook]; !ok {
			return fmt.Errorf("plugin new: --lang as: --hook must be route, cache_key or policy, not %q", *hook)
		}
	default:
		return fmt.Errorf("plugin new: --lang must be go or as, not %q", *lang)
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
	if *lang == "as" {
		return newAS(target, name, *hook, tmpl, stdout)
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

// newAS writes an AssemblyScript plugin: its entry, package.json pinning the compiler, the
// README, the sample input and the SDK copied from the binary.
func newAS(target, name, hook string, tmpl scaffold, stdout io.Writer) error {
	fill := strings.NewReplacer("{{.Name}}", name, "{{.Hook}}", hook, "{{.Call}}", tmpl.call)
	if err := os.MkdirAll(filepath.Join(target, "assembly"), 0o755); err != nil {
		return fmt.Errorf("plugin new: %w", err)
	}
	for fname, body := range map[string]string{"assembly/index.ts": tmpl.logic, "package.json": asPackageTmpl,
		"README.md": asReadmeTmpl, "input.json": tmpl.input + "\n", ".gitignore": "node_modules/\n*.wasm\n"} {
		if err := os.WriteFile(filepath.Join(target, filepath.FromSlash(fname)), []byte(fill.Replace(body)), 0o644); err != nil {
			return fmt.Errorf("plugin new: %w", err)
		}
	}
	src, err := fs.Sub(sdk.Source(), "as/assembly")
	if err != nil {
		return fmt.Errorf("plugin new: %w", err)
	}
	if err := writeFS(src, filepath.Join(target, ASSDKDir)); err != nil {
		return fmt.Errorf("plugin new: write the SDK: %w", err)
	}
	fmt.Fprintf(stdout, "created %s (hook %s, AssemblyScript)\n  setup: cd %s && npm install\n  build: sluice plugin build %s\n  try:   sluice plugin test %s/%s.wasm --hook %s --input %s/input.json\n",
		target, hook, target, target, target, filepath.Base(target), tmpl.call, target)
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
	if isAS(dir) {
		asc, err := findASC(dir)
		if err != nil {
			return err
		}
		cmd := exec.CommandContext(ctx, asc, append([]string{"assembly/index.ts", "-o", target}, ascFlags...)...)
		cmd.Dir = dir
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("plugin build: asc: %w", err)
		}
	} else {
		cmd := exec.CommandContext(ctx, "go", "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w", "-o", target, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("plugin build: go build: %w", err)
		}
	}
	st, err := os.Stat(target)
	if err != nil {
		return fmt.Errorf("plugin build: %w", err)
	}
	fmt.Fprintf(stdout, "built %s (%d bytes, %.1f MiB) in %v\n", target, st.Size(), float64(st.Size())/(1<<20), time.Since(start).Round(time.Millisecond))
	return nil
}

// isAS reports an AssemblyScript plugin: assembly/index.ts and a package.json, no Go files.
func isAS(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, "assembly", "index.ts")); err != nil {
		return false
	}
	if _, err := os.Stat(filepath.Join(dir, "package.json")); err != nil {
		return false
	}
	gofiles, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	return len(gofiles) == 0
}

// findASC finds the AssemblyScript compiler: the plugin's own (npm install), else asc on PATH.
func findASC(dir string) (string, error) {
	local := filepath.Join(dir, "node_modules", ".bin", "asc")
	if _, err := os.Stat(local); err == nil {
		return local, nil
	}
	if p, err := exec.LookPath("asc"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("plugin build: the AssemblyScript compiler (asc) is not in %s nor on PATH: run `npm install` in %s (it installs assemblyscript %s, pinned in package.json), or put asc on PATH",
		filepath.Join(dir, "node_modules", ".bin"), dir, ASVersion)
}

func runTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseTestFlags(args, stderr)
	if err != nil {
		return err
	}
	in, cfg, err := readTestInput(f)
	if err != nil {
		return err
	}
	wasm, err := os.ReadFile(f.path)
	if err != nil {
		return fmt.Errorf("plugin test: %w", err)
	}
	// Guest logs go to a discarding logger during the checks: thousands of calls would drown
	// the report.
	quiet := false
	logger := slog.New(slog.NewTextHandler(filterWriter{w: stderr, quiet: &quiet}, nil))
	e, err := plugin.NewEngine(plugin.EngineOptions{Logger: logger})
	if err != nil {
		return fmt.Errorf("plugin test: %w", err)
	}
	defer e.Close()
	name := strings.TrimSuffix(filepath.Base(f.path), ".wasm")
	start := time.Now()
	// The default sandbox, as the gateway loads a plugin from a file.
	p, err := e.Load(ctx, plugin.Spec{Name: name, Path: f.path, Config: cfg, Timeout: f.timeout, Pool: 1})
	if err != nil {
		return fmt.Errorf("plugin test: %w", err)
	}
	loaded := time.Since(start)
	start = time.Now()
	out, err := p.Call(ctx, f.hook, in)
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
	if !f.checks {
		return nil
	}
	quiet = true
	rep := runGuestChecks(ctx, p, wasm, name, cfg, f.guestOptions(in), stderr)
	quiet = false
	return reportChecks(rep, stderr)
}

// testFlags are the options of "plugin test".
type testFlags struct {
	path, hook, input, config string
	timeout, p50, p99         time.Duration
	checks, stateful          bool
	fuzz, calls, memCalls     int
	seed                      uint64
}

// parseTestFlags reads the flags and the one positional argument, the plugin's file.
func parseTestFlags(args []string, stderr io.Writer) (testFlags, error) {
	var f testFlags
	fs := flag.NewFlagSet("plugin test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.hook, "hook", "", "hook to call (route, cache_key, translate_request, on_request, ...)")
	fs.StringVar(&f.input, "input", "", "input JSON file (- for stdin; default a built-in sample for the hook)")
	fs.StringVar(&f.config, "config", "", "plugin config as a JSON object")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Second, "per-call deadline")
	fs.BoolVar(&f.checks, "checks", true, "after the call, run the plugin checks (edge cases, fuzzing, memory, state, latency)")
	fs.IntVar(&f.fuzz, "fuzz", 300, "fuzzed inputs")
	fs.IntVar(&f.calls, "calls", 2000, "sample calls timed for latency")
	fs.IntVar(&f.memCalls, "mem-calls", 60000, "calls run for the memory-growth check")
	fs.DurationVar(&f.p50, "p50", 2*time.Millisecond, "latency budget of one call (median)")
	fs.DurationVar(&f.p99, "p99", 0, "latency budget of one call (p99; 0: reported, not checked)")
	fs.BoolVar(&f.stateful, "stateful", false, "the plugin's answers depend on earlier calls on purpose: skip the state check")
	fs.Uint64Var(&f.seed, "seed", 1, "fuzzing seed")
	pos, err := parse(fs, args)
	if err != nil {
		return f, err
	}
	if len(pos) != 1 || f.hook == "" {
		return f, errors.New("plugin test: want PLUGIN.wasm --hook HOOK [--input FILE.json]")
	}
	f.path = pos[0]
	return f, nil
}

// guestOptions are the checks' options for the sample input in.
func (f testFlags) guestOptions(in []byte) guestcheck.GuestOptions {
	return guestcheck.GuestOptions{Hook: f.hook, Sample: in, Fuzz: f.fuzz, Calls: f.calls, MemCalls: f.memCalls, P50: f.p50, P99: f.p99, Stateful: f.stateful, Seed: f.seed}
}

// readTestInput returns the call's input (the file, stdin, or the hook's built-in sample) and
// the plugin's config.
func readTestInput(f testFlags) ([]byte, map[string]any, error) {
	var (
		in  []byte
		err error
	)
	switch f.input {
	case "":
		s, ok := samples[f.hook]
		if !ok {
			return nil, nil, fmt.Errorf("plugin test: no built-in sample for hook %q; pass --input", f.hook)
		}
		in = []byte(s)
	case "-":
		in, err = io.ReadAll(os.Stdin)
	default:
		in, err = os.ReadFile(f.input)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("plugin test: input: %w", err)
	}
	var cfg map[string]any
	if f.config != "" {
		if err := json.Unmarshal([]byte(f.config), &cfg); err != nil {
			return nil, nil, fmt.Errorf("plugin test: --config: %w", err)
		}
	}
	return in, cfg, nil
}

// runGuestChecks runs the plugin checks on p, measuring memory growth on a probe instance of
// wasm when one can be made.
func runGuestChecks(ctx context.Context, p *plugin.Plugin, wasm []byte, name string, cfg map[string]any, opts guestcheck.GuestOptions, stderr io.Writer) guestcheck.Report {
	probe, err := newMemProbe(ctx, wasm, name, cfg, plugin.DefaultMemoryPages)
	if err != nil {
		fmt.Fprintf(stderr, "checks: memory growth not measured: %v\n", err)
	} else {
		defer probe.Close()
		opts.Memory = probe
	}
	return guestcheck.CheckGuest(ctx, engineGuest{p}, opts)
}

// reportChecks prints the checks' summary and findings, and fails when there are findings.
func reportChecks(rep guestcheck.Report, stderr io.Writer) error {
	mem := "not measured"
	if rep.MemEnd > 0 {
		mem = fmt.Sprintf("%.1f -> %.1f MiB", float64(rep.MemFirst)/(1<<20), float64(rep.MemEnd)/(1<<20))
	}
	fmt.Fprintf(stderr, "checks: %d edge-case and fuzzed inputs; latency p50 %v p99 %v over %d calls; memory %s\n",
		rep.Inputs, rep.P50.Round(100*time.Nanosecond), rep.P99.Round(100*time.Nanosecond), rep.Calls, mem)
	if rep.OK() {
		fmt.Fprintln(stderr, "checks: ok")
		return nil
	}
	for _, f := range rep.Findings {
		fmt.Fprintf(stderr, "FAIL %s\n", f)
	}
	return fmt.Errorf("plugin test: %d check(s) failed", len(rep.Findings))
}

// engineGuest adapts a loaded plugin to the conformance kit: guest error payloads are results,
// traps, deadlines and ABI violations are failures.
type engineGuest struct{ p *plugin.Plugin }

func (g engineGuest) Hooks() []string { return g.p.Hooks() }
func (g engineGuest) Close() error    { return g.p.Close() }
func (g engineGuest) Call(ctx context.Context, hook string, in []byte) (guestcheck.Result, error) {
	out, err := g.p.Call(ctx, hook, in)
	var pe *plugin.Error
	if errors.As(err, &pe) && !pe.Trap {
		return guestcheck.Result{IsError: true, Status: pe.Status, Code: pe.Code, Message: pe.Message}, nil
	}
	return guestcheck.Result{Out: out}, err
}

// filterWriter drops everything while *quiet.
type filterWriter struct {
	w     io.Writer
	quiet *bool
}

func (f filterWriter) Write(b []byte) (int, error) {
	if *f.quiet {
		return len(b), nil
	}
	return f.w.Write(b)
}

// samples are the inputs `plugin test` uses when --input is not given.
var samples = map[string]string{
	"route":              scaffolds["route"].input,
	"cache_key":          scaffolds["cache_key"].input,
	"on_request":         scaffolds["policy"].input,
	"on_response":        `{"meta":{"model":"gpt-4o-mini"},"status":200,"body":{"choices":[{"message":{"role":"assistant","content":"hi"}}]}}`,
	"translate_request":  scaffolds["translate"].input,
	"translate_response": `{"status":200,"body":{"id":"x","choices":[]}}`,
}
