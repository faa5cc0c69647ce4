package plugintool

// scaffold is one hook kind's starting point: the wasm entry, the logic with its native test,
// the hook `plugin test` calls, a sample input for it and a config that makes the sample
// meaningful.
type scaffold struct{ main, logic, test, call, input, config string }

const mainHead = `//go:build wasip1

// Command {{.Name}} is a sluice plugin ({{.Hook}} hook). Hooks are registered from init: a
// c-shared wasm build never runs main.
package main

import "github.com/sluice-gw/sluice/sdk"

var cfg sdk.Config

func init() {
	sdk.OnInit(func(c sdk.Config) error {
		cfg = c
		return nil
	})
`

var scaffolds = map[string]scaffold{
	"route": {
		main: mainHead + `	sdk.HandleRoute(func(in sdk.RouteInput) (sdk.RouteOutput, error) { return Route(in), nil })
}

func main() {}
`,
		logic: `package main

import "github.com/sluice-gw/sluice/sdk"

// Route orders the candidates: healthy ones first, fastest (lowest EWMA latency) first.
// Candidates left out of the order are dropped; an empty order keeps the host's order.
func Route(in sdk.RouteInput) sdk.RouteOutput {
	var healthy, sick []sdk.Candidate
	for _, c := range in.Candidates {
		if c.Healthy {
			healthy = append(healthy, c)
		} else {
			sick = append(sick, c)
		}
	}
	for i := 1; i < len(healthy); i++ {
		for j := i; j > 0 && healthy[j].EwmaMs < healthy[j-1].EwmaMs; j-- {
			healthy[j], healthy[j-1] = healthy[j-1], healthy[j]
		}
	}
	var out sdk.RouteOutput
	for _, c := range append(healthy, sick...) {
		out.Order = append(out.Order, c.ID)
	}
	return out
}
`,
		test: `package main

import (
	"slices"
	"testing"

	"github.com/sluice-gw/sluice/sdk"
)

func TestRoute(t *testing.T) {
	in, err := sdk.DecodeRouteInput([]byte(` + "`" + `{"meta":{"model":"m"},"candidates":[
		{"id":"a","healthy":true,"ewma_ms":30},{"id":"b","healthy":false,"ewma_ms":1},{"id":"c","healthy":true,"ewma_ms":10}]}` + "`" + `))
	if err != nil {
		t.Fatal(err)
	}
	if got := Route(in).Order; !slices.Equal(got, []string{"c", "a", "b"}) {
		t.Fatalf("order %v", got)
	}
}
`,
		call: "route", input: `{"meta":{"model":"gpt-4o-mini"},"candidates":[{"id":"a","healthy":true,"ewma_ms":30},{"id":"b","healthy":false,"ewma_ms":1},{"id":"c","healthy":true,"ewma_ms":10}]}`},
	"cache_key": {
		main: mainHead + `	sdk.HandleCacheKey(func(in sdk.CacheKeyInput) (sdk.CacheKeyOutput, error) { return Key(in), nil })
}

func main() {}
`,
		logic: `package main

import (
	"strings"

	"github.com/sluice-gw/sluice/sdk"
)

// Key makes requests that differ only in case and spacing of the last user message share a
// cache entry. Return sdk.CacheKeyOutput{Skip: true} to not cache a request.
func Key(in sdk.CacheKeyInput) sdk.CacheKeyOutput {
	user := strings.Join(strings.Fields(strings.ToLower(in.LastUser)), " ")
	return sdk.CacheKeyOutput{Key: in.Meta.Model + "\x00" + in.System + "\x00" + user}
}
`,
		test: `package main

import (
	"testing"

	"github.com/sluice-gw/sluice/sdk"
)

func TestKey(t *testing.T) {
	a := Key(sdk.CacheKeyInput{Meta: sdk.Meta{Model: "m"}, LastUser: "Hello   World"})
	b := Key(sdk.CacheKeyInput{Meta: sdk.Meta{Model: "m"}, LastUser: "hello world"})
	if a != b {
		t.Fatalf("%q != %q", a.Key, b.Key)
	}
}
`,
		call: "cache_key", input: `{"meta":{"model":"gpt-4o-mini"},"key":"k","last_user":"Hello   World","system":"be brief"}`},
	"policy": {
		main: mainHead + `	sdk.HandleRequest(func(in sdk.RequestInput) (sdk.Decision, error) {
		return Check(cfg.Strings("blocked_users"), in), nil
	})
}

func main() {}
`,
		logic: `package main

import (
	"slices"

	"github.com/sluice-gw/sluice/sdk"
)

// Check rejects requests from blocked users with 403; use sdk.Rewrite(body) to change a request.
func Check(blocked []string, in sdk.RequestInput) sdk.Decision {
	if slices.Contains(blocked, in.Meta.User) {
		return sdk.Reject(403, "user_blocked", "user "+in.Meta.User+" is blocked")
	}
	return sdk.Allow()
}
`,
		test: `package main

import (
	"testing"

	"github.com/sluice-gw/sluice/sdk"
)

func TestCheck(t *testing.T) {
	if d := Check([]string{"eve"}, sdk.RequestInput{Meta: sdk.Meta{User: "eve"}}); d.Action != sdk.ActionReject || d.Status != 403 {
		t.Fatalf("%+v", d)
	}
	if d := Check([]string{"eve"}, sdk.RequestInput{Meta: sdk.Meta{User: "bob"}}); d.Action != sdk.ActionAllow {
		t.Fatalf("%+v", d)
	}
}
`,
		call: "on_request", input: `{"meta":{"model":"gpt-4o-mini","user":"eve"},"body":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}}`, config: `{"blocked_users":["eve"]}`},
	"translate": {
		main: mainHead + `	sdk.Handle(sdk.HookTranslateRequest, TranslateRequest)
	sdk.Handle(sdk.HookTranslateResponse, TranslateResponse)
}

func main() {}
`,
		logic: `package main

import (
	"strconv"

	"github.com/sluice-gw/sluice/sdk"
)

// TranslateRequest maps an OpenAI request envelope to the provider's request (sdk/ABI.md,
// translate_request). This skeleton forwards chat completions unchanged to /v1/chat/completions.
func TranslateRequest(in []byte) ([]byte, error) {
	endpoint, _ := sdk.Field(in, "endpoint")
	if ep, _ := sdk.String(endpoint); ep != "chat.completions" {
		return nil, sdk.Errorf(400, "unsupported_endpoint", "endpoint %s is not supported", endpoint)
	}
	body, ok := sdk.Field(in, "body")
	if !ok {
		return nil, sdk.Errorf(400, "invalid_request", "missing body")
	}
	out := []byte(` + "`" + `{"method":"POST","path":"/v1/chat/completions","query":"","headers":{},"body":` + "`" + `)
	out = append(out, body...)
	return append(out, '}'), nil
}

// TranslateResponse maps the provider's response back to OpenAI's shape, keeping the status.
func TranslateResponse(in []byte) ([]byte, error) {
	status := 200
	if raw, ok := sdk.Field(in, "status"); ok {
		if f, ok := sdk.Number(raw); ok {
			status = int(f)
		}
	}
	body, _ := sdk.Field(in, "body")
	out := strconv.AppendInt([]byte(` + "`" + `{"status":` + "`" + `), int64(status), 10)
	out = append(out, ` + "`" + `,"body":` + "`" + `...)
	out = append(out, body...)
	return append(out, '}'), nil
}
`,
		test: `package main

import "testing"

func TestTranslateRequest(t *testing.T) {
	out, err := TranslateRequest([]byte(` + "`" + `{"endpoint":"chat.completions","model":"m","body":{"model":"m"}}` + "`" + `))
	if err != nil || string(out) != ` + "`" + `{"method":"POST","path":"/v1/chat/completions","query":"","headers":{},"body":{"model":"m"}}` + "`" + ` {
		t.Fatalf("%s %v", out, err)
	}
	if _, err := TranslateRequest([]byte(` + "`" + `{"endpoint":"embeddings","body":{}}` + "`" + `)); err == nil {
		t.Fatal("embeddings accepted")
	}
}

func TestTranslateResponse(t *testing.T) {
	out, err := TranslateResponse([]byte(` + "`" + `{"status":429,"body":{"error":{"message":"slow"}}}` + "`" + `))
	if err != nil || string(out) != ` + "`" + `{"status":429,"body":{"error":{"message":"slow"}}}` + "`" + ` {
		t.Fatalf("%s %v", out, err)
	}
}
`,
		call: "translate_request", input: `{"endpoint":"chat.completions","model":"m","body":{"model":"m","messages":[{"role":"user","content":"hi"}]}}`},
}

