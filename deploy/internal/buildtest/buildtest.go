// Package buildtest builds the sluice binary for the deployment tests, the way the Makefile
// does, once per test process.
package buildtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// Tags are the build tags of every sluice binary the Makefile builds (BUILD_TAGS there).
const Tags = "grpcnotrace"

// Root is the sluice checkout: the parent of the deploy module.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

var (
	once sync.Once
	bin  string
	err  error
)

// Static returns a stripped, statically linked linux binary for the host's GOARCH, built into
// a temporary folder with version "v0.0.0-test" and commit "0123abc".
func Static() (string, error) {
	once.Do(func() {
		dir, e := os.MkdirTemp("", "sluice-deploy-test-")
		if e != nil {
			err = e
			return
		}
		bin = filepath.Join(dir, "sluice")
		err = Build(bin, "-s -w -X main.version=v0.0.0-test -X main.commit=0123abc")
	})
	return bin, err
}

// Build builds cmd/sluice to out with CGO off, the Makefile's tags and the given -ldflags;
// extra environment (GOOS=...) is added to the go command's.
func Build(out, ldflags string, env ...string) error {
	cmd := exec.Command("go", "build", "-trimpath", "-tags", Tags, "-ldflags", ldflags, "-o", out, "./cmd/sluice")
	cmd.Dir = Root()
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux"), env...)
	if b, e := cmd.CombinedOutput(); e != nil {
		return fmt.Errorf("go build: %v\n%s", e, strings.TrimSpace(string(b)))
	}
	return nil
}
