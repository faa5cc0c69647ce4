package plugin

import "time"

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
