package plugin

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/sluice-gw/sluice/sdk/conformance"
)

// confHost adapts the engine to the conformance kit.
type confHost struct {
	e    *Engine
	mu   sync.Mutex
	logs []string
}

func (h *confHost) Enabled(context.Context, slog.Level) bool { return true }
func (h *confHost) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "plugin_log" {
			h.mu.Lock()
			h.logs = append(h.logs, r.Message)
			h.mu.Unlock()
			return false
		}
		return true
	})
	return nil
}
func (h *confHost) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *confHost) WithGroup(string) slog.Handler      { return h }

func (h *confHost) Logs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.logs...)
}

func (h *confHost) Load(ctx context.Context, name string, wasm []byte, cfg map[string]any) (conformance.Guest, error) {
	p, err := h.e.Load(ctx, Spec{Name: name, Bytes: wasm, Config: cfg, MemoryPages: 256})
	if err != nil {
		return nil, err
	}
	return confGuest{p}, nil
}

type confGuest struct{ p *Plugin }

func (g confGuest) Hooks() []string { return g.p.Hooks() }
func (g confGuest) Close() error    { return g.p.Close() }
func (g confGuest) Call(ctx context.Context, hook string, in []byte) (conformance.Result, error) {
	out, err := g.p.Call(ctx, hook, in)
	var pe *Error
	if errors.As(err, &pe) && !pe.Trap {
		return conformance.Result{IsError: true, Status: pe.Status, Code: pe.Code, Message: pe.Message}, nil
	}
	return conformance.Result{Out: out}, err
}

func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) conformance.Host {
		h := &confHost{}
		e, err := NewEngine(EngineOptions{CacheDir: testCacheDir, Logger: slog.New(h)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		h.e = e
		return h
	})
}
