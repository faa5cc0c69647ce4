//go:build wasip1

// Command flatroute is the host tests' route guest over the flat route view: it reverses the
// candidates, putting an unhealthy one last, and moves a candidate whose provider matches the
// x-tenant header first.
package main

import "github.com/sluice-gw/sluice/sdk"

func init() {
	sdk.HandleRouteView(func(v *sdk.RouteView, order []int) ([]int, error) {
		want := v.Header("x-tenant")
		for i := range v.Len() {
			if c := v.Cand(i); want != "" && c.Provider() == want {
				order = append(order, i)
			}
		}
		for i := v.Len() - 1; i >= 0; i-- {
			c := v.Cand(i)
			if c.Healthy() && (want == "" || c.Provider() != want) {
				order = append(order, i)
			}
		}
		for i := v.Len() - 1; i >= 0; i-- {
			if c := v.Cand(i); !c.Healthy() && (want == "" || c.Provider() != want) {
				order = append(order, i)
			}
		}
		return order, nil
	})
}

func main() {}
