package routeview

import (
	"math"
	"slices"
	"testing"
)

// FuzzRoundTrip: what Append writes, Parse reads back field for field; Parse and the readers
// never panic on arbitrary bytes.
func FuzzRoundTrip(f *testing.F) {
	f.Add("r1", "gpt-4o", "x-tenant", "acme", int64(123), 0.7, uint8(2))
	f.Add("", "\x00\xff", "", "\u2028", int64(-1), math.NaN(), uint8(0))
	f.Fuzz(func(t *testing.T, id, model, hk, hv string, n int64, fl float64, nc uint8) {
		m := &Meta{RequestID: id, Endpoint: "chat.completions", Model: model, Router: hv, User: hk, Team: id,
			KeyID: model, Stream: n%2 == 0, TokenEstimate: n, MaxTokens: -n, NowMs: n * 3,
			Headers: []Header{{Name: hk, Value: hv}, {Name: "x-b", Value: id}}}
		if n%3 != 0 {
			m.Temperature = &fl
		}
		var cands []Candidate
		for i := range int(nc % 8) {
			cands = append(cands, Candidate{ID: id + string(rune('a'+i)), Provider: hk, Model: model, Weight: int(n) + i,
				Priority: -i, Healthy: i%2 == 0, EWMAms: fl, InFlight: n, ErrorRate: fl / 2, PriceIn: 1.5, PriceOut: fl})
		}
		b := Append([]byte("prefix"), m, cands)[len("prefix"):]
		v, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if v.RequestID() != id || v.Model() != model || v.Router() != hv || v.User() != hk || v.Team() != id || v.KeyID() != model ||
			v.Endpoint() != "chat.completions" || v.Stream() != m.Stream || v.TokenEstimate() != n || v.MaxTokens() != -n || v.NowMs() != n*3 {
			t.Fatal("meta fields differ")
		}
		if temp, ok := v.Temperature(); ok != (m.Temperature != nil) || ok && math.Float64bits(temp) != math.Float64bits(fl) {
			t.Fatalf("temperature %v %v", temp, ok)
		}
		if v.NumHeaders() != 2 || v.Header("x-b") != id && hk != "x-b" || v.Header(hk) != hv {
			t.Fatal("headers differ")
		}
		if v.Len() != len(cands) {
			t.Fatalf("%d candidates, want %d", v.Len(), len(cands))
		}
		for i, c := range cands {
			g := v.Cand(i)
			if g.ID() != c.ID || g.Provider() != c.Provider || g.Model() != c.Model || g.Weight() != int(int32(c.Weight)) ||
				g.Priority() != c.Priority || g.Healthy() != c.Healthy || math.Float64bits(g.EWMAms()) != math.Float64bits(c.EWMAms) ||
				g.InFlight() != c.InFlight || math.Float64bits(g.ErrorRate()) != math.Float64bits(c.ErrorRate) ||
				g.PriceIn() != c.PriceIn || math.Float64bits(g.PriceOut()) != math.Float64bits(c.PriceOut) {
				t.Fatalf("candidate %d differs", i)
			}
		}
		order := make([]int, 0, len(cands))
		for i := len(cands) - 1; i >= 0; i-- {
			order = append(order, i)
		}
		got, err := ParseOrder(nil, AppendOrder(nil, order), len(cands))
		if err != nil || !slices.Equal(got, order) {
			t.Fatalf("order %v %v, want %v", got, err, order)
		}
		// Any corruption is refused or read safely.
		for i := range b {
			c := slices.Clone(b)
			c[i] ^= 0xff
			if v, err := Parse(c); err == nil {
				for k := range v.Len() {
					_ = v.Cand(k).ID() + v.Cand(k).Model() + v.Cand(k).Provider()
				}
				for k := range v.NumHeaders() {
					_, _ = v.HeaderAt(k)
				}
				_ = v.RequestID() + v.KeyID()
			}
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(Magic))
	f.Add(Append(nil, &Meta{Model: "m"}, []Candidate{{ID: "a"}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Parse(b)
		if err != nil {
			return
		}
		for k := range v.Len() {
			_ = v.Cand(k).ID()
		}
		_ = v.Header("x")
		_, _ = ParseOrder(nil, b, 3)
	})
}

func BenchmarkAppend(b *testing.B) {
	temp := 0.7
	m := &Meta{RequestID: "r1", Endpoint: "chat.completions", Model: "gpt-4o-mini", Router: "prod", User: "u", Team: "t",
		KeyID: "k", TokenEstimate: 123, Temperature: &temp, Headers: []Header{{Name: "x-tenant", Value: "acme"}}, NowMs: 1700000000000}
	cands := []Candidate{{ID: "openai/gpt-4o-mini#0", Provider: "openai", Model: "gpt-4o-mini", Weight: 1, Healthy: true},
		{ID: "anthropic/claude-haiku-4-5#1", Provider: "anthropic", Model: "claude-haiku-4-5", Weight: 1, Healthy: true}}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = Append(buf[:0], m, cands)
	}
}
