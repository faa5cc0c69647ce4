//go:build wasip1

package main

import "github.com/sluice-gw/sluice/sdk"

func init() {
	sdk.HandleCacheKey(func(in sdk.CacheKeyInput) (sdk.CacheKeyOutput, error) { return Key(in), nil })
}

func main() {}
