// This file builds on every platform. Under GOOS=wasip1 (`sluice plugin build`) it is the
// plugin: a c-shared build never runs main, so the hooks are registered from init. Natively it
// is an empty command, so that `go build ./...` and `go vet ./...` pass, and the tests can call
// the registered hooks through sdk.Invoke.

package main

import "github.com/sluice-gw/sluice/sdk"

var rules Rules

func init() {
	sdk.OnInit(func(c sdk.Config) error {
		rules = RulesFrom(c)
		return nil
	})
	sdk.HandleRoute(func(in sdk.RouteInput) (sdk.RouteOutput, error) { return Route(rules, in), nil })
}

func main() {}
