// Package conformance checks that a plugin host honours sluice ABI v1 (sdk/ABI.md): version
// check, allocation and packed results, the error bit, the sluice_hooks list, the import
// allow-list, signature validation and the bounds of sluice_host.log. A host adapts itself
// to Host and calls Run from a test; the guests are hand-made modules (fixtures.go) plus one
// SDK-built plugin (testplugin/).
package conformance

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/sdk/conformance/guestcheck"
)

// Host is the host under test.
type Host interface {
	// Load instantiates wasm as plugin name with config, or refuses it.
	Load(ctx context.Context, name string, wasm []byte, config map[string]any) (Guest, error)
	// Logs returns the messages the host received through sluice_host.log so far.
	Logs() []string
}

// Guest is one loaded plugin (shared with the guest-side checks in guestcheck).
type Guest = guestcheck.Guest

// Result is a hook call's outcome.
type Result = guestcheck.Result

// Run runs the conformance suite against hosts made by newHost (one per subtest).
func Run(t *testing.T, newHost func(t *testing.T) Host) {
	ctx := context.Background()
	var refuseCfg func(t *testing.T, h Host, wasm []byte, cfg map[string]any, want string)
	load := func(t *testing.T, h Host, wasm []byte, cfg map[string]any) Guest {
		t.Helper()
		g, err := h.Load(ctx, "conf", wasm, cfg)
		if err != nil {
			t.Fatalf("load: %v", err)
		}
		t.Cleanup(func() { g.Close() })
		return g
	}
	refuse := func(t *testing.T, h Host, wasm []byte, want string) {
		t.Helper()
		refuseCfg(t, h, wasm, nil, want)
	}
	refuseCfg = func(t *testing.T, h Host, wasm []byte, cfg map[string]any, want string) {
		t.Helper()
		g, err := h.Load(ctx, "conf", wasm, cfg)
		if err == nil {
			g.Close()
			t.Fatalf("load succeeded, want refusal mentioning %q", want)
		}
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("load error %q does not mention %q", err, want)
		}
	}

	t.Run("version", func(t *testing.T) {
		h := newHost(t)
		load(t, h, WithVersion(1), nil)
		refuse(t, h, WithVersion(2), "version 2")
		refuse(t, h, WithVersion(0), "version 0")
		refuse(t, h, MissingVersion(), "sluice_abi_version")
	})
	t.Run("garbage", func(t *testing.T) {
		h := newHost(t)
		refuse(t, h, []byte("this is not wasm"), "magic")
		refuse(t, h, nil, "")
	})
	t.Run("alloc_and_packed_result", func(t *testing.T) {
		g := load(t, newHost(t), Echo(false, "route"), nil)
		for _, n := range []int{0, 1, 7, 1023, 1500, 4096, 60000} {
			in := bytes.Repeat([]byte{'x'}, n)
			if n > 0 {
				in[0], in[n-1] = '<', '>'
			}
			r, err := g.Call(ctx, "route", in)
			if err != nil {
				t.Fatalf("call %d bytes: %v", n, err)
			}
			if r.IsError || !bytes.Equal(r.Out, in) {
				t.Fatalf("call %d bytes: got %d bytes (error %v), want the input back", n, len(r.Out), r.IsError)
			}
		}
	})
	t.Run("error_bit", func(t *testing.T) {
		g := load(t, newHost(t), Echo(true, "route"), nil)
		r, err := g.Call(ctx, "route", []byte(`{"status":403,"type":"invalid_request_error","code":"nope","message":"denied"}`))
		if err != nil {
			t.Fatalf("call: %v", err)
		}
		if !r.IsError || r.Status != 403 || r.Code != "nope" || r.Message != "denied" {
			t.Fatalf("got %+v, want error 403 nope denied", r)
		}
	})
	t.Run("hooks_list", func(t *testing.T) {
		h := newHost(t)
		g := load(t, h, HooksList(`["route"]`), nil)
		if got := g.Hooks(); !slices.Equal(got, []string{"route"}) {
			t.Fatalf("hooks %v, want [route] (cache_key is exported but not listed)", got)
		}
		g2 := load(t, h, HooksList(`["route","some_future_hook"]`), nil)
		if got := g2.Hooks(); !slices.Equal(got, []string{"route"}) {
			t.Fatalf("hooks %v, want unknown names ignored", got)
		}
		refuse(t, h, HooksList(`["route","on_request"]`), "sluice_on_request")
		// The v1 additions are hooks the host knows: listed without their export, refused.
		refuse(t, h, HooksList(`["route","on_stream"]`), "sluice_on_stream")
		refuse(t, h, HooksList(`["route","on_log"]`), "sluice_on_log")
		g3 := load(t, h, Echo(false, "route", "cache_key"), nil)
		if got := g3.Hooks(); !slices.Equal(got, []string{"route", "cache_key"}) {
			t.Fatalf("hooks %v without sluice_hooks, want the exported ones", got)
		}
	})
	t.Run("import_allow_list", func(t *testing.T) {
		refuse(t, newHost(t), ForeignImport(), "env.abort")
	})
	t.Run("signatures", func(t *testing.T) {
		refuse(t, newHost(t), WrongSignature(), "sluice_route")
	})
	t.Run("log_bounds", func(t *testing.T) {
		h := newHost(t)
		g := load(t, h, Log(), nil)
		if _, err := g.Call(ctx, "route", []byte("{}")); err != nil {
			t.Fatalf("route: %v", err)
		}
		logs := h.Logs()
		if len(logs) != 1 || len(logs[0]) != 4096 || strings.Trim(logs[0], "a") != "" {
			t.Fatalf("logs %d messages (first %d bytes), want one of exactly 4096 bytes", len(logs), lenFirst(logs))
		}
		if _, err := g.Call(ctx, "on_request", []byte("{}")); err == nil {
			t.Fatal("out-of-bounds log pointer: call succeeded, want a failed call")
		}
		if _, err := g.Call(ctx, "route", []byte("{}")); err != nil {
			t.Fatalf("route after a failed call: %v", err)
		}
	})
	t.Run("sdk_plugin", func(t *testing.T) {
		if testing.Short() {
			t.Skip("builds a Go guest")
		}
		path, err := BuildGuest(filepath.Join(sdkDir(), "conformance", "testplugin"), "")
		if err != nil {
			t.Fatal(err)
		}
		wasm := readFile(t, path)
		h := newHost(t)
		refuseCfg(t, h, wasm, map[string]any{"refuse": true}, "refused by config")
		g := load(t, h, wasm, map[string]any{"k": "v"})
		if got := g.Hooks(); !slices.Equal(got, []string{"init", "route", "on_request", "on_response", "on_stream", "on_log"}) {
			t.Fatalf("hooks %v", got)
		}
		r, err := g.Call(ctx, "route", []byte(`{"meta":{"model":"m"},"candidates":[{"id":"a"},{"id":"b\"c"}]}`))
		if err != nil || string(r.Out) != `{"order":["b\"c","a"]}` {
			t.Fatalf("route: %q %v", r.Out, err)
		}
		r, err = g.Call(ctx, "on_request", []byte(`{"meta":{"model":"reject"},"body":{}}`))
		if err != nil || string(r.Out) != `{"action":"reject","status":403,"code":"model_not_allowed","message":"no reject"}` {
			t.Fatalf("reject: %q %v", r.Out, err)
		}
		r, err = g.Call(ctx, "on_request", []byte(`{"meta":{"model":"error","headers":{"x-tenant":"acme"}},"body":{}}`))
		if err != nil || !r.IsError || r.Status != 429 || r.Code != "slow_down" || r.Message != "tenant acme" {
			t.Fatalf("error: %+v %v", r, err)
		}
		r, err = g.Call(ctx, "on_request", []byte(`{"meta":{"model":"config"},"body":{}}`))
		if err != nil || string(r.Out) != `{"action":"rewrite","body":{"k":"v"}}` {
			t.Fatalf("config: %q %v", r.Out, err)
		}
		if _, err := g.Call(ctx, "on_request", []byte(`{"meta":{"model":"log"},"body":{}}`)); err != nil {
			t.Fatal(err)
		}
		logs := h.Logs()
		if len(logs) == 0 || len(logs[len(logs)-1]) != 4096 {
			t.Fatalf("sdk log: %d messages, last %d bytes, want 4096", len(logs), lenLast(logs))
		}
		additions(t, ctx, h, g)
	})
}

