// Package builtin holds the first-party plugins embedded in the binary: the provider
// translators that `make plugins` compiles (and gzips) into wasm/ before the binary is built.
// The three translators are one module (plugins/translators), so the binary carries one Go
// runtime for them; each is that module loaded with its name as config.
package builtin

import (
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"slices"
)

//go:embed wasm
var files embed.FS

// Translators are the built-in translator plugins, all served by the one translators module.
var Translators = []string{"anthropic", "bedrock", "gemini"}

// Config is the plugin config a built-in plugin is loaded with (nil for none).
func Config(name string) map[string]any {
	if slices.Contains(Translators, name) {
		return map[string]any{"translator": name}
	}
	return nil
}

// Plugin returns the embedded module of a built-in plugin.
func Plugin(name string) ([]byte, error) {
	file := name
	if slices.Contains(Translators, name) {
		file = "translators"
	}
	if gz, err := fs.ReadFile(files, "wasm/"+file+".wasm.gz"); err == nil {
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
	b, err := fs.ReadFile(files, "wasm/"+file+".wasm")
	if err != nil {
		return nil, fmt.Errorf("builtin: plugin %q is not embedded in this binary (build with `make build`, which runs `make plugins` first)", name)
	}
	return b, nil
}
