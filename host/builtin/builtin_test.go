package builtin

import (
	"bytes"
	"strings"
	"testing"
)

func TestPlugin(t *testing.T) {
	for _, name := range []string{"anthropic", "gemini", "bedrock"} {
		b, err := Plugin(name)
		if err != nil {
			t.Fatalf("%s: %v (run `make plugins`)", name, err)
		}
		if !bytes.HasPrefix(b, []byte("\x00asm")) {
			t.Fatalf("%s: not a wasm module", name)
		}
	}
	if _, err := Plugin("nope"); err == nil || !strings.Contains(err.Error(), "not embedded") {
		t.Fatalf("missing plugin: %v", err)
	}
}
