package plugin

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchedFile is one file-backed plugin as the watcher sees it.
type watchedFile struct {
	name     string
	abs      string // the configured path, absolute
	resolved string // where it points after symlinks ("" while it does not resolve)
}

// Watch reloads file-backed plugins when their files change, until ctx is done. It watches
// folders, not files, so write-then-rename replacements are seen, and it follows symlinks: in a
// Kubernetes ConfigMap volume the file points through ..data into a timestamped folder and an
// update renames a new ..data over the old one, so no event names the file; any event after
// which the file resolves elsewhere counts as a change. The set of files follows the registry:
// plugins added by a configuration reload are watched from then on, removed ones no longer.
// Events are debounced by Debounce.
func (r *Registry) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("plugin: watch: %w", err)
	}
	defer w.Close()
	var files []watchedFile
	dirs := map[string]bool{}
	sync := func() {
		files = files[:0]
		want := map[string]bool{}
		for _, n := range r.Names() {
			p, ok := r.Get(n)
			if !ok || p.Path() == "" {
				continue
			}
			abs, err := filepath.Abs(p.Path())
			if err != nil {
				r.e.log.Warn("plugin watch: bad path", "plugin", n, "error", err)
				continue
			}
			res, _ := filepath.EvalSymlinks(abs)
			files = append(files, watchedFile{name: n, abs: abs, resolved: res})
			want[filepath.Dir(abs)] = true
			if res != "" {
				want[filepath.Dir(res)] = true
			}
		}
		for d := range dirs {
			if !want[d] {
				_ = w.Remove(d)
				delete(dirs, d)
			}
		}
		for d := range want {
			if dirs[d] {
				continue
			}
			if err := w.Add(d); err != nil {
				r.e.log.Warn("plugin watch: cannot watch folder; use SIGHUP or the admin endpoint", "dir", d, "error", err)
				continue
			}
			dirs[d] = true
		}
	}
	sync()
	debounce := r.Debounce
	if debounce <= 0 {
		debounce = 100 * time.Millisecond
	}
	pending := map[string]time.Time{}
	resync := false
	tick := time.NewTicker(debounce / 4)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.changed:
			sync()
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			name := filepath.Clean(ev.Name)
			for i := range files {
				f := &files[i]
				res, _ := filepath.EvalSymlinks(f.abs)
				moved := res != f.resolved
				if moved || ((name == f.abs || name == f.resolved) && ev.Op != fsnotify.Remove) {
					if moved {
						f.resolved = res
						resync = true // the new target's folder is watched from now on
					}
					pending[f.name] = time.Now()
				}
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			r.e.log.Warn("plugin watch error", "error", err)
		case now := <-tick.C:
			for name, at := range pending {
				if now.Sub(at) < debounce {
					continue
				}
				delete(pending, name)
				if err := r.ReloadOne(ctx, name); err != nil {
					r.e.log.Error("plugin file reload failed", "plugin", name, "error", err)
				}
			}
			if resync && len(pending) == 0 {
				resync = false
				sync()
			}
		}
	}
}
