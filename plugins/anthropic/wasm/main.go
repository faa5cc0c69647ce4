//go:build wasip1

// Command wasm is the anthropic translator plugin: it registers the package's translators as the
// translate_* hooks. Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared.
package main

import (
	"runtime/debug"

	"github.com/sluice-gw/sluice/plugins/anthropic"
	"github.com/sluice-gw/sluice/sdk"
)

func init() {
	// The instance is reused for many calls and its live heap is small (the translators keep
	// their buffers across calls), while a collection inside wasm is slow: collect at 5x the
	// live heap instead of 2x (the heap then grows to about 16 MiB before the first
	// collection), and hard at 32 MiB so a large body cannot push the instance to its memory cap.
	debug.SetGCPercent(400)
	debug.SetMemoryLimit(32 << 20)
	sdk.Handle(sdk.HookTranslateRequest, anthropic.TranslateRequest)
	sdk.Handle(sdk.HookTranslateResponse, anthropic.TranslateResponse)
	sdk.Handle(sdk.HookTranslateChunk, anthropic.TranslateChunk)
}

func main() {}
