// Package redisclient is the gateway's Redis client: a thin layer over github.com/redis/rueidis
// that keeps rueidis types out of host/'s exported APIs and offers only what the shared stores
// need (commands with per-call deadlines, Lua scripts by EVALSHA). rueidis multiplexes
// concurrent calls over a few connections with auto-pipelining, so simultaneous limiter checks
// share round trips. Standalone servers (redis://, rediss://) and Sentinel-managed primaries
// are supported; Redis Cluster is not, because the limiter's script touches keys of several
// slots.
package redisclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// Options configure a Client.
type Options struct {
	// URL is redis://[user[:password]@]host[:port][/db], or rediss:// for TLS. With Sentinel
	// set, its host is not used (the sentinels name the primary) but its scheme, credentials
	// and db still apply to the primary.
	URL string
	// DialTimeout bounds connecting, the TLS handshake and the handshake commands; default 5s.
	DialTimeout time.Duration
	// Timeout is the deadline of a call whose context has none; default 3s.
	Timeout time.Duration
	// TLS configures rediss:// (and the sentinels when the URL is rediss://).
	TLS TLS
	// Sentinel, when Addrs is set, finds the primary through Redis Sentinel and follows its
	// failovers.
	Sentinel Sentinel
}

// TLS holds the files and checks of a TLS connection. Empty fields keep the defaults: the
// system roots, no client certificate, the URL's host as server name.
type TLS struct {
	CAFile             string
	CertFile, KeyFile  string
	ServerName         string
	InsecureSkipVerify bool
}

// Sentinel names the sentinels and the primary they monitor.
type Sentinel struct {
	Addrs    []string // host:port of each sentinel
	Master   string   // the name given in "sentinel monitor <name> ..."
	Password string   // of the sentinels (requirepass in sentinel.conf), if any
}

// ErrClosed is returned by calls on a closed Client.
var ErrClosed = errors.New("redisclient: client closed")

// Client is safe for concurrent use. It connects on first use, so an unreachable Redis shows up
// as failed calls, not as a startup error.
type Client struct {
	opt     rueidis.ClientOption
	timeout time.Duration

	rc      atomic.Pointer[rueidisClient]
	mu      sync.Mutex
	closed  bool
	dialing chan struct{} // closed when the connection attempt in progress ends
	dialErr error         // of the last attempt
}

// rueidisClient boxes the interface so that it can sit in an atomic.Pointer.
type rueidisClient struct{ rueidis.Client }

