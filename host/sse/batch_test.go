package sse

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestReady(t *testing.T) {
	for _, tc := range []struct {
		name, head string
		want       bool
	}{
		{"whole event", "data: {}\n\n", true},
		{"partial event", "data: {\"a\":", false},
		{"comment only", ": ping\n\n", false},
		{"comment then event", ": ping\n\ndata: x\n\n", true},
		{"comment then partial", ": ping\n\ndata: x\n", false},
		{"empty data", "data:\n\n", false},
		{"named event", "event: message_stop\ndata: {}\n\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The first event is read; whatever follows it is what Ready judges.
			r := NewReader(strings.NewReader("data: first\n\n" + tc.head))
			if _, err := r.Next(); err != nil {
				t.Fatal(err)
			}
			if got := r.Ready(); got != tc.want {
				t.Fatalf("Ready() = %v after %q, want %v", got, tc.head, tc.want)
			}
		})
	}
}

type countingWriter struct {
	*httptest.ResponseRecorder
	writes, flushes int
}

func (c *countingWriter) Write(b []byte) (int, error) { c.writes++; return c.ResponseRecorder.Write(b) }
func (c *countingWriter) Flush()                      { c.flushes++ }

var _ http.Flusher = (*countingWriter)(nil)

// Queued events leave with the next event in one write and one flush, in order.
func TestQueueOneWrite(t *testing.T) {
	cw := &countingWriter{ResponseRecorder: httptest.NewRecorder()}
	w := NewWriter(cw)
	w.Queue("", []byte("a"))
	w.Queue("ev", []byte("b\nc"))
	if cw.writes != 0 {
		t.Fatalf("Queue wrote")
	}
	if err := w.Done(); err != nil {
		t.Fatal(err)
	}
	if cw.writes != 1 || cw.flushes != 1 {
		t.Fatalf("%d writes, %d flushes; want 1 and 1", cw.writes, cw.flushes)
	}
	want := "data: a\n\nevent: ev\ndata: b\ndata: c\n\ndata: [DONE]\n\n"
	if got, _ := io.ReadAll(cw.Body); string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if err := w.Flush(); err != nil || cw.writes != 1 {
		t.Fatalf("Flush with nothing queued wrote: %v, %d writes", err, cw.writes)
	}
}

// A long burst is written in pieces but flushed once, and nothing is lost.
func TestQueueLongBurst(t *testing.T) {
	cw := &countingWriter{ResponseRecorder: httptest.NewRecorder()}
	w := NewWriter(cw)
	defer w.Release()
	ev := []byte(strings.Repeat("x", 1000))
	for range 50 {
		if err := w.Queue("", ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if cw.flushes != 1 || cw.writes < 2 || cw.writes > 50/(maxQueued/1008)+2 {
		t.Fatalf("%d writes, %d flushes", cw.writes, cw.flushes)
	}
	if got := strings.Count(cw.Body.String(), "data: "+string(ev)+"\n\n"); got != 50 {
		t.Fatalf("%d events out of 50", got)
	}
}
