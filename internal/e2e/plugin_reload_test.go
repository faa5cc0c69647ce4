package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pluginStats reads /admin/plugins as name -> stats.
func pluginStats(t *testing.T, admin string) map[string]struct {
	Version        string
	Reloads        uint64
	ReloadFailures uint64
	Instances      int
} {
	t.Helper()
	code, body := get(t, admin+"/admin/plugins")
	if code != 200 {
		t.Fatalf("/admin/plugins: %d %s", code, body)
	}
	var list []struct {
		Plugin         string
		Version        string
		Reloads        uint64
		ReloadFailures uint64
		Instances      int
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("/admin/plugins: %v: %s", err, body)
	}
	out := map[string]struct {
		Version        string
		Reloads        uint64
		ReloadFailures uint64
		Instances      int
	}{}
	for _, s := range list {
		out[s.Plugin] = struct {
			Version        string
			Reloads        uint64
			ReloadFailures uint64
			Instances      int
		}{s.Version, s.Reloads, s.ReloadFailures, s.Instances}
	}
	return out
}

// writeConfig replaces the running sluice's config file by write-then-rename, so that its
// config watcher never reads a half-written file.
func writeConfig(t *testing.T, s *Sluice, cfg string) {
	t.Helper()
	replaceFile(t, s.cmd.Args[len(s.cmd.Args)-1], []byte(cfg))
}

// Every [plugins.X] setting (config, timeout, memory, pool, path) changed and reloaded under
// load applies with no failed request; a plugin that fails to initialise with its new config is
// refused, naming the plugin and the cause, and the old version keeps serving.
func TestPluginSettingsReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	p1, p2 := filepath.Join(dir, "v1.wasm"), filepath.Join(dir, "v2.wasm")
	if err := os.WriteFile(p1, guestWasm(t, "v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p2, guestWasm(t, "v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := func(path, settings string) string {
		return `policies = ["guard"]` + upstreamConfig("http://127.0.0.1:1", fmt.Sprintf(`
[plugins.guard]
path = %q
%s
`, path, settings))
	}
	s := startSluice(t, cfg(p1, `config = { n = 1 }`))
	url := s.URL + "/v1/chat/completions"
	waitVersion(t, url, "v1", time.Second)
	load := startLoad(url, pchat("demo/echo"))
	steps := []struct{ path, settings string }{
		{p1, `config = { n = 2 }`},
		{p1, "config = { n = 2 }\ntimeout = \"300ms\""},
		{p1, "config = { n = 2 }\ntimeout = \"300ms\"\nmemory = \"32MiB\""},
		{p1, "config = { n = 2 }\ntimeout = \"300ms\"\nmemory = \"32MiB\"\npool = 3"},
		{p2, "config = { n = 2 }\ntimeout = \"300ms\"\nmemory = \"32MiB\"\npool = 3"},
	}
	for i, st := range steps {
		writeConfig(t, s, cfg(st.path, st.settings))
		if code, body := adminPost(t, s.Admin+"/admin/reload"); code != 200 {
			t.Fatalf("step %d: reload: %d %s", i, code, body)
		}
		if got := pluginStats(t, s.Admin)["guard"].Reloads; got != uint64(i+1) {
			t.Fatalf("step %d: %d reloads of guard, want %d", i, got, i+1)
		}
	}
	waitVersion(t, url, "v2", time.Second)

	// Refused at init by its new config: the reload fails naming plugin and cause.
	writeConfig(t, s, cfg(p1, `config = { refuse = true }`))
	code, body := adminPost(t, s.Admin+"/admin/reload")
	if code != 422 || !strings.Contains(body, `\"guard\"`) && !strings.Contains(body, `guard`) || !strings.Contains(body, "refused by config") {
		t.Fatalf("reload with a refusing config: %d %s", code, body)
	}
	waitVersion(t, url, "v2", time.Second)
	load.finish(t)
	if st := pluginStats(t, s.Admin)["guard"]; st.Reloads != uint64(len(steps)) || st.ReloadFailures != 1 {
		t.Fatalf("stats %+v", st)
	}
	// SIGHUP applies a setting change too.
	writeConfig(t, s, cfg(p1, `config = { n = 3 }`))
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, url, "v1", 5*time.Second)
}

