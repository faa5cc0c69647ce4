package plugin

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sluice-gw/sluice/sdk/conformance"
)

// testCacheDir is shared by test runs so the Go guests compile once per machine.
var testCacheDir = filepath.Join(os.TempDir(), "sluice-plugin-test-cache")

// logBuf is a concurrency-safe log sink for assertions.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newTestEngine(t testing.TB) (*Engine, *logBuf) {
	t.Helper()
	lb := &logBuf{}
	e, err := NewEngine(EngineOptions{CacheDir: testCacheDir,
		Logger: slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, lb
}

// goodWasm builds testdata/guests/good with the given version string.
func goodWasm(t testing.TB, version string) []byte {
	t.Helper()
	path, err := conformance.BuildGuest("testdata/guests/good", "-X main.version="+version)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func load(t testing.TB, e *Engine, spec Spec) *Plugin {
	t.Helper()
	p, err := e.Load(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func asError(t testing.TB, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *plugin.Error", err, err)
	}
	return e
}
