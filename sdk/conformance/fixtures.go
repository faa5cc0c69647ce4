package conformance

import (
	"github.com/sluice-gw/sluice/sdk/abi"
	w "github.com/sluice-gw/sluice/sdk/conformance/wasmbin"
)

// Hand-made ABI v1 guests. Each is a few hundred bytes, compiles in microseconds and breaks
// (or honours) the ABI in exactly one way. The input buffer handed out by sluice_alloc is
// always at InputOffset.

// InputOffset is where the fixtures' sluice_alloc places the input.
const InputOffset = 1024

var (
	i32  = []w.ValType{w.I32}
	i64  = []w.ValType{w.I64}
	i32s = []w.ValType{w.I32, w.I32}
)

// echoBody returns (ptr<<32 | len), the input itself, with the error bit when isErr.
func echoBody(isErr bool) []byte {
	b := w.Cat(w.LocalGet(0), []byte{w.OpI64ExtendU}, w.I64Const(32), []byte{w.OpI64Shl},
		w.LocalGet(1), []byte{w.OpI64ExtendU}, []byte{w.OpI64Or})
	if isErr {
		b = w.Cat(b, w.I64Const(abi.ErrorFlag), []byte{w.OpI64Or})
	}
	return b
}

// base returns a module with memory (pages), sluice_abi_version returning version (skipped
// when version < 0) and sluice_alloc.
func base(version int32, pages uint32) *w.Module {
	m := &w.Module{}
	m.Memory(pages, 0)
	m.ExportMemory(abi.ExportMemory)
	if version >= 0 {
		m.ExportFunc(abi.ExportVersion, m.Func(nil, i32, nil, w.I32Const(version)...))
	}
	m.ExportFunc(abi.ExportAlloc, m.Func(i32, i32, nil, w.I32Const(InputOffset)...))
	return m
}

// Echo exports the given hooks; each returns its input unchanged (as an error payload when
// isErr). It exports no sluice_hooks, so the hooks on are the exported ones.
func Echo(isErr bool, hooks ...string) []byte {
	m := base(abi.Version, 1)
	for _, h := range hooks {
		m.ExportFunc(abi.ExportName(h), m.Func(i32s, i64, nil, echoBody(isErr)...))
	}
	return m.Bytes()
}

// WithVersion is an echo guest on route whose sluice_abi_version returns v.
func WithVersion(v int32) []byte {
	m := base(v, 1)
	m.ExportFunc(abi.ExportName(abi.HookRoute), m.Func(i32s, i64, nil, echoBody(false)...))
	return m.Bytes()
}

// MissingVersion is an echo guest on route without sluice_abi_version.
func MissingVersion() []byte {
	m := base(-1, 1)
	m.ExportFunc(abi.ExportName(abi.HookRoute), m.Func(i32s, i64, nil, echoBody(false)...))
	return m.Bytes()
}

// HooksList exports echo route and cache_key but lists only the hooks in list via sluice_hooks.
func HooksList(list string) []byte {
	m := base(abi.Version, 1)
	const at = 2048
	m.Data(at, []byte(list))
	packed := int64(at)<<32 | int64(len(list))
	m.ExportFunc(abi.ExportHooks, m.Func(nil, i64, nil, w.I64Const(packed)...))
	m.ExportFunc(abi.ExportName(abi.HookRoute), m.Func(i32s, i64, nil, echoBody(false)...))
	m.ExportFunc(abi.ExportName(abi.HookCacheKey), m.Func(i32s, i64, nil, echoBody(false)...))
	return m.Bytes()
}

// WrongSignature exports sluice_route as (i32) -> i32.
func WrongSignature() []byte {
	m := base(abi.Version, 1)
	m.ExportFunc(abi.ExportName(abi.HookRoute), m.Func(i32, i32, nil, w.LocalGet(0)...))
	return m.Bytes()
}

// ForeignImport imports env.abort, which no sluice host provides.
func ForeignImport() []byte {
	m := &w.Module{}
	m.Import("env", "abort", nil, nil)
	m.Memory(1, 0)
	m.ExportMemory(abi.ExportMemory)
	m.ExportFunc(abi.ExportVersion, m.Func(nil, i32, nil, w.I32Const(abi.Version)...))
	m.ExportFunc(abi.ExportAlloc, m.Func(i32, i32, nil, w.I32Const(InputOffset)...))
	return m.Bytes()
}

// LogMessageLen is the length of the message Log's route hook logs (over the 4 KiB limit).
const LogMessageLen = 5000

// Log imports sluice_host.log. Its route hook logs LogMessageLen bytes of 'a' at info level
// and echoes; its on_request hook logs from an out-of-bounds pointer, which must fail the call.
func Log() []byte {
	m := &w.Module{}
	logFn := m.Import(abi.HostModule, abi.HostLog, []w.ValType{w.I32, w.I32, w.I32}, nil)
	m.Memory(1, 0)
	m.ExportMemory(abi.ExportMemory)
	m.ExportFunc(abi.ExportVersion, m.Func(nil, i32, nil, w.I32Const(abi.Version)...))
	m.ExportFunc(abi.ExportAlloc, m.Func(i32, i32, nil, w.I32Const(InputOffset)...))
	const at = 8192
	msg := make([]byte, LogMessageLen)
	for i := range msg {
		msg[i] = 'a'
	}
	m.Data(at, msg)
	m.ExportFunc(abi.ExportName(abi.HookRoute), m.Func(i32s, i64, nil, w.Cat(
		w.I32Const(abi.LevelInfo), w.I32Const(at), w.I32Const(LogMessageLen), w.Call(logFn),
		echoBody(false))...))
	m.ExportFunc(abi.ExportName(abi.HookOnRequest), m.Func(i32s, i64, nil, w.Cat(
		w.I32Const(abi.LevelInfo), w.I32Const(-16), w.I32Const(100), w.Call(logFn),
		echoBody(false))...))
	return m.Bytes()
}

// Misbehave exports route as echo plus one misbehaving hook each:
// on_request traps (unreachable), on_response loops forever, cache_key recurses without a loop
// until the stack overflows, translate_request grows memory until the limit and then traps.
func Misbehave() []byte {
	m := base(abi.Version, 1)
	m.ExportFunc(abi.ExportName(abi.HookRoute), m.Func(i32s, i64, nil, echoBody(false)...))
	m.ExportFunc(abi.ExportName(abi.HookOnRequest), m.Func(i32s, i64, nil, w.OpUnreachable))
	m.ExportFunc(abi.ExportName(abi.HookOnResponse), m.Func(i32s, i64, nil,
		w.OpLoop, w.BlockVoid, w.OpBr, 0, w.OpEnd, w.OpUnreachable))
	self := m.NextFunc()
	m.ExportFunc(abi.ExportName(abi.HookCacheKey), m.Func(i32s, i64, nil,
		w.Cat(w.LocalGet(0), w.LocalGet(1), w.Call(self))...))
	// block { loop { if memory.grow(1) == -1 { break block }; continue } }; unreachable
	m.ExportFunc(abi.ExportName(abi.HookTranslateRequest), m.Func(i32s, i64, nil, w.Cat(
		[]byte{w.OpBlock, w.BlockVoid, w.OpLoop, w.BlockVoid},
		w.I32Const(1), []byte{w.OpMemoryGrow, 0},
		w.I32Const(-1), []byte{w.OpI32Eq},
		[]byte{w.OpBrIf, 1},
		[]byte{w.OpBr, 0, w.OpEnd, w.OpEnd, w.OpUnreachable})...))
	return m.Bytes()
}
