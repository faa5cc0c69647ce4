//go:build !wasip1

package sdk

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSourceCarriesEveryPackage: the SDK copy `sluice plugin new` writes must hold every guest
// package of the module (a package added without widening the embed pattern would build here
// and fail in a plugin made outside a checkout). The conformance kit is host-side.
func TestSourceCarriesEveryPackage(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "conformance", "testdata", "node_modules", "as":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		if _, err := fs.Stat(Source(), filepath.ToSlash(path)); err != nil {
			t.Errorf("%s is not in the embedded SDK source (widen the go:embed pattern in source.go)", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("go.mod"); err != nil {
		t.Fatal(err)
	}
}
