//go:build !wasip1

package sdk

import (
	"embed"
	"io/fs"
)

// The SDK module's own sources. `sluice plugin new` writes them into a plugin made outside a
// sluice checkout, so that a user with only the sluice binary and Go can build one offline.
// The conformance kit is host-side and stays out. as/ is the AssemblyScript SDK
// (`plugin new --lang as` copies as/assembly). Guests never carry this (the build tag).
//
//go:embed go.mod ABI.md *.go abi/*.go jsonx/*.go routeview/*.go as/package.json as/assembly/*.ts
var source embed.FS

// Source returns the SDK module's source tree (go.mod at its root), for tools that write a
// copy of the SDK next to a plugin. It is not part of a guest build.
func Source() fs.FS { return source }
