package sse

import "bytes"

// Queue keeps an event for the next write: events that arrived together leave in one write
// and one flush (the next Event, Data, Done or Flush), instead of one of each per event.
func (w *Writer) Queue(name string, data []byte) {
	w.buf = appendEvent(w.buf[:w.queued], name, data)
	w.queued = len(w.buf)
}

// Flush writes and flushes the queued events, if any.
func (w *Writer) Flush() error {
	if w.queued == 0 {
		return nil
	}
	w.buf = w.buf[:w.queued]
	w.queued = 0
	return w.flush()
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
