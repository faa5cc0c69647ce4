// Package sse reads and writes Server-Sent Events: the framing OpenAI, Anthropic and Gemini
// use for streams. The reader yields one event at a time without buffering the stream, so a
// gateway can relay each event the moment it arrives.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Event is one dispatched SSE event. Data lines are joined with "\n".
type Event struct {
	Name string
	Data []byte
	ID   string
}

// MaxLine bounds one line of a stream; an upstream sending more is broken.
const MaxLine = 4 << 20

// ErrLineTooLong reports a line over MaxLine.
var ErrLineTooLong = errors.New("sse: line too long")

// MaxEvent bounds one event's data, all its data lines together: an event of many short lines
// would otherwise grow without limit while each line stays under MaxLine.
const MaxEvent = 4 << 20

// ErrEventTooLong reports an event whose data is over MaxEvent.
var ErrEventTooLong = errors.New("sse: event too long")

// Reader reads events from a stream.
type Reader struct {
	r    *bufio.Reader
	data []byte
	name string
	id   string
}

// NewReader returns a Reader over r.
func NewReader(r io.Reader) *Reader { return &Reader{r: bufio.NewReaderSize(r, 16<<10)} }

// Next returns the next event. The event's Data is valid until the next call. At the end of the
// stream it returns io.EOF; a stream that ends inside an event returns io.ErrUnexpectedEOF.
func (r *Reader) Next() (Event, error) {
	r.data, r.name, r.id = r.data[:0], "", ""
	got, seenData := false, false
	for {
		line, err := r.readLine()
		if err != nil {
			if err == io.EOF && got {
				return Event{}, io.ErrUnexpectedEOF
			}
			return Event{}, err
		}
		if len(line) == 0 {
			if !got {
				continue
			}
			return Event{Name: r.name, Data: r.data, ID: r.id}, nil
		}
		if line[0] == ':' {
			continue // comment, e.g. a keep-alive
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		switch string(field) {
		case "data":
			if len(r.data)+1+len(value) > MaxEvent {
				return Event{}, ErrEventTooLong
			}
			if seenData {
				r.data = append(r.data, '\n')
			}
			r.data = append(r.data, value...)
			got, seenData = true, true
		case "event":
			r.name = string(value)
			got = true
		case "id":
			r.id = string(value)
			got = true
		case "retry":
			got = true
		}
	}
}

// Buffered reports how many bytes are read ahead, so a caller can batch events that have
// already arrived without waiting on the network.
func (r *Reader) Buffered() int { return r.r.Buffered() }

func (r *Reader) readLine() ([]byte, error) {
	line, err := r.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		buf := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			line, err = r.r.ReadSlice('\n')
			buf = append(buf, line...)
			if len(buf) > MaxLine {
				return nil, ErrLineTooLong
			}
		}
		line = buf
	}
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// Writer writes events to an http.ResponseWriter and flushes each one.
type Writer struct {
	w   io.Writer
	rc  *http.ResponseController
	buf []byte
	// queued is how much of buf holds events Queue kept for the next write; unflushed is
	// set when Queue wrote a long burst without flushing it.
	queued    int
	unflushed bool
}

// NewWriter returns a Writer that flushes after every event.
func NewWriter(w http.ResponseWriter) *Writer {
	return &Writer{w: w, rc: http.NewResponseController(w)}
}

// Data writes `data: <data>\n\n` and flushes.
func (w *Writer) Data(data []byte) error { return w.Event("", data) }

// Event writes an optionally named event and flushes. Multi-line data is split into several
// data lines.
func (w *Writer) Event(name string, data []byte) error {
	w.buf = appendEvent(w.buf[:w.queued], name, data)
	w.queued = 0
	return w.flush()
}

// appendEvent appends one event in SSE framing to b.
func appendEvent(b []byte, name string, data []byte) []byte {
	if name != "" {
		b = append(b, "event: "...)
		b = append(b, name...)
		b = append(b, '\n')
	}
	for {
		line, rest, more := bytes.Cut(data, []byte("\n"))
		b = append(b, "data: "...)
		b = append(b, line...)
		b = append(b, '\n')
		if !more {
			break
		}
		data = rest
	}
	return append(b, '\n')
}

// flush writes buf and flushes it to the client.
func (w *Writer) flush() error {
	w.unflushed = false
	if len(w.buf) > 0 {
		if _, err := w.w.Write(w.buf); err != nil {
			return fmt.Errorf("sse: write: %w", err)
		}
	}
	if err := w.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("sse: flush: %w", err)
	}
	return nil
}

// Done writes OpenAI's stream terminator `data: [DONE]`.
func (w *Writer) Done() error { return w.Data([]byte("[DONE]")) }
