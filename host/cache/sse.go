package cache

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// WriteSSE replays chunks as a server-sent event stream: one
// "data: <chunk>\n\n" event per chunk, flushed at once, then "data: [DONE]\n\n".
// With pace > 0 it waits that long between chunks (never before the first) and
// flushes each; without, the whole stream goes out in one write.
// It sets Content-Type and Cache-Control unless already set and the status to
// 200 unless already written. It stops early with ctx's error when the client
// goes away.
func WriteSSE(ctx context.Context, w http.ResponseWriter, chunks [][]byte, pace time.Duration) error {
	h := w.Header()
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "text/event-stream")
	}
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-cache")
	}
	rc := http.NewResponseController(w)
	if pace <= 0 {
		// Unpaced, the whole answer is at hand: one write and one flush instead of one per
		// chunk (a 20-chunk replay was 21 syscalls and as many TCP segments).
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("cache: replay: %w", err)
		}
		n := len(done)
		for _, c := range chunks {
			n += len("data: ") + len(c) + 2
		}
		buf := make([]byte, 0, n)
		for _, c := range chunks {
			buf = append(buf, "data: "...)
			buf = append(buf, c...)
			buf = append(buf, '\n', '\n')
		}
		return writeFlush(w, rc, append(buf, done...))
	}
	var timer *time.Timer
	if pace > 0 {
		timer = time.NewTimer(pace)
		timer.Stop()
		defer timer.Stop()
	}
	buf := make([]byte, 0, 512)
	for i, c := range chunks {
		if i > 0 && timer != nil {
			timer.Reset(pace)
			select {
			case <-ctx.Done():
				return fmt.Errorf("cache: replay: %w", ctx.Err())
			case <-timer.C:
			}
		} else if err := ctx.Err(); err != nil {
			return fmt.Errorf("cache: replay: %w", err)
		}
		buf = append(buf[:0], "data: "...)
		buf = append(buf, c...)
		buf = append(buf, '\n', '\n')
		if err := writeFlush(w, rc, buf); err != nil {
			return err
		}
	}
	return writeFlush(w, rc, []byte(done))
}

const done = "data: [DONE]\n\n"

func writeFlush(w http.ResponseWriter, rc *http.ResponseController, b []byte) error {
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("cache: replay: %w", err)
	}
	// A writer that cannot flush still gets the bytes; only real I/O errors count.
	if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("cache: replay: flush: %w", err)
	}
	return nil
}
