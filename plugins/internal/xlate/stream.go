package xlate

import "github.com/sluice-gw/sluice/sdk/jsonx"

// Role writes the stream's first chunk: the assistant role with empty content.
func (c Chunk) Role(w *jsonx.Writer) {
	c.Begin(w)
	w.Key("role")
	w.String("assistant")
	w.Key("content")
	w.String("")
	c.End(w, "")
}

// Finish writes a chunk with an empty delta and the finish reason.
func (c Chunk) Finish(w *jsonx.Writer, finish string) {
	c.Begin(w)
	c.End(w, finish)
}

// ToolBlocks is, for the providers that number tool calls by content block, the block index of
// each tool call in tool-call order: a call's position is its OpenAI tool_calls index. It is
// kept in the stream state as an array.
type ToolBlocks []int64

// Decode appends the blocks of a state array.
func (b *ToolBlocks) Decode(v jsonx.Value) {
	for _, e := range v.Elems() {
		n, _ := e.Int()
		*b = append(*b, n)
	}
}

// Write writes the blocks as a state array.
func (b ToolBlocks) Write(w *jsonx.Writer) {
	w.ArrayStart()
	for _, n := range b {
		w.Int(n)
	}
	w.ArrayEnd()
}

// Add records a tool call starting at block and returns its tool_calls index.
func (b *ToolBlocks) Add(block int64) int64 {
	*b = append(*b, block)
	return int64(len(*b) - 1)
}

// Index returns the tool_calls index of the call at block, or -1 when no call started there.
func (b ToolBlocks) Index(block int64) int64 {
	for i, n := range b {
		if n == block {
			return int64(i)
		}
	}
	return -1
}
