// Package wasmbench measures the first-party translators as the gateway runs them: compiled to
// wasip1, loaded by host/plugin in the metered sandbox every plugin gets, called through the
// ABI with the benchmark envelopes of plugins/internal/xlatetest.
package wasmbench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/sluice-gw/sluice/host/plugin"
)

// Translators are the plugins measured, by name (the folder under plugins/).
var Translators = []string{"anthropic", "gemini", "bedrock"}

var (
	buildMu sync.Mutex
	built   = map[string][]byte{}
)

// Build compiles plugins/<name>/wasm to a wasip1 reactor from the current source, once per
// process.
func Build(tb testing.TB, name string) []byte {
	tb.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if b, ok := built[name]; ok {
		return b
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	dir, err := os.MkdirTemp("", "wasmbench-")
	if err != nil {
		tb.Fatal(err)
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, name+".wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w", "-o", out, "./plugins/"+name+"/wasm")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("wasmbench: building %s: %v\n%s", name, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	built[name] = b
	return b
}

// Load builds the named translator and loads it as the gateway loads a built-in: first party,
// metered like every plugin, with the given pool size. The engine is closed when tb ends.
func Load(tb testing.TB, name string, pool int) *plugin.Plugin {
	tb.Helper()
	bin := Build(tb, name)
	e, err := plugin.NewEngine(plugin.EngineOptions{CacheDir: filepath.Join(os.TempDir(), "sluice-wasmbench-cache")})
	if err != nil {
		tb.Fatal(err)
	}
	p, err := e.Load(context.Background(), plugin.Spec{Name: name, Bytes: bin, FirstParty: true, Pool: pool})
	if err != nil {
		e.Close()
		tb.Fatal(fmt.Errorf("wasmbench: loading %s: %w", name, err))
	}
	tb.Cleanup(func() { p.Close(); e.Close() })
	return p
}
