package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// StartSentinel runs a Sentinel (redis-server --sentinel) that monitors primary under the
// name master, on its own free port, and waits until it reports the primary's address. The
// returned Server's Addr is the sentinel's.
func StartSentinel(tb testing.TB, primary *Server, master string) *Server {
	tb.Helper()
	if primary.tls || primary.password != "" {
		tb.Fatal("redistest: StartSentinel monitors a plain server without a password")
	}
	dir := tb.TempDir()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			lastErr = err
			continue
		}
		// Sentinel rewrites its config file, so each attempt gets a fresh one.
		conf := filepath.Join(dir, "sentinel-"+strconv.Itoa(port)+".conf")
		host, pport, _ := strings.Cut(primary.Addr, ":")
		body := fmt.Sprintf("sentinel monitor %s %s %s 1\nsentinel down-after-milliseconds %s 1000\n",
			master, host, pport, master)
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			tb.Fatal(err)
		}
		s := &Server{bin: primary.bin, dir: dir, port: port, extra: []string{conf, "--sentinel"}}
		if err := s.launch(); err != nil {
			lastErr = err
			continue
		}
		tb.Cleanup(s.Stop)
		// A sentinel answers PING at once but learns about the primary a moment later.
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if addr, err := s.masterAddr(master); err == nil && addr == primary.Addr {
				return s
			} else if err != nil {
				lastErr = err
			}
			time.Sleep(50 * time.Millisecond)
		}
		tb.Fatalf("redistest: sentinel on %s does not report %s as %q: %v", s.Addr, primary.Addr, master, lastErr)
	}
	tb.Fatalf("redistest: starting sentinel: %v", lastErr)
	return nil
}

// masterAddr asks the sentinel for the primary's host:port.
func (s *Server) masterAddr(master string) (string, error) {
	c, err := net.DialTimeout("tcp", s.Addr, 200*time.Millisecond)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	fmt.Fprintf(c, "*3\r\n$8\r\nSENTINEL\r\n$23\r\nGET-MASTER-ADDR-BY-NAME\r\n$%d\r\n%s\r\n", len(master), master)
	r := bufio.NewReader(c)
	var parts []string
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(line, "*2") {
		return "", fmt.Errorf("sentinel: unexpected reply %q", line)
	}
	for range 2 {
		if _, err := r.ReadString('\n'); err != nil { // $len
			return "", err
		}
		v, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		parts = append(parts, strings.TrimSpace(v))
	}
	return net.JoinHostPort(parts[0], parts[1]), nil
}
