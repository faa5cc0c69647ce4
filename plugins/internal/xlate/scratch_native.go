//go:build !wasip1

package xlate

// Natively the translators run only in tests and benchmarks, possibly in parallel, so each
// call gets fresh buffers.

// Scratch returns a new buffer with capacity n.
func Scratch(_ Slot, n int) []byte { return make([]byte, 0, n) }

// Keep does nothing natively.
func Keep(Slot, []byte) {}
