//go:build wasip1

package xlate

import "github.com/sluice-gw/sluice/sdk/jsonx"

// A guest instance serves one call at a time and the host copies a hook's output before the
// next call, so inside wasm the translators' buffers live on across calls: after warm-up a
// call allocates almost nothing and the guest's garbage collector (slow in wasm) seldom runs.
var scratch [numSlots][]byte

// Scratch returns the buffer of slot s, emptied, with capacity for at least n bytes. It stays
// valid until the next call of the same hook kind reuses the slot.
func Scratch(s Slot, n int) []byte {
	b := scratch[s]
	if cap(b) < n {
		b = make([]byte, 0, n)
	}
	return b[:0]
}

// Keep stores b (which may have grown) back into slot s for the next call.
func Keep(s Slot, b []byte) { scratch[s] = b[:0] }

// envTape is the offset tape of the envelope being translated, reused like the buffers: the
// Values of one call are dead before the next call parses into it.
var envTape jsonx.Tape

// tape returns the tape for parsing a hook's envelope.
func tape() *jsonx.Tape { return &envTape }
