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
//
// The file may be a symlink, as in a Kubernetes ConfigMap volume, where sluice.toml points
// through ..data to a timestamped folder and an update renames a new ..data symlink over the
// old one: no event then names the file itself, so any event in the folder that changes
// where the file resolves to counts too. The folder of the resolved file is watched as well,
// for a symlink into another folder whose target is edited in place.
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
	dir := filepath.Dir(abs)
	if err := w.Add(dir); err != nil {
		a.log.Warn("config file watch unavailable; use SIGHUP or POST /admin/reload", "err", err)
		return
	}
	resolved, targetDir := "", ""
	follow := func() {
		r, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return // mid-swap or removed: the next event tells
		}
		resolved = r
		if td := filepath.Dir(r); td != dir && td != targetDir {
			if targetDir != "" {
				_ = w.Remove(targetDir)
			}
			if w.Add(td) == nil {
				targetDir = td
			}
		}
	}
	follow()
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
			name := filepath.Clean(ev.Name)
			prev := resolved
			follow()
			changed := (name == abs || name == resolved) && ev.Has(fsnotify.Write|fsnotify.Create|fsnotify.Rename)
			if !changed && resolved == prev {
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
