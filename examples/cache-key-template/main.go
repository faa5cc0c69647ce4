// Under GOOS=wasip1 this file is the plugin (hooks register from init: a c-shared build never
// runs main). Natively it is an empty command, so `go build ./...` and `go vet ./...` pass.

package main

import "github.com/sluice-gw/sluice/sdk"

func init() {
	sdk.Handle(sdk.HookCacheKey, handle)
}

func main() {}
