package gateway

import (
	"net/http"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/host/plugin"
)

// A full on_log queue refuses a record at once (the caller counts it dropped) instead of
// making the request wait; a closed one refuses too, and close does not hang on a stuck worker.
func TestLogQueueNeverBlocks(t *testing.T) {
	q := &logQueue{jobs: make(chan logJob, 2), done: make(chan struct{})}
	j := logJob{meta: &plugin.Meta{RequestID: "r"}}
	for i := 0; i < 2; i++ {
		if !q.push(j) {
			t.Fatalf("a queue with room refused record %d", i+1)
		}
	}
	start := time.Now()
	if q.push(j) {
		t.Fatal("a full queue took a record")
	}
	if time.Since(start) > 10*time.Millisecond {
		t.Fatal("push waited on a full queue")
	}
	q.close(20 * time.Millisecond) // no worker: done never closes, close gives up
	if q.push(j) {
		t.Fatal("a closed queue took a record")
	}
}

func TestLogOutcome(t *testing.T) {
	for _, c := range []struct {
		c    call
		want string
	}{
		{call{outcome: outcome{status: 200}}, "ok"},
		{call{outcome: outcome{status: 502}}, "error"},
		{call{outcome: outcome{status: 499}}, "canceled"},
		{call{outcome: outcome{status: 403}, hookState: hookState{rejected: true}}, "rejected"},
		{call{outcome: outcome{status: 200}, cacheState: cacheState{cacheHit: true}}, "cache_hit"},
		{call{outcome: outcome{status: 200}, hookState: hookState{served: "p"}}, "plugin"},
	} {
		if got := logOutcome(&c.c); got != c.want {
			t.Errorf("%+v: %s, want %s", c.c.outcome, got, c.want)
		}
	}
}

// Header edits: allowed by glob, refused when reserved or outside the allow-list; removal is
// an empty value.
func TestHeaderEdits(t *testing.T) {
	c := &call{hookState: hookState{upEdits: []headerEdit{{"X-Tenant-Id", "7"}, {"X-Drop", ""}}}}
	h := c.upstreamHeader(http.Header{"X-Keep": {"1"}})
	if h.Get("X-Tenant-Id") != "7" || h.Get("X-Keep") != "1" || len(h["X-Drop"]) != 0 {
		t.Fatalf("upstream header %v", h)
	}
	if !globMatch([]string{"X-Tenant-*"}, "x-tenant-id") || globMatch([]string{"x-tenant-*"}, "x-other") {
		t.Fatal("glob")
	}
	for _, v := range []string{"a\r\nb", "a\nb", "a\x00"} {
		if validHeader("x-a", v) {
			t.Fatalf("value %q accepted", v)
		}
	}
	if validHeader("x a", "v") || validHeader("", "v") || !validHeader("x-a", "v w") {
		t.Fatal("name checks")
	}
}
