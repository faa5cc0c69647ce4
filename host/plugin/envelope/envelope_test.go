package envelope

import (
	"bytes"
	"encoding/json"
	"math"
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
	f.Add("a", "b", "x-a", "1", []byte("<html>502</html>"), -0.0, int64(0))
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
