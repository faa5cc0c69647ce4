package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=..." (the Makefile does);
// otherwise they come from the module and VCS information the go command records.
var (
	version = "dev"
	commit  = ""
)

// buildInfo is what `sluice version` prints.
type buildInfo struct {
	Version, Module, Commit, Go, Platform string
	Modified                              bool
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, Module: "github.com/sluice-gw/sluice", Commit: commit, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if bi.Main.Path != "" {
		b.Module = bi.Main.Path
	}
	if b.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		b.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if b.Commit == "" {
				b.Commit = s.Value
			}
		case "vcs.modified":
			b.Modified = b.Modified || s.Value == "true"
		}
	}
	// A -dirty suffix from `git describe` says the same as vcs.modified.
	if strings.HasSuffix(b.Version, "-dirty") {
		b.Modified = true
	}
	return b
}

func buildVersion() string { return readBuildInfo().Version }

func printVersion(w io.Writer) {
	b := readBuildInfo()
	c := b.Commit
	if c == "" {
		c = "unknown"
	}
	if b.Modified {
		c += " (modified)"
	}
	fmt.Fprintf(w, "sluice %s\nmodule  %s\ncommit  %s\ngo      %s %s\n", b.Version, b.Module, c, b.Go, b.Platform)
}

// health GETs a /health URL and succeeds on 200: the container image's health check, which
// has no shell or curl to do it.
func health(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("health", stderr)
	url := fs.String("url", "http://127.0.0.1:8080/health", "health URL to GET")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return errSilent
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("health: unexpected argument %q", fs.Arg(0))
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s answered %s: %s", *url, resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(stdout, "%s: %s\n", *url, strings.TrimSpace(string(body)))
	return nil
}
