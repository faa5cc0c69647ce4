package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/host/telemetry"
)

func newLoggers(cfg *config.Config, stdout, stderr io.Writer) (log, access *slog.Logger, closeFn func(), err error) {
	if stdout == nil {
		stdout = os.Stdout
	}
	if stderr == nil {
		stderr = os.Stderr
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
		return nil, nil, nil, fmt.Errorf("serve: log level: %w", err)
	}
	mk := func(w io.Writer) *slog.Logger {
		opts := &slog.HandlerOptions{Level: level}
		if cfg.Log.Format == "json" {
			return slog.New(slog.NewJSONHandler(w, opts))
		}
		return slog.New(slog.NewTextHandler(w, opts))
	}
	log = mk(stderr)
	closeFn = func() {}
	switch cfg.Log.Access {
	case "off":
	case "stderr":
		access = log
	case "stdout":
		access = mk(stdout)
	default:
		f, err := os.OpenFile(cfg.Log.Access, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("serve: access log: %w", err)
		}
		access = slog.New(slog.NewJSONHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo}))
		closeFn = func() { f.Close() }
	}
	return log, access, closeFn, nil
}

// accessLogger joins the local access log (nil when off) and the OTLP export (nil when off).
// Local lines gain trace_id and span_id attributes; OTLP records carry them as their own
// trace context instead.
func accessLogger(local *slog.Logger, otlp slog.Handler) *slog.Logger {
	var hs []slog.Handler
	if local != nil {
		hs = append(hs, telemetry.LogHandler(local.Handler()))
	}
	if otlp != nil {
		hs = append(hs, otlp)
	}
	switch len(hs) {
	case 0:
		return nil
	case 1:
		return slog.New(hs[0])
	}
	return slog.New(fanout(hs))
}

// fanout hands each record to every handler that wants its level.
type fanout []slog.Handler

func (f fanout) Enabled(ctx context.Context, l slog.Level) bool {
	for _, h := range f {
		if h.Enabled(ctx, l) {
			return true
		}
	}
	return false
}

func (f fanout) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	for _, h := range f {
		if h.Enabled(ctx, r.Level) {
			errs = append(errs, h.Handle(ctx, r.Clone()))
		}
	}
	return errors.Join(errs...)
}

func (f fanout) WithAttrs(as []slog.Attr) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithAttrs(as)
	}
	return out
}

func (f fanout) WithGroup(name string) slog.Handler {
	out := make(fanout, len(f))
	for i, h := range f {
		out[i] = h.WithGroup(name)
	}
	return out
}
