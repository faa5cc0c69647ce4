// Package redisbaseline is the RESP2 client sluice used before it moved to rueidis: a bounded
// connection pool, one command per round trip. It is kept only as the baseline of the Redis
// benchmarks in host/ratelimit (BENCHMARKS.md) and must not be imported by non-test code.
package redisbaseline

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-gw/sluice/host/redisclient"
)

// Options configure a Client.
type Options struct {
	// URL is redis://[user[:password]@]host[:port][/db], or rediss:// for TLS. A password is
	// sent with AUTH (with the user when one is given) and a non-zero db with SELECT, on every
	// new connection.
	URL string
	// PoolSize bounds the number of open connections; default 10 per CPU. A call that finds
	// them all busy waits for one until its deadline.
	PoolSize int
	// DialTimeout bounds connecting, TLS handshake and AUTH/SELECT; default 5s. The call's
	// deadline, when earlier, wins.
	DialTimeout time.Duration
	// Timeout is the deadline of a call whose context has none; default 3s.
	Timeout time.Duration
	// TLS overrides the TLS configuration of rediss:// (ServerName defaults to the URL's host).
	TLS *tls.Config
}

// ErrClosed is returned by calls on a closed Client.
var ErrClosed = errors.New("redisbaseline: client closed")

// Client is a pool of connections to one Redis server. It is safe for concurrent use.
type Client struct {
	ep          redisclient.Endpoint
	tlsConf     *tls.Config
	dialTimeout time.Duration
	timeout     time.Duration

	slots chan struct{} // one token per connection that may be open
	idle  chan *conn

	mu     sync.Mutex
	closed bool
	open   atomic.Int32 // connections currently open, for tests
}

type conn struct {
	nc      net.Conn // what we read and write (TLS when enabled)
	raw     net.Conn // the TCP connection under it, for the liveness check
	r       *bufio.Reader
	w       *bufio.Writer
	scratch []byte
}

// New validates the options; it does not connect until the first call.
func New(o Options) (*Client, error) {
	ep, err := redisclient.ParseURL(o.URL)
	if err != nil {
		return nil, err
	}
	if o.PoolSize <= 0 {
		o.PoolSize = 10 * runtime.GOMAXPROCS(0)
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	c := &Client{ep: ep, dialTimeout: o.DialTimeout, timeout: o.Timeout,
		slots: make(chan struct{}, o.PoolSize), idle: make(chan *conn, o.PoolSize)}
	if ep.TLS {
		if o.TLS != nil {
			c.tlsConf = o.TLS.Clone()
		} else {
			c.tlsConf = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		if c.tlsConf.ServerName == "" {
			c.tlsConf.ServerName = ep.Host
		}
	}
	return c, nil
}

// Do sends one command and returns its reply. An error reply is returned as an *Error (the
// connection stays in the pool); a network or protocol failure, a timeout or a cancellation
// closes the connection, so a late reply can never be read as the answer to another call.
func (c *Client) Do(ctx context.Context, args ...any) (Value, error) {
	if len(args) == 0 {
		return Value{}, errors.New("redisbaseline: empty command")
	}
	if err := ctx.Err(); err != nil {
		return Value{}, fmt.Errorf("redisbaseline: %w", err)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(c.timeout)
	}
	cn, err := c.get(ctx, deadline)
	if err != nil {
		return Value{}, err
	}
	v, reusable, err := cn.roundTrip(ctx, deadline, args)
	if reusable {
		c.put(cn)
	} else {
		c.discard(cn)
	}
	return v, err
}

// roundTrip writes one command and reads its reply. reusable is false when the connection's
// state is unknown (an I/O or protocol error, a timeout, a cancellation), so it must be closed.
func (cn *conn) roundTrip(ctx context.Context, deadline time.Time, args []any) (v Value, reusable bool, err error) {
	if err := checkArgs(args); err != nil {
		return Value{}, true, err
	}
	// The deadline goes first: a large command is flushed while it is being encoded.
	if err := cn.nc.SetDeadline(deadline); err != nil {
		return Value{}, false, fmt.Errorf("redisbaseline: %w", err)
	}
	// A deadline alone does not notice a cancellation; expiring the deadline at once does,
	// and unblocks the read or write in progress.
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { _ = cn.nc.SetDeadline(time.Unix(1, 0)) })
	}
	cn.scratch = writeCommand(cn.w, cn.scratch, args)
	v, err = cn.exchange()
	// If the cancellation fired, it may still be about to poison the deadline: never reuse.
	reusable = err == nil && (stop == nil || stop())
	if err != nil {
		if cerr := ctxErr(ctx); cerr != nil {
			return Value{}, false, fmt.Errorf("redisbaseline: %w (%w)", cerr, err)
		}
		return Value{}, false, fmt.Errorf("redisbaseline: %w", err)
	}
	if v.kind == ErrorReply {
		return Value{}, reusable, v.Err()
	}
	return v, reusable, nil
}

