package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/host/linebuf"
	"github.com/sluice-gw/sluice/host/telemetry"
)

// accessBatching bounds the access log's batches: a line waits at most 2 ms under steady
// traffic (none after an idle spell), and at most 256 KiB wait at once.
var accessBatching = linebuf.Options{MaxBytes: 256 << 10, Linger: 2 * time.Millisecond}

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
		// Access lines are batched into few writes (host/linebuf); the process log is not.
		lb := linebuf.New(stdout, accessBatching)
		access = mk(lb)
		closeFn = func() { _ = lb.Close() }
	default:
		f, err := os.OpenFile(cfg.Log.Access, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("serve: access log: %w", err)
		}
		lb := linebuf.New(f, accessBatching)
		access = slog.New(slog.NewJSONHandler(lb, &slog.HandlerOptions{Level: slog.LevelInfo}))
		closeFn = func() { _ = lb.Close(); f.Close() }
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
