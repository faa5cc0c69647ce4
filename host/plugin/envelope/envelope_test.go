package envelope

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

func mustValid(t *testing.T, what string, b []byte) map[string]any {
	t.Helper()
	if !utf8.Valid(b) {
		t.Fatalf("%s: not UTF-8: %q", what, b)
	}
	var v map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%s: invalid JSON (%v): %q", what, err, b)
	}
	if d.More() {
		t.Fatalf("%s: trailing data: %q", what, b)
	}
	return v
}

// FuzzEnvelopes: every hook input is one valid JSON object for any strings, numbers and
// embedded bytes, and strings that were valid UTF-8 arrive unchanged.
func FuzzEnvelopes(f *testing.F) {
	f.Add("req-1", "gpt-4o", "x-tenant", "acme", []byte(`{"model":"m"}`), 0.5, int64(12))
	f.Add("\x00\xff\"\\", "\u2028\u2029", "x-\x01", "\xe2\x82", []byte(`{"a":1`), math.NaN(), int64(-1))
	f.Add("", "", "", "", []byte(nil), math.Inf(1), int64(math.MaxInt64))
	f.Add("a", "b", "x-a", "1", []byte(`"just a string"`), 1e300, int64(0))
	f.Add("a", "b", "x-a", "1", []byte("<html>502</html>"), math.Copysign(0, -1), int64(0))
	f.Fuzz(func(t *testing.T, id, model, hk, hv string, body []byte, fl float64, n int64) {
		m := &Meta{RequestID: id, Endpoint: "chat.completions", Model: model, Router: model, User: hv, Team: hk,
			KeyID: id, Stream: n%2 == 0, TokenEstimate: n, MaxTokens: -n, Temperature: &fl,
			Headers: []Header{{Name: hk, Value: hv}, {Name: hk, Value: id}, {Name: "x-b", Value: model}}, NowMs: n}
		meta := mustValid(t, "meta", AppendMeta(nil, m))
		if utf8.ValidString(model) && meta["model"] != model {
			t.Fatalf("model %q arrived as %q", model, meta["model"])
		}
		c := []Candidate{{ID: id, Provider: hk, Model: model, Weight: int(n), EWMAms: fl, ErrorRate: -fl, PriceIn: fl, PriceOut: 1}}
		r := mustValid(t, "route", Route(nil, m, c))
		if cs, _ := r["candidates"].([]any); len(cs) != 1 {
			t.Fatalf("route candidates: %v", r["candidates"])
		}
		mustValid(t, "cache_key", AppendCacheKey(nil, m, &CacheKey{Key: id, LastUser: model, System: hv, Metadata: body}))
		req := mustValid(t, "on_request", OnRequest(nil, m, body))
		if json.Valid(body) {
			var want any
			_ = json.Unmarshal(body, &want)
			got, _ := json.Marshal(req["body"])
			wb, _ := json.Marshal(want)
			if !bytes.Equal(got, wb) {
				t.Fatalf("a valid body changed: %s -> %s", wb, got)
			}
		} else if s, ok := req["body"].(string); !ok || (utf8.Valid(body) && s != string(body)) {
			t.Fatalf("an invalid body must arrive as a string: %#v", req["body"])
		}
		mustValid(t, "on_response", OnResponse(nil, m, int(n%600), n%3 == 0, body))
		rs := mustValid(t, "on_response state", OnResponseState(nil, m, body, int(n%600), false, body))
		if _, ok := rs["request_state"]; ok != (len(body) > 0) {
			t.Fatalf("request_state present=%v for %q", ok, body)
		}
		sv := mustValid(t, "on_stream", OnStream(nil, m, body, body, [][]byte{body, []byte(`{"ok":1}`)}, n%2 == 0))
		if cs, _ := sv["chunks"].([]any); len(cs) != 2 || sv["done"] != (n%2 == 0) {
			t.Fatalf("on_stream: %v", sv)
		}
		lv := mustValid(t, "on_log", OnLog(nil, m, body, &Log{Status: int(n), Outcome: hv, Provider: hk, Model: model,
			Usage: &Usage{Prompt: n, Reasoning: -n}, CostUSD: fl, LatencyMs: fl, TTFTMs: -fl, Error: id, Cache: hv}))
		if utf8.ValidString(hv) && lv["outcome"] != hv {
			t.Fatalf("on_log outcome %q arrived as %v", hv, lv["outcome"])
		}
		mustValid(t, "init", Init(nil, id, body))
		h := &Head{Endpoint: hk, Model: model, RequestID: id, Now: n}
		mustValid(t, "translate_request", TranslateRequest(nil, h, true, hv, body, body))
		mustValid(t, "translate_response", TranslateResponse(nil, h, int(n), body))
		var ch Chunk
		ch.Begin(nil, h, body)
		ch.Event(hk, body)
		ch.Event(hv, []byte(`{"ok":true}`))
		ch.End()
		cv := mustValid(t, "translate_chunk", ch.Bytes())
		if evs, _ := cv["events"].([]any); len(evs) != 3 || ch.Events() != 3 {
			t.Fatalf("events: %v", cv["events"])
		}
	})
}

