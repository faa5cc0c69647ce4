//go:build wasip1

package sdk

import (
	"unsafe"

	"github.com/sluice-gw/sluice/sdk/abi"
)

// inBuf is the reusable input buffer handed out by sluice_alloc; outPin keeps the last output
// reachable until the host has copied it (the next call replaces it).
var (
	inBuf       []byte
	outPin      []byte
	emptyObject = []byte("{}")
)

func addr(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

//go:wasmimport sluice_host log
func hostLogImport(level int32, ptr unsafe.Pointer, n int32)

func hostLog(level int, msg string) {
	if msg == "" {
		return
	}
	hostLogImport(int32(level), unsafe.Pointer(unsafe.StringData(msg)), int32(len(msg)))
}

//go:wasmexport sluice_abi_version
func sluiceABIVersion() int32 { return abi.Version }

//go:wasmexport sluice_alloc
func sluiceAlloc(size int32) uint32 {
	if size < 0 {
		return 0
	}
	if int(size) > cap(inBuf) || inBuf == nil {
		n := 1024
		for n < int(size) {
			n *= 2
		}
		inBuf = make([]byte, n)
	}
	return addr(inBuf)
}

//go:wasmexport sluice_hooks
func sluiceHooks() uint64 {
	outPin = AppendValue(nil, Hooks())
	return abi.Pack(addr(outPin), uint32(len(outPin)), false)
}

func call(id int, ptr, n uint32) uint64 {
	var out []byte
	var err error
	if inBuf == nil || ptr != addr(inBuf) || int(n) > len(inBuf) {
		err = Errorf(500, "abi_violation", "input at %d+%d is outside the sluice_alloc buffer", ptr, n)
	} else {
		out, err = dispatchID(id, inBuf[:n])
	}
	if err != nil {
		outPin = ErrorJSON(err)
		return abi.Pack(addr(outPin), uint32(len(outPin)), true)
	}
	if len(out) == 0 {
		out = emptyObject
	}
	outPin = out
	return abi.Pack(addr(outPin), uint32(len(outPin)), false)
}

//go:wasmexport sluice_init
func sluiceInit(ptr, n uint32) uint64 { return call(idInit, ptr, n) }

//go:wasmexport sluice_route
func sluiceRoute(ptr, n uint32) uint64 { return call(idRoute, ptr, n) }

//go:wasmexport sluice_cache_key
func sluiceCacheKey(ptr, n uint32) uint64 { return call(idCacheKey, ptr, n) }

//go:wasmexport sluice_translate_request
func sluiceTranslateRequest(ptr, n uint32) uint64 { return call(idTranslateRequest, ptr, n) }

//go:wasmexport sluice_translate_response
func sluiceTranslateResponse(ptr, n uint32) uint64 {
	return call(idTranslateResponse, ptr, n)
}

//go:wasmexport sluice_translate_chunk
func sluiceTranslateChunk(ptr, n uint32) uint64 { return call(idTranslateChunk, ptr, n) }

//go:wasmexport sluice_on_request
func sluiceOnRequest(ptr, n uint32) uint64 { return call(idOnRequest, ptr, n) }

//go:wasmexport sluice_on_response
func sluiceOnResponse(ptr, n uint32) uint64 { return call(idOnResponse, ptr, n) }

//go:wasmexport sluice_on_stream
func sluiceOnStream(ptr, n uint32) uint64 { return call(idOnStream, ptr, n) }

//go:wasmexport sluice_on_log
func sluiceOnLog(ptr, n uint32) uint64 { return call(idOnLog, ptr, n) }
