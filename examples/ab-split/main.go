//go:build wasip1

package main

import "github.com/sluice-gw/sluice/sdk"

var split Split

func init() {
	sdk.OnInit(func(c sdk.Config) error {
		split = SplitFrom(c)
		if split.A == "" || split.B == "" || split.PercentB < 0 || split.PercentB > 100 {
			return sdk.Errorf(400, "invalid_config", "ab-split needs a, b and 0 <= percent_b <= 100")
		}
		return nil
	})
	sdk.HandleRoute(func(in sdk.RouteInput) (sdk.RouteOutput, error) { return Route(split, in), nil })
}

func main() {}
