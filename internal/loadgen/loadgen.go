// Package loadgen is the HTTP load generator behind cmd/sluicebench: it sends one request
// template to a loopback server, either at a constant arrival rate (open loop) or from N
// connections as fast as they go (closed loop), and records latencies in a log-bucketed
// histogram.
//
// Open-loop latency is measured from each request's scheduled send time, not from when it was
// actually sent, so a stalled server is charged for the requests it held back (no coordinated
// omission). Streams are read line by line: time to first token is the arrival of the first
// `data:` line, and a stream without the final `data: [DONE]` (or, for APIs that end on a named
// event, without an `event:` line naming Request.EndEvent) counts as an error.
package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Request is the request every send repeats (always a POST).
type Request struct {
	URL    string
	Body   []byte
	Header http.Header
	// Stream marks an SSE reply: TTFT is measured and the closing [DONE] line is required.
	Stream bool
	// EndEvent, when set, replaces [DONE] as the end marker: the stream must carry an
	// "event: EndEvent" line (the Responses API ends on response.completed, the Messages API
	// on message_stop, neither with [DONE]).
	EndEvent string
	// Unique, when set, is a marker inside Body that every send overwrites with a request
	// number in hex digits of the same width, so that no two bodies are equal (a cache in front
	// of the upstream sees only misses).
	Unique []byte
}

// Config bounds one run. A run ends when Duration has passed or MaxRequests were sent,
// whichever comes first; requests still in flight then get Timeout to finish.
type Config struct {
	Request Request
	// Rate > 0 selects open loop at that many requests per second; 0 selects closed loop.
	Rate float64
	// Conns is the number of connections in closed loop, and the cap on requests in flight in
	// open loop (default 256 there; requests beyond it wait, and the wait counts as latency).
	Conns       int
	Duration    time.Duration
	MaxRequests int
	// Timeout bounds each request (default 10s).
	Timeout time.Duration
	// Client is reused across runs so that a warm-up leaves warm connections; nil builds one.
	Client *http.Client
}

// Result is what one run measured. Latency and TTFT hold successful requests only.
type Result struct {
	Mode     string // "open" or "closed"
	Rate     float64
	Conns    int
	Sent     int
	OK       int
	Errors   map[string]int
	Elapsed  time.Duration // first send to last completion
	Latency  *Histogram
	TTFT     *Histogram // streams only
	SendLag  *Histogram // open loop: actual send minus scheduled send (generator health)
	Bytes    int64      // response body bytes read
	Planned  int        // open loop: sends the schedule asked for
	Finished bool       // false when the run was cut short by its context
}

// Throughput is successful requests per second of elapsed time.
func (r *Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// ErrorCount is the number of failed requests of every kind.
func (r *Result) ErrorCount() int {
	n := 0
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// SuccessRatio is OK over completed requests (1 when nothing completed).
func (r *Result) SuccessRatio() float64 {
	done := r.OK + r.ErrorCount()
	if done == 0 {
		return 1
	}
	return float64(r.OK) / float64(done)
}

// NewClient returns an HTTP/1.1 client whose keep-alive pool holds conns idle connections per
// host, so that no run pays for reconnects.
func NewClient(conns int) *http.Client {
	conns = max(conns, 1)
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		WriteBufferSize:     16 << 10,
		ReadBufferSize:      16 << 10,
	}
	// The gateway is measured on HTTP/1.1, as most clients reach it.
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetHTTP1(true)
	return &http.Client{Transport: tr}
}

// checkLoopback refuses targets off this machine: the generator is for local benchmarks only.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("loadgen: url: %w", err)
	}
	if u.Scheme != "http" {
		return fmt.Errorf("loadgen: url %q: only http is supported", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("loadgen: url %q: only loopback targets are allowed", raw)
	}
	return nil
}

// stats collects results from all workers. A mutex is cheap at these rates (tens of
// nanoseconds held, at most a few tens of thousands of times a second).
type stats struct {
	mu      sync.Mutex
	lat     *Histogram
	ttft    *Histogram
	lag     *Histogram
	ok      int
	sent    int
	errs    map[string]int
	bytes   int64
	lastEnd time.Time
}