// TestMetaHeadersBounded: at most MaxHeaders headers, duplicates dropped (first wins).
func TestMetaHeadersBounded(t *testing.T) {
	m := &Meta{}
	m.Headers = append(m.Headers, Header{Name: "x-a", Value: "1"}, Header{Name: "x-a", Value: "2"})
	for i := range 40 {
		m.Headers = append(m.Headers, Header{Name: "x-h" + string(rune('a'+i)), Value: "v"})
	}
	v := mustValid(t, "meta", AppendMeta(nil, m))
	hs := v["headers"].(map[string]any)
	if len(hs) != MaxHeaders || hs["x-a"] != "1" {
		t.Fatalf("headers: %d %v", len(hs), hs["x-a"])
	}
}

// TestHookEnvelopes pins the v1 additions' shapes: state null on a stream's first batch,
// request_state only when kept, usage null when unknown.
func TestHookEnvelopes(t *testing.T) {
	m := &Meta{RequestID: "r", Endpoint: "chat.completions"}
	got := string(OnStream(nil, m, nil, nil, [][]byte{[]byte(`{"id":"c"}`)}, false))
	if !strings.HasSuffix(got, `,"state":null,"chunks":[{"id":"c"}],"done":false}`) || strings.Contains(got, "request_state") {
		t.Fatalf("on_stream: %s", got)
	}
	got = string(OnStream(nil, m, []byte(`{"tag":"a"}`), []byte(`{"n":1}`), nil, true))
	if !strings.HasSuffix(got, `,"request_state":{"tag":"a"},"state":{"n":1},"chunks":[],"done":true}`) {
		t.Fatalf("on_stream with state: %s", got)
	}
	got = string(OnLog(nil, m, nil, &Log{Status: 200, Outcome: "ok", Provider: "p", LatencyMs: 1.5}))
	if !strings.Contains(got, `"status":200,"outcome":"ok","provider":"p","model":"","target":"","attempts":0,"usage":null,"cost_usd":0,"latency_ms":1.5`) {
		t.Fatalf("on_log: %s", got)
	}
	got = string(AppendCacheKey(nil, m, &CacheKey{Key: "k", RequestState: []byte(`{"k":1}`)}))
	if !strings.HasSuffix(got, `"key":"k","last_user":"","system":"","request_state":{"k":1}}`) {
		t.Fatalf("cache_key: %s", got)
	}
	got = string(OnResponseState(nil, m, []byte(`{"k":1}`), 200, false, []byte(`{}`)))
	if !strings.Contains(got, `,"request_state":{"k":1},"status":200,"body":{}}`) {
		t.Fatalf("on_response: %s", got)
	}
}
