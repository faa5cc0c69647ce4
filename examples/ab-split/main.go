// This file builds on every platform. Under GOOS=wasip1 (`sluice plugin build`) it is the
// plugin: a c-shared build never runs main, so the hooks are registered from init. Natively it
// is an empty command, so that `go build ./...` and `go vet ./...` pass, and the tests can call
// the registered hooks through sdk.Invoke.

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
