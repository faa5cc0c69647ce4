package sdk

import (
	"slices"
	"testing"

	"github.com/sluice-gw/sluice/sdk/routeview"
)

// TestHandleRouteView: the handler sees the same view whether the host sent the flat layout or
// the JSON form, answers with indices, and an index out of range is the plugin's error.
func TestHandleRouteView(t *testing.T) {
	Reset()
	defer Reset()
	var seen []string
	HandleRouteView(func(v *RouteView, order []int) ([]int, error) {
		seen = append(seen, v.Model()+"|"+v.Header("x-tenant")+"|"+v.Cand(v.Len()-1).ID())
		for i := v.Len() - 1; i >= 0; i-- {
			order = append(order, i)
		}
		if v.Model() == "bad" {
			order = append(order, 7)
		}
		return order, nil
	})
	if !slices.Contains(Hooks(), HookRoute) || features()&1 == 0 {
		t.Fatalf("hooks %v features %d", Hooks(), features())
	}
	js := []byte(`{"meta":{"model":"m","headers":{"x-tenant":"acme"}},"candidates":[{"id":"a"},{"id":"b"}]}`)
	view := routeview.Append(nil, &routeview.Meta{Model: "m", Headers: []routeview.Header{{Name: "x-tenant", Value: "acme"}}},
		[]routeview.Candidate{{ID: "a"}, {ID: "b"}})
	for _, in := range [][]byte{js, view} {
		out, err := Invoke(HookRoute, in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := routeview.ParseOrder(nil, out, 2)
		if err != nil || !slices.Equal(got, []int{1, 0}) {
			t.Fatalf("order %v %v", got, err)
		}
	}
	if !slices.Equal(seen, []string{"m|acme|b", "m|acme|b"}) {
		t.Fatalf("seen %v", seen)
	}
	bad := routeview.Append(nil, &routeview.Meta{Model: "bad"}, []routeview.Candidate{{ID: "a"}})
	if _, err := Invoke(HookRoute, bad); err == nil {
		t.Fatal("an out-of-range index was answered")
	}
}

func BenchmarkRouteViewHook(b *testing.B) {
	Reset()
	defer Reset()
	HandleRouteView(func(v *RouteView, order []int) ([]int, error) {
		want := v.Header("x-tenant")
		for i := range v.Len() {
			if v.Cand(i).Provider() == want {
				order = append(order, i)
			}
		}
		return order, nil
	})
	in := routeview.Append(nil, &routeview.Meta{Model: "m", Headers: []routeview.Header{{Name: "x-tenant", Value: "acme"}}},
		[]routeview.Candidate{{ID: "a", Provider: "acme"}, {ID: "b", Provider: "b"}})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dispatchID(idRoute, in); err != nil {
			b.Fatal(err)
		}
	}
}
