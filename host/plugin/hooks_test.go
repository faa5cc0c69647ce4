package plugin

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/sdk/conformance"
)

// hooksWasm builds testdata/guests/hooks, the v1 additions' guest.
func hooksWasm(t testing.TB) []byte {
	t.Helper()
	path, err := conformance.BuildGuest("testdata/guests/hooks", "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const streamChunk = `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"hello there"},"finish_reason":null}]}`

func hooksMeta(headers ...Header) *Meta {
	m := testMeta()
	m.Headers = headers
	return m
}

// TestHookCallsTyped: the typed calls of on_request (state, respond, headers), on_response
// (request_state), on_stream (state across batches, reject) and on_log (a guest log line).
func TestHookCallsTyped(t *testing.T) {
	e, lb := newTestEngine(t)
	p := load(t, e, Spec{Name: "hooks", Bytes: hooksWasm(t), Sandbox: SandboxTrusted, Config: map[string]any{"banned": "forbidden"}})
	ctx := context.Background()
	d, err := p.OnRequest(ctx, hooksMeta(Header{Name: "x-tag", Value: "t1"}, Header{Name: "x-set-header", Value: "x-tenant-id"}), []byte(`{"model":"m"}`))
	if err != nil || d.Action != "allow" || string(d.State) != `{"tag":"t1"}` || d.Headers["x-tenant-id"] != "1" {
		t.Fatalf("on_request: %+v %v", d, err)
	}
	d, err = p.OnRequest(ctx, hooksMeta(Header{Name: "x-answer", Value: "yes"}), []byte(`{"model":"m"}`))
	if err != nil || d.Action != "respond" || d.Status != 200 || !strings.Contains(string(d.Body), "answered by the plugin") || d.Headers["x-policy-answer"] != "yes" {
		t.Fatalf("respond: %+v %v", d, err)
	}
	d, err = p.OnResponse(ctx, testMeta(), []byte(`{"tag":"t1"}`), 200, false, []byte(`{}`))
	if err != nil || d.Headers["x-policy-state"] != "t1" {
		t.Fatalf("on_response with state: %+v %v", d, err)
	}
	sd, err := p.OnStream(ctx, testMeta(), nil, nil, [][]byte{[]byte(streamChunk), []byte(streamChunk)}, false)
	if err != nil || sd.Action != "allow" || string(sd.State) != `{"n":2}` {
		t.Fatalf("on_stream first batch: %+v %v", sd, err)
	}
	sd, err = p.OnStream(ctx, testMeta(), nil, sd.State, [][]byte{[]byte(streamChunk)}, true)
	if err != nil || string(sd.State) != `{"n":3}` {
		t.Fatalf("on_stream state not carried: %+v %v", sd, err)
	}
	bad := strings.Replace(streamChunk, "hello there", "a forbidden word", 1)
	sd, err = p.OnStream(ctx, testMeta(), nil, sd.State, [][]byte{[]byte(bad)}, false)
	if err != nil || sd.Action != "reject" || sd.Status != 400 || sd.Code != "content_blocked" {
		t.Fatalf("on_stream reject: %+v %v", sd, err)
	}
	err = p.OnLog(ctx, testMeta(), []byte(`{"tag":"t9"}`), &LogInput{Status: 200, Outcome: "ok", Provider: "openai",
		Usage: &LogUsage{Prompt: 11, Completion: 22}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(lb.String(), "on_log request=r1 outcome=ok status=200 provider=openai tag=t9 prompt=11 completion=22") {
		t.Fatalf("guest log: %s", lb.String())
	}
	for _, h := range []string{"on_stream", "on_log"} {
		if !p.Has(h) {
			t.Fatalf("hook %s not on", h)
		}
	}
}

// BenchmarkOnStream is one on_stream call per relayed event (a batch of one chunk): the Go
// SDK's typed handler scanning the chunk and returning a small state.
func BenchmarkOnStream(b *testing.B) {
	e, _ := newTestEngine(b)
	wasm := hooksWasm(b)
	for _, sb := range []Sandbox{SandboxTrusted, SandboxUntrusted} {
		p := load(b, e, Spec{Name: "hooks", Bytes: wasm, Sandbox: sb, Pool: 1})
		ctx := context.Background()
		m := testMeta()
		chunks := [][]byte{[]byte(streamChunk)}
		b.Run(string(sb)+"/1-chunk", func(b *testing.B) {
			state := []byte(`{"n":1}`)
			b.ReportAllocs()
			for b.Loop() {
				d, err := p.OnStream(ctx, m, nil, state, chunks, false)
				if err != nil {
					b.Fatal(err)
				}
				state = d.State
			}
		})
	}
}

// TestOnStreamBudget measures on_stream per event paced (one call every 100 us, as a stream's
// events come) and reports p50/p99; the per-event budget is the translators' 10 us. It fails
// only far above it, since the box is shared.
func TestOnStreamBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	e, _ := newTestEngine(t)
	wasm := hooksWasm(t)
	for _, sb := range []Sandbox{SandboxTrusted, SandboxUntrusted} {
		p := load(t, e, Spec{Name: "hooks", Bytes: wasm, Sandbox: sb, Pool: 1})
		ctx := context.Background()
		m := testMeta()
		chunks := [][]byte{[]byte(streamChunk)}
		state := []byte(`{"n":1}`)
		const n = 3000
		lat := make([]time.Duration, 0, n)
		next := time.Now()
		for i := 0; i < n+200; i++ {
			for time.Now().Before(next) {
			}
			next = next.Add(100 * time.Microsecond)
			st := time.Now()
			d, err := p.OnStream(ctx, m, nil, state, chunks, false)
			el := time.Since(st)
			if err != nil {
				t.Fatal(err)
			}
			state = d.State
			if i >= 200 { // warm-up
				lat = append(lat, el)
			}
		}
		slices.Sort(lat)
		p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
		t.Logf("%s: on_stream per event p50 %s p99 %s (budget 10us)", sb, p50, p99)
		if p50 > 200*time.Microsecond {
			t.Fatalf("%s: p50 %s is far above the 10us budget", sb, p50)
		}
	}
}
