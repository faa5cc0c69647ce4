package plugin

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func versionOf(t *testing.T, p *Plugin) string {
	t.Helper()
	out, err := p.Call(context.Background(), "on_response", []byte(`{"meta":{},"status":200,"body":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestStageChangesEverySetting: a changed setting of a loaded plugin (here config, timeout and
// pool) is applied by a staged update without a restart, in place (the same *Plugin), with
// the new version warmed before it serves; an unchanged spec changes nothing.
func TestStageChangesEverySetting(t *testing.T) {
	// A share cap above the pools asked for, so that the pool setting is what changes.
	e, err := NewEngine(EngineOptions{CacheDir: testCacheDir, MaxConcurrency: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	r := NewRegistry(e)
	t.Cleanup(func() { r.Close() })
	dir := t.TempDir()
	path := filepath.Join(dir, "good.wasm")
	writeFile(t, path, goodWasm(t, "v1"))
	ctx := context.Background()
	spec := Spec{Name: "good", Path: path, Pool: 2, Config: map[string]any{"a": 1}}
	u, err := r.Stage(ctx, []Spec{spec})
	if err != nil {
		t.Fatal(err)
	}
	u.Commit(0)
	p, ok := r.Get("good")
	if !ok {
		t.Fatal("not registered")
	}
	// Two instances live on the old version: the new one must start with two warm.
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if _, err := p.Call(ctx, "route", []byte(routeIn)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	live := p.Stats().Instances

	u, err = r.Stage(ctx, []Spec{spec})
	if err != nil {
		t.Fatal(err)
	}
	if u.Changed() {
		t.Fatal("an identical spec staged a change")
	}
	u.Commit(0)

	spec2 := spec
	spec2.Config = map[string]any{"a": 2}
	spec2.Timeout = 250 * time.Millisecond
	spec2.Pool = 3
	u, err = r.Stage(ctx, []Spec{spec2})
	if err != nil {
		t.Fatal(err)
	}
	if !u.Changed() {
		t.Fatal("a changed config staged nothing")
	}
	if p.Stats().Reloads != 0 {
		t.Fatal("staged version serves before Commit")
	}
	u.Commit(0)
	q, _ := r.Get("good")
	if q != p {
		t.Fatal("a changed plugin was replaced by a new *Plugin; routers holding it would go stale")
	}
	st := p.Stats()
	if st.Reloads != 1 || st.Instances != live {
		t.Fatalf("reloads %d instances %d, want 1 and %d (warmed like the old version)", st.Reloads, st.Instances, live)
	}
	v := p.acquire()
	if v.spec.Timeout != 250*time.Millisecond || cap(v.slots) != 3 || v.spec.Config["a"] != 2 {
		t.Fatalf("serving spec %+v pool %d", v.spec, cap(v.slots))
	}
	v.unref()

	// A refused config: the update fails naming the plugin and its cause; v keeps serving.
	bad := spec2
	bad.Config = map[string]any{"refuse": true}
	if _, err := r.Stage(ctx, []Spec{bad}); err == nil || !strings.Contains(err.Error(), `"good"`) || !strings.Contains(err.Error(), "refused by config") {
		t.Fatalf("bad config: %v", err)
	}
	if p.Stats().Reloads != 1 || p.Stats().ReloadFailures != 1 {
		t.Fatalf("stats after refused update: %+v", p.Stats())
	}
	if _, err := p.Call(ctx, "route", []byte(routeIn)); err != nil {
		t.Fatal(err)
	}

	// A changed file is picked up by a staged update too.
	writeFile(t, path, goodWasm(t, "v2"))
	u, err = r.Stage(ctx, []Spec{spec2})
	if err != nil {
		t.Fatal(err)
	}
	u.Commit(0)
	if got := versionOf(t, p); !strings.Contains(got, "v2") {
		t.Fatalf("after file change: %s", got)
	}
}

// TestStageAddRemove: plugins added by an update are registered (visible before Commit to
// what is built from the same configuration) and dropped again by Abort; removed ones are
// unregistered by Commit and closed after the grace period.
func TestStageAddRemove(t *testing.T) {
	e, _ := newTestEngine(t)
	r := NewRegistry(e)
	t.Cleanup(func() { r.Close() })
	bin := goodWasm(t, "v1")
	ctx := context.Background()
	a := Spec{Name: "a", Bytes: bin, Sandbox: SandboxTrusted}
	b := Spec{Name: "b", Bytes: bin, Sandbox: SandboxTrusted}
	u, err := r.Stage(ctx, []Spec{a})
	if err != nil {
		t.Fatal(err)
	}
	u.Commit(0)
	builtin, err := r.Load(ctx, Spec{Name: "embedded", Bytes: bin, FirstParty: true})
	if err != nil {
		t.Fatal(err)
	}

	u, err = r.Stage(ctx, []Spec{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Get("b"); !ok {
		t.Fatal("an added plugin is not visible while its update is staged")
	}
	u.Abort()
	if _, ok := r.Get("b"); ok {
		t.Fatal("an aborted update left its added plugin registered")
	}

	u, err = r.Stage(ctx, []Spec{b})
	if err != nil {
		t.Fatal(err)
	}
	pa, _ := r.Get("a")
	u.Commit(50 * time.Millisecond)
	if _, ok := r.Get("a"); ok {
		t.Fatal("a removed plugin is still registered")
	}
	if _, ok := r.Get("embedded"); !ok || builtin.Stats().Version == "" {
		t.Fatal("a plugin loaded outside updates was removed by one")
	}
	if _, err := pa.Call(ctx, "route", []byte(routeIn)); err != nil {
		t.Fatalf("a removed plugin must keep serving the old configuration during the grace: %v", err)
	}
	time.Sleep(150 * time.Millisecond)
	if _, err := pa.Call(ctx, "route", []byte(routeIn)); err == nil {
		t.Fatal("a removed plugin still serves after the grace")
	}
	if got := r.Names(); len(got) != 2 || got[0] != "b" || got[1] != "embedded" {
		t.Fatalf("names %v", got)
	}
}

// TestStageUnderLoad: swapping a changed config while two goroutines call fails no call.
func TestStageUnderLoad(t *testing.T) {
	e, _ := newTestEngine(t)
	r := NewRegistry(e)
	t.Cleanup(func() { r.Close() })
	bin := goodWasm(t, "v1")
	ctx := context.Background()
	spec := func(i int) Spec {
		return Spec{Name: "good", Bytes: bin, Sandbox: SandboxTrusted, Config: map[string]any{"n": i}}
	}
	u, err := r.Stage(ctx, []Spec{spec(0)})
	if err != nil {
		t.Fatal(err)
	}
	u.Commit(0)
	p, _ := r.Get("good")
	var stop atomic.Bool
	var calls, failed atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if _, err := p.Call(ctx, "route", []byte(routeIn)); err != nil {
					failed.Add(1)
					t.Error(err)
				}
				calls.Add(1)
			}
		}()
	}
	for i := 1; i <= 10; i++ {
		u, err := r.Stage(ctx, []Spec{spec(i)})
		if err != nil {
			t.Fatal(err)
		}
		u.Commit(0)
	}
	stop.Store(true)
	wg.Wait()
	if failed.Load() != 0 || p.Stats().Reloads != 10 {
		t.Fatalf("%d of %d calls failed, %d reloads", failed.Load(), calls.Load(), p.Stats().Reloads)
	}
}

// TestWatchFollowsRegistry: a plugin added after Watch started is watched, and a ConfigMap
// style swap of the ..data symlink reloads it.
func TestWatchFollowsRegistry(t *testing.T) {
	e, _ := newTestEngine(t)
	r := NewRegistry(e)
	r.Debounce = 30 * time.Millisecond
	t.Cleanup(func() { r.Close() })
	v1, v2 := goodWasm(t, "v1"), goodWasm(t, "v2")
	dir := t.TempDir()
	// dir/good.wasm -> ..data/good.wasm, ..data -> ..v1
	mk := func(ts string, bin []byte) {
		if err := os.Mkdir(filepath.Join(dir, ts), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ts, "good.wasm"), bin, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mk("..v1", v1)
	if err := os.Symlink("..v1", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..data/good.wasm", filepath.Join(dir, "good.wasm")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Watch(ctx) }()
	defer func() { cancel(); <-done }()
	time.Sleep(50 * time.Millisecond)
	u, err := r.Stage(ctx, []Spec{{Name: "good", Path: filepath.Join(dir, "good.wasm"), Sandbox: SandboxTrusted}})
	if err != nil {
		t.Fatal(err)
	}
	u.Commit(0)
	p, _ := r.Get("good")
	time.Sleep(100 * time.Millisecond) // the watcher picks the new plugin up
	mk("..v2", v2)
	if err := os.Symlink("..v2", filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.Stats().Reloads == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := versionOf(t, p); !strings.Contains(got, "v2") {
		t.Fatalf("after the ..data swap the plugin serves %s", got)
	}
}
