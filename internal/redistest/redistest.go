// Package redistest starts a real redis-server for tests: one process per call, on a free
// loopback port, with its working directory in the test's temp dir and no persistence. The
// process is stopped at test cleanup. Tests are skipped, with a message saying how to install
// it, only when the redis-server binary is not on PATH (or, for TLS, when it was built
// without TLS). It can also serve TLS only, with a CA and certificates made for the test, and
// run a Sentinel (redis-server --sentinel) monitoring a server.
package redistest

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
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
	// URL is redis://Addr/0 (redis://:password@Addr/0 with Password), ready for a Redis client.
	URL string

	// TLS holds the PEM files of a server started with TLS: the CA that signed both
	// certificates and the client certificate the server requires.
	TLS *TLSFiles

	bin, dir string
	port     int
	password string
	tls      bool
	extra    []string // appended to the command line (Sentinel's config file and flag)
	cmd      *exec.Cmd
	stopOnce sync.Once
	exited   chan struct{}
}

// Option changes how Start runs the server.
type Option func(*Server)

// Password makes the server require AUTH with pw (--requirepass).
func Password(pw string) Option { return func(s *Server) { s.password = pw } }

// ReplicaOf makes the server a replica of primary (--replicaof), for Sentinel failovers.
func ReplicaOf(primary *Server) Option {
	return func(s *Server) {
		host, port, _ := strings.Cut(primary.Addr, ":")
		s.extra = append(s.extra, "", "--replicaof", host, port)
	}
}

// TLS makes the server speak TLS only (the plain port is closed) with a certificate for
// 127.0.0.1 and localhost signed by a new CA, and require clients to present a certificate
// signed by that CA (--tls-auth-clients yes). URL becomes rediss://.
func TLS() Option { return func(s *Server) { s.tls = true } }

// Start launches redis-server and waits until it answers PING. It fails the test if the
// server cannot be started and skips it if the binary is absent.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Skip("redistest: redis-server not found on PATH; install it with `apt-get install -y redis-server` (make test does)")
	}
	dir := tb.TempDir()
	var lastErr error
	// The free-port probe can race with other processes; a few attempts absorb that.
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			lastErr = err
			continue
		}
		s := &Server{bin: bin, dir: dir, port: port}
		for _, o := range opts {
			o(s)
		}
		if s.tls && s.TLS == nil {
			if s.TLS, err = makeTLSFiles(dir); err != nil {
				tb.Fatalf("redistest: %v", err)
			}
		}
		if err := s.launch(); err == nil {
			tb.Cleanup(s.Stop)
			return s
		} else {
			lastErr = err
			if s.tls && strings.Contains(err.Error(), "TLS") && strings.Contains(err.Error(), "not") {
				tb.Skipf("redistest: this redis-server cannot serve TLS: %v", err)
			}
		}
	}
	tb.Fatalf("redistest: starting redis-server: %v", lastErr)
	return nil
}

// Restart starts a stopped server again on the same port, with an empty dataset, as after a
// crash. It fails the test if the server does not come back.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Stop()
	s.stopOnce = sync.Once{}
	var err error
	// The port was just released; another process could take it, but on loopback that is rare
	// enough that a few attempts suffice.
	for attempt := 0; attempt < 5; attempt++ {
		if err = s.launch(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("redistest: restarting redis-server: %v", err)
}

func (s *Server) launch() error {
	bin, dir, port := s.bin, s.dir, s.port
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := []string{
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(port),
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--protected-mode", "no",
		"--loglevel", "warning",
		"--logfile", dir + "/redis-" + strconv.Itoa(port) + ".log",
	}
	scheme := "redis"
	if s.tls {
		scheme = "rediss"
		args[3] = "0" // no plain port
		args = append(args, "--tls-port", strconv.Itoa(port),
			"--tls-cert-file", s.TLS.ServerCertFile, "--tls-key-file", s.TLS.ServerKeyFile,
			"--tls-ca-cert-file", s.TLS.CAFile, "--tls-auth-clients", "yes")
	}
	s.Addr, s.URL = addr, scheme+"://"+addr+"/0"
	if s.password != "" {
		args = append(args, "--requirepass", s.password)
		s.URL = (&url.URL{Scheme: scheme, User: url.UserPassword("", s.password), Host: addr, Path: "/0"}).String()
	}
	if len(s.extra) > 0 {
		// A config file must come first on the command line; "" stands for none.
		if s.extra[0] != "" {
			args = append([]string{s.extra[0]}, args...)
		}
		args = append(args, s.extra[1:]...)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	exited := make(chan struct{})
	s.cmd, s.exited = cmd, exited
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			log, _ := os.ReadFile(dir + "/redis-" + strconv.Itoa(port) + ".log")
			return fmt.Errorf("redis-server exited early: %s", strings.TrimSpace(string(log)))
		default:
		}
		if s.ping() == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("redis-server on %s did not answer PING within 5s", addr)
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

func (s *Server) ping() error {
	if s.TLS == nil {
		return ping(s.Addr, s.password, nil)
	}
	tc, err := s.TLS.ClientConfig()
	if err != nil {
		return err
	}
	return ping(s.Addr, s.password, tc)
}

// ping speaks just enough RESP to confirm the server is serving.
func ping(addr, password string, tc *tls.Config) error {
	var c net.Conn
	var err error
	d := &net.Dialer{Timeout: 200 * time.Millisecond}
	if tc != nil {
		c, err = tls.DialWithDialer(d, "tcp", addr, tc)
	} else {
		c, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	cmd := "PING\r\n"
	if password != "" {
		cmd = fmt.Sprintf("*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n", len(password), password) + cmd
	}
	if _, err := c.Write([]byte(cmd)); err != nil {
		return err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if password != "" {
		if !strings.HasPrefix(line, "+OK") {
			return fmt.Errorf("AUTH: unexpected reply %q", line)
		}
		if line, err = r.ReadString('\n'); err != nil {
			return err
		}
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}