func (s *stats) add(o outcome, lag time.Duration, open bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent++
	if open {
		s.lag.Record(lag)
	}
	s.bytes += o.bytes
	if o.end.After(s.lastEnd) {
		s.lastEnd = o.end
	}
	if o.err != "" {
		s.errs[o.err]++
		return
	}
	s.ok++
	s.lat.Record(o.latency)
	if o.ttft > 0 {
		s.ttft.Record(o.ttft)
	}
}

type outcome struct {
	latency time.Duration
	ttft    time.Duration
	bytes   int64
	end     time.Time
	err     string
}

// Run performs one run. It returns an error only when the configuration is unusable; failed
// requests are counted in Result.Errors.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := checkLoopback(cfg.Request.URL); err != nil {
		return nil, err
	}
	if cfg.Duration <= 0 && cfg.MaxRequests <= 0 {
		return nil, errors.New("loadgen: a run needs a duration or a request count")
	}
	if cfg.Rate < 0 {
		return nil, errors.New("loadgen: rate must not be negative")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	open := cfg.Rate > 0
	if cfg.Conns <= 0 {
		if open {
			cfg.Conns = 256
		} else {
			cfg.Conns = 50
		}
	}
	client := cfg.Client
	if client == nil {
		client = NewClient(cfg.Conns)
		defer client.CloseIdleConnections()
	}
	hdr := cfg.Request.Header.Clone()
	if hdr == nil {
		hdr = http.Header{}
	}
	if hdr.Get("Content-Type") == "" {
		hdr.Set("Content-Type", "application/json")
	}
	if cfg.Request.Stream && hdr.Get("Accept") == "" {
		hdr.Set("Accept", "text/event-stream")
	}

	// The whole run, drain included, is bounded.
	bound := cfg.Duration
	if bound <= 0 {
		bound = time.Hour
	}
	runCtx, cancel := context.WithTimeout(ctx, bound+cfg.Timeout+time.Second)
	defer cancel()

	st := &stats{lat: NewHistogram(), ttft: NewHistogram(), lag: NewHistogram(), errs: map[string]int{}}
	res := &Result{Rate: cfg.Rate, Conns: cfg.Conns}
	uniq := -1
	if len(cfg.Request.Unique) > 0 {
		if uniq = bytes.Index(cfg.Request.Body, cfg.Request.Unique); uniq < 0 {
			return nil, errors.New("loadgen: the Unique marker is not in the body")
		}
	}
	var seq atomic.Uint64
	send := func(scheduled time.Time) outcome {
		body := cfg.Request.Body
		if uniq >= 0 {
			body = uniqueBody(body, uniq, len(cfg.Request.Unique), seq.Add(1))
		}
		return do(runCtx, client, cfg.Request, body, hdr, cfg.Timeout, scheduled)
	}

	start := time.Now()
	if open {
		res.Mode = "open"
		res.Planned = runOpen(runCtx, cfg, start, st, send)
	} else {
		res.Mode = "closed"
		runClosed(runCtx, cfg, start, st, send)
	}
	res.Finished = runCtx.Err() == nil
	st.mu.Lock()
	defer st.mu.Unlock()
	res.Sent, res.OK, res.Errors, res.Bytes = st.sent, st.ok, st.errs, st.bytes
	res.Latency, res.TTFT, res.SendLag = st.lat, st.ttft, st.lag
	if !st.lastEnd.IsZero() {
		res.Elapsed = st.lastEnd.Sub(start)
	}
	return res, nil
}

func runOpen(ctx context.Context, cfg Config, start time.Time, st *stats, send func(time.Time) outcome) int {
	n := cfg.MaxRequests
	if cfg.Duration > 0 {
		byTime := int(cfg.Rate * cfg.Duration.Seconds())
		if n <= 0 || byTime < n {
			n = byTime
		}
	}
	jobs := make(chan time.Time, cfg.Conns)
	var wg sync.WaitGroup
	for range cfg.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for at := range jobs {
				lag := time.Since(at)
				st.add(send(at), lag, true)
			}
		}()
	}
	perReq := float64(time.Second) / cfg.Rate
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
schedule:
	for i := range n {
		// Computed from the start, not accumulated, so sleep overshoot never drifts the rate.
		at := start.Add(time.Duration(float64(i) * perReq))
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				break schedule
			}
		}
		select {
		case jobs <- at:
		case <-ctx.Done():
			break schedule
		}
	}
	close(jobs)
	wg.Wait()
	return n
}

