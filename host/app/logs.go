package app

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/sluice-gw/sluice/host/config"
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
