package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
)

// runFake serves one OpenAI fake in a fault mode cmd/fakeupstream has no flag for, as its own
// process so that it does not share the load generator's scheduler:
//
//	always500  every request gets a 500 in OpenAI's error shape
//	flap       alternates -period healthy and -period of 500s
//
// Like fakeupstream it prints its host:port first and serves until SIGTERM.
func runFake(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sluicebench fake", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mode := fs.String("mode", "always500", "always500 | flap")
	period := fs.Duration("period", time.Second, "flap: length of each healthy and failing phase")
	bodySize := fs.Int("body-size", 1024, "bytes of reply text when healthy")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("fake: %w", err)
	}
	srv, err := fakeprovider.Start("127.0.0.1:0", fakeprovider.WithoutRecording(), fakeprovider.WithBodySize(*bodySize))
	if err != nil {
		return fmt.Errorf("fake: %w", err)
	}
	defer srv.Close()
	start := time.Now()
	switch *mode {
	case "always500":
		srv.Script(func(fakeprovider.Received) fakeprovider.Reply {
			return fakeprovider.Reply{Status: 500, Message: "injected failure"}
		})
	case "flap":
		if *period <= 0 {
			return fmt.Errorf("fake: -period must be positive")
		}
		srv.Script(func(fakeprovider.Received) fakeprovider.Reply {
			if (time.Since(start)/(*period))%2 == 1 {
				return fakeprovider.Reply{Status: 500, Message: "injected flap"}
			}
			return fakeprovider.Reply{}
		})
	default:
		return fmt.Errorf("fake: unknown mode %q", *mode)
	}
	if _, err := fmt.Fprintln(stdout, srv.Addr); err != nil {
		return fmt.Errorf("fake: %w", err)
	}
	<-ctx.Done()
	return nil
}
