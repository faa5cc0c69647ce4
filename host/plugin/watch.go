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

// fileWatcher is the state of one Watch: the files, the folders watched for them, and the
// plugins whose files changed and wait out the debounce.
type fileWatcher struct {
	r        *Registry
	w        *fsnotify.Watcher
	files    []watchedFile
	dirs     map[string]bool
	pending  map[string]time.Time // plugin name: when its file last changed
	resync   bool                 // a file now resolves elsewhere: watch its new folder
	debounce time.Duration
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
	fw := &fileWatcher{r: r, w: w, dirs: map[string]bool{}, pending: map[string]time.Time{}, debounce: r.Debounce}
	if fw.debounce <= 0 {
		fw.debounce = 100 * time.Millisecond
	}
	fw.sync()
	tick := time.NewTicker(fw.debounce / 4)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.changed:
			fw.sync()
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			fw.event(ev)
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			r.e.log.Warn("plugin watch error", "error", err)
		case now := <-tick.C:
			fw.reloadDue(ctx, now)
		}
	}
}

// sync rebuilds the file list from the registry and watches exactly the folders that hold the
// files and their symlink targets.
func (fw *fileWatcher) sync() {
	fw.files = fw.files[:0]
	want := map[string]bool{}
	for _, n := range fw.r.Names() {
		p, ok := fw.r.Get(n)
		if !ok || p.Path() == "" {
			continue
		}
		abs, err := filepath.Abs(p.Path())
		if err != nil {
			fw.r.e.log.Warn("plugin watch: bad path", "plugin", n, "error", err)
			continue
		}
		res, _ := filepath.EvalSymlinks(abs)
		fw.files = append(fw.files, watchedFile{name: n, abs: abs, resolved: res})
		want[filepath.Dir(abs)] = true
		if res != "" {
			want[filepath.Dir(res)] = true
		}
	}
	for d := range fw.dirs {
		if !want[d] {
			_ = fw.w.Remove(d)
			delete(fw.dirs, d)
		}
	}
	for d := range want {
		if fw.dirs[d] {
			continue
		}
		if err := fw.w.Add(d); err != nil {
			fw.r.e.log.Warn("plugin watch: cannot watch folder; use SIGHUP or the admin endpoint", "dir", d, "error", err)
			continue
		}
		fw.dirs[d] = true
	}
}

// event marks as pending every plugin whose file the event names (a removal alone is not a
// change) or whose file now resolves elsewhere.
func (fw *fileWatcher) event(ev fsnotify.Event) {
	name := filepath.Clean(ev.Name)
	for i := range fw.files {
		f := &fw.files[i]
		res, _ := filepath.EvalSymlinks(f.abs)
		moved := res != f.resolved
		if moved || ((name == f.abs || name == f.resolved) && ev.Op != fsnotify.Remove) {
			if moved {
				f.resolved = res
				fw.resync = true // the new target's folder is watched from now on
			}
			fw.pending[f.name] = time.Now()
		}
	}
}

// reloadDue reloads the pending plugins that have been quiet for the debounce, then, once none
// is pending, re-syncs the folders if a file moved.
func (fw *fileWatcher) reloadDue(ctx context.Context, now time.Time) {
	for name, at := range fw.pending {
		if now.Sub(at) < fw.debounce {
			continue
		}
		delete(fw.pending, name)
		if err := fw.r.ReloadOne(ctx, name); err != nil {
			fw.r.e.log.Error("plugin file reload failed", "plugin", name, "error", err)
		}
	}
	if fw.resync && len(fw.pending) == 0 {
		fw.resync = false
		fw.sync()
	}
}
