package image

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/sluice-gw/sluice/deploy/internal/buildtest"
)

// build writes the image of a freshly built static binary as a docker-archive and reads it
// back from the file, as `podman load` would.
func build(t *testing.T) (v1.Image, string) {
	t.Helper()
	bin, err := buildtest.Static()
	if err != nil {
		t.Fatal(err)
	}
	img, err := Build(Options{Binary: bin, Arch: runtime.GOARCH, CACerts: "/etc/ssl/certs/ca-certificates.crt", Version: "v0.0.0-test", Revision: "0123abc", Source: "https://github.com/sluice-gw/sluice"})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "image.tar")
	ref := name.MustParseReference("localhost/sluice:deploy-test")
	if err := tarball.WriteToFile(out, ref, img); err != nil {
		t.Fatal(err)
	}
	tag := ref.(name.Tag)
	back, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatal(err)
	}
	return back, out
}

func TestImageConfig(t *testing.T) {
	img, _ := build(t)
	mt, err := img.MediaType()
	if err != nil || mt != types.DockerManifestSchema2 {
		t.Fatalf("manifest media type %s, %v", mt, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
	}
	if c.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"/sluice"}) || !slices.Equal(c.Cmd, []string{"serve"}) {
		t.Errorf("entrypoint %q cmd %q", c.Entrypoint, c.Cmd)
	}
	for _, p := range []string{"8080/tcp", "9090/tcp"} {
		if _, ok := c.ExposedPorts[p]; !ok {
			t.Errorf("port %s not exposed: %v", p, c.ExposedPorts)
		}
	}
	if _, ok := c.Volumes["/tmp"]; !ok {
		t.Errorf("no /tmp volume: %v", c.Volumes)
	}
	if c.Healthcheck == nil || !slices.Equal(c.Healthcheck.Test, []string{"CMD", "/sluice", "health", "--url", "http://127.0.0.1:8080/health"}) || c.Healthcheck.Interval <= 0 {
		t.Errorf("healthcheck %+v", c.Healthcheck)
	}
	for _, e := range []string{"SLUICE_LISTEN=0.0.0.0:8080", "SLUICE_METRICS_LISTEN=0.0.0.0:9090", "SLUICE_ADMIN_LISTEN=127.0.0.1:9091", "SLUICE_PLUGIN_CACHE=/tmp/sluice-wasm"} {
		if !slices.Contains(c.Env, e) {
			t.Errorf("env lacks %s: %v", e, c.Env)
		}
	}
	if c.Labels["org.opencontainers.image.version"] != "v0.0.0-test" || c.Labels["org.opencontainers.image.source"] != "https://github.com/sluice-gw/sluice" || c.Labels["org.opencontainers.image.revision"] != "0123abc" {
		t.Errorf("labels %v", c.Labels)
	}
}

func TestImageLayer(t *testing.T) {
	img, _ := build(t)
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers, %v; want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]*tar.Header{}
	var bin []byte
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimSuffix(h.Name, "/")] = h
		if h.Name == "sluice" {
			bin, _ = io.ReadAll(tr)
		}
	}
	for _, shell := range []string{"bin/sh", "bin/bash", "bin/busybox", "usr/bin/env", "bin", "usr"} {
		if _, ok := files[shell]; ok {
			t.Errorf("layer has %s", shell)
		}
	}
	for _, f := range []string{"sluice", "etc/passwd", "etc/group", "etc/ssl/certs/ca-certificates.crt", "tmp"} {
		if files[f] == nil {
			t.Errorf("layer lacks %s", f)
		}
	}
	if h := files["tmp"]; h != nil && h.Mode&0o1777 != 0o1777 {
		t.Errorf("/tmp mode %o", h.Mode)
	}
	if h := files["sluice"]; h != nil && (h.Mode&0o111 == 0 || h.Uid != 0) {
		t.Errorf("/sluice mode %o uid %d: want executable and root-owned (not writable by the user)", h.Mode, h.Uid)
	}
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		t.Fatalf("/sluice is not ELF: %v", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("/sluice is dynamically linked")
		}
	}
	if files["etc/passwd"] != nil {
		// The user name resolves inside the image.
		if !strings.Contains(readFile(t, img, "etc/passwd"), "nonroot:x:65532:65532:") {
			t.Error("passwd lacks the nonroot user")
		}
	}
}

func TestRefusesDynamicBinary(t *testing.T) {
	// The test binary itself is a Linux ELF; a cgo-linked one has an interpreter. Find one
	// that surely does.
	for _, p := range []string{"/bin/ls", "/usr/bin/env"} {
		if _, err := os.Stat(p); err == nil {
			if _, err := Build(Options{Binary: p, Arch: runtime.GOARCH}); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
				t.Fatalf("%s: %v", p, err)
			}
			return
		}
	}
	t.Skip("no dynamic binary to try")
}

func readFile(t *testing.T, img v1.Image, name string) string {
	t.Helper()
	layers, _ := img.Layers()
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s not found: %v", name, err)
		}
		if h.Name == name {
			b, _ := io.ReadAll(tr)
			return string(b)
		}
	}
}

