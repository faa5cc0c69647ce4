package loadgen

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestHistogramExactOnSmallValues(t *testing.T) {
	h := NewHistogram()
	// 1..100 in shuffled order; values below 256 ns are stored exactly.
	for i := range 100 {
		h.Record(time.Duration((i*37)%100 + 1))
	}
	cases := []struct {
		q    float64
		want time.Duration
	}{{0, 1}, {0.01, 1}, {0.5, 50}, {0.9, 90}, {0.99, 99}, {0.999, 100}, {1, 100}}
	for _, c := range cases {
		if got := h.Quantile(c.q); got != c.want {
			t.Errorf("Quantile(%v) = %d, want %d", c.q, got, c.want)
		}
	}
	if h.Count() != 100 || h.Min() != 1 || h.Max() != 100 || h.Mean() != 50 {
		t.Errorf("count %d min %d max %d mean %d", h.Count(), h.Min(), h.Max(), h.Mean())
	}
}

func TestHistogramRelativeErrorAndMerge(t *testing.T) {
	a, b := NewHistogram(), NewHistogram()
	// 10,000 values from 100 µs to 1 s spread over both halves.
	for i := 1; i <= 10000; i++ {
		v := time.Duration(i) * 100 * time.Microsecond
		if i%2 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	a.Merge(b)
	if a.Count() != 10000 || a.Max() != time.Second || a.Min() != 100*time.Microsecond {
		t.Fatalf("merged count %d min %v max %v", a.Count(), a.Min(), a.Max())
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := time.Duration(q*10000) * 100 * time.Microsecond
		got := a.Quantile(q)
		if got < want || float64(got-want) > float64(want)/128 {
			t.Errorf("Quantile(%v) = %v, want %v within +1/128", q, got, want)
		}
	}
	if a.Quantile(1) != time.Second {
		t.Errorf("Quantile(1) = %v, want the exact max", a.Quantile(1))
	}
}

func TestBucketsAreContiguousAndMonotone(t *testing.T) {
	prev := -1
	for v := int64(0); v < 1<<20; v += 7 {
		b := bucketOf(v)
		if b < prev {
			t.Fatalf("bucketOf(%d) = %d after %d", v, b, prev)
		}
		if bucketHigh(b) < v || (b > 0 && bucketHigh(b-1) >= v) {
			t.Fatalf("value %d not inside bucket %d (high %d, previous high %d)", v, b, bucketHigh(b), bucketHigh(b-1))
		}
		prev = b
	}
}

func TestOpenLoopSendsTheScheduledCount(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.Copy(io.Discard, r.Body)
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Config{
		Request:  Request{URL: srv.URL, Body: []byte(`{}`)},
		Rate:     1000,
		Duration: 300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Planned != 300 || res.Sent != 300 || res.OK != 300 || hits.Load() != 300 {
		t.Fatalf("planned %d sent %d ok %d server saw %d, want 300", res.Planned, res.Sent, res.OK, hits.Load())
	}
	// The schedule spans 299 ms and cannot finish sooner. The counts above already rule out a
	// second run; the upper bound only catches a schedule that stalls, with room for -race on a
	// loaded 2-core machine (which stretched it to 1 s).
	if res.Elapsed < 295*time.Millisecond || res.Elapsed > 3*time.Second {
		t.Fatalf("elapsed %v for a 300 ms schedule", res.Elapsed)
	}
	if res.Latency.Count() != 300 || res.Latency.Quantile(0.5) <= 0 {
		t.Fatalf("latency histogram count %d p50 %v", res.Latency.Count(), res.Latency.Quantile(0.5))
	}
}

func TestOpenLoopChargesServerStalls(t *testing.T) {
	// One connection and a 20 ms server at 200 req/s: requests queue behind each other, and
	// latency measured from the schedule must show it (a closed-loop measure would say 20 ms).
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
		w.Write([]byte("x"))
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Config{
		Request: Request{URL: srv.URL}, Rate: 200, Conns: 1, MaxRequests: 20, Duration: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 20 {
		t.Fatalf("ok %d errors %v", res.OK, res.Errors)
	}
	// The 20th request was due at 95 ms and could start only near 380 ms.
	if max := res.Latency.Max(); max < 200*time.Millisecond {
		t.Fatalf("max latency %v does not include the queueing delay", max)
	}
}

func TestClosedLoopCountAndErrors(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%4 == 0 {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Config{
		Request: Request{URL: srv.URL}, Conns: 4, MaxRequests: 200, Duration: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 200 || res.OK != 150 || res.Errors["status_500"] != 50 {
		t.Fatalf("sent %d ok %d errors %v", res.Sent, res.OK, res.Errors)
	}
	if r := res.SuccessRatio(); r != 0.75 {
		t.Fatalf("success ratio %v", r)
	}
}

func TestStreamTTFTAndDone(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		fmt.Fprint(w, "data: {\"i\":0}\n\n")
		fl.Flush()
		time.Sleep(10 * time.Millisecond)
		fmt.Fprint(w, "data: {\"i\":1}\n\n")
		if n.Add(1) != 3 { // the third stream is cut before [DONE]
			fmt.Fprint(w, "data: [DONE]\n\n")
		}
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Config{
		Request: Request{URL: srv.URL, Stream: true}, Conns: 1, MaxRequests: 5, Duration: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 4 || res.Errors["stream_no_done"] != 1 {
		t.Fatalf("ok %d errors %v", res.OK, res.Errors)
	}
	ttft, total := res.TTFT.Quantile(0.5), res.Latency.Quantile(0.5)
	if res.TTFT.Count() != 4 || ttft >= 10*time.Millisecond || total < 10*time.Millisecond {
		t.Fatalf("ttft %v (n=%d) total %v", ttft, res.TTFT.Count(), total)
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	for _, u := range []string{"http://10.0.0.1/", "http://example.com/", "https://127.0.0.1/"} {
		if _, err := Run(context.Background(), Config{Request: Request{URL: u}, MaxRequests: 1}); err == nil {
			t.Errorf("%s: accepted", u)
		}
	}
}

// TestStreamEndEvent: with EndEvent set, a stream is complete when that event arrives, and one
// without it is an error even if it carries [DONE].
func TestStreamEndEvent(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "event: message_start\ndata: {\"type\":\"message_start\"}\n\n")
		switch n.Add(1) {
		case 2:
			fmt.Fprint(w, "data: [DONE]\n\n")
		case 3:
			fmt.Fprint(w, "event: message_stopped\ndata: {}\n\n")
		default:
			fmt.Fprint(w, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
		}
	}))
	defer srv.Close()
	res, err := Run(context.Background(), Config{
		Request: Request{URL: srv.URL, Stream: true, EndEvent: "message_stop"}, Conns: 1, MaxRequests: 5, Duration: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 3 || res.Errors["stream_no_done"] != 2 || res.TTFT.Count() != 3 {
		t.Fatalf("ok %d errors %v ttft count %d", res.OK, res.Errors, res.TTFT.Count())
	}
}

func TestUniqueBodies(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[string(b)]++
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	body := []byte(`{"user":"u-XXXXXXXX","model":"m"}`)
	res, err := Run(context.Background(), Config{Request: Request{URL: srv.URL, Body: body, Unique: []byte("XXXXXXXX")}, Conns: 4, MaxRequests: 300})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 300 || len(seen) != 300 {
		t.Fatalf("ok %d, distinct bodies %d; want 300 and 300", res.OK, len(seen))
	}
	for b := range seen {
		if len(b) != len(body) || !strings.HasPrefix(b, `{"user":"u-0000`) {
			t.Fatalf("body %q: want the marker replaced in place", b)
		}
	}
	if _, err := Run(context.Background(), Config{Request: Request{URL: srv.URL, Body: body, Unique: []byte("nope")}, MaxRequests: 1}); err == nil {
		t.Fatal("a marker missing from the body must be refused")
	}
	if got := string(uniqueBody([]byte("a----b"), 1, 4, 0x1abcd)); got != "aabcdb" {
		t.Fatalf("uniqueBody keeps the low digits: got %q", got)
	}
}
