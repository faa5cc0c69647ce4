package conformance

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
)

var (
	buildMu   sync.Mutex
	buildOnce = map[string]*buildResult{}
)

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// BuildGuest builds the Go package in pkgDir as a wasip1 c-shared plugin and returns the
// .wasm path. Results are cached under os.TempDir()/sluice-guests keyed by a hash of the
// package's sources, the SDK's sources, ldflags and the Go version, so repeated test runs
// reuse them; within one process each build runs once.
func BuildGuest(pkgDir, ldflags string) (string, error) {
	pkgDir, err := filepath.Abs(pkgDir)
	if err != nil {
		return "", err
	}
	key := pkgDir + "\x00" + ldflags
	buildMu.Lock()
	r := buildOnce[key]
	if r == nil {
		r = &buildResult{}
		buildOnce[key] = r
	}
	buildMu.Unlock()
	r.once.Do(func() { r.path, r.err = build(pkgDir, ldflags) })
	return r.path, r.err
}

// sdkDir is the sdk package directory (the parent of this package).
func sdkDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

func build(pkgDir, ldflags string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", runtime.Version(), ldflags, filepath.Base(pkgDir))
	for _, dir := range []string{pkgDir, sdkDir()} {
		var files []string
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && p != dir && (d.Name() == "conformance" || d.Name() == "testdata" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(p, ".go") {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("build %s: %w", pkgDir, err)
		}
		sort.Strings(files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(f), len(b))
			h.Write(b)
		}
	}
	sum := hex.EncodeToString(h.Sum(nil))[:16]
	outDir := filepath.Join(os.TempDir(), "sluice-guests")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(outDir, filepath.Base(pkgDir)+"-"+sum+".wasm")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	tmp, err := os.CreateTemp(outDir, "build-*.wasm")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	flags := "-s -w"
	if ldflags != "" {
		flags += " " + ldflags
	}
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-ldflags="+flags, "-o", tmp.Name(), ".")
	cmd.Dir = pkgDir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", pkgDir, err, b)
	}
	// Rename is atomic, so concurrent test processes never see a partial module.
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", err
	}
	return out, nil
}