// TestImageRuns loads the image into podman and runs it read-only as the image's user, with
// a memory limit: the health check passes, a request gets a demo answer, and the limit shows
// up as GOMEMLIMIT in the log; then again with a ConfigMap-style config folder mounted, whose
// ..data swap the gateway reloads. Skipped only when no container runtime works here.
func TestImageRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a container")
	}
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman is not installed (make test-deps installs it)")
	}
	_, archive := build(t)
	pod := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		b, err := exec.CommandContext(ctx, "podman", args...).CombinedOutput()
		return string(b), err
	}
	if out, err := pod("load", "-i", archive); err != nil {
		t.Skipf("podman load does not work here: %v\n%s", err, out)
	}
	const ref = "localhost/sluice:deploy-test"
	t.Cleanup(func() { pod("rmi", "-f", ref) })
	// Some sandboxes refuse crun's defaults (raised rlimits, hybrid cgroups); runc with the
	// limits already in force works there.
	var global, runFlags []string
	if out, err := pod("run", "--rm", "--network", "none", ref, "version"); err != nil {
		runFlags = []string{"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"}
		if _, e := exec.LookPath("runc"); e == nil {
			global = []string{"--runtime", "runc"}
		}
		retry := append(append(append([]string{}, global...), "run", "--rm", "--network", "none"), runFlags...)
		if out2, err2 := pod(append(retry, ref, "version")...); err2 != nil {
			t.Skipf("no container runtime works here:\n%s\n%s", out, out2)
		}
	}
	// start runs the image detached, read-only, with extra podman run flags and arguments
	// after the image, and waits for /ready.
	n := 0
	start := func(extra []string, cmd ...string) (name, url string) {
		n++
		port := freePort(t)
		name = fmt.Sprintf("sluice-deploy-test-%d-%d", os.Getpid(), n)
		args := append(append([]string{}, global...), "run", "-d", "--name", name, "--read-only", "-p", fmt.Sprintf("127.0.0.1:%d:8080", port))
		args = append(append(append(args, runFlags...), extra...), ref)
		if out, err := pod(append(args, cmd...)...); err != nil {
			t.Fatalf("podman run: %v\n%s", err, out)
		}
		t.Cleanup(func() { pod(append(append([]string{}, global...), "rm", "-f", name)...) })
		url = fmt.Sprintf("http://127.0.0.1:%d", port)
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get(url + "/ready")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return name, url
				}
			}
			if time.Now().After(deadline) {
				logs, _ := pod("logs", name)
				t.Fatalf("container not ready: %v\n%s", err, logs)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// The image as it is: embedded default config, under a memory limit.
	name, url := start([]string{"--memory", "256m", "-e", "SLUICE_DEMO_CHUNK_DELAY=0s"})
	resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"demo/echo","messages":[{"role":"user","content":"from a container"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "You said: from a container") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if out, err := pod(append(append([]string{}, global...), "healthcheck", "run", name)...); err != nil {
		t.Fatalf("image health check failed: %v\n%s", err, out)
	}
	if out, _ := pod("inspect", "--format", "{{.Config.User}}", name); strings.TrimSpace(out) != "65532:65532" {
		t.Errorf("container user %q", out)
	}
	logs, _ := pod("logs", name)
	// 90% of 256 MiB.
	if !strings.Contains(logs, "gomemlimit_bytes=241591910") {
		t.Errorf("GOMEMLIMIT not derived from the container's memory limit:\n%s", logs)
	}

	// A config folder laid out as the kubelet lays out a ConfigMap volume, mounted read-only
	// where the chart mounts it; an update swaps ..data on the host and the gateway in the
	// container reloads.
	dir := t.TempDir()
	version := func(ts, model string) {
		d := filepath.Join(dir, ts)
		must(t, os.Mkdir(d, 0o755))
		cfg := "[server]\nlisten = \"0.0.0.0:8080\"\nadmin_listen = \"off\"\n\n[providers.demo]\nmodels = [\"" + model + "\"]\n"
		must(t, os.WriteFile(filepath.Join(d, "sluice.toml"), []byte(cfg), 0o644))
	}
	version("..2026_01_01_00_00_00.1", "first")
	must(t, os.Chmod(dir, 0o755))
	must(t, os.Symlink("..2026_01_01_00_00_00.1", filepath.Join(dir, "..data")))
	must(t, os.Symlink("..data/sluice.toml", filepath.Join(dir, "sluice.toml")))
	_, url = start([]string{"-v", dir + ":/etc/sluice:ro"}, "serve", "-c", "/etc/sluice/sluice.toml")
	if m := get(t, url+"/v1/models"); !strings.Contains(m, "demo/first") {
		t.Fatalf("models: %s", m)
	}
	version("..2026_01_01_00_05_00.2", "second")
	must(t, os.Symlink("..2026_01_01_00_05_00.2", filepath.Join(dir, "..data_tmp")))
	must(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(get(t, url+"/v1/models"), "demo/second") {
		if time.Now().After(deadline) {
			t.Fatal("the container did not reload after the ..data swap")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
