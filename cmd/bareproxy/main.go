// Command bareproxy is the floor sluicebench measures sluice against: net/http/httputil's
// ReverseProxy in front of one upstream, plus the one thing any gateway must do with a body,
// decode it as JSON (into the two fields a router needs). It has no routing, auth, limits,
// logging or metrics. Like cmd/fakeupstream it prints its listen address (host:port) as the
// first line on stdout and serves until SIGINT or SIGTERM.
//
//	bareproxy -upstream http://127.0.0.1:PORT [-listen 127.0.0.1:0]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bareproxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	upstream := fs.String("upstream", "", "upstream root URL (http://host:port)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("bareproxy: %w", err)
	}
	target, err := url.Parse(*upstream)
	if err != nil || target.Host == "" {
		return fmt.Errorf("bareproxy: -upstream %q: want http://host:port", *upstream)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("bareproxy: %w", err)
	}
	srv := &http.Server{Handler: newHandler(target), ReadHeaderTimeout: 10 * time.Second}
	if _, err := fmt.Fprintln(stdout, ln.Addr()); err != nil {
		return fmt.Errorf("bareproxy: %w", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("bareproxy: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("bareproxy: %w", err)
	}
	return nil
}

// request is what a router needs from a chat completion body.
type request struct {
	Model  string `json:"model"`
	Stream bool   `json:"stream"`
}

// newHandler reads and decodes each body once, then hands it to the reverse proxy. The
// transport keeps as many idle upstream connections as a benchmark opens client connections,
// as any tuned proxy would; streams are flushed as they arrive.
func newHandler(target *url.URL) http.Handler {
	rp := httputil.NewSingleHostReverseProxy(target)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 512, 512
	tr.DisableCompression = true
	rp.Transport = tr
	rp.FlushInterval = -1
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, `{"error":{"message":"read body","type":"invalid_request_error","param":null,"code":null}}`, http.StatusBadRequest)
			return
		}
		var req request
		if err := json.Unmarshal(body, &req); err != nil || req.Model == "" {
			http.Error(w, `{"error":{"message":"body is not a chat request","type":"invalid_request_error","param":null,"code":null}}`, http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		rp.ServeHTTP(w, r)
	})
}
