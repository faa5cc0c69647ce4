//go:build wasip1

package main

import "github.com/sluice-gw/sluice/sdk"

func init() {
	sdk.Handle(sdk.HookCacheKey, handle)
}

func main() {}
