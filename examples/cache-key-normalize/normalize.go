// Command cache-key-normalize is an example cache_key plugin: requests that differ only in
// letter case or whitespace of the last user message, or in a "Today is ..." line of the
// system prompt, share a cache entry.
package main

import (
	"strings"

	"github.com/sluice-gw/sluice/sdk"
)

// NormalizeUser lower-cases s and collapses runs of whitespace into one space.
func NormalizeUser(s string) string { return strings.Join(strings.Fields(strings.ToLower(s)), " ") }

// NormalizeSystem drops lines starting with "Today is" (after leading spaces).
func NormalizeSystem(s string) string {
	lines := strings.Split(s, "\n")
	kept := lines[:0]
	for _, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "Today is") {
			continue
		}
		kept = append(kept, strings.TrimRight(l, " \t\r"))
	}
	return strings.TrimSpace(strings.Join(kept, "\n"))
}

// Key builds the cache key: model, normalized system prompt and last user message.
func Key(in sdk.CacheKeyInput) sdk.CacheKeyOutput {
	return sdk.CacheKeyOutput{Key: in.Meta.Model + "\x00" + NormalizeSystem(in.System) + "\x00" + NormalizeUser(in.LastUser)}
}
