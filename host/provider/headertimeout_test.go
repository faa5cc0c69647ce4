package provider

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/host/config"
)

// rawServer accepts connections and hands each to fn.
func rawServer(t *testing.T, fn func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go fn(c)
		}
	}()
	return "http://" + ln.Addr().String()
}

func readRequest(c net.Conn) {
	if req, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
		req.Body.Close()
	}
}

func testProvider(t *testing.T, base string, idle time.Duration) *Provider {
	t.Helper()
	p, err := New(&config.Provider{Name: "t", Kind: "openai", BaseURL: base, Auth: "none", IdleTimeout: config.Duration(idle)}, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func attempt(t *testing.T, p *Provider, stream bool) (*Response, *AttemptError) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := p.Do(ctx, &Request{Endpoint: ChatCompletions, Model: "m", Stream: stream, Body: []byte(`{"model":"m"}`)})
	if err == nil {
		return resp, nil
	}
	var ae *AttemptError
	if !errors.As(err, &ae) {
		t.Fatalf("not an AttemptError: %v", err)
	}
	return nil, ae
}

// TestSentTellsWhetherTheUpstreamGotTheRequest: Sent is false when nothing reached the
// upstream and true once the whole request was written.
func TestSentTellsWhetherTheUpstreamGotTheRequest(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := "http://" + ln.Addr().String()
	ln.Close()
	if _, ae := attempt(t, testProvider(t, dead, time.Second), false); ae == nil || ae.Sent || ae.Kind != FailConnect {
		t.Fatalf("refused: %+v", ae)
	}
	reset := rawServer(t, func(c net.Conn) {
		readRequest(c)
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	})
	if _, ae := attempt(t, testProvider(t, reset, time.Second), false); ae == nil || !ae.Sent {
		t.Fatalf("reset after the request was read: %+v", ae)
	}
}

// TestHeaderTimeoutPerCall: a stream's headers are bounded by the idle timeout; a non-streamed
// answer's are not (only by the context), since they come with the finished answer.
func TestHeaderTimeoutPerCall(t *testing.T) {
	slow := rawServer(t, func(c net.Conn) {
		defer c.Close()
		readRequest(c)
		time.Sleep(600 * time.Millisecond)
		c.Write([]byte("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"))
	})
	p := testProvider(t, slow, 200*time.Millisecond)
	if resp, ae := attempt(t, p, false); ae != nil || resp.Status != 200 {
		t.Fatalf("non-stream with headers after 600ms (idle 200ms): %+v", ae)
	}
	start := time.Now()
	_, ae := attempt(t, p, true)
	if ae == nil || ae.Kind != FailTimeout || !ae.Sent || time.Since(start) > 500*time.Millisecond {
		t.Fatalf("stream with headers after 600ms (idle 200ms): %+v after %s", ae, time.Since(start))
	}
}
