// This file builds on every platform. Under GOOS=wasip1 (`sluice plugin build`) it is the
// plugin: a c-shared build never runs main, so the hooks are registered from init. Natively it
// is an empty command, so that `go build ./...` and `go vet ./...` pass, and the tests can call
// the registered hooks through sdk.Invoke.

package main

import "github.com/sluice-gw/sluice/sdk"

var limit Limit

func init() {
	sdk.OnInit(func(c sdk.Config) error {
		limit = LimitFrom(c)
		if limit.Max <= 0 {
			return sdk.Errorf(400, "invalid_config", "max-tokens: max must be positive")
		}
		return nil
	})
	sdk.HandleRequest(func(in sdk.RequestInput) (sdk.Decision, error) { return Check(limit, in) })
}

func main() {}
