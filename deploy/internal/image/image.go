// Package image builds sluice's container image from a static binary, without a container
// engine: one layer with the binary, CA certificates, a passwd entry for the non-root user and
// an empty /tmp, and a config that runs `sluice serve` on the embedded default configuration.
package image

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// UID and GID of the user the gateway runs as (the conventional "nonroot" of distroless images).
const (
	UID = 65532
	GID = 65532
)

// Ports the image exposes: the client API and the admin listener (metrics, reloads).
const (
	APIPort     = 8080
	MetricsPort = 9090
	AdminPort   = 9091
)

// Options describe one image.
type Options struct {
	// Binary is the path of a statically linked sluice binary for Arch.
	Binary string
	// Arch is the GOARCH of the binary ("amd64", "arm64").
	Arch string
	// CACerts is a PEM bundle installed as /etc/ssl/certs/ca-certificates.crt, so the gateway
	// can reach providers over TLS; empty leaves it out.
	CACerts string
	// Version, Revision and Source become OCI labels.
	Version, Revision, Source string
	// Created is the image's creation time (and every file's); zero is the Unix epoch, for
	// reproducible builds.
	Created time.Time
}

// Build returns the image. It uses Docker's media types: the OCI image config has no health
// check, and Docker and Podman read Healthcheck only from Docker-format images.
func Build(o Options) (v1.Image, error) {
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	if err := checkStatic(o.Binary); err != nil {
		return nil, err
	}
	var certs []byte
	if o.CACerts != "" {
		if certs, err = os.ReadFile(o.CACerts); err != nil {
			return nil, fmt.Errorf("image: %w", err)
		}
	}
	created := o.Created
	if created.IsZero() {
		created = time.Unix(0, 0)
	}
	layerTar, err := rootfs(bin, certs, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.DockerLayer))
	if err != nil {
		return nil, fmt.Errorf("image: layer: %w", err)
	}
	img := mutate.MediaType(empty.Image, types.DockerManifestSchema2)
	img = mutate.ConfigMediaType(img, types.DockerConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.DockerLayer,
		History:   v1.History{Created: v1.Time{Time: created}, CreatedBy: "sluice deploy/cmd/mkimage", Comment: "sluice binary, CA certificates, passwd, /tmp"},
	})
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cf = cf.DeepCopy()
	cf.Architecture = o.Arch
	cf.OS = "linux"
	cf.Created = v1.Time{Time: created}
	cf.Config = Config(o)
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	return img, nil
}

// Config is the image's runtime configuration.
func Config(o Options) v1.Config {
	labels := map[string]string{
		"org.opencontainers.image.title":       "sluice",
		"org.opencontainers.image.description": "OpenAI-compatible LLM gateway with WebAssembly plugins",
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.revision":    o.Revision,
		"org.opencontainers.image.source":      o.Source,
	}
	for k, v := range labels {
		if v == "" {
			delete(labels, k)
		}
	}
	return v1.Config{
		User:       fmt.Sprintf("%d:%d", UID, GID),
		Entrypoint: []string{"/sluice"},
		Cmd:        []string{"serve"},
		WorkingDir: "/",
		Env: []string{
			// The embedded default config reads these; inside a container the API and the
			// metrics must not be loopback-only. The admin API stays on loopback (reach it with
			// kubectl port-forward or podman exec) unless the operator gives it a token and an
			// address. Anything else the process writes goes under /tmp.
			fmt.Sprintf("SLUICE_LISTEN=0.0.0.0:%d", APIPort),
			fmt.Sprintf("SLUICE_METRICS_LISTEN=0.0.0.0:%d", MetricsPort),
			fmt.Sprintf("SLUICE_ADMIN_LISTEN=127.0.0.1:%d", AdminPort),
			"SLUICE_PLUGIN_CACHE=/tmp/sluice-wasm",
			"HOME=/tmp",
			"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
		},
		ExposedPorts: map[string]struct{}{
			fmt.Sprintf("%d/tcp", APIPort):     {},
			fmt.Sprintf("%d/tcp", MetricsPort): {},
		},
		Volumes: map[string]struct{}{"/tmp": {}},
		Healthcheck: &v1.HealthConfig{
			Test:        []string{"CMD", "/sluice", "health", "--url", fmt.Sprintf("http://127.0.0.1:%d/health", APIPort)},
			Interval:    10 * time.Second,
			Timeout:     3 * time.Second,
			StartPeriod: 5 * time.Second,
			Retries:     3,
		},
		StopSignal: "SIGTERM",
		Labels:     labels,
	}
}

// rootfs is the one layer's tar: no shell, nothing but what the binary needs.
func rootfs(bin, certs []byte, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64, uid, gid int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, Uid: uid, Gid: gid, ModTime: mtime, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/tmp:/sbin/nologin\n", UID, GID)
	group := fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", GID)
	steps := []func() error{
		func() error { return dir("etc/", 0o755, 0, 0) },
		func() error { return file("etc/passwd", 0o644, []byte(passwd)) },
		func() error { return file("etc/group", 0o644, []byte(group)) },
		func() error { return dir("tmp/", 0o1777, 0, 0) },
		func() error { return file("sluice", 0o755, bin) },
	}
	if certs != nil {
		steps = append(steps,
			func() error { return dir("etc/ssl/", 0o755, 0, 0) },
			func() error { return dir("etc/ssl/certs/", 0o755, 0, 0) },
			func() error { return file("etc/ssl/certs/ca-certificates.crt", 0o644, certs) })
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, fmt.Errorf("image: layer: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("image: layer: %w", err)
	}
	return buf.Bytes(), nil
}

// checkStatic refuses a binary that needs a dynamic loader: the image has none.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("image: %s is not a Linux binary: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("image: " + path + " is dynamically linked; build it with CGO_ENABLED=0")
		}
	}
	return nil
}
