//go:build wasip1

package main

import "github.com/sluice-gw/sluice/sdk"

var rules Rules

func init() {
	sdk.OnInit(func(c sdk.Config) error {
		r, err := RulesFrom(c)
		if err != nil {
			return err
		}
		rules = r
		return nil
	})
	sdk.HandleRoute(func(in sdk.RouteInput) (sdk.RouteOutput, error) { return Route(rules, in), nil })
}

func main() {}
