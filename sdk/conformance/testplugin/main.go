//go:build wasip1

// Command testplugin is the conformance kit's SDK-built guest: a route hook that reverses the
// candidates, an on_request hook that rejects, logs, errors, keeps state, sets a header or
// answers on demand, and config echo; and the v1 additions: on_response echoing its request
// state, on_stream counting chunks in its state and rejecting "stop", on_log logging.
package main

import (
	"strconv"
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
		case "state":
			return sdk.Allow().WithState([]byte(`{"seen":true}`)).WithHeader("x-tenant", "acme"), nil
		case "respond":
			return sdk.Respond(200, []byte(`{"object":"chat.completion","choices":[]}`)), nil
		}
		return sdk.Allow(), nil
	})
	sdk.HandleResponse(func(in sdk.ResponseInput) (sdk.Decision, error) {
		if in.RequestState == nil {
			return sdk.Allow(), nil
		}
		return sdk.Rewrite(in.RequestState), nil
	})
	sdk.HandleStream(func(in sdk.StreamInput) (sdk.StreamDecision, error) {
		n := 0
		if v, ok := sdk.Field(in.State, "n"); ok {
			f, _ := sdk.Number(v)
			n = int(f)
		}
		for _, c := range in.Chunks {
			if strings.Contains(string(c), "stop") {
				return sdk.StreamReject(451, "stopped", "stop seen"), nil
			}
		}
		n += len(in.Chunks)
		return sdk.StreamAllow([]byte(`{"n":` + strconv.Itoa(n) + `}`)), nil
	})
	sdk.HandleLog(func(in sdk.LogInput) error {
		sdk.Logf(sdk.LevelInfo, "log %s %d %s %d", in.Outcome, in.Status, in.RequestState, in.Usage.Prompt)
		return nil
	})
}

func main() {}
