// Package clientconn owns the client listener's protections against too many and too slow
// clients: a cap on open connections (connections over it get a 503 and are closed at once,
// rather than waiting unseen in the kernel's backlog), a deadline on reading each request
// body, and a deadline on each response write, so a client that stops reading a stream is cut
// and its upstream call canceled. Header reads are bounded by http.Server's ReadHeaderTimeout.
package clientconn

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"

	"sync"
	"sync/atomic"
	"time"
)

// Listener caps the connections accepted from an inner listener.
type Listener struct {
	net.Listener
	slots   chan struct{}
	refused atomic.Uint64
}

// Limit returns a listener that holds at most n connections open at once (n <= 0: no cap).
func Limit(l net.Listener, n int) net.Listener {
	if n <= 0 {
		return l
	}
	return &Listener{Listener: l, slots: make(chan struct{}, n)}
}

// Refused is the number of connections turned away at the cap.
func (l *Listener) Refused() uint64 { return l.refused.Load() }

// Accept returns the next connection within the cap. Connections over the cap are answered
// with a 503 and closed, off the accept loop.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &conn{Conn: c, release: func() { <-l.slots }}, nil
		default:
			l.refused.Add(1)
			go refuse(c)
		}
	}
}

// overCap is the whole answer to a connection over the cap, in OpenAI's error shape.
var overCap = func() []byte {
	body := `{"error":{"message":"the gateway is at its connection limit (server.max_connections); retry shortly","type":"server_error","param":null,"code":"too_many_connections"}}`
	return []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
}()

// refuse waits (briefly) for the request head, so the answer is not unsolicited, writes the
// 503, half-closes and drains before closing, so that the client reads the answer instead of
// a reset from unread request bytes.
func refuse(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	var head [8 << 10]byte
	n := 0
	for n < len(head) && !bytes.Contains(head[:n], []byte("\r\n\r\n")) {
		m, err := c.Read(head[n:])
		n += m
		if err != nil {
			break
		}
	}
	if _, err := c.Write(overCap); err != nil {
		return
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(c, 64<<10))
}

// conn gives its slot back on Close.
type conn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// CloseWrite keeps net/http's graceful close (half-close, then wait) working through the
// wrapper.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Deadlines bounds how long a client may take to send its request body and to take each
// piece of the response.
type Deadlines struct {
	// Body bounds reading the whole request body, from the handler's start.
	Body time.Duration
	// Write bounds each response write (and flush): a client that reads nothing for this
	// long is cut, which ends the handler's writes with an error (and cancels its upstream).
	Write time.Duration
}

// Wrap applies the deadlines to every request of h.
func (d Deadlines) Wrap(h http.Handler) http.Handler {
	if d.Body <= 0 && d.Write <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if d.Body > 0 && r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
			if rc.SetReadDeadline(time.Now().Add(d.Body)) == nil {
				r.Body = &body{ReadCloser: r.Body, rc: rc}
			}
		}
		if d.Write <= 0 {
			h.ServeHTTP(w, r)
			return
		}
		dw := &writer{ResponseWriter: w, rc: rc, d: d.Write}
		h.ServeHTTP(dw, r)
		// net/http writes what is still buffered after the handler returns: flush it under
		// the deadline, then clear it so it does not outlive the request on a kept-alive
		// connection. After a failed write the deadline stays: net/http's last flush must
		// fail fast too, and the connection is then closed.
		if dw.err != nil {
			return
		}
		if dw.wrote && dw.FlushError() != nil {
			return
		}
		if dw.set {
			_ = rc.SetWriteDeadline(time.Time{})
		}
	})
}

// body clears the read deadline once the body is read, so that net/http's background read
// (which watches for the client going away while the handler runs) is not cut by it.
type body struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !b.done {
		b.done = true
		if errors.Is(err, io.EOF) {
			_ = b.rc.SetReadDeadline(time.Time{})
		}
	}
	return n, err
}

// writer moves the write deadline forward before each write. Moving it costs a timer update,
// so it is skipped when it was moved less than a sixteenth of d ago: a stalled client is cut
// between 15/16 d and d after its last read.
type writer struct {
	http.ResponseWriter
	rc    *http.ResponseController
	d     time.Duration
	last  time.Time
	set   bool
	wrote bool
	err   error
}

func (w *writer) arm() {
	now := time.Now()
	if w.set && now.Sub(w.last) < w.d/16 {
		return
	}
	if w.rc.SetWriteDeadline(now.Add(w.d)) == nil {
		w.last, w.set = now, true
	}
}

func (w *writer) Write(p []byte) (int, error) {
	w.arm()
	w.wrote = true
	n, err := w.ResponseWriter.Write(p)
	if err != nil && w.err == nil {
		w.err = err
	}
	return n, err
}

// FlushError flushes under the write deadline; http.ResponseController finds it.
func (w *writer) FlushError() error {
	w.arm()
	err := w.rc.Flush()
	if err != nil && w.err == nil && !errors.Is(err, http.ErrNotSupported) {
		w.err = err
	}
	return err
}

// Flush is for callers that use http.Flusher directly.
func (w *writer) Flush() { _ = w.FlushError() }

// Unwrap lets http.ResponseController reach the connection.
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Slots counts a bounded resource shared by all requests, such as open streams.
type Slots struct {
	ch chan struct{}
}

// NewSlots returns n slots; n <= 0 means no bound (a nil *Slots, on which every call is a
// no-op that succeeds).
func NewSlots(n int) *Slots {
	if n <= 0 {
		return nil
	}
	return &Slots{ch: make(chan struct{}, n)}
}

// TryAcquire takes a slot if one is free.
func (s *Slots) TryAcquire() bool {
	if s == nil {
		return true
	}
	select {
	case s.ch <- struct{}{}:
		return true
	default:
		return false
	}
}

// Release gives back a slot taken by TryAcquire.
func (s *Slots) Release() {
	if s != nil {
		<-s.ch
	}
}

// Cap is the number of slots (0: unbounded).
func (s *Slots) Cap() int {
	if s == nil {
		return 0
	}
	return cap(s.ch)
}
