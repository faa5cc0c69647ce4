// Command fakeupstream runs one fake provider (OpenAI by default, or -format anthropic) as a
// standalone process, for `make bench` and for end-to-end tests driven by clients outside Go.
// It prints its listen address (host:port) as the first line on stdout and serves until
// SIGINT or SIGTERM.
//
// Replies are the fake's defaults (see internal/fakeprovider); -body-size replaces the
// echoed text with a fixed text of that many bytes. The OpenAI fake serves chat completions
// and the Responses API; -no-responses makes it a chat-only server.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
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
	fs := flag.NewFlagSet("fakeupstream", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	delay := fs.Duration("delay", 0, "delay before the response headers")
	chunks := fs.Int("chunks", 0, "pieces a streamed reply is split into (0: one per word)")
	chunkDelay := fs.Duration("chunk-delay", 0, "pause between stream chunks")
	bodySize := fs.Int("body-size", 0, "bytes of fixed reply text (0: echo the last user message)")
	key := fs.String("key", "", "API key required as a Bearer token (empty: none)")
	record := fs.Bool("record", false, "keep every request in memory (off for benchmarks)")
	format := fs.String("format", "openai", "wire format: openai | anthropic")
	noResponses := fs.Bool("no-responses", false, "openai: answer /v1/responses with 404, as chat-only servers do")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("fakeupstream: %w", err)
	}
	opts := []fakeprovider.Option{
		fakeprovider.WithDelay(*delay),
		fakeprovider.WithChunks(*chunks),
		fakeprovider.WithChunkDelay(*chunkDelay),
		fakeprovider.WithBodySize(*bodySize),
		fakeprovider.WithKey(*key),
	}
	switch *format {
	case "openai":
	case "anthropic":
		opts = append(opts, fakeprovider.WithFormat(fakeprovider.FormatAnthropic))
	default:
		return fmt.Errorf("fakeupstream: unknown -format %q (openai or anthropic)", *format)
	}
	if *noResponses {
		opts = append(opts, fakeprovider.WithoutResponses())
	}
	if !*record {
		opts = append(opts, fakeprovider.WithoutRecording())
	}
	srv, err := fakeprovider.Start(*listen, opts...)
	if err != nil {
		return fmt.Errorf("fakeupstream: %w", err)
	}
	if _, err := fmt.Fprintln(stdout, srv.Addr); err != nil {
		srv.Close()
		return fmt.Errorf("fakeupstream: %w", err)
	}
	<-ctx.Done()
	if err := srv.Close(); err != nil {
		return fmt.Errorf("fakeupstream: %w", err)
	}
	return nil
}