// additions checks the v1 additions (sdk/ABI.md, section 5.2) through the SDK guest: the
// outputs a host must understand (state, headers, respond; stream state and reject) and the
// inputs it must send (request_state, on_stream's batch, on_log's record).
func additions(t *testing.T, ctx context.Context, h Host, g Guest) {
	t.Helper()
	call := func(hook, in, want string) {
		t.Helper()
		r, err := g.Call(ctx, hook, []byte(in))
		if err != nil || r.IsError || string(r.Out) != want {
			t.Fatalf("%s %s: %q (error %v %+v), want %s", hook, in, r.Out, err, r, want)
		}
	}
	call("on_request", `{"meta":{"model":"state"},"body":{}}`, `{"action":"allow","state":{"seen":true},"headers":{"x-tenant":"acme"}}`)
	call("on_request", `{"meta":{"model":"respond"},"body":{}}`, `{"action":"respond","status":200,"body":{"object":"chat.completion","choices":[]}}`)
	call("on_response", `{"meta":{},"request_state":{"seen":true},"status":200,"body":{}}`, `{"action":"rewrite","body":{"seen":true}}`)
	call("on_response", `{"meta":{},"status":200,"body":{}}`, `{"action":"allow"}`)
	call("on_stream", `{"meta":{},"state":null,"chunks":[{"a":1},{"a":2}],"done":false}`, `{"action":"allow","state":{"n":2}}`)
	call("on_stream", `{"meta":{},"state":{"n":2},"chunks":[{"a":3}],"done":true}`, `{"action":"allow","state":{"n":3}}`)
	call("on_stream", `{"meta":{},"state":{"n":3},"chunks":[{"t":"stop"}],"done":false}`, `{"action":"reject","status":451,"code":"stopped","message":"stop seen"}`)
	call("on_log", `{"meta":{},"request_state":{"seen":true},"status":200,"outcome":"ok","usage":{"prompt_tokens":7}}`, `{}`)
	logs := h.Logs()
	if last := logs[len(logs)-1]; last != `log ok 200 {"seen":true} 7` {
		t.Fatalf("on_log logged %q", last)
	}
}

func lenFirst(s []string) int {
	if len(s) == 0 {
		return 0
	}
	return len(s[0])
}

func lenLast(s []string) int {
	if len(s) == 0 {
		return 0
	}
	return len(s[len(s)-1])
}
