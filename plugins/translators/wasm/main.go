//go:build wasip1

// Command wasm is the translator module embedded in the sluice binary: the anthropic, bedrock
// and gemini translators in one module, so that the binary carries one Go runtime instead of
// three. Each built-in translator plugin loads it with config {"translator": "<name>"}; the
// init hook picks that translator's functions for the translate_* hooks. The per-translator
// modules (plugins/<name>/wasm) stay buildable for users who declare one as a plugin.
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared.
package main

import (
	"runtime/debug"

	"github.com/sluice-gw/sluice/plugins/anthropic"
	"github.com/sluice-gw/sluice/plugins/bedrock"
	"github.com/sluice-gw/sluice/plugins/gemini"
	"github.com/sluice-gw/sluice/sdk"
)

type translator struct{ request, response, chunk sdk.HandlerFunc }

var translators = map[string]translator{
	"anthropic": {anthropic.TranslateRequest, anthropic.TranslateResponse, anthropic.TranslateChunk},
	"bedrock":   {bedrock.TranslateRequest, bedrock.TranslateResponse, bedrock.TranslateChunk},
	"gemini":    {gemini.TranslateRequest, gemini.TranslateResponse, gemini.TranslateChunk},
}

// active is the translator the init hook chose; every instance runs init before any call.
var active translator

func init() {
	// The instance is reused for many calls and its live heap is small (the translators keep
	// their buffers across calls), while a collection inside wasm is slow: collect at 5x the
	// live heap instead of 2x, and hard at 32 MiB so a large body cannot push the instance to
	// its memory cap.
	debug.SetGCPercent(400)
	debug.SetMemoryLimit(32 << 20)
	sdk.OnInit(func(c sdk.Config) error {
		name := c.String("translator", "")
		t, ok := translators[name]
		if !ok {
			return sdk.Errorf(400, "invalid_config", "translators: config translator is %q; want anthropic, bedrock or gemini", name)
		}
		active = t
		return nil
	})
	sdk.Handle(sdk.HookTranslateRequest, func(in []byte) ([]byte, error) { return active.request(in) })
	sdk.Handle(sdk.HookTranslateResponse, func(in []byte) ([]byte, error) { return active.response(in) })
	sdk.Handle(sdk.HookTranslateChunk, func(in []byte) ([]byte, error) { return active.chunk(in) })
}

func main() {}
