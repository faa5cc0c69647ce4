// Package redistest starts a real redis-server for tests: one process per call, on a free
// loopback port, with its working directory in the test's temp dir and no persistence. The
// process is stopped at test cleanup. Tests are skipped, with a message saying how to install
// it, only when the redis-server binary is not on PATH.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a running redis-server owned by one test.
type Server struct {
	// Addr is host:port on 127.0.0.1.
	Addr string
	// URL is redis://Addr/0, ready for a Redis client.
	URL string

	cmd      *exec.Cmd
	stopOnce sync.Once
	exited   chan struct{}
}

// Start launches redis-server and waits until it answers PING. It fails the test if the
// server cannot be started and skips it if the binary is absent.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Skip("redistest: redis-server not found on PATH; install it with `apt-get install -y redis-server` (make test does)")
	}
	dir := tb.TempDir()
	var lastErr error
	// The free-port probe can race with other processes; a few attempts absorb that.
	for attempt := 0; attempt < 5; attempt++ {
		s, err := launch(bin, dir)
		if err == nil {
			tb.Cleanup(s.Stop)
			return s
		}
		lastErr = err
	}
	tb.Fatalf("redistest: starting redis-server: %v", lastErr)
	return nil
}

func launch(bin, dir string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(bin,
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(port),
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--protected-mode", "no",
		"--loglevel", "warning",
		"--logfile", dir+"/redis-"+strconv.Itoa(port)+".log",
	)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	s := &Server{Addr: addr, URL: "redis://" + addr + "/0", cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.exited) }()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			log, _ := os.ReadFile(dir + "/redis-" + strconv.Itoa(port) + ".log")
			return nil, fmt.Errorf("redis-server exited early: %s", strings.TrimSpace(string(log)))
		default:
		}
		if ping(addr) == nil {
			return s, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	return nil, fmt.Errorf("redis-server on %s did not answer PING within 5s", addr)
}

// Stop terminates the server and waits for it to exit. It is safe to call more than once;
// tests call it directly to simulate an outage.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		_ = s.cmd.Process.Kill()
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
		}
	})
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("probing a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ping speaks just enough RESP to confirm the server is serving.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}
