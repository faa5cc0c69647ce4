package plugin

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Registry holds the loaded plugins by name and drives reloads: Stage and Update for a
// configuration reload (any setting, plugins added and removed), ReloadAll/ReloadOne for SIGHUP
// and the admin endpoint, Watch for file changes.
type Registry struct {
	e        *Engine
	mu       sync.RWMutex
	plugins  map[string]*Plugin
	declared map[string]bool // names Stage manages: added, changed and removed by updates

	// change serialises updates and file reloads: a staged update holds it until it is
	// committed or aborted, so a file reload never interleaves with a configuration swap.
	change  sync.Mutex
	changed chan struct{} // wakes Watch when the plugin set or a path changed

	Debounce time.Duration // quiet period after a file event before reloading; default 100ms
}

// NewRegistry returns an empty registry over e.
func NewRegistry(e *Engine) *Registry {
	return &Registry{e: e, plugins: map[string]*Plugin{}, declared: map[string]bool{},
		changed: make(chan struct{}, 1), Debounce: 100 * time.Millisecond}
}

// Load loads spec and registers it under spec.Name; a name already registered is an error.
// Plugins registered by Load are not managed by Stage (embedded translators loaded on demand).
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
	r.notify()
	return p, nil
}

func (r *Registry) notify() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
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

// Update is a set of plugin changes built by Registry.Stage: every new or changed plugin
// compiled, initialised and warmed, none of it serving yet. Commit applies all of it at once;
// Abort drops all of it. Until one of them runs, other updates and file reloads wait.
type Update struct {
	r       *Registry
	swaps   []staged
	added   []*Plugin
	removed []*Plugin
	done    bool
}

type staged struct {
	p    *Plugin
	v    *version
	spec Spec
	sum  [32]byte
}

// Stage prepares the registry to serve exactly specs as its declared plugins: a plugin whose
// settings or file changed gets a new version (built and warmed, not swapped in yet), a new
// name is loaded and registered (so that what is built from the same configuration can look it
// up), a declared name missing from specs is marked for removal. A plugin that fails to build
// fails the whole update, naming the plugin and the cause, and nothing changes.
func (r *Registry) Stage(ctx context.Context, specs []Spec) (*Update, error) {
	r.change.Lock()
	u := &Update{r: r}
	want := map[string]bool{}
	var errs []error
	sorted := slices.Clone(specs)
	slices.SortFunc(sorted, func(a, b Spec) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	for _, spec := range sorted {
		want[spec.Name] = true
		if err := u.stage(ctx, spec); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		u.Abort()
		return nil, err
	}
	r.mu.RLock()
	for name := range r.declared {
		if !want[name] {
			u.removed = append(u.removed, r.plugins[name])
		}
	}
	r.mu.RUnlock()
	return u, nil
}

func (u *Update) stage(ctx context.Context, spec Spec) error {
	if spec.Name == "" {
		return errors.New("plugin: load: empty name")
	}
	spec = u.r.e.normalize(spec)
	p, ok := u.r.Get(spec.Name)
	if !ok {
		np, err := u.r.e.Load(ctx, spec)
		if err != nil {
			return err
		}
		u.r.mu.Lock()
		u.r.plugins[spec.Name] = np
		u.r.mu.Unlock()
		u.added = append(u.added, np)
		return nil
	}
	bin, err := spec.module()
	if err != nil {
		p.stats.reloadFailures.Add(1)
		return fmt.Errorf("plugin: reload %q: %w", spec.Name, err)
	}
	sum := sha256.Sum256(bin)
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	if sum == p.fileSum && sameSettings(p.spec, spec) {
		u.r.mu.Lock()
		u.r.declared[spec.Name] = true // an embedded translator the configuration now declares
		u.r.mu.Unlock()
		return nil
	}
	v, err := p.prepareLocked(ctx, &spec, bin)
	if err != nil {
		return err
	}
	p.next.Store(v)
	u.swaps = append(u.swaps, staged{p: p, v: v, spec: spec, sum: sum})
	return nil
}

// Changed reports whether the update adds, changes or removes anything.
func (u *Update) Changed() bool {
	return len(u.swaps)+len(u.added)+len(u.removed) > 0
}

// Commit swaps every staged version in, makes added plugins declared and unregisters removed
// ones, closing them after grace (calls in flight on an older configuration may still use them).
func (u *Update) Commit(grace time.Duration) {
	if u.done {
		return
	}
	u.done = true
	r := u.r
	for _, s := range u.swaps {
		s.p.reloadMu.Lock()
		s.p.next.Store(nil)
		s.p.swapLocked(s.v, s.spec, s.sum)
		s.p.reloadMu.Unlock()
	}
	r.mu.Lock()
	for _, p := range u.added {
		r.declared[p.name] = true
	}
	for _, p := range u.removed {
		if r.plugins[p.name] == p {
			delete(r.plugins, p.name)
		}
		delete(r.declared, p.name)
	}
	r.notify()
	r.mu.Unlock()
	for _, p := range u.removed {
		p.log.Info("plugin removed by a configuration reload", "closing_in", grace.String())
		time.AfterFunc(grace, func() { _ = p.Close() })
	}
	r.change.Unlock()
}

// Abort drops every staged version and unloads added plugins. It is a no-op after Commit, so
// it can be deferred.
func (u *Update) Abort() {
	if u.done {
		return
	}
	u.done = true
	for _, s := range u.swaps {
		s.p.next.Store(nil)
		s.v.unref()
	}
	u.r.mu.Lock()
	for _, p := range u.added {
		if u.r.plugins[p.name] == p {
			delete(u.r.plugins, p.name)
		}
	}
	u.r.mu.Unlock()
	for _, p := range u.added {
		_ = p.Close()
	}
	u.r.change.Unlock()
}

// ReloadOne re-reads the file of plugin name and swaps it in when it changed.
func (r *Registry) ReloadOne(ctx context.Context, name string) error {
	r.change.Lock()
	defer r.change.Unlock()
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
	r.change.Lock()
	defer r.change.Unlock()
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
	r.declared = map[string]bool{}
	r.mu.Unlock()
	for _, p := range ps {
		_ = p.Close()
	}
	return nil
}
