// This file builds on every platform. Under GOOS=wasip1 (`sluice plugin build`) it is the
// plugin: a c-shared build never runs main, so the hooks are registered from init. Natively it
// is an empty command, so that `go build ./...` and `go vet ./...` pass, and the tests can call
// the registered hooks through sdk.Invoke.

package main

import "github.com/sluice-gw/sluice/sdk"

var words []string

func init() {
	sdk.OnInit(func(c sdk.Config) error {
		words = Lower(c.Strings("words"))
		if len(words) == 0 {
			return sdk.Errorf(400, "invalid_config", "deny-words: words must list at least one word")
		}
		return nil
	})
	sdk.HandleRequest(func(in sdk.RequestInput) (sdk.Decision, error) { return CheckRequest(words, in.Body), nil })
	sdk.HandleResponse(func(in sdk.ResponseInput) (sdk.Decision, error) { return CheckResponse(words, in.Status, in.Body), nil })
}

func main() {}
