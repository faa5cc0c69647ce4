package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/sluice-gw/sluice/host/app"
	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/host/plugintool"
	"github.com/sluice-gw/sluice/internal/memlimit"
)

// errSilent ends the process with status 1 after the command has already said why.
var errSilent = errors.New("")

const usage = `sluice: an OpenAI-compatible LLM gateway with WebAssembly plugins

Usage:
  sluice serve [-c sluice.toml] [--listen ADDR]   serve (no -c: the embedded default config)
  sluice check [-c sluice.toml]                   build what serve would (no listeners) and print it
  sluice plugin new|build|test ...                write, build and try plugins
  sluice keys new [--id ID]                       mint a virtual API key and its hash
  sluice health [--url URL]                       GET /health, exit 0 on 200 (container health check)
  sluice version                                  print version, module, commit and Go version

Environment: SLUICE_LISTEN sets the listen address; GOMEMLIMIT overrides the memory limit
otherwise derived from the cgroup (90% of it); <PROVIDER>_API_KEY and <PROVIDER>_BASE_URL
configure the built-in providers of the default config (e.g. OPENAI_API_KEY).
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errSilent
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "check":
		return check(ctx, args[1:], stdout, stderr)
	case "plugin":
		return plugintool.Run(ctx, args[1:], stdout, stderr)
	case "keys":
		return keys(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		printVersion(stdout)
		return nil
	case "health":
		return health(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprintf(stderr, "sluice: unknown command %q\n\n%s", args[0], usage)
	return errSilent
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("sluice "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	cfgPath := fs.String("c", "", "config file (default: the embedded default config)")
	fs.StringVar(cfgPath, "config", "", "config file (same as -c)")
	listen := fs.String("listen", "", "listen address, overrides server.listen and SLUICE_LISTEN")
	if err := fs.Parse(args); err != nil {
		return errSilent
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	addr := *listen
	if addr == "" {
		addr = os.Getenv("SLUICE_LISTEN")
	}
	if os.Getenv("GOGC") == "" {
		// A proxy's live heap is small and its garbage is per request: collecting at 5x the
		// live heap instead of 2x trades a few MB for ~10% more throughput. GOGC overrides.
		debug.SetGCPercent(400)
	}
	// A container or unit memory limit the runtime does not know of ends in an OOM kill
	// instead of a harder-working collector.
	mem, memErr := memlimit.Apply()
	return app.Run(ctx, app.Options{ConfigPath: *cfgPath, Listen: addr, Stdout: stdout, Stderr: stderr, PluginCacheDir: os.Getenv("SLUICE_PLUGIN_CACHE"), Version: buildVersion(),
		MemoryLimit: mem.Limit, MemoryLimitSource: mem.Source, MemoryLimitErr: memErr})
}

func check(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("check", stderr)
	cfgPath := fs.String("c", "", "config file (default: the embedded default config)")
	fs.StringVar(cfgPath, "config", "", "config file (same as -c)")
	if err := fs.Parse(args); err != nil {
		return errSilent
	}
	// Check builds what serve would build (plugins compiled, providers, routers, stores) and
	// tears it down, so a config it passes is one serve runs.
	cfg, err := app.Check(ctx, app.Options{ConfigPath: *cfgPath, PluginCacheDir: os.Getenv("SLUICE_PLUGIN_CACHE"), Version: buildVersion()})
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			fmt.Fprintf(stderr, "%d problem(s):\n", len(ce.Problems))
			for _, p := range ce.Problems {
				fmt.Fprintln(stderr, "  "+config.ScrubURLs(p.String()))
			}
			return errSilent
		}
		return errors.New(config.ScrubURLs(err.Error()))
	}
	printPlan(stdout, cfg)
	return nil
}

// printPlan says what `serve` would run with cfg.
func printPlan(w io.Writer, cfg *config.Config) {
	fmt.Fprintf(w, "config %s is valid\n", cfg.Source)
	fmt.Fprintf(w, "listen %s, admin %s\n", cfg.Server.Listen, orOff(cfg.Server.AdminListen))
	fmt.Fprintln(w, "providers:")
	for _, name := range sortedKeys(cfg.Providers) {
		p := cfg.Providers[name]
		extra := ""
		if p.Translator != "" {
			extra = ", translator " + p.Translator
		}
		fmt.Fprintf(w, "  %-11s %-7s %s (auth %s%s)\n", name, p.Kind, orDash(config.ScrubURLs(p.BaseURL)), p.Auth, extra)
	}
	if len(cfg.Plugins) > 0 {
		fmt.Fprintln(w, "plugins:")
		for _, name := range sortedKeys(cfg.Plugins) {
			p := cfg.Plugins[name]
			fmt.Fprintf(w, "  %-11s %s (%s, timeout %s)\n", name, p.Path, p.Sandbox, p.Timeout.D())
		}
	}
	if len(cfg.Routers) > 0 {
		fmt.Fprintln(w, "routers:")
		for _, name := range sortedKeys(cfg.Routers) {
			r := cfg.Routers[name]
			ts := make([]string, len(r.Targets))
			for i, t := range r.Targets {
				ts[i] = t.Model
			}
			fmt.Fprintf(w, "  %-11s %s over %s (attempts %d)\n", name, r.Strategy, strings.Join(ts, ", "), r.Retries.Attempts)
		}
	}
	if cfg.Cache.On() {
		fmt.Fprintf(w, "cache: %s, ttl %s, %d bucket(s)\n", cfg.Cache.Store, cfg.Cache.TTL.D(), cfg.Cache.Buckets)
	}
	if len(cfg.Limits) > 0 {
		fmt.Fprintln(w, "limits:")
		for _, l := range cfg.Limits {
			fmt.Fprintf(w, "  %s %s %s%s\n", l.Scope, l.Unit, l.Rate, l.Budget)
		}
	}
	if cfg.Auth.Required {
		fmt.Fprintf(w, "auth: required, %d key(s)\n", len(cfg.Auth.Keys))
	}
	for _, p := range cfg.Warnings {
		fmt.Fprintln(w, "warning: "+p.String())
	}
}

func orOff(s string) string {
	if s == "" {
		return "off"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
