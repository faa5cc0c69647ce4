package fakeprovider

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Format names the wire format a Server speaks.
type Format int

// The wire formats.
const (
	FormatOpenAI Format = iota
	FormatAnthropic
	FormatGemini
	FormatBedrock
	FormatVertex
)

func (f Format) String() string {
	switch f {
	case FormatOpenAI:
		return "openai"
	case FormatAnthropic:
		return "anthropic"
	case FormatGemini:
		return "gemini"
	case FormatBedrock:
		return "bedrock"
	case FormatVertex:
		return "vertex"
	}
	return fmt.Sprintf("format(%d)", int(f))
}

// Received is one request as the server saw it.
type Received struct {
	Seq      int // 1-based arrival order
	Method   string
	Path     string // decoded path
	RawPath  string // path as sent, escapes kept
	RawQuery string
	Header   http.Header
	Body     []byte
	// Model is the model the request addressed (from the body, or from the path for Gemini
	// and Bedrock); Stream reports whether a stream was asked for.
	Model  string
	Stream bool
	// Invalid is the error message the server answered with when it rejected the request
	// (authentication or schema validation); empty when the request was accepted.
	Invalid string
	At      time.Time
}

// JSON decodes the request body into v.
func (r Received) JSON(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("fakeprovider: decode request body: %w", err)
	}
	return nil
}

// Query parses RawQuery.
func (r Received) Query() url.Values {
	q, _ := url.ParseQuery(r.RawQuery)
	return q
}

// ToolCall is a function call a scripted reply makes. Arguments is a JSON object text.
type ToolCall struct {
	ID        string // generated from the request sequence when empty
	Name      string
	Arguments string
}

// Usage overrides the token counts of a derived reply. Zero fields are derived.
type Usage struct {
	Input      int
	Output     int
	CacheRead  int
	CacheWrite int
	Reasoning  int
}

// FaultKind selects how a Fault breaks the connection.
type FaultKind int

// Fault kinds. The *After kinds first send the headers and After stream chunks (for a
// non-stream reply: half the body, with the full Content-Length declared).
const (
	FaultNone       FaultKind = iota
	FaultReset                // TCP reset before any response byte
	FaultHang                 // send nothing; wait until the client goes away
	FaultCut                  // close the connection cleanly (FIN) after After chunks
	FaultResetAfter           // TCP reset after After chunks
	FaultHangAfter            // stop sending after After chunks and wait for the client to leave
)

// Fault is a connection-level failure injected into a reply.
type Fault struct {
	Kind  FaultKind
	After int
}

// Reset is a Fault that resets the connection before any response byte.
func Reset() Fault { return Fault{Kind: FaultReset} }

// Hang is a Fault that never answers; the handler returns once the client gives up.
func Hang() Fault { return Fault{Kind: FaultHang} }

// CutAfter is a Fault that closes the connection after n stream chunks, without the
// stream's terminator.
func CutAfter(n int) Fault { return Fault{Kind: FaultCut, After: n} }

// ResetAfter is a Fault that resets the connection after n stream chunks.
func ResetAfter(n int) Fault { return Fault{Kind: FaultResetAfter, After: n} }

// HangAfter is a Fault that stops sending after n stream chunks and waits for the client.
func HangAfter(n int) Fault { return Fault{Kind: FaultHangAfter, After: n} }

// Reply scripts one answer. The zero Reply is the default reply derived from the request.
//
// Status >= 400 with no Body renders an error in the provider's own shape (Message, when
// set, is its message). Body, when set, is written verbatim for non-stream requests (and
// for stream requests that have no Chunks). Chunks, when set, replace the derived stream:
// for OpenAI and Gemini each chunk is the JSON of one `data:` line; for Anthropic each is
// the JSON of one event (its "type" names the SSE event); for Bedrock each is a one-key
// object {"<eventType>": payload}, and a key ending in "Exception" is sent as an exception
// message (Bedrock InvokeModel streams take Anthropic event JSONs, each sent base64-wrapped
// in a chunk event, and such one-key exception objects). OpenAI streams end with `data: [DONE]` unless a Fault cuts them.
type Reply struct {
	Status      int
	Headers     http.Header
	Body        []byte
	Chunks      []string
	ChunkDelay  time.Duration // pause between stream chunks
	HeaderDelay time.Duration // pause before the status line is written
	Fault       Fault
	Message     string // error message for Status >= 400

	// Knobs for derived replies.
	Text         string     // assistant text instead of the echo
	Thinking     string     // reasoning text (Anthropic thinking block, Gemini thought part, Bedrock reasoningContent)
	ToolCalls    []ToolCall // function calls the assistant makes
	FinishReason string     // provider-native stop reason (e.g. "length", "max_tokens", "SAFETY", "guardrail_intervened")
	Usage        Usage
	Pieces       int // number of stream pieces the text is split into (default: one per word)
}