const readmeTmpl = `# {{.Name}}

A sluice plugin on the ` + "`{{.Hook}}`" + ` hook, written with the Go SDK
(` + "`github.com/sluice-gw/sluice/sdk`" + `; the ABI is in its ABI.md).

- ` + "`logic.go`" + `: the plugin's logic as plain Go; ` + "`logic_test.go`" + ` tests it natively (` + "`go test ./...`" + `).
- ` + "`main.go`" + `: the wasm entry (` + "`//go:build wasip1`" + `); it registers the handlers from init.
- ` + "`input.json`" + `: a sample input for the ` + "`{{.Call}}`" + ` hook.

Build it, call it once with the sample input, and run the plugin checks (edge-case and fuzzed
inputs, memory growth, state kept between calls, latency in the default sandbox):

    sluice plugin build .
    sluice plugin test {{.Name}}.wasm --hook {{.Call}} --input input.json{{.ConfigArg}}

Load it from the gateway config:

    [plugins.{{.Name}}]
    path = "{{.Name}}.wasm"
    config = { }
`

const goModTmpl = `module example.com/{{.Name}}

go {{.Go}}

require github.com/sluice-gw/sluice/sdk v0.0.0

// The SDK is a local module: the copy written by ` + "`sluice plugin new`" + `, or a checkout's sdk/.
replace github.com/sluice-gw/sluice/sdk => {{.SDK}}
`
