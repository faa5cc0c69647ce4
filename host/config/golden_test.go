package config_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/host/config"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// envFrom reads the "# env NAME = "value"" header lines of a test file. Values are Go-quoted so
// that quotes, backslashes and control characters can be written exactly.
func envFrom(t *testing.T, data []byte) func(string) (string, bool) {
	t.Helper()
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "# env ")
		if !ok {
			continue
		}
		name, quoted, ok := strings.Cut(line, " = ")
		if !ok {
			t.Fatalf("bad env line %q", sc.Text())
		}
		val, err := strconv.Unquote(quoted)
		if err != nil {
			t.Fatalf("bad env value in %q: %v", sc.Text(), err)
		}
		env[name] = val
	}
	return mapEnv(env)
}

func mapEnv(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// checkGolden compares got with the golden file, or rewrites it under -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func tomlFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no test files in %s", dir)
	}
	sort.Strings(files)
	return files
}

// relName is the name a test file is parsed under: its path below testdata, so goldens do not
// depend on where the tree is checked out.
func relName(t *testing.T, path string) string {
	t.Helper()
	rel, err := filepath.Rel("testdata", path)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.ToSlash(rel)
}

func TestErrorGoldens(t *testing.T) {
	for _, path := range tomlFiles(t, filepath.Join("testdata", "errors")) {
		name := relName(t, path)
		t.Run(strings.TrimSuffix(filepath.Base(path), ".toml"), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c, err := config.Parse(name, data, envFrom(t, data))
			if err == nil {
				t.Fatalf("parsed without error: %+v", c)
			}
			if c != nil {
				t.Errorf("Parse returned a config with its error")
			}
			var cerr *config.Error
			if !errors.As(err, &cerr) {
				t.Fatalf("error is %T, not *config.Error: %v", err, err)
			}
			for i, p := range cerr.Problems {
				if p.File != name {
					t.Errorf("problem %d names file %q, want %q", i, p.File, name)
				}
				if i > 0 && cerr.Problems[i-1].Line > p.Line {
					t.Errorf("problems not sorted by line: %d before %d", cerr.Problems[i-1].Line, p.Line)
				}
			}
			checkGolden(t, strings.TrimSuffix(path, ".toml")+".golden", []byte(err.Error()+"\n"))
		})
	}
}

// render is the stable golden form of a parsed configuration.
func render(t *testing.T, c *config.Config) []byte {
	t.Helper()
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func TestValidGoldens(t *testing.T) {
	for _, path := range tomlFiles(t, filepath.Join("testdata", "valid")) {
		name := relName(t, path)
		t.Run(strings.TrimSuffix(filepath.Base(path), ".toml"), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c, err := config.Parse(name, data, envFrom(t, data))
			if err != nil {
				t.Fatal(err)
			}
			if c.Source != name {
				t.Errorf("Source = %q, want %q", c.Source, name)
			}
			checkGolden(t, strings.TrimSuffix(path, ".toml")+".golden", render(t, c))
		})
	}
}

// TestDefaultGoldens parses the embedded default with no environment and with only
// OPENAI_API_KEY set.
func TestDefaultGoldens(t *testing.T) {
	for _, tc := range []struct {
		golden string
		env    map[string]string
	}{
		{"default-noenv.golden", nil},
		{"default-openai.golden", map[string]string{"OPENAI_API_KEY": "sk-test-openai"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			c, err := config.Parse(config.DefaultName, config.Default(), mapEnv(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("testdata", "default", tc.golden), render(t, c))
		})
	}
}
