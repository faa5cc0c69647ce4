//go:build wasip1

// Command hooks is the test guest of the v1 hook additions. on_request keeps a request state
// {"tag":...} (the x-tag header, else the model), answers itself when x-answer is "yes", and
// sets the upstream header named by x-set-header to "1"; on_response reports its state in the
// x-policy-state response header; on_stream rejects a stream whose text contains the config's
// banned word and counts chunks in its stream state; on_log logs the outcome through sdk.Log
// after spinning config's log_spin iterations. Built with -X main.noResponse=yes it has no
// on_response (so streams are relayed as they come instead of held).
package main

import (
	"bytes"
	"strconv"

	"github.com/sluice-gw/sluice/sdk"
)

var (
	spinSink   int
	noResponse string
)

func init() {
	sdk.HandleRequest(func(in sdk.RequestInput) (sdk.Decision, error) {
		tag := in.Meta.Header("x-tag")
		if tag == "" {
			tag = in.Meta.Model
		}
		state := sdk.AppendValue([]byte(`{"tag":`), tag)
		state = append(state, '}')
		d := sdk.Allow()
		if in.Meta.Header("x-answer") == "yes" {
			body := `{"id":"chatcmpl-plugin","object":"chat.completion","created":1,"model":` + strconv.Quote(in.Meta.Model) +
				`,"choices":[{"index":0,"message":{"role":"assistant","content":"answered by the plugin"},"finish_reason":"stop"}],` +
				`"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}`
			d = sdk.Respond(200, []byte(body)).WithHeader("x-policy-answer", "yes")
		}
		if h := in.Meta.Header("x-set-header"); h != "" {
			d = d.WithHeader(h, "1")
		}
		return d.WithState(state), nil
	})
	if noResponse == "" {
		sdk.HandleResponse(func(in sdk.ResponseInput) (sdk.Decision, error) {
			tag, _ := sdk.Field(in.RequestState, "tag")
			s, _ := sdk.String(tag)
			return sdk.Allow().WithHeader("x-policy-state", s), nil
		})
	}
	sdk.HandleStream(func(in sdk.StreamInput) (sdk.StreamDecision, error) {
		banned := []byte(sdk.PluginConfig().String("banned", "BANNED"))
		n := 0
		if v, ok := sdk.Field(in.State, "n"); ok {
			f, _ := sdk.Number(v)
			n = int(f)
		}
		for _, c := range in.Chunks {
			if bytes.Contains(c, banned) {
				return sdk.StreamReject(400, "content_blocked", "the answer contained a banned word"), nil
			}
		}
		n += len(in.Chunks)
		return sdk.StreamAllow([]byte(`{"n":` + strconv.Itoa(n) + `}`)), nil
	})
	sdk.HandleLog(func(in sdk.LogInput) error {
		n := sdk.PluginConfig().Int("log_spin", 0)
		for i := 0; i < n; i++ {
			spinSink += i ^ spinSink
		}
		tag, _ := sdk.Field(in.RequestState, "tag")
		s, _ := sdk.String(tag)
		sdk.Logf(sdk.LevelInfo, "on_log request=%s outcome=%s status=%d provider=%s tag=%s prompt=%d completion=%d",
			in.Meta.RequestID, in.Outcome, in.Status, in.Provider, s, in.Usage.Prompt, in.Usage.Completion)
		return nil
	})
}

func main() {}
