package plugin

import (
	"errors"
	"maps"
	"os"
	"reflect"
	"runtime"
	"time"
)

// Sandbox selects how strictly a plugin's runtime is confined (docs/decisions.md, "Plugin
// sandbox levels").
type Sandbox string

const (
	// SandboxDefault resolves to SandboxTrusted for first-party plugins and SandboxUntrusted
	// otherwise.
	SandboxDefault Sandbox = ""
	// SandboxTrusted compiles without close-on-context-done: 5-14x faster loops, but the
	// per-call deadline cannot interrupt a running guest.
	SandboxTrusted Sandbox = "trusted"
	// SandboxUntrusted enforces the per-call deadline at every loop back-edge.
	SandboxUntrusted Sandbox = "untrusted"
)

// Spec describes one plugin to load.
type Spec struct {
	Name string
	// Path is the .wasm file; file-backed plugins can be reloaded from it and watched.
	Path string
	// Bytes is the module itself when there is no file (embedded plugins, uploads).
	Bytes []byte
	// Config is the plugin's TOML table, passed to the init hook as JSON.
	Config map[string]any
	// Timeout bounds one hook call (untrusted sandbox only). Default DefaultTimeout.
	Timeout time.Duration
	// InitTimeout bounds instantiation plus the init hook. Default DefaultInitTimeout.
	InitTimeout time.Duration
	// MemoryPages caps each instance's linear memory in 64 KiB pages. Default DefaultMemoryPages.
	MemoryPages uint32
	// Pool caps the instances (concurrent calls) of this plugin. Default GOMAXPROCS.
	Pool int
	// Sandbox chooses trusted or untrusted runtime settings.
	Sandbox Sandbox
	// FirstParty marks plugins shipped with sluice; it makes SandboxDefault mean trusted.
	FirstParty bool
}

// sandbox resolves SandboxDefault.
func (s *Spec) sandbox() Sandbox {
	switch s.Sandbox {
	case SandboxTrusted, SandboxUntrusted:
		return s.Sandbox
	}
	if s.FirstParty {
		return SandboxTrusted
	}
	return SandboxUntrusted
}

// normalized returns the spec with its defaults filled in, so that two specs that load the
// same way compare equal.
func (s Spec) normalized() Spec {
	if s.Timeout <= 0 {
		s.Timeout = DefaultTimeout
	}
	if s.InitTimeout <= 0 {
		s.InitTimeout = DefaultInitTimeout
	}
	if s.MemoryPages == 0 {
		s.MemoryPages = DefaultMemoryPages
	}
	if s.Pool <= 0 {
		s.Pool = runtime.GOMAXPROCS(0)
	}
	if s.Config != nil {
		s.Config = maps.Clone(s.Config)
	}
	return s
}

// module returns the spec's module bytes, reading Path when Bytes is nil.
func (s *Spec) module() ([]byte, error) {
	if s.Bytes != nil {
		return s.Bytes, nil
	}
	if s.Path == "" {
		return nil, errors.New("neither path nor bytes")
	}
	return os.ReadFile(s.Path)
}

// sameSettings reports whether a and b (both normalized) differ in nothing but the module
// bytes they carry.
func sameSettings(a, b Spec) bool {
	a.Bytes, b.Bytes = nil, nil
	ac, bc := a.Config, b.Config
	a.Config, b.Config = nil, nil
	if len(ac) == 0 && len(bc) == 0 {
		return reflect.DeepEqual(a, b)
	}
	return reflect.DeepEqual(a, b) && reflect.DeepEqual(ac, bc)
}
