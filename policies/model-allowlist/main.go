//go:build wasip1

package main

import "github.com/sluice-gw/sluice/sdk"

var models []string

func init() {
	sdk.OnInit(func(c sdk.Config) error {
		models = c.Strings("models")
		return nil
	})
	sdk.HandleRequest(func(in sdk.RequestInput) (sdk.Decision, error) { return Check(models, in), nil })
}

func main() {}
