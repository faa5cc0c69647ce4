//go:build wasip1

// Command testplugin is the conformance kit's SDK-built guest: a route hook that reverses the
// candidates, an on_request hook that rejects, logs or errors on demand, and config echo.
package main

import (
	"strings"

	"github.com/sluice-gw/sluice/sdk"
)

func init() {
	sdk.OnInit(func(c sdk.Config) error {
		if c.Bool("refuse", false) {
			return sdk.Errorf(400, "bad_config", "refused by config")
		}
		return nil
	})
	sdk.HandleRoute(func(in sdk.RouteInput) (sdk.RouteOutput, error) {
		var out sdk.RouteOutput
		for i := len(in.Candidates) - 1; i >= 0; i-- {
			out.Order = append(out.Order, in.Candidates[i].ID)
		}
		return out, nil
	})
	sdk.HandleRequest(func(in sdk.RequestInput) (sdk.Decision, error) {
		switch in.Meta.Model {
		case "reject":
			return sdk.Reject(403, "model_not_allowed", "no "+in.Meta.Model), nil
		case "error":
			return sdk.Decision{}, sdk.Errorf(429, "slow_down", "tenant %s", in.Meta.Header("x-tenant"))
		case "log":
			sdk.Log(sdk.LevelWarn, strings.Repeat("b", 5000))
		case "config":
			return sdk.Rewrite(sdk.PluginConfig().Raw()), nil
		}
		return sdk.Allow(), nil
	})
}

func main() {}