// New validates the options and loads the TLS files; it does not connect.
func New(o Options) (*Client, error) {
	ep, err := parseURL(o.URL)
	if err != nil {
		return nil, err
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	opt := rueidis.ClientOption{
		InitAddress: []string{ep.addr},
		Username:    ep.user,
		Password:    ep.password,
		SelectDB:    ep.db,
		Dialer:      net.Dialer{Timeout: o.DialTimeout},
		// Calls are never retried here: the stores' breakers and fail-open policies decide.
		DisableRetry: true,
		// No client-side caching: every read must see the other replicas' writes.
		DisableCache: true,
		// CLIENT SETINFO is unknown before Redis 7.2; the handshake needs nothing optional.
		ClientSetInfo: rueidis.DisableClientSetInfo,
		// A standalone server: skip the CLUSTER probe on connect.
		ForceSingleClient: true,
	}
	if ep.tls {
		tc, err := tlsConfig(o.TLS, ep.host)
		if err != nil {
			return nil, err
		}
		opt.TLSConfig = tc
	} else if o.TLS != (TLS{}) {
		return nil, errors.New("redisclient: TLS settings need a rediss:// url")
	}
	if s := o.Sentinel; len(s.Addrs) > 0 || s.Master != "" {
		if len(s.Addrs) == 0 || s.Master == "" {
			return nil, errors.New("redisclient: sentinel needs both addresses and a master name")
		}
		for _, a := range s.Addrs {
			if _, _, err := net.SplitHostPort(a); err != nil {
				return nil, fmt.Errorf("redisclient: sentinel address %q: %w", a, err)
			}
		}
		opt.InitAddress = append([]string(nil), s.Addrs...)
		opt.Sentinel = rueidis.SentinelOption{MasterSet: s.Master, Password: s.Password,
			Dialer: opt.Dialer, TLSConfig: opt.TLSConfig}
		if opt.TLSConfig != nil && o.TLS.ServerName == "" {
			// The primary's address comes from the sentinels: verify against it, not the URL.
			sc := opt.TLSConfig.Clone()
			sc.ServerName = ""
			opt.TLSConfig, opt.Sentinel.TLSConfig = sc, sc
		}
	}
	return &Client{opt: opt, timeout: o.Timeout}, nil
}

func tlsConfig(t TLS, host string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host,
		InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // opt-in, warned about by config
	if t.ServerName != "" {
		tc.ServerName = t.ServerName
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("redisclient: tls ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("redisclient: tls ca: no PEM certificate in %s", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, errors.New("redisclient: tls: a client certificate needs both cert and key files")
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("redisclient: tls client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// client returns the connected rueidis client, connecting on first use. Concurrent callers
// share one attempt; a failed attempt is retried by the next call after it.
func (c *Client) client(ctx context.Context) (rueidis.Client, error) {
	if rc := c.rc.Load(); rc != nil {
		return rc.Client, nil
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if rc := c.rc.Load(); rc != nil {
		c.mu.Unlock()
		return rc.Client, nil
	}
	wait := c.dialing
	if wait == nil {
		wait = make(chan struct{})
		c.dialing = wait
		go c.connect(wait)
	}
	c.mu.Unlock()
	select {
	case <-wait:
	case <-ctx.Done():
		return nil, fmt.Errorf("redisclient: connecting: %w", ctx.Err())
	}
	if rc := c.rc.Load(); rc != nil {
		return rc.Client, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	return nil, c.dialErr
}

// connect runs outside any caller's context: the attempt is bounded by DialTimeout and its
// result serves every caller waiting for it.
func (c *Client) connect(done chan struct{}) {
	rc, err := rueidis.NewClient(c.opt)
	c.mu.Lock()
	defer c.mu.Unlock()
	defer close(done)
	c.dialing = nil
	if err != nil {
		c.dialErr = fmt.Errorf("redisclient: connecting: %w", err)
		return
	}
	if c.closed {
		rc.Close()
		return
	}
	c.rc.Store(&rueidisClient{rc})
}

func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.timeout)
}

// Do sends one command and returns its reply. An error reply is returned as an error.
// Arguments are strings, []byte or integers.
func (c *Client) Do(ctx context.Context, args ...any) (Value, error) {
	if len(args) == 0 {
		return Value{}, errors.New("redisclient: empty command")
	}
	strs, err := toStrings(args)
	if err != nil {
		return Value{}, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	rc, err := c.client(ctx)
	if err != nil {
		return Value{}, err
	}
	return result(rc.Do(ctx, rc.B().Arbitrary(strs[0]).Args(strs[1:]...).Build()))
}

// Ping checks that the server answers.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.Do(ctx, "PING")
	return err
}

// Close closes the connections; calls after it fail with ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	rc := c.rc.Swap(nil)
	c.mu.Unlock()
	if rc != nil {
		rc.Close()
	}
	return nil
}

// Script is a Lua script run by its SHA1 (EVALSHA), sent in full (EVAL) only when the server
// does not know it yet, after a restart or SCRIPT FLUSH.
type Script struct{ lua *rueidis.Lua }

// NewScript prepares src.
func NewScript(src string) *Script { return &Script{lua: rueidis.NewLuaScript(src)} }

// Run evaluates the script with keys and args (strings, []byte or integers).
func (s *Script) Run(ctx context.Context, c *Client, keys []string, args ...any) (Value, error) {
	strs, err := toStrings(args)
	if err != nil {
		return Value{}, err
	}
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	rc, err := c.client(ctx)
	if err != nil {
		return Value{}, err
	}
	return result(s.lua.Exec(ctx, rc, keys, strs))
}

func result(r rueidis.RedisResult) (Value, error) {
	m, err := r.ToMessage()
	if err != nil {
		if rueidis.IsRedisNil(err) {
			return Value{nil: true}, nil
		}
		return Value{}, fmt.Errorf("redisclient: %w", err)
	}
	return Value{m: m}, nil
}

func toStrings(args []any) ([]string, error) {
	out := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			out[i] = v
		case []byte:
			// No copy: the bytes are only read while the command is written.
			out[i] = rueidis.BinaryString(v)
		case int:
			out[i] = strconv.Itoa(v)
		case int64:
			out[i] = strconv.FormatInt(v, 10)
		case uint64:
			out[i] = strconv.FormatUint(v, 10)
		default:
			return nil, fmt.Errorf("redisclient: argument %d: unsupported type %T", i, a)
		}
	}
	return out, nil
}
