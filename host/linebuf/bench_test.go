package linebuf

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// countWrites counts the writes that reach the pipe (each one a system call).
type countWrites struct {
	w io.Writer
	n atomic.Int64
}

func (c *countWrites) Write(p []byte) (int, error) { c.n.Add(1); return c.w.Write(p) }

// benchPipe is an OS pipe drained by a goroutine, as a process's stdout is by its parent.
func benchPipe(b *testing.B) *os.File {
	r, w, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, r) }()
	b.Cleanup(func() { w.Close(); r.Close() })
	return w
}

func benchAccess(b *testing.B, out io.Writer, pipe *countWrites) {
	log := slog.New(slog.NewTextHandler(out, nil))
	defer func() { b.ReportMetric(float64(pipe.n.Load())/float64(b.N), "writes/op") }()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			log.LogAttrs(context.Background(), slog.LevelInfo, "request", slog.String("request_id", "a1b2c3d4e5f6g7"), slog.String("method", "POST"),
				slog.String("path", "/v1/chat/completions"), slog.Int("status", 200), slog.Float64("latency_ms", 1.234),
				slog.String("model", "up/bench-model"), slog.Bool("stream", false), slog.String("provider", "up"),
				slog.Int64("prompt_tokens", 21), slog.Int64("completion_tokens", 180), slog.String("finish_reason", "stop"))
		}
	})
}

// One access line per op, from parallel handlers, straight to a pipe: a write per line.
func BenchmarkAccessLinePipe(b *testing.B) {
	pipe := &countWrites{w: benchPipe(b)}
	benchAccess(b, pipe, pipe)
}

// The same through the batching writer the access log uses.
func BenchmarkAccessLineBatched(b *testing.B) {
	pipe := &countWrites{w: benchPipe(b)}
	w := New(pipe, Options{MaxBytes: 256 << 10, Linger: 2 * time.Millisecond})
	defer w.Close()
	benchAccess(b, w, pipe)
}