func runClosed(ctx context.Context, cfg Config, start time.Time, st *stats, send func(time.Time) outcome) {
	var deadline time.Time
	if cfg.Duration > 0 {
		deadline = start.Add(cfg.Duration)
	}
	var issued atomic.Int64
	var wg sync.WaitGroup
	for range cfg.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if cfg.MaxRequests > 0 && issued.Add(1) > int64(cfg.MaxRequests) {
					return
				}
				now := time.Now()
				if !deadline.IsZero() && !now.Before(deadline) {
					return
				}
				st.add(send(now), 0, false)
			}
		}()
	}
	wg.Wait()
}

// do sends one request; latency runs from scheduled (the open-loop slot, or the send time).
func do(ctx context.Context, client *http.Client, r Request, body []byte, hdr http.Header, timeout time.Duration, scheduled time.Time) outcome {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(body))
	if err != nil {
		return outcome{err: "request", end: time.Now()}
	}
	req.Header = hdr
	resp, err := client.Do(req)
	if err != nil {
		return outcome{err: classify(err), end: time.Now()}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		n, _ := io.Copy(io.Discard, resp.Body)
		return outcome{err: "status_" + strconv.Itoa(resp.StatusCode), bytes: n, end: time.Now()}
	}
	if !r.Stream {
		n, err := io.Copy(io.Discard, resp.Body)
		end := time.Now()
		if err != nil {
			return outcome{err: classify(err), bytes: n, end: end}
		}
		if n == 0 {
			return outcome{err: "empty_body", end: end}
		}
		return outcome{latency: end.Sub(scheduled), bytes: n, end: end}
	}
	return readStream(resp.Body, scheduled, r.EndEvent)
}

// uniqueBody is a copy of body with the width bytes at at replaced by n in hex, zero-padded
// on the left (the low digits when n needs more than width).
func uniqueBody(body []byte, at, width int, n uint64) []byte {
	b := bytes.Clone(body)
	for i := at + width - 1; i >= at; i-- {
		b[i] = "0123456789abcdef"[n&15]
		n >>= 4
	}
	return b
}

var (
	dataPrefix  = []byte("data:")
	eventPrefix = []byte("event:")
	doneLine    = []byte("[DONE]")
)

func readStream(body io.Reader, scheduled time.Time, endEvent string) outcome {
	br := bufio.NewReaderSize(body, 8<<10)
	var o outcome
	done := false
	for {
		line, err := br.ReadSlice('\n')
		o.bytes += int64(len(line))
		if rest, ok := bytes.CutPrefix(line, dataPrefix); ok {
			rest = bytes.TrimSpace(rest)
			switch {
			case endEvent == "" && bytes.Equal(rest, doneLine):
				done = true
			case o.ttft == 0:
				o.ttft = max(time.Since(scheduled), 1)
			}
		} else if rest, ok := bytes.CutPrefix(line, eventPrefix); ok && endEvent != "" && string(bytes.TrimSpace(rest)) == endEvent {
			done = true
		}
		if err == bufio.ErrBufferFull {
			// A data line longer than the buffer: the rest is read by the next calls.
			continue
		}
		if err != nil {
			o.end = time.Now()
			switch {
			case err != io.EOF:
				o.err = classify(err)
			case o.ttft == 0:
				o.err = "stream_no_data"
			case !done:
				o.err = "stream_no_done"
			default:
				o.latency = o.end.Sub(scheduled)
			}
			if o.err != "" {
				o.ttft = 0
			}
			return o
		}
	}
}

// classify names an error kind for the error table.
func classify(err error) string {
	var op *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "eof"
	case errors.As(err, &op) && op.Op == "dial":
		return "connect"
	}
	return "other"
}
