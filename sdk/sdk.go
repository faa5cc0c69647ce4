// Package sdk is the Go SDK for sluice plugins. A plugin is a wasip1 reactor built with
// `GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared`; it registers its hook handlers from an
// init function (a c-shared build never runs main) and the SDK provides the ABI v1 exports
// (sdk/ABI.md), typed views of the hook envelopes, config access, logging and error payloads.
// Everything except the wasm exports also builds natively, so plugin logic is unit-tested with
// plain `go test` through Invoke.
package sdk

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/sluice-gw/sluice/sdk/abi"
)

// Hook names (ABI v1).
const (
	HookInit              = abi.HookInit
	HookRoute             = abi.HookRoute
	HookCacheKey          = abi.HookCacheKey
	HookTranslateRequest  = abi.HookTranslateRequest
	HookTranslateResponse = abi.HookTranslateResponse
	HookTranslateChunk    = abi.HookTranslateChunk
	HookOnRequest         = abi.HookOnRequest
	HookOnResponse        = abi.HookOnResponse
)

// HandlerFunc is a raw hook handler: it gets the hook's input JSON and returns its output JSON.
// The input is only valid during the call (the SDK reuses the buffer); copy what you keep.
type HandlerFunc func(in []byte) ([]byte, error)

type typedHandler func(in []byte, out []byte) ([]byte, error)

var (
	raw    = map[string]HandlerFunc{}
	typed  = map[string]typedHandler{}
	onInit func(Config) error
	outBuf []byte
)

func register(hook string) {
	if !abi.IsHook(hook) {
		panic("sdk: unknown hook " + strconv.Quote(hook))
	}
	if _, dup := raw[hook]; dup {
		panic("sdk: hook " + hook + " registered twice")
	}
	if _, dup := typed[hook]; dup {
		panic("sdk: hook " + hook + " registered twice")
	}
}

// Handle registers a raw handler for hook (one of the Hook constants). Translator plugins use
// this level. Registering init here replaces the SDK's config handling.
func Handle(hook string, h HandlerFunc) {
	register(hook)
	raw[hook] = h
}

// HandleRoute registers the route hook.
func HandleRoute(h func(RouteInput) (RouteOutput, error)) {
	register(HookRoute)
	typed[HookRoute] = func(in, out []byte) ([]byte, error) {
		v, err := DecodeRouteInput(in)
		if err != nil {
			return nil, Errorf(400, "invalid_hook_input", "route: %v", err)
		}
		o, err := h(v)
		if err != nil {
			return nil, err
		}
		return o.AppendJSON(out), nil
	}
}

// HandleCacheKey registers the cache_key hook.
func HandleCacheKey(h func(CacheKeyInput) (CacheKeyOutput, error)) {
	register(HookCacheKey)
	typed[HookCacheKey] = func(in, out []byte) ([]byte, error) {
		v, err := DecodeCacheKeyInput(in)
		if err != nil {
			return nil, Errorf(400, "invalid_hook_input", "cache_key: %v", err)
		}
		o, err := h(v)
		if err != nil {
			return nil, err
		}
		return o.AppendJSON(out), nil
	}
}

// HandleRequest registers the on_request policy hook.
func HandleRequest(h func(RequestInput) (Decision, error)) {
	register(HookOnRequest)
	typed[HookOnRequest] = func(in, out []byte) ([]byte, error) {
		v, err := DecodeRequestInput(in)
		if err != nil {
			return nil, Errorf(400, "invalid_hook_input", "on_request: %v", err)
		}
		d, err := h(v)
		if err != nil {
			return nil, err
		}
		return d.AppendJSON(out), nil
	}
}

// HandleResponse registers the on_response policy hook.
func HandleResponse(h func(ResponseInput) (Decision, error)) {
	register(HookOnResponse)
	typed[HookOnResponse] = func(in, out []byte) ([]byte, error) {
		v, err := DecodeResponseInput(in)
		if err != nil {
			return nil, Errorf(400, "invalid_hook_input", "on_response: %v", err)
		}
		d, err := h(v)
		if err != nil {
			return nil, err
		}
		return d.AppendJSON(out), nil
	}
}

