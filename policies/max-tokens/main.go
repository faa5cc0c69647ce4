//go:build wasip1

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
