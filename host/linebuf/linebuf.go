// Package linebuf batches log lines into few writes: lines written while a write is under
// way, or within a short linger of the last one, leave together in the next write (group
// commit). It bounds both what it holds and how long a line waits, and loses nothing on Close.
package linebuf

import (
	"errors"
	"io"
	"sync"
	"time"
)

// Writer is an io.Writer that copies each Write into a pending batch that one goroutine
// writes out. It is safe for concurrent use. A Write never blocks on the output unless the
// pending batch has reached MaxBytes; then the caller writes the batch itself, so memory stays
// bounded and no line is dropped.
type Writer struct {
	out      io.Writer
	maxBytes int
	linger   time.Duration

	mu      sync.Mutex
	pending []byte
	closed  bool
	err     error // the last write error the flusher met, returned by Flush
	// inline counts the batches a caller wrote itself because the batch was full.
	inline uint64

	// outMu is held while a batch is cut and written: one batch is out at a time, so two
	// buffers (pending and spare) serve, and a caller over the size bound waits for the
	// write under way instead of starting another.
	outMu sync.Mutex
	spare []byte
	kick  chan struct{}
	done  chan struct{}
	last  time.Time // when the flusher last wrote (flusher only)
}

// Options bound a Writer.
type Options struct {
	// MaxBytes is the most the pending batch holds before a Write flushes it on the caller's
	// goroutine (default 256 KiB).
	MaxBytes int
	// Linger is the time bound: under steady traffic the flusher writes at most once per
	// Linger, so a line waits at most that long; after an idle spell longer than Linger a line
	// is written at once (default 0: always at once, batching only what arrives while a write
	// is under way).
	Linger time.Duration
}

// ErrClosed is returned by a Write after Close.
var ErrClosed = errors.New("linebuf: writer closed")

// New starts a Writer over out.
func New(out io.Writer, o Options) *Writer {
	if o.MaxBytes <= 0 {
		o.MaxBytes = 256 << 10
	}
	w := &Writer{out: out, maxBytes: o.MaxBytes, linger: o.Linger, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go w.flusher()
	return w
}

// Write copies p into the pending batch.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return 0, ErrClosed
	}
	wasEmpty := len(w.pending) == 0
	w.pending = append(w.pending, p...)
	if len(w.pending) >= w.maxBytes {
		w.inline++
		w.mu.Unlock()
		return len(p), w.drain()
	}
	if wasEmpty {
		// Under mu, so that Close cannot close kick in between.
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	w.mu.Unlock()
	return len(p), nil
}

// drain cuts the pending batch and writes it.
func (w *Writer) drain() error {
	w.outMu.Lock()
	defer w.outMu.Unlock()
	w.mu.Lock()
	b := w.pending
	w.pending, w.spare = w.spare[:0], nil
	w.mu.Unlock()
	var err error
	if len(b) > 0 {
		_, err = w.out.Write(b)
	}
	w.mu.Lock()
	if err != nil {
		w.err = err
	}
	if cap(b) <= 2*w.maxBytes {
		w.spare = b[:0]
	}
	w.mu.Unlock()
	return err
}

func (w *Writer) flusher() {
	defer close(w.done)
	for range w.kick {
		if w.linger > 0 {
			if wait := w.linger - time.Since(w.last); wait > 0 {
				time.Sleep(wait)
			}
		}
		_ = w.drain()
		w.last = time.Now()
	}
}

// Flush writes the pending batch now.
func (w *Writer) Flush() error {
	err := w.drain()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err == nil {
		err, w.err = w.err, nil
	}
	return err
}

// Close writes what is pending and stops the flusher. Later writes fail with ErrClosed; the
// output is not closed.
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	close(w.kick)
	w.mu.Unlock()
	<-w.done
	return w.Flush()
}

// Inline reports how many batches were written by callers because the batch was full: the
// writer's overflow, which costs the caller a write but never a line.
func (w *Writer) Inline() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.inline
}
