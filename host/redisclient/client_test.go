package redisclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/internal/redistest"
)

func newClient(t testing.TB, o Options) *Client {
	t.Helper()
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func do(t testing.TB, c *Client, args ...any) Value {
	t.Helper()
	v, err := c.Do(context.Background(), args...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return v
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want endpoint
	}{
		{"redis://127.0.0.1:6390/2", endpoint{addr: "127.0.0.1:6390", host: "127.0.0.1", db: 2}},
		{"redis://h", endpoint{addr: "h:6379", host: "h"}},
		{"redis://:pw@h:1/0", endpoint{addr: "h:1", host: "h", password: "pw"}},
		{"redis://u:p%40ss@h:1", endpoint{addr: "h:1", host: "h", user: "u", password: "p@ss"}},
		{"redis://u@h:1/", endpoint{addr: "h:1", host: "h", user: "u"}},
		{"rediss://[::1]:7000/3", endpoint{addr: "[::1]:7000", host: "::1", tls: true, db: 3}},
		{"redis://", endpoint{addr: "localhost:6379", host: "localhost"}},
	} {
		got, err := parseURL(tc.url)
		if err != nil || got != tc.want {
			t.Errorf("parseURL(%q) = %+v, %v; want %+v", tc.url, got, err, tc.want)
		}
	}
	for _, bad := range []string{"http://h", "h:6379", "redis://h/x", "redis://h/-1", "redis://h?db=1", "redis:h", "://"} {
		if _, err := New(Options{URL: bad}); err == nil {
			t.Errorf("URL %q accepted", bad)
		}
	}
}

func TestCommands(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, Options{URL: srv.URL})
	if s, err := do(t, c, "PING").Str(); err != nil || s != "PONG" {
		t.Fatalf("PING = %q, %v", s, err)
	}
	if k := do(t, c, "PING").Kind(); k != SimpleString {
		t.Fatalf("PING kind %v", k)
	}
	bin := []byte("a\r\nb\x00c$*-:\r\n")
	do(t, c, "SET", "bin", bin)
	if b, err := do(t, c, "GET", "bin").Bytes(); err != nil || string(b) != string(bin) {
		t.Fatalf("GET bin = %q, %v", b, err)
	}
	do(t, c, "SET", "empty", "")
	if v := do(t, c, "GET", "empty"); v.IsNil() || v.Kind() != BulkString {
		t.Fatalf("empty string came back as %v", v)
	}
	if v := do(t, c, "GET", "missing"); !v.IsNil() {
		t.Fatalf("GET missing = %v", v)
	}
	if _, err := do(t, c, "GET", "missing").Str(); err == nil {
		t.Fatal("Str of nil succeeded")
	}
	for i, a := range []any{7, int64(-3), uint8(2), 1.5, true, time.Duration(4)} {
		do(t, c, "SET", fmt.Sprint("n", i), a)
	}
	if n, err := do(t, c, "INCRBY", "n0", int32(5)).Int(); err != nil || n != 12 {
		t.Fatalf("INCRBY = %d, %v", n, err)
	}
	for i, want := range []string{"12", "-3", "2", "1.5", "1", "4"} {
		if s, _ := do(t, c, "GET", fmt.Sprint("n", i)).Str(); s != want {
			t.Fatalf("n%d = %q, want %q", i, s, want)
		}
	}
	if _, err := do(t, c, "GET", "bin").Int(); err == nil {
		t.Fatal("Int of a bulk string succeeded")
	}
	arr, err := do(t, c, "MGET", "bin", "missing", "n0").Array()
	if err != nil || len(arr) != 3 || !arr[1].IsNil() || arr[0].IsNil() {
		t.Fatalf("MGET = %v, %v", arr, err)
	}
	if s, _ := arr[2].Str(); s != "12" {
		t.Fatalf("MGET[2] = %v", arr[2])
	}
	if v := do(t, c, "SET", "px", "v", "PX", 5000); v.String() != `"OK"` {
		t.Fatalf("SET PX = %v", v)
	}
	if ms, _ := do(t, c, "PTTL", "px").Int(); ms <= 0 || ms > 5000 {
		t.Fatalf("PTTL = %d", ms)
	}
	// A large value crosses the write and read buffers.
	big := strings.Repeat("x", 300<<10)
	do(t, c, "SET", "big", big)
	if s, _ := do(t, c, "GET", "big").Str(); s != big {
		t.Fatalf("big value came back with %d bytes", len(s))
	}
	// Nested arrays, with an integer, a nil and an error reply inside.
	v := do(t, c, "EVAL", `return {1, {"a", {2}}, false, redis.error_reply("NOPE inner")}`, 0)
	if got := v.String(); got != `[1 ["a" [2]] (nil) (error) NOPE inner]` {
		t.Fatalf("nested = %s", got)
	}
	a, _ := v.Array()
	if !HasCode(a[3].Err(), "NOPE") || a[0].Err() != nil {
		t.Fatalf("nested error reply: %v", a[3].Err())
	}
}