// RetryAfter is a 429 reply with Retry-After in whole seconds.
func RetryAfter(d time.Duration) Reply {
	h := http.Header{}
	h.Set("Retry-After", fmt.Sprint(int(d.Round(time.Second)/time.Second)))
	return Reply{Status: http.StatusTooManyRequests, Headers: h}
}

// RetryAfterDate is a 429 reply with Retry-After as an HTTP date.
func RetryAfterDate(at time.Time) Reply {
	h := http.Header{}
	h.Set("Retry-After", at.UTC().Format(http.TimeFormat))
	return Reply{Status: http.StatusTooManyRequests, Headers: h}
}

// Stats are the server's counters.
type Stats struct {
	Requests int64 // requests received
	Rejected int64 // requests answered with a validation or authentication error
	Streams  int64 // stream requests received
	Faults   int64 // connection faults injected
	Conns    int64 // TCP connections accepted
	// Gone counts requests whose client (the gateway) went away before the answer was done:
	// the upstream side of a cancellation.
	Gone int64
}

type config struct {
	format      Format
	key         string
	akid        string
	secret      string
	region      string
	bodySize    int
	pieces      int
	delay       time.Duration
	chunkDelay  time.Duration
	models      []string
	noRecording bool
	noResponses bool
	logf        func(format string, args ...any)

	vertexProject, vertexLocation string
	tokenTTL                      time.Duration
	awsCreds                      *AWSCredentials
}

// Option configures a Server.
type Option func(*config)

// WithFormat selects the wire format for Start (the New* constructors set it themselves).
func WithFormat(f Format) Option { return func(c *config) { c.format = f } }

// WithKey requires this API key (Bearer for OpenAI; x-api-key or Bearer for Anthropic;
// x-goog-api-key or ?key= for Gemini; Bearer API key for Bedrock, besides SigV4).
func WithKey(key string) Option { return func(c *config) { c.key = key } }

// WithCredentials makes the Bedrock fake verify SigV4 signatures with these credentials.
func WithCredentials(accessKeyID, secretAccessKey string) Option {
	return func(c *config) { c.akid, c.secret = accessKeyID, secretAccessKey }
}

// WithRegion makes the Bedrock fake require this signing region.
func WithRegion(region string) Option { return func(c *config) { c.region = region } }

// WithBodySize makes default replies carry a fixed text of about n bytes instead of the
// echo, pre-rendered once so a benchmark measures the gateway, not the fake.
func WithBodySize(n int) Option { return func(c *config) { c.bodySize = n } }

// WithChunks sets how many pieces a default stream splits its text into.
func WithChunks(n int) Option { return func(c *config) { c.pieces = n } }

// WithDelay delays the status line of every default reply.
func WithDelay(d time.Duration) Option { return func(c *config) { c.delay = d } }

// WithChunkDelay pauses between stream chunks of every default reply.
func WithChunkDelay(d time.Duration) Option { return func(c *config) { c.chunkDelay = d } }

// WithModels sets the list GET /v1/models returns (OpenAI).
func WithModels(ids ...string) Option { return func(c *config) { c.models = ids } }

// WithoutResponses makes the OpenAI fake a chat-only server: /v1/responses answers 404, as
// OpenAI-compatible servers that lack the Responses API do.
func WithoutResponses() Option { return func(c *config) { c.noResponses = true } }

// WithoutRecording keeps only counters, for long benchmark runs.
func WithoutRecording() Option { return func(c *config) { c.noRecording = true } }

// WithLogf reports rejected requests through logf (the New* constructors use t.Logf).
func WithLogf(logf func(format string, args ...any)) Option {
	return func(c *config) { c.logf = logf }
}

