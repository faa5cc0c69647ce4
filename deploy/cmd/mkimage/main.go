// Command mkimage writes sluice's container image, from a static binary, as a docker-archive
// tar that `docker load` and `podman load` read, and optionally as an OCI image layout.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/sluice-gw/sluice/deploy/internal/image"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run() error {
	var o image.Options
	flag.StringVar(&o.Binary, "binary", "bin/linux-amd64/sluice", "static sluice binary")
	flag.StringVar(&o.Arch, "arch", runtime.GOARCH, "GOARCH of the binary")
	flag.StringVar(&o.CACerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "PEM bundle to install (empty: none)")
	flag.StringVar(&o.Version, "version", "dev", "version label")
	flag.StringVar(&o.Revision, "revision", "", "VCS revision label")
	flag.StringVar(&o.Source, "source", "https://github.com/sluice-gw/sluice", "source repository label")
	tags := flag.String("tag", "sluice:dev", "image references stored in the archive, comma-separated")
	out := flag.String("out", "bin/sluice-image.tar", "docker-archive tar to write")
	oci := flag.String("oci", "", "also write an OCI image layout to this directory")
	flag.Parse()
	// SOURCE_DATE_EPOCH makes the build reproducible at a chosen time; the default is the epoch.
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH: %w", err)
		}
		o.Created = time.Unix(sec, 0).UTC()
	}
	img, err := image.Build(o)
	if err != nil {
		return err
	}
	refs := map[name.Tag]v1.Image{}
	for _, t := range strings.Split(*tags, ",") {
		ref, err := name.NewTag(strings.TrimSpace(t))
		if err != nil {
			return fmt.Errorf("tag: %w", err)
		}
		refs[ref] = img
	}
	if err := tarball.MultiWriteToFile(*out, refs); err != nil {
		return fmt.Errorf("write %s: %w", *out, err)
	}
	digest, _ := img.Digest()
	fmt.Printf("wrote %s (%s, %s)\n", *out, *tags, digest)
	if *oci != "" {
		p, err := layout.Write(*oci, empty.Index)
		if err != nil {
			return fmt.Errorf("oci layout: %w", err)
		}
		if err := p.AppendImage(img); err != nil {
			return fmt.Errorf("oci layout: %w", err)
		}
		fmt.Printf("wrote OCI layout %s\n", *oci)
	}
	return nil
}
