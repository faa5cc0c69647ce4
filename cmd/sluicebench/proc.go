package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one child process (fake upstream or sluice) with the tail of its output kept for
// error messages.
type proc struct {
	name  string
	cmd   *exec.Cmd
	out   *tail
	start time.Time
	done  chan struct{}
	err   error
}

// tail keeps the last few KB written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 8<<10 {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-4<<10:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

func startProc(ctx context.Context, name, bin string, args []string, stdout io.Writer) (*proc, error) {
	return startProcEnv(ctx, name, bin, args, nil, stdout)
}

// startProcEnv is startProc with env added to this process's environment.
func startProcEnv(ctx context.Context, name, bin string, args, env []string, stdout io.Writer) (*proc, error) {
	p := &proc{name: name, out: &tail{}, done: make(chan struct{})}
	cmd := exec.CommandContext(ctx, bin, args...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 3 * time.Second
	cmd.Stderr = p.out
	if stdout != nil {
		cmd.Stdout = stdout
	} else {
		cmd.Stdout = p.out
	}
	p.cmd = cmd
	p.start = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM and waits; a process that does not leave within 5 s is killed.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// startUpstream runs a fake upstream binary and reads the host:port it prints first.
func startUpstream(ctx context.Context, name, bin string, args []string) (*proc, string, error) {
	pr, pw := io.Pipe()
	p, err := startProc(ctx, name, bin, args, pw)
	if err != nil {
		return nil, "", err
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		if sc.Scan() {
			lines <- strings.TrimSpace(sc.Text())
		}
		close(lines)
		// Keep draining so the child never blocks on a full pipe.
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		<-p.done
		pw.Close()
	}()
	select {
	case addr, ok := <-lines:
		if ok && addr != "" {
			return p, addr, nil
		}
	case <-time.After(10 * time.Second):
	}
	p.stop()
	return nil, "", fmt.Errorf("%s: no address on stdout: %s", name, p.out)
}

// freePort asks the kernel for a free loopback port. The port is released before sluice binds
// it, a small race that is harmless on a benchmark machine.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitReady polls GET /health until it answers 200 and returns the time since p started.
func waitReady(p *proc, addr string, limit time.Duration) (time.Duration, error) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
	defer client.CloseIdleConnections()
	url := "http://" + addr + "/health"
	deadline := p.start.Add(limit)
	for time.Now().Before(deadline) {
		if p.exited() {
			return 0, fmt.Errorf("%s exited before it was ready: %v: %s", p.name, p.err, p.out)
		}
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(p.start), nil
			}
		}
		time.Sleep(250 * time.Microsecond)
	}
	return 0, fmt.Errorf("%s not ready on %s within %v: %s", p.name, url, limit, p.out)
}

// rssBytes reads VmRSS from /proc/PID/status.
func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range bytes.Lines(b) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := strings.Fields(string(rest))
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err != nil {
					return 0, err
				}
				return kb << 10, nil
			}
		}
	}
	return 0, errors.New("no VmRSS line")
}

// cpuTime is the user+system CPU time a process has used so far (from /proc/PID/stat, whose
// clock tick is 1/100 s on Linux).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may contain spaces; fields are counted after its closing paren.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("bad stat line")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short stat line")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// rssSampler records the peak RSS of a process while it runs.
type rssSampler struct {
	stop chan struct{}
	done chan struct{}
	peak int64
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if v, err := rssBytes(pid); err == nil {
				s.peak = max(s.peak, v)
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) Stop() int64 {
	close(s.stop)
	<-s.done
	return s.peak
}
