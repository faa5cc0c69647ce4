// Command max-tokens is a policy plugin: on_request caps (rewrites) or rejects max_tokens and
// max_completion_tokens above a limit.
package main

import (
	"strconv"

	"github.com/sluice-gw/sluice/sdk"
)

// Limit is the config: max = 4096, mode = "cap" | "reject".
type Limit struct {
	Max    int
	Reject bool
}

// LimitFrom reads the config table.
func LimitFrom(c sdk.Config) Limit {
	return Limit{Max: c.Int("max", 4096), Reject: c.String("mode", "cap") == "reject"}
}

var fields = []string{"max_tokens", "max_completion_tokens"}

// Check returns allow, reject (400 max_tokens_exceeded) or a rewrite with the fields capped.
func Check(l Limit, in sdk.RequestInput) (sdk.Decision, error) {
	body := in.Body
	changed := false
	for _, f := range fields {
		raw, ok := sdk.Field(body, f)
		if !ok {
			continue
		}
		n, ok := sdk.Number(raw)
		if !ok || n <= float64(l.Max) {
			continue
		}
		if l.Reject {
			return sdk.Reject(400, "max_tokens_exceeded",
				f+" "+strconv.FormatFloat(n, 'f', -1, 64)+" exceeds the limit of "+strconv.Itoa(l.Max)), nil
		}
		var err error
		if body, err = sdk.SetField(body, f, strconv.AppendInt(nil, int64(l.Max), 10)); err != nil {
			return sdk.Decision{}, sdk.Errorf(400, "invalid_request", "max-tokens: %v", err)
		}
		changed = true
	}
	if changed {
		return sdk.Rewrite(body), nil
	}
	return sdk.Allow(), nil
}
