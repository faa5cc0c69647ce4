package provider

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/sluice-gw/sluice/host/sse"
	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// idleReader closes the body when no byte arrives for d while it is being read, so a stalled
// upstream stream ends with a timeout instead of holding the client forever. The clock runs
// only inside Read: time the gateway spends writing to a slow client is not the upstream's
// silence (the client's own write timeout bounds that).
type idleReader struct {
	rc    io.ReadCloser
	d     time.Duration
	t     *time.Timer
	fired atomic.Bool
}

func newIdleReader(rc io.ReadCloser, d time.Duration) *idleReader {
	r := &idleReader{rc: rc, d: d}
	if d > 0 {
		r.t = time.AfterFunc(d, func() { r.fired.Store(true); rc.Close() })
		r.t.Stop()
	}
	return r
}

func (r *idleReader) Read(b []byte) (int, error) {
	if r.t != nil {
		r.t.Reset(r.d)
	}
	n, err := r.rc.Read(b)
	if r.t != nil {
		r.t.Stop()
	}
	if err != nil && r.fired.Load() {
		return n, fmt.Errorf("stream idle for %s: %w", r.d, errIdle)
	}
	return n, err
}

func (r *idleReader) Close() error {
	if r.t != nil {
		r.t.Stop()
	}
	return r.rc.Close()
}

var errIdle = errors.New("idle timeout")

func (p *Provider) streamErr(err error) error {
	if errors.Is(err, errIdle) {
		return p.failSent(FailTimeout, "%w", err)
	}
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		return p.failSent(FailBroken, "stream ended before its end marker")
	}
	return p.failSent(FailBroken, "stream broke: %w", err)
}

// openAIStream relays an OpenAI-format SSE stream event by event.
type openAIStream struct {
	p    *Provider
	body *idleReader
	r    *sse.Reader
	done bool
}

func newOpenAIStream(p *Provider, body io.ReadCloser, idle time.Duration) *openAIStream {
	ir := newIdleReader(body, idle)
	return &openAIStream{p: p, body: ir, r: sse.NewReader(ir)}
}

var doneData = []byte("[DONE]")

func (s *openAIStream) Next() ([]byte, error) {
	if s.done {
		return nil, io.EOF
	}
	for {
		ev, err := s.r.Next()
		if err != nil {
			return nil, s.p.streamErr(err)
		}
		if bytes.Equal(ev.Data, doneData) {
			s.done = true
			return nil, io.EOF
		}
		if len(ev.Data) == 0 {
			continue
		}
		// Relayed as is, so it must be what the client expects: one JSON value per event.
		if !jsonx.Valid(ev.Data) {
			return nil, s.p.fail(FailBroken, "stream event is not valid JSON")
		}
		return ev.Data, nil
	}
}

func (s *openAIStream) Close() error { return s.body.Close() }
