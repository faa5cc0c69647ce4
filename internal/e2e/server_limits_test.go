package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
)

// serverConfig is upstreamConfig with extra [server] keys.
func serverConfig(url, server, extra string) string {
	return strings.Replace(upstreamConfig(url, extra), "[server]\n", "[server]\n"+server+"\n", 1)
}

// freshClient opens a new connection per request, so a test controls how many it holds.
func freshClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
}

// TestServerSlowloris: many connections sending their headers a byte at a time do not stop the
// gateway serving others, and each is dropped at the header timeout.
func TestServerSlowloris(t *testing.T) {
	up := fakeprovider.NewOpenAI(t)
	s := startSluice(t, serverConfig(up.URL, `read_header_timeout = "1s"`, ""))
	addr := strings.TrimPrefix(s.URL, "http://")
	const n = 200
	var dropped atomic.Int64
	var slowest atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Errorf("dial: %v", err)
				return
			}
			defer c.Close()
			head := "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Padding: " + strings.Repeat("a", 200) + "\r\n"
			go func() {
				for j := 0; j < len(head); j++ {
					if _, err := c.Write([]byte{head[j]}); err != nil {
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
			}()
			_ = c.SetReadDeadline(time.Now().Add(8 * time.Second))
			_, err = io.Copy(io.Discard, c) // returns when the gateway closes the connection
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return // never dropped
			}
			dropped.Add(1)
			if d := int64(time.Since(start)); d > slowest.Load() {
				slowest.Store(d)
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	// Others are served meanwhile, promptly.
	client := freshClient()
	body := fmt.Sprintf(chatHi, "up/gpt-test")
	for i := 0; i < 10; i++ {
		begin := time.Now()
		resp, err := client.Post(s.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatalf("request %d during the slowloris: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || time.Since(begin) > time.Second {
			t.Fatalf("request %d during the slowloris: %d after %s", i, resp.StatusCode, time.Since(begin))
		}
	}
	wg.Wait()
	t.Logf("%d of %d slow connections dropped, the last %s after they started", dropped.Load(), n, time.Duration(slowest.Load()).Round(time.Millisecond))
	if dropped.Load() != n {
		t.Fatalf("%d of %d slow-header connections were never dropped", n-dropped.Load(), n)
	}
	if d := time.Duration(slowest.Load()); d > 3*time.Second {
		t.Fatalf("slow connections dropped only after %s; read_header_timeout is 1s", d)
	}
}

// TestServerSlowReadingStream: a client that stops reading a stream is cut after the write
// timeout, and the gateway cancels the upstream call.
func TestServerSlowReadingStream(t *testing.T) {
	up := fakeprovider.NewOpenAI(t)
	piece := strings.Repeat("x", 16<<10)
	chunks := make([]string, 2000) // 32 MiB over at least 4s: more than any socket buffer holds
	for i := range chunks {
		chunks[i] = `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"` + piece + `"},"finish_reason":null}]}`
	}
	up.Enqueue(fakeprovider.Reply{Chunks: chunks, ChunkDelay: 2 * time.Millisecond})
	s := startSluice(t, serverConfig(up.URL, `write_timeout = "1s"`, ""))
	addr := strings.TrimPrefix(s.URL, "http://")
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := `{"model":"up/gpt-test","stream":true,"messages":[{"role":"user","content":"long"}]}`
	fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	br := bufio.NewReader(c)
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, "200") {
		t.Fatalf("status line %q: %v", status, err)
	}
	stalled := time.Now()
	// Stop reading. The gateway's writes block once the buffers are full; the write timeout
	// must then cut the stream and cancel the upstream.
	deadline := time.Now().Add(15 * time.Second)
	for up.Stats().Gone == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the upstream was not canceled within 15s of the client stalling (stats %+v)", up.Stats())
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(stalled)
	t.Logf("upstream canceled %s after the client stopped reading (write_timeout 1s)", took.Round(time.Millisecond))
	if took > 6*time.Second {
		t.Fatalf("cut only after %s", took)
	}
	// The connection is closed: reading on drains what was buffered, then ends.
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, br); err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the stalled client's connection was left open")
		}
	}
	// The gateway still serves.
	if code, _, b := post(t, s.URL+"/v1/chat/completions", fmt.Sprintf(chatHi, "up/gpt-test")); code != 200 {
		t.Fatalf("after the cut: %d %s", code, b)
	}
}

// TestServerConnectionCap: connections over max_connections get a 503 in OpenAI's shape at
// once; a freed slot serves again. Streams over max_streams get 503 too_many_streams.
func TestServerConnectionCap(t *testing.T) {
	up := fakeprovider.NewOpenAI(t)
	s := startSluice(t, serverConfig(up.URL, "max_connections = 4\nmax_streams = 1", ""))
	addr := strings.TrimPrefix(s.URL, "http://")
	var held []net.Conn
	for i := 0; i < 4; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	time.Sleep(200 * time.Millisecond)
	client := freshClient()
	body := fmt.Sprintf(chatHi, "up/gpt-test")
	begin := time.Now()
	resp, err := client.Post(s.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("over the cap: %v (want a 503 answer)", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if _, code, _ := openaiError(t, string(b)); resp.StatusCode != 503 || code != "too_many_connections" || time.Since(begin) > time.Second {
		t.Fatalf("over the cap: %d after %s: %s", resp.StatusCode, time.Since(begin), b)
	}
	if up.Count() != 0 {
		t.Fatal("a refused connection reached the upstream")
	}
	held[0].Close()
	held[1].Close()
	served := false
	for i := 0; i < 40 && !served; i++ {
		resp, err := client.Post(s.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err == nil {
			served = resp.StatusCode == 200
			resp.Body.Close()
		}
		if !served {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if !served {
		t.Fatal("a freed slot did not serve")
	}

	// One stream at a time: a second concurrent stream is refused, a plain call still served.
	up.Enqueue(fakeprovider.Reply{ChunkDelay: 300 * time.Millisecond, Pieces: 5})
	first := make(chan int, 1)
	go func() {
		resp, err := client.Post(s.URL+"/v1/chat/completions", "application/json", strings.NewReader(chat("up/gpt-test", true)))
		if err != nil {
			first <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	time.Sleep(300 * time.Millisecond)
	resp, err = client.Post(s.URL+"/v1/chat/completions", "application/json", strings.NewReader(chat("up/gpt-test", true)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if _, code, msg := openaiError(t, string(b)); resp.StatusCode != 503 || code != "too_many_streams" || !strings.Contains(msg, "max_streams") {
		t.Fatalf("second stream: %d %s", resp.StatusCode, b)
	}
	if code := <-first; code != 200 {
		t.Fatalf("first stream: %d", code)
	}
}
