package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-gw/sluice/host/config"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, and must answer either a
// configuration or a *config.Error.
func FuzzParse(f *testing.F) {
	f.Add(config.Default())
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.toml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	env := mapEnv(map[string]string{"OPENAI_API_KEY": `sk-"\`, "EMPTY": "", "POOL": "many"})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse("fuzz.toml", data, env)
		if err != nil {
			var cerr *config.Error
			if !errors.As(err, &cerr) || len(cerr.Problems) == 0 {
				t.Fatalf("error %T without problems: %v", err, err)
			}
			if c != nil {
				t.Fatal("config returned with an error")
			}
			_ = err.Error()
			return
		}
		if c == nil {
			t.Fatal("nil config without an error")
		}
		_ = c.Redacted()
	})
}