// Server is one running fake provider.
type Server struct {
	// URL is the base URL a client is configured with: "http://127.0.0.1:port/v1" for
	// OpenAI, "http://127.0.0.1:port" for the others (their paths carry the version).
	URL string
	// Root is "http://127.0.0.1:port".
	Root string
	// Addr is the listener's host:port.
	Addr string

	cfg    config
	srv    *http.Server
	ln     net.Listener
	done   chan struct{}
	closed sync.Once
	fixed  *fixedText

	mu      sync.Mutex
	seq     int
	queue   []Reply
	script  func(Received) Reply
	fault   Fault
	records []Received
	waiters []chan struct{}
	stored  map[string]*storedResponse // Responses API objects kept under store semantics
	cached  map[string]bool            // prompt-cache prefixes seen (Anthropic)
	signed  map[string]string          // thinking signatures issued, to the thinking they sign (Anthropic)
	thought map[string]string          // thought signatures issued, to the function they came with (Gemini)
	vertex  *vertexState               // token endpoint and Vertex API state

	nReq, nRejected, nStreams, nFaults, nConns, nGone atomic.Int64
}

// Start runs a fake on addr ("127.0.0.1:0" for any free port) until Close.
func Start(addr string, opts ...Option) (*Server, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fakeprovider: listen: %w", err)
	}
	s := &Server{cfg: cfg, ln: ln, done: make(chan struct{})}
	s.Addr = ln.Addr().String()
	s.Root = "http://" + s.Addr
	s.URL = s.Root
	if cfg.format == FormatOpenAI {
		s.URL = s.Root + "/v1"
	}
	if cfg.bodySize > 0 {
		s.fixed = newFixedText(cfg.bodySize)
	}
	var h http.Handler
	switch cfg.format {
	case FormatOpenAI:
		h = http.HandlerFunc(s.serveOpenAI)
	case FormatAnthropic:
		h = http.HandlerFunc(s.serveAnthropic)
	case FormatGemini:
		h = http.HandlerFunc(s.serveGemini)
	case FormatBedrock:
		h = http.HandlerFunc(s.serveBedrock)
	case FormatVertex:
		if err := s.initVertex(); err != nil {
			ln.Close()
			return nil, err
		}
		h = http.HandlerFunc(s.serveVertex)
	default:
		ln.Close()
		return nil, fmt.Errorf("fakeprovider: unknown format %d", int(cfg.format))
	}
	inner := h
	h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(w, r)
		if r.Context().Err() != nil {
			s.nGone.Add(1)
		}
	})
	s.srv = &http.Server{
		Handler:  h,
		ErrorLog: log.New(io.Discard, "", 0),
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				s.nConns.Add(1)
			}
		},
	}
	go s.srv.Serve(ln) //nolint:errcheck // Serve returns ErrServerClosed on Close.
	return s, nil
}

func startT(t testing.TB, f Format, opts []Option) *Server {
	t.Helper()
	all := append([]Option{WithLogf(t.Logf)}, opts...)
	s, err := Start("127.0.0.1:0", append(all, WithFormat(f))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// NewOpenAI starts an OpenAI fake closed when the test ends.
func NewOpenAI(t testing.TB, opts ...Option) *Server { return startT(t, FormatOpenAI, opts) }

// NewAnthropic starts an Anthropic Messages API fake closed when the test ends.
func NewAnthropic(t testing.TB, opts ...Option) *Server { return startT(t, FormatAnthropic, opts) }

// NewGemini starts a Gemini API fake closed when the test ends.
func NewGemini(t testing.TB, opts ...Option) *Server { return startT(t, FormatGemini, opts) }

// NewBedrock starts a Bedrock fake (Converse, and InvokeModel for Claude) closed when the
// test ends.
func NewBedrock(t testing.TB, opts ...Option) *Server { return startT(t, FormatBedrock, opts) }

// Format reports the wire format the server speaks.
func (s *Server) Format() Format { return s.cfg.format }

// Close stops the server, dropping connections and releasing hanging handlers.
func (s *Server) Close() error {
	var err error
	s.closed.Do(func() {
		err = s.srv.Close()
		close(s.done)
	})
	if err != nil {
		return fmt.Errorf("fakeprovider: close: %w", err)
	}
	return nil
}

// Enqueue appends replies used, in order, by the next requests before Script or default.
func (s *Server) Enqueue(r ...Reply) {
	s.mu.Lock()
	s.queue = append(s.queue, r...)
	s.mu.Unlock()
}

// Script answers every request not served from the queue with fn; nil restores the
// default. A zero Reply from fn means the default reply.
func (s *Server) Script(fn func(Received) Reply) {
	s.mu.Lock()
	s.script = fn
	s.mu.Unlock()
}

// SetFault applies f to every reply that has no Fault of its own; Fault{} clears it.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	s.fault = f
	s.mu.Unlock()
}

// Requests returns a copy of everything received so far, in arrival order.
func (s *Server) Requests() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.records...)
}

