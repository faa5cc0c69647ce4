//go:build wasip1

// Command wasm is the gemini translator plugin: it registers the package's translators as the
// translate_* hooks. Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared.
package main

import (
	"github.com/sluice-gw/sluice/plugins/gemini"
	"github.com/sluice-gw/sluice/sdk"
)

func init() {
	sdk.Handle(sdk.HookTranslateRequest, gemini.TranslateRequest)
	sdk.Handle(sdk.HookTranslateResponse, gemini.TranslateResponse)
	sdk.Handle(sdk.HookTranslateChunk, gemini.TranslateChunk)
}

func main() {}