func TestErrors(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, Options{URL: srv.URL, PoolSize: 1})
	do(t, c, "SET", "s", "x")
	_, err := c.Do(context.Background(), "LPUSH", "s", "y")
	var se *Error
	if !errors.As(err, &se) || se.Code() != "WRONGTYPE" {
		t.Fatalf("LPUSH on a string: %v", err)
	}
	if _, err := c.Do(context.Background(), "NOSUCHCOMMAND"); !HasCode(err, "ERR") {
		t.Fatalf("unknown command: %v", err)
	}
	if _, err := c.Do(context.Background(), "SET", "k", struct{}{}); err == nil || !strings.Contains(err.Error(), "unsupported type") {
		t.Fatalf("unsupported argument: %v", err)
	}
	if _, err := c.Do(context.Background()); err == nil {
		t.Fatal("empty command accepted")
	}
	// Error replies leave the connection in the pool and in step.
	if s, _ := do(t, c, "GET", "s").Str(); s != "x" || c.open.Load() != 1 {
		t.Fatalf("after errors: GET = %q, %d connections", s, c.open.Load())
	}
}

func TestScript(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, Options{URL: srv.URL})
	s := NewScript(`return {KEYS[1], tonumber(ARGV[1]) + 1}`)
	if _, err := c.Do(context.Background(), "EVALSHA", s.Hash(), 0); !HasCode(err, "NOSCRIPT") {
		t.Fatalf("EVALSHA of an unknown script: %v", err)
	}
	for range 2 { // the first run loads it, the second finds it
		v, err := s.Run(context.Background(), c, []string{"k"}, 41)
		if err != nil || v.String() != `["k" 42]` {
			t.Fatalf("Run = %v, %v", v, err)
		}
	}
	if ok, _ := do(t, c, "SCRIPT", "EXISTS", s.Hash()).Array(); ok[0].String() != "1" {
		t.Fatal("script not cached after Run")
	}
	do(t, c, "SCRIPT", "FLUSH")
	if v, err := s.Run(context.Background(), c, []string{"k2"}, 1); err != nil || v.String() != `["k2" 2]` {
		t.Fatalf("Run after SCRIPT FLUSH = %v, %v", v, err)
	}
}

func TestAuthAndSelect(t *testing.T) {
	srv := redistest.Start(t, redistest.Password("pa ss"))
	ctx := context.Background()
	noAuth := newClient(t, Options{URL: "redis://" + srv.Addr})
	if _, err := noAuth.Do(ctx, "PING"); !HasCode(err, "NOAUTH") {
		t.Fatalf("no password: %v", err)
	}
	wrong := newClient(t, Options{URL: "redis://:nope@" + srv.Addr})
	if _, err := wrong.Do(ctx, "PING"); !HasCode(err, "WRONGPASS") || !strings.Contains(err.Error(), "AUTH") {
		t.Fatalf("wrong password: %v", err)
	}
	if wrong.open.Load() != 0 {
		t.Fatal("a connection that failed AUTH stayed open")
	}
	c := newClient(t, Options{URL: srv.URL})
	do(t, c, "SET", "where", "db0")
	withUser := newClient(t, Options{URL: "redis://default:pa%20ss@" + srv.Addr + "/3"})
	if v := do(t, withUser, "GET", "where"); !v.IsNil() {
		t.Fatalf("db 3 sees db 0's key: %v", v)
	}
	do(t, withUser, "SET", "where", "db3")
	if s, _ := do(t, c, "GET", "where").Str(); s != "db0" {
		t.Fatalf("db 0 = %q", s)
	}
	if n, _ := do(t, withUser, "CLIENT", "INFO").Str(); !strings.Contains(n, " db=3 ") {
		t.Fatalf("CLIENT INFO: %s", n)
	}
}

// blackhole accepts connections, reads what they send and never answers, like a hung server.
func blackhole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); _, _ = bufio.NewReader(c).WriteTo(discard{}) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func TestTimeouts(t *testing.T) {
	addr := blackhole(t)
	c := newClient(t, Options{URL: "redis://" + addr, Timeout: 100 * time.Millisecond, PoolSize: 1})
	start := time.Now()
	_, err := c.Do(context.Background(), "PING")
	if d := time.Since(start); err == nil || d < 90*time.Millisecond || d > 400*time.Millisecond {
		t.Fatalf("default timeout: %v after %v", err, d)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("not a timeout: %v", err)
	}
	// The context's deadline wins over the default.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = c.Do(ctx, "PING")
	if d := time.Since(start); !errors.Is(err, context.DeadlineExceeded) || d > 300*time.Millisecond {
		t.Fatalf("context deadline: %v after %v", err, d)
	}
	if c.open.Load() != 0 {
		t.Fatalf("%d timed-out connections kept", c.open.Load())
	}
	// A dial that cannot complete is bounded too: nothing routes to this address.
	c2 := newClient(t, Options{URL: "redis://10.255.255.1:6379", DialTimeout: 50 * time.Millisecond})
	start = time.Now()
	if _, err := c2.Do(context.Background(), "PING"); err == nil || time.Since(start) > 400*time.Millisecond {
		t.Fatalf("dial: %v after %v", err, time.Since(start))
	}
}

