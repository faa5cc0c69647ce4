package auth

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
)

// LoadKeysFile reads key specs from a file: JSON lines (.jsonl, .ndjson, .json: one KeySpec
// object per line; blank lines and lines starting with # are skipped) or TOML (anything else:
// an array of [[keys]] tables). Unknown fields are errors; errors carry file:line where the
// format gives one.
func LoadKeysFile(path string) ([]KeySpec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: keys file: %w", err)
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".ndjson", ".json":
		return parseJSONLines(path, data)
	}
	return parseTOML(path, data)
}

func parseJSONLines(path string, data []byte) ([]KeySpec, error) {
	var out []KeySpec
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 || text[0] == '#' {
			continue
		}
		var k KeySpec
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&k); err != nil {
			return nil, fmt.Errorf("auth: %s:%d: %w", path, line, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("auth: %s:%d: more than one object on the line", path, line)
		}
		if _, _, err := compile(k); err != nil {
			return nil, fmt.Errorf("auth: %s:%d: %w", path, line, err)
		}
		out = append(out, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("auth: %s: %w", path, err)
	}
	return out, nil
}

func parseTOML(path string, data []byte) ([]KeySpec, error) {
	var f struct {
		Keys []KeySpec `toml:"keys"`
	}
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("auth: %s:%d: %s", path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("auth: %s: %w", path, err)
	}
	if un := md.Undecoded(); len(un) > 0 {
		return nil, fmt.Errorf("auth: %s: unknown key %q", path, un[0].String())
	}
	for i, k := range f.Keys {
		if _, _, err := compile(k); err != nil {
			return nil, fmt.Errorf("auth: %s: keys[%d]: %w", path, i, err)
		}
	}
	return f.Keys, nil
}
