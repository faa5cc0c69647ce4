// Package builtin holds the first-party plugins embedded in the binary: the provider
// translators that `make plugins` compiles (and gzips) into wasm/ before the binary is built.
package builtin

import (
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"io"
	"io/fs"
)

//go:embed wasm
var files embed.FS

// Plugin returns the embedded module of a built-in plugin.
func Plugin(name string) ([]byte, error) {
	if gz, err := fs.ReadFile(files, "wasm/"+name+".wasm.gz"); err == nil {
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			return nil, fmt.Errorf("builtin: plugin %q: %w", name, err)
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			return nil, fmt.Errorf("builtin: plugin %q: %w", name, err)
		}
		return b, nil
	}
	b, err := fs.ReadFile(files, "wasm/"+name+".wasm")
	if err != nil {
		return nil, fmt.Errorf("builtin: plugin %q is not embedded in this binary (build with `make build`, which runs `make plugins` first)", name)
	}
	return b, nil
}
