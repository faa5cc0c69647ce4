package redisclient

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
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

func TestOptionErrors(t *testing.T) {
	for _, o := range []Options{
		{URL: "redis://h", TLS: TLS{CAFile: "/x"}},
		{URL: "rediss://h", TLS: TLS{CAFile: "/does/not/exist"}},
		{URL: "rediss://h", TLS: TLS{CertFile: "/x"}},
		{URL: "redis://h", Sentinel: Sentinel{Addrs: []string{"h:26379"}}},
		{URL: "redis://h", Sentinel: Sentinel{Master: "m"}},
		{URL: "redis://h", Sentinel: Sentinel{Addrs: []string{"nohostport"}, Master: "m"}},
	} {
		if _, err := New(o); err == nil || !strings.HasPrefix(err.Error(), "redisclient: ") {
			t.Errorf("New(%+v) = %v", o, err)
		}
	}
}

func TestCommands(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, Options{URL: srv.URL})
	if s, err := do(t, c, "PING").Str(); err != nil || s != "PONG" {
		t.Fatalf("PING = %q, %v", s, err)
	}
	bin := []byte("a\r\nb\x00c$*-:\r\n")
	do(t, c, "SET", "bin", bin)
	if b, err := do(t, c, "GET", "bin").Bytes(); err != nil || string(b) != string(bin) {
		t.Fatalf("GET bin = %q, %v", b, err)
	}
	do(t, c, "SET", "empty", "")
	if v := do(t, c, "GET", "empty"); v.IsNil() {
		t.Fatalf("empty string came back as %v", v)
	}
	if v := do(t, c, "GET", "missing"); !v.IsNil() || v.String() != "(nil)" {
		t.Fatalf("GET missing = %v", v)
	}
	if _, err := do(t, c, "GET", "missing").Bytes(); err == nil {
		t.Fatal("Bytes of nil succeeded")
	}
	do(t, c, "SET", "n", 7)
	if n, err := do(t, c, "INCRBY", "n", int64(5)).Int(); err != nil || n != 12 {
		t.Fatalf("INCRBY = %d, %v", n, err)
	}
	if _, err := do(t, c, "GET", "bin").Int(); err == nil {
		t.Fatal("Int of a bulk string succeeded")
	}
	arr, err := do(t, c, "MGET", "bin", "missing", "n").Array()
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
	big := strings.Repeat("x", 300<<10)
	do(t, c, "SET", "big", big)
	if s, _ := do(t, c, "GET", "big").Str(); s != big {
		t.Fatalf("big value came back with %d bytes", len(s))
	}
	if _, err := c.Do(context.Background(), "LPUSH", "bin", "y"); err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Fatalf("LPUSH on a string: %v", err)
	}
	if _, err := c.Do(context.Background(), "SET", "k", 1.5); err == nil || !strings.Contains(err.Error(), "unsupported type") {
		t.Fatalf("unsupported argument: %v", err)
	}
	if _, err := c.Do(context.Background()); err == nil {
		t.Fatal("empty command accepted")
	}
}

func TestScript(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, Options{URL: srv.URL})
	src := `return {tonumber(ARGV[1]) + 1, KEYS[1]}`
	s := NewScript(src)
	sum := sha1.Sum([]byte(src))
	sha := hex.EncodeToString(sum[:])
	for range 2 { // the first run loads it (EVAL after NOSCRIPT), the second finds it
		v, err := s.Run(context.Background(), c, []string{"k"}, 41)
		if err != nil || v.String() != `[42 "k"]` {
			t.Fatalf("Run = %v, %v", v, err)
		}
	}
	if ok, _ := do(t, c, "SCRIPT", "EXISTS", sha).Array(); len(ok) != 1 || ok[0].String() != "1" {
		t.Fatalf("script not cached after Run: %v", ok)
	}
	do(t, c, "SCRIPT", "FLUSH")
	if v, err := s.Run(context.Background(), c, []string{"k2"}, 1); err != nil || v.String() != `[2 "k2"]` {
		t.Fatalf("Run after SCRIPT FLUSH = %v, %v", v, err)
	}
}

func TestAuthAndSelect(t *testing.T) {
	srv := redistest.Start(t, redistest.Password("pa ss"))
	ctx := context.Background()
	wrong := newClient(t, Options{URL: "redis://:nope@" + srv.Addr})
	if _, err := wrong.Do(ctx, "PING"); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("wrong password: %v", err)
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
}

// TestLazyConnect: New does not dial; a call to an unreachable server fails within the dial
// timeout, and the client connects once the server is there.
func TestLazyConnect(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := newClient(t, Options{URL: "redis://" + addr, DialTimeout: 200 * time.Millisecond})
	begin := time.Now()
	if _, err := c.Do(context.Background(), "PING"); err == nil {
		t.Fatal("PING to a closed port succeeded")
	}
	if took := time.Since(begin); took > time.Second {
		t.Fatalf("failing took %v", took)
	}
	srv := redistest.Start(t)
	c2 := newClient(t, Options{URL: srv.URL})
	srv.Stop()
	if err := c2.Ping(context.Background()); err == nil {
		t.Fatal("PING to a stopped server succeeded")
	}
	srv.Restart(t)
	if err := c2.Ping(context.Background()); err != nil {
		t.Fatalf("PING once the server is up: %v", err)
	}
	// A restart under a connected client: the next calls reconnect.
	srv.Restart(t)
	var last error
	for range 20 {
		if last = c2.Ping(context.Background()); last == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if last != nil {
		t.Fatalf("no reconnection after a restart: %v", last)
	}
}

func TestDeadlines(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, Options{URL: srv.URL, Timeout: 100 * time.Millisecond})
	ctx := context.Background()
	begin := time.Now()
	// A call without a deadline gets Timeout.
	if _, err := c.Do(ctx, "EVAL", "local t = redis.call('TIME'); while true do if redis.call('TIME')[1] - t[1] > 1 then break end end", 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow script: %v", err)
	}
	if took := time.Since(begin); took > 600*time.Millisecond {
		t.Fatalf("the default timeout did not apply: %v", took)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Do(canceled, "PING"); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled call: %v", err)
	}
	// The busy script ends within about two seconds; the client then works again.
	var last error
	for range 60 {
		if last = c.Ping(ctx); last == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if last != nil {
		t.Fatalf("after the timeouts: %v", last)
	}
}

// TestConcurrency: concurrent calls on one client each get their own reply.
func TestConcurrency(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, Options{URL: srv.URL})
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for g := range 50 {
		wg.Go(func() {
			for i := range 50 {
				k, v := fmt.Sprint("k", g), fmt.Sprint(g, ":", i)
				if _, err := c.Do(context.Background(), "SET", k, v); err != nil {
					errs <- err
					return
				}
				got, err := c.Do(context.Background(), "GET", k)
				if s, _ := got.Str(); err != nil || s != v {
					errs <- fmt.Errorf("GET %s = %v, %v; want %s", k, got, err, v)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestClose(t *testing.T) {
	srv := redistest.Start(t)
	c := newClient(t, Options{URL: srv.URL})
	do(t, c, "PING")
	c.Close()
	if _, err := c.Do(context.Background(), "PING"); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	never := newClient(t, Options{URL: srv.URL})
	never.Close()
	if err := never.Ping(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed before first use: %v", err)
	}
}
