// Command model-allowlist is a policy plugin: on_request rejects models not on the list with
// 403 model_not_allowed.
package main

import (
	"strings"

	"github.com/sluice-gw/sluice/sdk"
)

// Allowed reports whether model matches one of patterns: exact, or a prefix ending in "*".
func Allowed(patterns []string, model string) bool {
	for _, p := range patterns {
		if p == model || (strings.HasSuffix(p, "*") && strings.HasPrefix(model, p[:len(p)-1])) {
			return true
		}
	}
	return false
}

// Check is the on_request decision.
func Check(patterns []string, in sdk.RequestInput) sdk.Decision {
	if Allowed(patterns, in.Meta.Model) {
		return sdk.Allow()
	}
	return sdk.Reject(403, "model_not_allowed", "model \""+in.Meta.Model+"\" is not allowed")
}
