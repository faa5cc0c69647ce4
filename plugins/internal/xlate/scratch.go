package xlate

// Slot names a reusable buffer (see Scratch). One hook call uses each slot for one thing.
type Slot int

// The buffer slots: the hook's output, stream state, and two text buffers.
const (
	SlotOut Slot = iota
	SlotState
	SlotText
	SlotText2
	numSlots
)