// A plugin added by a config reload serves and its file is watched from then on; removed by
// the next reload, it no longer runs, is gone from /admin/plugins, and its file is no longer
// watched.
func TestPluginAddedAndRemovedByReload(t *testing.T) {
	path := filepath.Join(t.TempDir(), "guard.wasm")
	v1, v2 := guestWasm(t, "v1"), guestWasm(t, "v2")
	if err := os.WriteFile(path, v1, 0o644); err != nil {
		t.Fatal(err)
	}
	without := upstreamConfig("http://127.0.0.1:1", "")
	with := `policies = ["guard"]` + upstreamConfig("http://127.0.0.1:1", fmt.Sprintf(`
[plugins.guard]
path = %q
`, path))
	s := startSluice(t, without)
	url := s.URL + "/v1/chat/completions"
	if code, _, body := post(t, url, pchat("demo/echo")); code != 200 || strings.Contains(body, `"version"`) {
		t.Fatalf("before: %d %s", code, body)
	}
	writeConfig(t, s, with)
	if code, body := adminPost(t, s.Admin+"/admin/reload"); code != 200 {
		t.Fatalf("reload adding guard: %d %s", code, body)
	}
	waitVersion(t, url, "v1", time.Second)
	// Watched since it was added.
	replaceFile(t, path, v2)
	waitVersion(t, url, "v2", 30*time.Second)

	writeConfig(t, s, without)
	if code, body := adminPost(t, s.Admin+"/admin/reload"); code != 200 {
		t.Fatalf("reload removing guard: %d %s", code, body)
	}
	if code, _, body := post(t, url, pchat("demo/echo")); code != 200 || strings.Contains(body, `"version"`) {
		t.Fatalf("after removal: %d %s", code, body)
	}
	if _, ok := pluginStats(t, s.Admin)["guard"]; ok {
		t.Fatal("a removed plugin is still listed")
	}
	replaceFile(t, path, v1)
	time.Sleep(400 * time.Millisecond)
	if strings.Count(s.Logs(), "plugin reloaded") != 1 {
		t.Fatalf("the removed plugin's file is still watched:\n%s", s.Logs())
	}
	// And added back.
	writeConfig(t, s, with)
	if code, body := adminPost(t, s.Admin+"/admin/reload"); code != 200 {
		t.Fatalf("reload adding guard back: %d %s", code, body)
	}
	waitVersion(t, url, "v1", time.Second)
}

// A plugin file in a Kubernetes ConfigMap volume (file -> ..data/file, ..data -> a timestamped
// folder) is reloaded when the volume is updated by renaming a new ..data over the old one.
func TestPluginConfigMapSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	put := func(ts string, bin []byte) {
		if err := os.Mkdir(filepath.Join(dir, ts), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, ts, "guard.wasm"), bin, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put("..2026_12_03_10_00_00.1", guestWasm(t, "v1"))
	if err := os.Symlink("..2026_12_03_10_00_00.1", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..data/guard.wasm", filepath.Join(dir, "guard.wasm")); err != nil {
		t.Fatal(err)
	}
	s := startSluice(t, `policies = ["guard"]`+upstreamConfig("http://127.0.0.1:1", fmt.Sprintf(`
[plugins.guard]
path = %q
`, filepath.Join(dir, "guard.wasm"))))
	url := s.URL + "/v1/chat/completions"
	waitVersion(t, url, "v1", time.Second)
	load := startLoad(url, pchat("demo/echo"))
	// What the kubelet does: a new timestamped folder, a new ..data_tmp symlink, renamed over.
	put("..2026_12_03_10_05_00.2", guestWasm(t, "v2"))
	if err := os.Symlink("..2026_12_03_10_05_00.2", filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "..2026_12_03_10_00_00.1")); err != nil {
		t.Fatal(err)
	}
	waitVersion(t, url, "v2", 30*time.Second)
	load.finish(t)
}

// Reload requests that overlap are applied one at a time and none is lost: the configuration
// written last is serving as soon as the last request has been answered.
func TestConcurrentReloadsLastConfigWins(t *testing.T) {
	dir := t.TempDir()
	p1, p2 := filepath.Join(dir, "v1.wasm"), filepath.Join(dir, "v2.wasm")
	if err := os.WriteFile(p1, guestWasm(t, "v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p2, guestWasm(t, "v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := func(path string, n int) string {
		return `policies = ["guard"]` + upstreamConfig("http://127.0.0.1:1", fmt.Sprintf(`
[plugins.guard]
path = %q
config = { n = %d }
`, path, n))
	}
	s := startSluice(t, cfg(p1, 0))
	url := s.URL + "/v1/chat/completions"
	waitVersion(t, url, "v1", time.Second)
	codes := make(chan int, 20)
	for i := 1; i <= 20; i++ {
		path := p1
		if i%2 == 0 {
			path = p2
		}
		writeConfig(t, s, cfg(path, i))
		go func() {
			code, _, _, _ := quietPost(s.Admin+"/admin/reload", "")
			codes <- code
		}()
	}
	for range 20 {
		if code := <-codes; code != 200 {
			t.Fatalf("a reload answered %d", code)
		}
	}
	// No waiting: the last request's answer came from a run that read the last file.
	if code, _, body := post(t, url, pchat("demo/echo")); code != 200 || !strings.Contains(body, `"version":"v2"`) {
		t.Fatalf("after the last reload: %d %s", code, body)
	}
	t.Logf("%d reload runs answered 20 overlapping requests", strings.Count(s.Logs(), "configuration reloaded"))
}
