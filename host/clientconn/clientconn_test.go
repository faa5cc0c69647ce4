package clientconn

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serve runs h behind Limit(n) and Deadlines d on a loopback port.
func serve(t *testing.T, n int, d Deadlines, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: d.Wrap(h), ReadHeaderTimeout: 2 * time.Second}
	go srv.Serve(Limit(ln, n))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestLimitRefusesOverCap(t *testing.T) {
	addr := serve(t, 2, Deadlines{}, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	var held []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	time.Sleep(100 * time.Millisecond)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(b), `"code":"too_many_connections"`) || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("over the cap: %d %s", resp.StatusCode, b)
	}
	held[0].Close()
	time.Sleep(100 * time.Millisecond)
	resp, err = client.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("after a slot freed: %d", resp.StatusCode)
	}
}

func TestWriteDeadlineCutsStalledReader(t *testing.T) {
	werr := make(chan error, 1)
	addr := serve(t, 0, Deadlines{Write: 300 * time.Millisecond}, func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 64<<10)
		for {
			if _, err := w.Write(buf); err != nil {
				werr <- err
				return
			}
			http.NewResponseController(w).Flush()
		}
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	start := time.Now()
	select {
	case err := <-werr:
		t.Logf("write failed after %s: %v", time.Since(start).Round(time.Millisecond), err)
	case <-time.After(10 * time.Second):
		t.Fatal("writes to a client that reads nothing never failed")
	}
}

// TestDeadlinesDoNotOutliveTheRequest: on a kept-alive connection the next request is not cut
// by the previous one's deadlines, and a handler running longer than the body deadline keeps
// its context (net/http's background read is not cut).
func TestDeadlinesDoNotOutliveTheRequest(t *testing.T) {
	addr := serve(t, 0, Deadlines{Body: 200 * time.Millisecond, Write: 200 * time.Millisecond}, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-time.After(500 * time.Millisecond):
			io.WriteString(w, "done")
		case <-r.Context().Done():
			// The client did not go away: a canceled context here is the bug.
		}
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i := 0; i < 2; i++ {
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "done" {
			t.Fatalf("request %d: %d %q (context canceled by a stale deadline?)", i, resp.StatusCode, b)
		}
		time.Sleep(400 * time.Millisecond) // past both deadlines of the previous request
	}
}

func TestBodyDeadline(t *testing.T) {
	got := make(chan error, 1)
	addr := serve(t, 0, Deadlines{Body: 300 * time.Millisecond}, func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		got <- err
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nsome")
	select {
	case err := <-got:
		if err == nil {
			t.Fatal("a stalled body was read whole")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a stalled body was never cut")
	}
}
