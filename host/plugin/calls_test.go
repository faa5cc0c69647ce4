package plugin

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/sdk/conformance"
)

func flatRouteWasm(t testing.TB) []byte {
	t.Helper()
	path, err := conformance.BuildGuest("testdata/guests/flatroute", "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testMeta() *Meta {
	temp := 0.7
	return &Meta{RequestID: "r1", Endpoint: "chat.completions", Model: "gpt-4o-mini", Router: "prod",
		User: "u", Team: "t", KeyID: "k", TokenEstimate: 123, Temperature: &temp,
		Headers: []Header{{Name: "x-tenant", Value: "acme"}}, NowMs: 1700000000000}
}

func testCands() []Candidate {
	return []Candidate{
		{ID: "openai/gpt-4o-mini#0", Provider: "openai", Model: "gpt-4o-mini", Weight: 1, Healthy: true, EWMAms: 12.5, InFlight: 3, ErrorRate: 0.01, PriceIn: 0.15, PriceOut: 0.6},
		{ID: "anthropic/claude-haiku-4-5#1", Provider: "anthropic", Model: "claude-haiku-4-5", Weight: 1, Healthy: true, EWMAms: 20, PriceIn: 1, PriceOut: 5},
		{ID: "acme/m#2", Provider: "acme", Model: "m", Healthy: false},
	}
}

// TestTypedCalls: route, cache_key, on_request and on_response through the typed calls of a
// JSON-form guest.
func TestTypedCalls(t *testing.T) {
	e, _ := newTestEngine(t)
	p := load(t, e, Spec{Name: "good", Bytes: goodWasm(t, "v1"), Sandbox: SandboxTrusted})
	ctx := context.Background()
	if p.RouteView() {
		t.Fatal("a JSON-form guest reported the flat view")
	}
	order, err := p.Route(ctx, testMeta(), testCands())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"acme/m#2", "anthropic/claude-haiku-4-5#1", "openai/gpt-4o-mini#0"}; !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	ck, err := p.CacheKey(ctx, testMeta(), &CacheKeyInput{Key: "abc", LastUser: "Hello \xff World", Metadata: []byte(`{"a":"b"}`)})
	if err != nil || ck.Key != "hello \ufffd world" {
		t.Fatalf("cache_key %+v %v", ck, err)
	}
	d, err := p.OnRequest(ctx, testMeta(), []byte(`{"model":"m"}`))
	if err != nil || (d.Action != "" && d.Action != "allow") {
		t.Fatalf("on_request %+v %v", d, err)
	}
	// A body that is not JSON still makes a valid envelope (passed as a string).
	d, err = p.OnResponse(ctx, testMeta(), nil, 502, false, []byte("<html>bad gateway</html>"))
	if err != nil || d.Action != "rewrite" || !strings.Contains(string(d.Body), "v1") {
		t.Fatalf("on_response %+v %v", d, err)
	}
	m := testMeta()
	m.Model = "error"
	if _, err := p.OnRequest(ctx, m, []byte(`{}`)); asError(t, err).Code != "model_not_allowed" {
		t.Fatalf("guest error: %v", err)
	}
}

// TestRouteFlatView: a guest that declares the flat route view gets the binary layout and
// answers with candidate indices; the host maps them back to ids.
func TestRouteFlatView(t *testing.T) {
	e, _ := newTestEngine(t)
	p := load(t, e, Spec{Name: "flat", Bytes: flatRouteWasm(t), Sandbox: SandboxTrusted})
	if !p.RouteView() {
		t.Fatal("the guest's sluice_features was not read")
	}
	ctx := context.Background()
	order, err := p.Route(ctx, testMeta(), testCands())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"acme/m#2", "anthropic/claude-haiku-4-5#1", "openai/gpt-4o-mini#0"}; !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v (tenant's provider first)", order, want)
	}
	m := testMeta()
	m.Headers = nil
	order, err = p.Route(ctx, m, testCands())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"anthropic/claude-haiku-4-5#1", "openai/gpt-4o-mini#0", "acme/m#2"}; !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v (unhealthy last)", order, want)
	}
	// The JSON form still works against the same guest (the SDK converts it).
	out, err := p.Call(ctx, "route", []byte(routeIn))
	if err != nil || !strings.HasPrefix(string(out), "SRO1") {
		t.Fatalf("JSON input to a view guest: %q %v", out, err)
	}
}

func BenchmarkRouteTyped(b *testing.B) {
	e, _ := newTestEngine(b)
	ctx := context.Background()
	for _, g := range []struct {
		name string
		bin  []byte
	}{{"json", goodWasm(b, "v1")}, {"view", flatRouteWasm(b)}} {
		p := load(b, e, Spec{Name: g.name, Bytes: g.bin, Sandbox: SandboxTrusted})
		m, cands := testMeta(), testCands()[:2]
		b.Run(g.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := p.Route(ctx, m, cands); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
