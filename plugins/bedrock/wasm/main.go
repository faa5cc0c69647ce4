//go:build wasip1

// Command wasm is the bedrock translator plugin: it registers the package's translators as the
// translate_* hooks. Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared.
package main

import (
	"github.com/sluice-gw/sluice/plugins/bedrock"
	"github.com/sluice-gw/sluice/sdk"
)

func init() {
	sdk.Handle(sdk.HookTranslateRequest, bedrock.TranslateRequest)
	sdk.Handle(sdk.HookTranslateResponse, bedrock.TranslateResponse)
	sdk.Handle(sdk.HookTranslateChunk, bedrock.TranslateChunk)
}

func main() {}
