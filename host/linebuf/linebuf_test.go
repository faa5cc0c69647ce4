package linebuf

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// sink records what reaches the output and how many writes it took.
type sink struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	gate   chan struct{} // when set, each write waits for a value
}

func (s *sink) Write(p []byte) (int, error) {
	if s.gate != nil {
		<-s.gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.buf.Write(p)
}

func (s *sink) snapshot() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String(), s.writes
}

// Every line written by concurrent writers reaches the output once, each writer's in order,
// by the time Close returns.
func TestNothingLostOnClose(t *testing.T) {
	out := &sink{}
	w := New(out, Options{MaxBytes: 4 << 10, Linger: time.Millisecond})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				fmt.Fprintf(w, "g%d line %d\n", g, i)
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, writes := out.snapshot()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 4000 {
		t.Fatalf("%d lines reached the output, want 4000", len(lines))
	}
	next := map[string]int{}
	for _, l := range lines {
		var g string
		var i int
		if _, err := fmt.Sscanf(l, "%s line %d", &g, &i); err != nil {
			t.Fatalf("torn line %q: %v", l, err)
		}
		if i != next[g] {
			t.Fatalf("%s: line %d after %d", g, i, next[g]-1)
		}
		next[g]++
	}
	if writes >= 4000 {
		t.Errorf("%d writes for 4000 lines: nothing was batched", writes)
	}
	if _, err := w.Write([]byte("late\n")); err != ErrClosed {
		t.Errorf("write after close: %v", err)
	}
}

// A line written after an idle spell leaves at once, without waiting for a flush or Close.
func TestIdleLineLeavesAtOnce(t *testing.T) {
	out := &sink{}
	w := New(out, Options{Linger: time.Hour})
	defer w.Close()
	_, _ = w.Write([]byte("one\n"))
	deadline := time.Now().Add(2 * time.Second)
	for {
		if got, _ := out.snapshot(); got == "one\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("an idle line was held")
		}
		time.Sleep(time.Millisecond)
	}
}

// Lines that arrive while the output is busy leave together; past MaxBytes the writer writes
// the batch on the caller's goroutine instead of growing.
func TestBatchesAndSizeBound(t *testing.T) {
	out := &sink{gate: make(chan struct{})}
	w := New(out, Options{MaxBytes: 64})
	_, _ = w.Write([]byte("first line\n")) // the flusher takes it and blocks in the output
	time.Sleep(20 * time.Millisecond)
	for range 3 {
		_, _ = w.Write([]byte("queued line\n")) // 36 bytes pending, under the bound
	}
	out.gate <- struct{}{} // the first write completes; the flusher takes the three at once
	out.gate <- struct{}{}
	time.Sleep(20 * time.Millisecond)
	if got, writes := out.snapshot(); writes != 2 || strings.Count(got, "queued line") != 3 {
		t.Fatalf("%d writes, output %q: want the three queued lines in one write", writes, got)
	}
	if w.Inline() != 0 {
		t.Fatalf("inline writes under the bound: %d", w.Inline())
	}
	close(out.gate) // the output no longer blocks
	big := []byte(strings.Repeat("x", 63) + "\n")
	_, _ = w.Write(big)
	if w.Inline() != 1 {
		t.Fatalf("a batch past MaxBytes was not written by the caller: inline %d", w.Inline())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := out.snapshot(); !strings.HasSuffix(got, string(big)) {
		t.Fatalf("the big line is missing: %q", got)
	}
}
