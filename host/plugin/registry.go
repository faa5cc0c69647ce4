package plugin

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Registry holds the loaded plugins by name and drives reloads: ReloadAll/ReloadOne for SIGHUP
// and the admin endpoint, Watch for file changes.
type Registry struct {
	e        *Engine
	mu       sync.RWMutex
	plugins  map[string]*Plugin
	Debounce time.Duration // quiet period after a file event before reloading; default 100ms
}

// NewRegistry returns an empty registry over e.
func NewRegistry(e *Engine) *Registry {
	return &Registry{e: e, plugins: map[string]*Plugin{}, Debounce: 100 * time.Millisecond}
}

// Load loads spec and registers it under spec.Name; a name already registered is an error.
func (r *Registry) Load(ctx context.Context, spec Spec) (*Plugin, error) {
	r.mu.RLock()
	_, dup := r.plugins[spec.Name]
	r.mu.RUnlock()
	if dup {
		return nil, fmt.Errorf("plugin: load %q: name already registered", spec.Name)
	}
	p, err := r.e.Load(ctx, spec)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.plugins[spec.Name]; dup {
		_ = p.Close()
		return nil, fmt.Errorf("plugin: load %q: name already registered", spec.Name)
	}
	r.plugins[spec.Name] = p
	return p, nil
}

// Get returns the plugin registered as name.
func (r *Registry) Get(name string) (*Plugin, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.plugins[name]
	return p, ok
}

// Names lists the registered plugins, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.plugins))
	for n := range r.plugins {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Stats returns every plugin's statistics, sorted by name.
func (r *Registry) Stats() []Stats {
	names := r.Names()
	out := make([]Stats, 0, len(names))
	for _, n := range names {
		if p, ok := r.Get(n); ok {
			out = append(out, p.Stats())
		}
	}
	return out
}

// ReloadOne re-reads the file of plugin name and swaps it in when it changed.
func (r *Registry) ReloadOne(ctx context.Context, name string) error {
	p, ok := r.Get(name)
	if !ok {
		return fmt.Errorf("plugin: reload %q: no such plugin", name)
	}
	_, err := p.ReloadFile(ctx)
	return err
}

// ReloadAll reloads every file-backed plugin whose file changed. Failures are joined; each
// failed plugin keeps its previous version.
func (r *Registry) ReloadAll(ctx context.Context) error {
	var errs []error
	for _, n := range r.Names() {
		p, ok := r.Get(n)
		if !ok || p.Path() == "" {
			continue
		}
		if _, err := p.ReloadFile(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close closes every registered plugin.
func (r *Registry) Close() error {
	r.mu.Lock()
	ps := r.plugins
	r.plugins = map[string]*Plugin{}
	r.mu.Unlock()
	for _, p := range ps {
		_ = p.Close()
	}
	return nil
}

// Watch reloads file-backed plugins when their files change, until ctx is done. It watches
// the directories (so editors' and build tools' write-then-rename replacements are seen) and
// waits for Debounce of quiet before reloading. The plugins to watch are those registered when
// Watch starts.
func (r *Registry) Watch(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("plugin: watch: %w", err)
	}
	defer w.Close()
	byPath := map[string]string{}
	dirs := map[string]bool{}
	for _, n := range r.Names() {
		p, _ := r.Get(n)
		if p == nil || p.Path() == "" {
			continue
		}
		abs, err := filepath.Abs(p.Path())
		if err != nil {
			return fmt.Errorf("plugin: watch %q: %w", n, err)
		}
		byPath[abs] = n
		dirs[filepath.Dir(abs)] = true
	}
	for d := range dirs {
		if err := w.Add(d); err != nil {
			return fmt.Errorf("plugin: watch %s: %w", d, err)
		}
	}
	debounce := r.Debounce
	if debounce <= 0 {
		debounce = 100 * time.Millisecond
	}
	pending := map[string]time.Time{}
	tick := time.NewTicker(debounce / 4)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Write) && !ev.Has(fsnotify.Rename) && !ev.Has(fsnotify.Chmod) {
				continue
			}
			abs, _ := filepath.Abs(ev.Name)
			if name, ok := byPath[abs]; ok {
				pending[name] = time.Now()
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
		}
	}
}