// OnInit registers a function run once per instance after the host passes the plugin's config.
// Returning an error makes the host refuse to load the plugin.
func OnInit(f func(Config) error) { onInit = f }

// Hooks lists the hooks this plugin serves, in ABI order. init is always served (the SDK
// stores the config).
func Hooks() []string {
	out := []string{HookInit}
	for _, h := range abi.Hooks[1:] {
		if raw[h] != nil || typed[h] != nil {
			out = append(out, h)
		}
	}
	return out
}

// dispatch runs hook on in. The returned slice may alias an SDK buffer reused by the next call.
func dispatch(hook string, in []byte) ([]byte, error) {
	if h := raw[hook]; h != nil {
		return h(in)
	}
	if h := typed[hook]; h != nil {
		out, err := h(in, outBuf[:0])
		if err == nil && cap(out) <= 1<<20 {
			outBuf = out // keep the grown buffer for the next call
		}
		return out, err
	}
	if hook == HookInit {
		return initHook(in)
	}
	return nil, Errorf(500, "hook_not_registered", "hook %q is not registered", hook)
}

// Invoke runs the registered handler for hook on in and returns a copy of its output. Plugin
// unit tests use it natively; the wasm exports use the same dispatch.
func Invoke(hook string, in []byte) ([]byte, error) {
	out, err := dispatch(hook, in)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), out...), nil
}

// Reset drops every registered handler and the stored config (for native tests that register
// handlers more than once).
func Reset() {
	raw = map[string]HandlerFunc{}
	typed = map[string]typedHandler{}
	onInit = nil
	cfg = Config{}
}

func initHook(in []byte) ([]byte, error) {
	s := scanner{b: in}
	var c Config
	s.object(func(k []byte) {
		switch string(k) {
		case "name":
			c.name = s.str()
		case "config":
			c.raw = s.raw()
		default:
			s.skip()
		}
	})
	if err := s.end(); err != nil {
		return nil, Errorf(400, "invalid_hook_input", "init: %v", err)
	}
	if len(c.raw) > 0 {
		v, err := Decode(c.raw)
		if err != nil {
			return nil, Errorf(400, "invalid_config", "init: config: %v", err)
		}
		m, ok := v.(map[string]any)
		if !ok && v != nil {
			return nil, Errorf(400, "invalid_config", "init: config is not an object")
		}
		c.m = m
		c.raw = append([]byte(nil), c.raw...)
	}
	cfg = c
	if onInit != nil {
		if err := onInit(c); err != nil {
			return nil, err
		}
	}
	return []byte("{}"), nil
}

// ErrorJSON renders err as the ABI error payload. An *Error keeps its status, type and code;
// any other error becomes a 500 api_error with code "plugin_error".
func ErrorJSON(err error) []byte {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: 500, Type: "api_error", Code: "plugin_error", Message: err.Error()}
	}
	st, typ := e.Status, e.Type
	if st == 0 {
		st = 400
	}
	if typ == "" {
		typ = "invalid_request_error"
		if st >= 500 {
			typ = "api_error"
		}
	}
	b := append([]byte(nil), `{"status":`...)
	b = strconv.AppendInt(b, int64(st), 10)
	b = append(b, `,"type":`...)
	b = AppendString(b, typ)
	b = append(b, `,"code":`...)
	b = AppendString(b, e.Code)
	b = append(b, `,"message":`...)
	b = AppendString(b, e.Message)
	return append(b, '}')
}

// Log levels.
const (
	LevelDebug = abi.LevelDebug
	LevelInfo  = abi.LevelInfo
	LevelWarn  = abi.LevelWarn
	LevelError = abi.LevelError
)

// Log sends msg to the host's log at level. The host keeps at most 4 KiB of a message.
func Log(level int, msg string) {
	if len(msg) > abi.LogLimit {
		msg = msg[:abi.LogLimit]
	}
	hostLog(level, msg)
}

// Logf formats and logs a message.
func Logf(level int, format string, args ...any) { Log(level, fmt.Sprintf(format, args...)) }
