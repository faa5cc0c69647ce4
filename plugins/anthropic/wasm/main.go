//go:build wasip1

// Command wasm is the anthropic translator plugin: it registers the package's translators as the
// translate_* hooks. Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared.
package main

import (
	"github.com/sluice-gw/sluice/plugins/anthropic"
	"github.com/sluice-gw/sluice/sdk"
)

func init() {
	sdk.Handle(sdk.HookTranslateRequest, anthropic.TranslateRequest)
	sdk.Handle(sdk.HookTranslateResponse, anthropic.TranslateResponse)
	sdk.Handle(sdk.HookTranslateChunk, anthropic.TranslateChunk)
}

func main() {}
