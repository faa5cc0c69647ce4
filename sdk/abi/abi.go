// Package abi holds the names and constants of sluice plugin ABI v1 (see sdk/ABI.md). It
// imports nothing so that both the guest SDK and the host can depend on it.
package abi

// Version is the ABI version this package describes; sluice_abi_version must return it.
const Version = 1

// Module names a guest may import from. Anything else is refused at load.
const (
	HostModule = "sluice_host"
	WASIModule = "wasi_snapshot_preview1"
)

// Guest exports.
const (
	ExportMemory     = "memory"
	ExportInitialize = "_initialize"
	ExportVersion    = "sluice_abi_version" // () -> i32
	ExportAlloc      = "sluice_alloc"       // (size i32) -> i32
	ExportHooks      = "sluice_hooks"       // () -> i64, packed JSON array of hook names
	ExportFeatures   = "sluice_features"    // () -> i64, bit set of Feature* (optional)
	HookExportPrefix = "sluice_"            // + hook name: (ptr i32, len i32) -> i64
)

// Features a guest declares through ExportFeatures (additions to v1; a host that does not know
// a bit ignores it, and a guest must still accept the v1 form of every input).
const (
	// FeatureRouteView asks for the route hook's input as the flat route view
	// (sdk/routeview) instead of JSON.
	FeatureRouteView = 1 << 0
)

// Host functions in HostModule.
const (
	HostLog = "log" // (level i32, ptr i32, len i32) -> ()
)

// Hook names.
const (
	HookInit              = "init"
	HookRoute             = "route"
	HookCacheKey          = "cache_key"
	HookTranslateRequest  = "translate_request"
	HookTranslateResponse = "translate_response"
	HookTranslateChunk    = "translate_chunk"
	HookOnRequest         = "on_request"
	HookOnResponse        = "on_response"
	// Additions to v1 (sdk/ABI.md, section 5.2): optional hooks an older host never calls.
	HookOnStream = "on_stream"
	HookOnLog    = "on_log"
)

// Hooks lists every hook of ABI v1.
var Hooks = []string{
	HookInit, HookRoute, HookCacheKey, HookTranslateRequest, HookTranslateResponse,
	HookTranslateChunk, HookOnRequest, HookOnResponse, HookOnStream, HookOnLog,
}

// IsHook reports whether name is a v1 hook.
func IsHook(name string) bool {
	for _, h := range Hooks {
		if h == name {
			return true
		}
	}
	return false
}

// ExportName is the guest export implementing hook.
func ExportName(hook string) string { return HookExportPrefix + hook }

// ErrorFlag is bit 31 of a packed result: the payload is an error JSON object.
const ErrorFlag = 1 << 31

// MaxResultLen is the largest payload length a packed result can carry (31 bits).
const MaxResultLen = ErrorFlag - 1

// Pack builds a hook result from the output pointer, length and error flag.
func Pack(ptr, n uint32, isErr bool) uint64 {
	v := uint64(ptr)<<32 | uint64(n&MaxResultLen)
	if isErr {
		v |= ErrorFlag
	}
	return v
}

// Unpack splits a hook result into pointer, length and error flag.
func Unpack(v uint64) (ptr, n uint32, isErr bool) {
	return uint32(v >> 32), uint32(v) & MaxResultLen, uint32(v)&ErrorFlag != 0
}

// Limits of the v1 additions: the state an on_request hook keeps for its request, and the
// state an on_stream hook keeps for its stream.
const (
	RequestStateLimit = 16 << 10
	StreamStateLimit  = 64 << 10
)

// LogLimit is the most bytes of one log message the host keeps; longer ones are truncated.
const LogLimit = 4096

// Log levels passed to HostLog.
const (
	LevelDebug = 0
	LevelInfo  = 1
	LevelWarn  = 2
	LevelError = 3
)