// Count is the number of requests received.
func (s *Server) Count() int { return int(s.nReq.Load()) }

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{
		Requests: s.nReq.Load(),
		Rejected: s.nRejected.Load(),
		Streams:  s.nStreams.Load(),
		Faults:   s.nFaults.Load(),
		Conns:    s.nConns.Load(),
		Gone:     s.nGone.Load(),
	}
}

// ClearRequests forgets recorded requests (counters keep counting).
func (s *Server) ClearRequests() {
	s.mu.Lock()
	s.records = nil
	s.mu.Unlock()
}

// WaitRequests waits until at least n requests are recorded and returns them, or fails
// after timeout.
func (s *Server) WaitRequests(n int, timeout time.Duration) ([]Received, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if len(s.records) >= n {
			out := append([]Received(nil), s.records...)
			s.mu.Unlock()
			return out, nil
		}
		ch := make(chan struct{})
		s.waiters = append(s.waiters, ch)
		got := len(s.records)
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			return nil, fmt.Errorf("fakeprovider: waited %v for %d requests, got %d", timeout, n, got)
		}
	}
}

// record stores rec and chooses its reply: the queue, then the script, then the default.
func (s *Server) record(rec *Received) Reply {
	s.nReq.Add(1)
	if rec.Stream {
		s.nStreams.Add(1)
	}
	if rec.Invalid != "" {
		s.nRejected.Add(1)
		select {
		case <-s.done:
			// Closed: the test that owns logf may have ended.
		default:
			if s.cfg.logf != nil {
				s.cfg.logf("fakeprovider: %s %s %s rejected: %s", s.cfg.format, rec.Method, rec.Path, rec.Invalid)
			}
		}
	}
	s.mu.Lock()
	s.seq++
	rec.Seq = s.seq
	if !s.cfg.noRecording {
		s.records = append(s.records, *rec)
	}
	for _, ch := range s.waiters {
		close(ch)
	}
	s.waiters = nil
	var r Reply
	if rec.Invalid == "" {
		switch {
		case len(s.queue) > 0:
			r = s.queue[0]
			s.queue = s.queue[1:]
		case s.script != nil:
			fn := s.script
			s.mu.Unlock()
			r = fn(*rec)
			s.mu.Lock()
		}
	}
	if r.Fault.Kind == FaultNone {
		r.Fault = s.fault
	}
	s.mu.Unlock()
	if r.HeaderDelay == 0 {
		r.HeaderDelay = s.cfg.delay
	}
	if r.ChunkDelay == 0 {
		r.ChunkDelay = s.cfg.chunkDelay
	}
	if r.Pieces == 0 {
		r.Pieces = s.cfg.pieces
	}
	return r
}

// newReceived captures the request line, headers and body.
func newReceived(r *http.Request) (*Received, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, fmt.Errorf("fakeprovider: read body: %w", err)
	}
	return &Received{
		Method:   r.Method,
		Path:     r.URL.Path,
		RawPath:  r.URL.EscapedPath(),
		RawQuery: r.URL.RawQuery,
		Header:   r.Header.Clone(),
		Body:     body,
		At:       time.Now(),
	}, nil
}

// exchange is one request being answered: it applies delays and faults around writes.
type exchange struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	rc     *http.ResponseController
	reply  Reply
	chunks int
	wrote  bool // the status line is out
	ended  bool // a fault took the connection; write nothing more
}

func (s *Server) newExchange(w http.ResponseWriter, r *http.Request, reply Reply) *exchange {
	return &exchange{s: s, w: w, r: r, rc: http.NewResponseController(w), reply: reply}
}

// sleep waits d unless the client leaves or the server closes first.
func (x *exchange) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-x.r.Context().Done():
	case <-x.s.done:
	}
	return false
}

// preFault runs the faults that fire before any response byte; it reports whether one did.
func (x *exchange) preFault() bool {
	switch x.reply.Fault.Kind {
	case FaultReset:
		x.breakConn(true)
		return true
	case FaultHang:
		x.s.nFaults.Add(1)
		x.hang()
		return true
	}
	return false
}

func (x *exchange) hang() {
	x.ended = true
	select {
	case <-x.r.Context().Done():
	case <-x.s.done:
		// The server is closing: drop the connection rather than let net/http finish
		// the response.
		panic(http.ErrAbortHandler)
	}
}

