package app

import (
	"context"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchConfig reloads the configuration when its file changes. It watches the folder, not
// the file, so editors and tools that write a new file and rename it over the old one are
// seen; bursts of events are folded into one reload.
func (a *App) watchConfig(ctx context.Context, path string) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		a.log.Warn("config file watch unavailable; use SIGHUP or POST /admin/reload", "err", err)
		return
	}
	defer w.Close()
	abs, err := filepath.Abs(path)
	if err != nil {
		return
	}
	if err := w.Add(filepath.Dir(abs)); err != nil {
		a.log.Warn("config file watch unavailable; use SIGHUP or POST /admin/reload", "err", err)
		return
	}
	var timer *time.Timer
	fire := make(chan struct{}, 1)
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if filepath.Clean(ev.Name) != abs || !ev.Has(fsnotify.Write|fsnotify.Create|fsnotify.Rename) {
				continue
			}
			if timer != nil {
				timer.Stop()
			}
			timer = time.AfterFunc(250*time.Millisecond, func() {
				select {
				case fire <- struct{}{}:
				default:
				}
			})
		case <-fire:
			if err := a.Reload(ctx); err != nil {
				a.log.Error("config file changed but the reload was refused; the running configuration keeps serving", "err", a.scrub(err))
			}
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			a.log.Warn("config file watch error", "err", err)
		}
	}
}
