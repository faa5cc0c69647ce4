// Under GOOS=wasip1 this file is the plugin (hooks register from init: a c-shared build never
// runs main). Natively it is an empty command, so `go build ./...` and `go vet ./...` pass.

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