// breakConn takes the connection from net/http (flushing what was written) and closes it,
// with a TCP reset when rst is set.
func (x *exchange) breakConn(rst bool) {
	x.ended = true
	x.s.nFaults.Add(1)
	if x.wrote {
		_ = x.rc.Flush()
	}
	conn, _, err := x.rc.Hijack()
	if err != nil {
		// HTTP/2 or a wrapped writer: aborting the handler is the closest thing.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok && rst {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// begin applies the header delay and reply headers, then writes the status line.
func (x *exchange) begin(status int, contentType string) bool {
	if !x.sleep(x.reply.HeaderDelay) {
		x.ended = true
		return false
	}
	if x.preFault() {
		return false
	}
	h := x.w.Header()
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	for k, v := range x.reply.Headers {
		h[k] = v
	}
	if x.reply.Status != 0 {
		status = x.reply.Status
	}
	x.w.WriteHeader(status)
	x.wrote = true
	return true
}

// midFault fires an *After fault once `after` chunks are out; it reports whether it fired.
func (x *exchange) midFault() bool {
	f := x.reply.Fault
	if x.chunks != f.After {
		return false
	}
	switch f.Kind {
	case FaultCut:
		x.breakConn(false)
		return true
	case FaultResetAfter:
		x.breakConn(true)
		return true
	case FaultHangAfter:
		x.s.nFaults.Add(1)
		_ = x.rc.Flush()
		x.hang()
		return true
	}
	return false
}

// chunk writes one stream frame; it reports false when the stream must stop.
func (x *exchange) chunk(frame []byte) bool {
	if x.ended {
		return false
	}
	if x.midFault() {
		return false
	}
	if x.chunks > 0 && !x.sleep(x.reply.ChunkDelay) {
		x.ended = true
		return false
	}
	if _, err := x.w.Write(frame); err != nil {
		x.ended = true
		return false
	}
	_ = x.rc.Flush()
	x.chunks++
	return true
}

// end writes the stream terminator unless a fault (possibly due now) ends the stream.
func (x *exchange) end(frame []byte) {
	if x.ended || x.midFault() {
		return
	}
	if len(frame) > 0 {
		_, _ = x.w.Write(frame)
	}
	_ = x.rc.Flush()
}

// body writes a whole non-stream body; an *After fault sends half of it first.
func (x *exchange) body(status int, contentType string, b []byte) {
	if x.ended {
		return
	}
	switch x.reply.Fault.Kind {
	case FaultCut, FaultResetAfter, FaultHangAfter:
		x.w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		if !x.begin(status, contentType) {
			return
		}
		_, _ = x.w.Write(b[:len(b)/2])
		x.chunks = x.reply.Fault.After
		x.midFault()
		return
	}
	if !x.begin(status, contentType) {
		return
	}
	_, _ = x.w.Write(b)
}

// words counts whitespace-separated words, the fakes' token count.
func words(s string) int { return len(strings.Fields(s)) }

// split cuts text into n pieces at word boundaries (one piece per word when n <= 0),
// keeping the separating spaces so the pieces concatenate back to text.
func split(text string, n int) []string {
	if text == "" {
		return nil
	}
	var cuts []int // piece start offsets
	inWord := false
	for i, c := range text {
		sp := c == ' ' || c == '\n' || c == '\t'
		if !sp && !inWord && i > 0 {
			cuts = append(cuts, i)
		}
		inWord = !sp
	}
	starts := append([]int{0}, cuts...)
	if n > 0 && n < len(starts) {
		sel := make([]int, 0, n)
		for i := 0; i < n; i++ {
			sel = append(sel, starts[i*len(starts)/n])
		}
		starts = sel
	} else if n > len(starts) {
		// More pieces than words: cut by bytes.
		starts = starts[:0]
		for i := 0; i < n && i < len(text); i++ {
			starts = append(starts, i*len(text)/n)
		}
	}
	out := make([]string, 0, len(starts))
	for i, st := range starts {
		end := len(text)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		if end > st {
			out = append(out, text[st:end])
		}
	}
	return out
}

// fixedText is the pre-rendered text of WithBodySize replies.
type fixedText struct {
	text  string
	json  []byte // text as a JSON string literal
	words int
}

func newFixedText(n int) *fixedText {
	const word = "lorem ipsum dolor sit amet consectetur adipiscing elit "
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(word)
	}
	t := strings.TrimSpace(b.String()[:n])
	return &fixedText{text: t, json: appendJSONString(nil, t), words: words(t)}
}

// appendJSONString appends s as a JSON string literal.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// mustJSON marshals values built by the fakes themselves, which cannot fail.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("fakeprovider: marshal: %v", err))
	}
	return b
}

// errNotJSON is reported for bodies that do not parse.
var errNotJSON = errors.New("request body is not valid JSON")
