package sdk

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDecisionAdditions: state, headers and respond are written as ABI.md section 5.2 says,
// and the output is valid JSON.
func TestDecisionAdditions(t *testing.T) {
	cases := []struct {
		d    Decision
		want string
	}{
		{Allow().WithState([]byte(`{"a":1}`)), `{"action":"allow","state":{"a":1}}`},
		{Allow().WithHeader("x-b", "2"), `{"action":"allow","headers":{"x-b":"2"}}`},
		{Respond(0, []byte(`{"id":"x"}`)).WithHeader("x-a", ""), `{"action":"respond","status":200,"body":{"id":"x"},"headers":{"x-a":""}}`},
		{Reject(403, "c", "m").WithState([]byte(`1`)), `{"action":"reject","status":403,"code":"c","message":"m","state":1}`},
		{Rewrite([]byte(`{}`)), `{"action":"rewrite","body":{}}`},
	}
	for _, c := range cases {
		got := string(c.d.AppendJSON(nil))
		if got != c.want || !json.Valid([]byte(got)) {
			t.Errorf("got %s, want %s", got, c.want)
		}
	}
	d := Allow().WithHeader("x-a", "1")
	d2 := d.WithHeader("x-b", "2")
	if len(d.Headers) != 1 || len(d2.Headers) != 2 {
		t.Fatal("WithHeader changed the decision it was called on")
	}
}

func TestStreamHook(t *testing.T) {
	Reset()
	defer Reset()
	var seen StreamInput
	HandleStream(func(in StreamInput) (StreamDecision, error) {
		seen = in
		seen.Chunks = append([][]byte(nil), in.Chunks...)
		if strings.Contains(string(in.Chunks[0]), "bad") {
			return StreamReject(0, "blocked", "no"), nil
		}
		if in.Done {
			return StreamRewrite([][]byte{[]byte(`{"x":1}`), []byte(`{"x":2}`)}, nil), nil
		}
		return StreamAllow([]byte(`{"n":1}`)), nil
	})
	out, err := Invoke(HookOnStream, []byte(`{"meta":{"request_id":"r","headers":{"x-a":"b"}},"request_state":{"t":1},"state":null,"chunks":[{"c":"ok"},{"c":2}],"done":false}`))
	if err != nil || string(out) != `{"action":"allow","state":{"n":1}}` {
		t.Fatalf("%s %v", out, err)
	}
	if seen.Meta.RequestID != "r" || string(seen.RequestState) != `{"t":1}` || seen.State != nil || len(seen.Chunks) != 2 || string(seen.Chunks[1]) != `{"c":2}` {
		t.Fatalf("input %+v", seen)
	}
	out, _ = Invoke(HookOnStream, []byte(`{"meta":{},"state":{"n":1},"chunks":[{"c":"bad"}],"done":false}`))
	if string(out) != `{"action":"reject","status":400,"code":"blocked","message":"no"}` {
		t.Fatalf("reject: %s", out)
	}
	out, _ = Invoke(HookOnStream, []byte(`{"meta":{},"state":{"n":1},"chunks":[{"c":"fine"}],"done":true}`))
	if string(out) != `{"action":"rewrite","chunks":[{"x":1},{"x":2}]}` || string(seen.State) != `{"n":1}` || !seen.Done {
		t.Fatalf("rewrite: %s %+v", out, seen)
	}
	if _, err := Invoke(HookOnStream, []byte(`{"meta":{},"chunks":[{"c":1}`)); err == nil {
		t.Fatal("a truncated input was accepted")
	}
	if hs := Hooks(); hs[len(hs)-1] != HookOnStream {
		t.Fatalf("hooks %v", hs)
	}
}

func TestLogHook(t *testing.T) {
	Reset()
	defer Reset()
	var got LogInput
	HandleLog(func(in LogInput) error { got = in; return nil })
	in := `{"meta":{"request_id":"r1"},"request_state":{"k":"v"},"status":200,"outcome":"ok","provider":"openai","model":"gpt","target":"openai/gpt#0","attempts":2,` +
		`"usage":{"prompt_tokens":10,"completion_tokens":20,"cached_tokens":3,"cache_write_tokens":4,"reasoning_tokens":5},"cost_usd":0.25,"latency_ms":12.5,"ttft_ms":3.5,"error":"","cache":"MISS","future":[1]}`
	if _, err := Invoke(HookOnLog, []byte(in)); err != nil {
		t.Fatal(err)
	}
	want := Usage{Prompt: 10, Completion: 20, Cached: 3, CacheWrite: 4, Reasoning: 5}
	if got.Meta.RequestID != "r1" || got.Status != 200 || got.Outcome != "ok" || got.Provider != "openai" || got.Model != "gpt" ||
		got.Target != "openai/gpt#0" || got.Attempts != 2 || got.Usage != want || got.CostUSD != 0.25 || got.LatencyMs != 12.5 ||
		got.TTFTMs != 3.5 || got.Cache != "MISS" || string(got.RequestState) != `{"k":"v"}` {
		t.Fatalf("%+v", got)
	}
	if _, err := Invoke(HookOnLog, []byte(`{"meta":{},"usage":null,"status":499,"outcome":"canceled"}`)); err != nil || got.Usage != (Usage{}) || got.Outcome != "canceled" {
		t.Fatalf("null usage: %+v %v", got, err)
	}
}

func TestRequestStateInInputs(t *testing.T) {
	Reset()
	defer Reset()
	var st []byte
	HandleResponse(func(in ResponseInput) (Decision, error) {
		st = append([]byte(nil), in.RequestState...)
		return Allow(), nil
	})
	if _, err := Invoke(HookOnResponse, []byte(`{"meta":{},"request_state":{"a":[1]},"status":200,"body":{}}`)); err != nil || string(st) != `{"a":[1]}` {
		t.Fatalf("%s %v", st, err)
	}
	if _, err := Invoke(HookOnResponse, []byte(`{"meta":{},"request_state":null,"status":200,"body":{}}`)); err != nil || st != nil {
		t.Fatalf("null state: %q %v", st, err)
	}
}

// BenchmarkStreamHook is on_stream's guest-side path natively (decode one chunk's batch with
// meta, handler, output): the part of the per-event cost that is the SDK's.
func BenchmarkStreamHook(b *testing.B) {
	Reset()
	defer Reset()
	HandleStream(func(in StreamInput) (StreamDecision, error) {
		for _, c := range in.Chunks {
			if strings.Contains(string(c), "BANNED") {
				return StreamReject(400, "blocked", "no"), nil
			}
		}
		return StreamAllow(in.State), nil
	})
	in := []byte(`{"meta":{"request_id":"r1","endpoint":"chat.completions","model":"gpt-4o-mini","router":"prod","user":"u","team":"t","key_id":"k","stream":true,"token_estimate":123,"max_tokens":0,"temperature":0.7,"headers":{"x-tenant":"acme"},"now_ms":1700000000000},` +
		`"state":{"n":1},"chunks":[{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"hello there"},"finish_reason":null}]}],"done":false}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dispatch(HookOnStream, in); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCacheKeyRequestState(t *testing.T) {
	in, err := DecodeCacheKeyInput([]byte(`{"meta":{},"key":"k","request_state":{"t":"a"}}`))
	if err != nil || string(in.RequestState) != `{"t":"a"}` || in.Key != "k" {
		t.Fatalf("%+v %v", in, err)
	}
}
