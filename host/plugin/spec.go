package plugin

import (
	"errors"
	"maps"
	"os"
	"reflect"
	"runtime"
	"time"
)

// Sandbox names a sandbox level. There is one: every plugin, built-ins included, runs metered
// (docs/decisions.md, "Plugin sandbox: metered modules"). The older names are accepted and mean
// the same.
type Sandbox string

const (
	// SandboxDefault is SandboxMetered.
	SandboxDefault Sandbox = ""
	// SandboxMetered instruments the module at load: a per-call CPU budget charged at function
	// entries and loop headers, a call-depth cap, and the memory cap clamped into the module.
	SandboxMetered Sandbox = "metered"
	// SandboxTrusted is deprecated: it used to turn the deadline off; it now means metered.
	SandboxTrusted Sandbox = "trusted"
	// SandboxUntrusted is deprecated: it used to mean close-on-context-done; it now means
	// metered.
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
	// Timeout is one hook call's CPU budget, converted to meter units at FuelPerMillisecond.
	// Default DefaultTimeout.
	Timeout time.Duration
	// InitTimeout bounds instantiation plus the init hook. Default DefaultInitTimeout.
	InitTimeout time.Duration
	// MemoryPages caps each instance's linear memory in 64 KiB pages. Default DefaultMemoryPages.
	MemoryPages uint32
	// MaxDepth caps the guest's call depth per call (and so the host stack it can use).
	// Default DefaultMaxDepth.
	MaxDepth uint32
	// Pool caps the instances (concurrent calls) of this plugin; it is also the plugin's share
	// of the engine's execution slots. Default GOMAXPROCS.
	Pool int
	// Sandbox is kept for configuration compatibility; every level is metered.
	Sandbox Sandbox
	// FirstParty marks plugins shipped with sluice (informational: they get the same sandbox).
	FirstParty bool

	// For the sandbox benchmarks only: noMeter loads the module as it is (no budget, no depth
	// cap) and closeOnDone turns on wazero's close-on-context-done.
	noMeter, closeOnDone bool
}

// sandbox reports the level in effect.
func (s *Spec) sandbox() Sandbox { return SandboxMetered }

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
		if s.FirstParty {
			s.MemoryPages = DefaultFirstPartyMemoryPages
		}
	}
	if s.Pool <= 0 {
		s.Pool = runtime.GOMAXPROCS(0)
	}
	if s.MaxDepth == 0 {
		s.MaxDepth = DefaultMaxDepth
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

// normalize is normalized with the engine's default share of execution slots for a plugin
// that sets no pool; a pool the operator sets is kept as set.
func (e *Engine) normalize(s Spec) Spec {
	if s.Pool <= 0 {
		s.Pool = e.maxShare
	}
	return s.normalized()
}
