package sse

import (
	"bytes"
	"fmt"
	"sync"
)

// maxQueued is how much Queue holds before it writes (without a flush): a long burst is
// written in pieces of about this size, and flushed once.
const maxQueued = 8 << 10

// bufs keeps the buffers of released Writers.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Queue keeps an event for the next flush: events that arrived together leave in one flush
// (the next Event, Data, Done or Flush) and, up to maxQueued, one write.
func (w *Writer) Queue(name string, data []byte) error {
	if w.buf == nil {
		w.buf = (*bufs.Get().(*[]byte))[:0]
	}
	w.buf = appendEvent(w.buf[:w.queued], name, data)
	w.queued = len(w.buf)
	if w.queued < maxQueued {
		return nil
	}
	w.queued = 0
	if _, err := w.w.Write(w.buf); err != nil {
		return fmt.Errorf("sse: write: %w", err)
	}
	w.buf = w.buf[:0]
	w.unflushed = true
	return nil
}

// Flush writes and flushes the queued events, if any.
func (w *Writer) Flush() error {
	if w.queued == 0 && !w.unflushed {
		return nil
	}
	w.buf = w.buf[:w.queued]
	w.queued = 0
	return w.flush()
}

// Release gives the Writer's buffer back for other Writers; the Writer is not used after.
func (w *Writer) Release() {
	if w.buf != nil && cap(w.buf) <= 4*maxQueued {
		b := w.buf[:0]
		bufs.Put(&b)
	}
	w.buf = nil
}

// Ready reports whether a whole event with data is read ahead, so that Next returns it
// without waiting on the network. Buffered bytes alone do not say so: they may end inside
// an event, or hold only a comment, and a caller holding events back for the next one would
// then hold them until the upstream sends more.
func (r *Reader) Ready() bool {
	n := r.r.Buffered()
	if n == 0 {
		return false
	}
	b, _ := r.r.Peek(n)
	for {
		end := bytes.Index(b, []byte("\n\n"))
		if end < 0 {
			return false
		}
		block := b[:end+1]
		for len(block) > 0 {
			line, rest, _ := bytes.Cut(block, []byte("\n"))
			if bytes.HasPrefix(line, []byte("data:")) && len(bytes.TrimSpace(line[5:])) > 0 {
				return true
			}
			block = rest
		}
		b = b[end+2:]
	}
}
