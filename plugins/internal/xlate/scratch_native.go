//go:build !wasip1

package xlate

import "github.com/sluice-gw/sluice/sdk/jsonx"

// Natively the translators run only in tests and benchmarks, possibly in parallel, so each
// call gets fresh buffers.

// Scratch returns a new buffer with capacity n.
func Scratch(_ Slot, n int) []byte { return make([]byte, 0, n) }

// Keep does nothing natively.
func Keep(Slot, []byte) {}

// tape returns a fresh tape for parsing a hook's envelope.
func tape() *jsonx.Tape { return new(jsonx.Tape) }