// ctxErr is ctx.Err(), also when the context's deadline has passed but its timer has not fired
// yet: the connection deadline, set to the same instant, can expire first.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

func (cn *conn) exchange() (Value, error) {
	if err := cn.w.Flush(); err != nil {
		return Value{}, fmt.Errorf("write: %w", err)
	}
	v, err := readValue(cn.r, 0)
	if err != nil {
		return Value{}, fmt.Errorf("read: %w", err)
	}
	return v, nil
}

// get takes an idle healthy connection or dials a new one, waiting for a free slot until the
// deadline.
func (c *Client) get(ctx context.Context, deadline time.Time) (*conn, error) {
	select {
	case c.slots <- struct{}{}:
	default:
		var expired <-chan time.Time
		if _, ok := ctx.Deadline(); !ok {
			t := time.NewTimer(time.Until(deadline))
			defer t.Stop()
			expired = t.C
		}
		select {
		case c.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, fmt.Errorf("redisbaseline: waiting for a connection: %w", ctx.Err())
		case <-expired:
			return nil, fmt.Errorf("redisbaseline: waiting for a connection: %w", os.ErrDeadlineExceeded)
		}
	}
	if c.isClosed() {
		<-c.slots
		return nil, ErrClosed
	}
	for {
		select {
		case cn := <-c.idle:
			// The server may have closed it while it sat idle (a restart, a timeout): find out
			// now rather than fail the call.
			if alive(cn.raw) {
				return cn, nil
			}
			c.closeConn(cn)
			continue
		default:
		}
		break
	}
	cn, err := c.dial(ctx, deadline)
	if err != nil {
		<-c.slots
		return nil, err
	}
	return cn, nil
}

func (c *Client) put(cn *conn) {
	c.mu.Lock()
	if c.closed {
		c.closeConn(cn)
	} else {
		c.idle <- cn // never blocks: idle holds at most one per slot
	}
	c.mu.Unlock()
	<-c.slots
}

func (c *Client) discard(cn *conn) {
	c.closeConn(cn)
	<-c.slots
}

func (c *Client) closeConn(cn *conn) {
	_ = cn.nc.Close()
	c.open.Add(-1)
}

func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func (c *Client) dial(ctx context.Context, deadline time.Time) (*conn, error) {
	if d := time.Now().Add(c.dialTimeout); d.Before(deadline) {
		deadline = d
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(dctx, "tcp", c.ep.Addr)
	if err != nil {
		return nil, fmt.Errorf("redisbaseline: %w", err)
	}
	c.open.Add(1)
	cn := &conn{nc: raw, raw: raw}
	if c.tlsConf != nil {
		tc := tls.Client(raw, c.tlsConf)
		if err := tc.HandshakeContext(dctx); err != nil {
			c.closeConn(cn)
			return nil, fmt.Errorf("redisbaseline: tls: %w", err)
		}
		cn.nc = tc
	}
	cn.r = bufio.NewReaderSize(cn.nc, 16<<10)
	cn.w = bufio.NewWriterSize(cn.nc, 16<<10)
	var hello [][]any
	if c.ep.Password != "" || c.ep.User != "" {
		if c.ep.User != "" {
			hello = append(hello, []any{"AUTH", c.ep.User, c.ep.Password})
		} else {
			hello = append(hello, []any{"AUTH", c.ep.Password})
		}
	}
	if c.ep.DB != 0 {
		hello = append(hello, []any{"SELECT", c.ep.DB})
	}
	for _, cmd := range hello {
		if _, _, err := cn.roundTrip(dctx, deadline, cmd); err != nil {
			c.closeConn(cn)
			return nil, fmt.Errorf("redisbaseline: %s: %w", cmd[0], err)
		}
	}
	return cn, nil
}

// Close closes idle connections and makes further calls fail; connections in use are closed
// when their call ends.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for {
		select {
		case cn := <-c.idle:
			c.closeConn(cn)
		default:
			return nil
		}
	}
}