func TestPoolWaitBounded(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, Options{URL: srv.URL, PoolSize: 1, Timeout: 5 * time.Second})
	done := make(chan error, 1)
	go func() { _, err := c.Do(context.Background(), "BLPOP", "nothing", "0.5"); done <- err }()
	time.Sleep(100 * time.Millisecond) // let BLPOP take the only connection
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := c.Do(ctx, "PING"); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 300*time.Millisecond {
		t.Fatalf("waiting on a full pool: %v after %v", err, time.Since(start))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	do(t, c, "PING")
}

func TestCancellation(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, Options{URL: srv.URL, PoolSize: 1, Timeout: 10 * time.Second})
	do(t, c, "SET", "k", "v")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.Do(ctx, "BLPOP", "empty", "2")
	if d := time.Since(start); !errors.Is(err, context.Canceled) || d > time.Second {
		t.Fatalf("cancelled BLPOP: %v after %v", err, d)
	}
	// The cancelled connection would later receive BLPOP's nil reply; it must be gone, so the
	// next call on the single-slot pool reads its own answer.
	if s, err := do(t, c, "GET", "k").Str(); err != nil || s != "v" {
		t.Fatalf("after cancel: GET = %q, %v", s, err)
	}
	// A call whose reply is late past its deadline is handled the same way.
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := c.Do(short, "BLPOP", "empty", "0.3"); err == nil {
		t.Fatal("BLPOP outlived its deadline")
	}
	time.Sleep(400 * time.Millisecond)
	if s, err := do(t, c, "GET", "k").Str(); err != nil || s != "v" {
		t.Fatalf("after timeout: GET = %q, %v", s, err)
	}
	// An already cancelled context fails at once.
	dead, cancel3 := context.WithCancel(context.Background())
	cancel3()
	if _, err := c.Do(dead, "PING"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}

func TestServerKilledAndRestarted(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, Options{URL: srv.URL, Timeout: 200 * time.Millisecond})
	do(t, c, "SET", "k", "v")
	srv.Stop()
	if _, err := c.Do(context.Background(), "GET", "k"); err == nil {
		t.Fatal("GET succeeded with the server down")
	}
	if c.open.Load() != 0 {
		t.Fatalf("%d connections to a dead server kept", c.open.Load())
	}
	do2 := func() error { _, err := c.Do(context.Background(), "PING"); return err }
	if do2() == nil {
		t.Fatal("PING succeeded with the server down")
	}
	srv.Restart(t)
	if err := do2(); err != nil {
		t.Fatalf("first call after restart: %v", err)
	}
	// An idle connection the server closed is noticed before use, not by failing a call.
	do(t, c, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "no")
	time.Sleep(50 * time.Millisecond) // the close reaches the client while the connection idles
	if c.open.Load() != 1 {
		t.Fatalf("%d connections open", c.open.Load())
	}
	if err := do2(); err != nil {
		t.Fatalf("call after the server closed the idle connection: %v", err)
	}
}

func TestConcurrency(t *testing.T) {
	srv := redistest.Start(t)
	const pool, workers, each = 3, 12, 150
	c := newClient(t, Options{URL: srv.URL, PoolSize: pool})
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprint("w", w)
			for i := range each {
				if _, err := c.Do(context.Background(), "INCR", "total"); err != nil {
					errs <- err
					return
				}
				if _, err := c.Do(context.Background(), "SET", key, i); err != nil {
					errs <- err
					return
				}
				if s, err := do(t, c, "GET", key).Str(); err != nil || s != fmt.Sprint(i) {
					errs <- fmt.Errorf("%s = %q (%v), want %d: replies crossed", key, s, err, i)
					return
				}
				if n := c.open.Load(); n > pool {
					errs <- fmt.Errorf("%d connections open, pool is %d", n, pool)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n, _ := do(t, c, "GET", "total").Str(); n != fmt.Sprint(workers*each) {
		t.Fatalf("total = %s", n)
	}
}

func TestClose(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, Options{URL: srv.URL})
	do(t, c, "PING")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(context.Background(), "PING"); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if c.open.Load() != 0 {
		t.Fatalf("%d connections open after Close", c.open.Load())
	}
}

func BenchmarkGet(b *testing.B) {
	srv := redistest.Start(b)
	c := newClient(b, Options{URL: srv.URL})
	ctx := context.Background()
	do(b, c, "SET", "k", "value")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Do(ctx, "GET", "k"); err != nil {
			b.Fatal(err)
		}
	}
}
