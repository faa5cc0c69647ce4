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
	"github.com/sluice-gw/sluice/sdk/jsonx"
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
	HookOnStream          = abi.HookOnStream
	HookOnLog             = abi.HookOnLog
)

// HandlerFunc is a raw hook handler: it gets the hook's input JSON and returns its output JSON.
// The input is only valid during the call (the SDK reuses the buffer); copy what you keep.
type HandlerFunc func(in []byte) ([]byte, error)

// Hook indexes into abi.Hooks. Dispatch goes through arrays and a switch on these, not maps of
// closures: the hot path of a typed hook is decode, handler, append, with no allocation of its
// own beyond one string copy of the input's strings.
const (
	idInit = iota
	idRoute
	idCacheKey
	idTranslateRequest
	idTranslateResponse
	idTranslateChunk
	idOnRequest
	idOnResponse
	idOnStream
	idOnLog
	numHooks
)

var (
	raw       [numHooks]HandlerFunc
	routeH    func(RouteInput) (RouteOutput, error)
	cacheKeyH func(CacheKeyInput) (CacheKeyOutput, error)
	requestH  func(RequestInput) (Decision, error)
	responseH func(ResponseInput) (Decision, error)
	streamH   func(StreamInput) (StreamDecision, error)
	logH      func(LogInput) error
	onInit    func(Config) error
	outBuf    []byte
)

// views are the typed inputs reused from call to call (one call runs at a time per instance):
// their Candidates array, Headers map and Temperature pointer are refilled by the next call of
// the same hook. Strings are copies and safe to keep; copy the slices, the map or the
// temperature if a handler keeps them past its return.
var views struct {
	route    RouteInput
	cacheKey CacheKeyInput
	request  RequestInput
	response ResponseInput
	stream   StreamInput
	temp     float64
}

func hookID(hook string) int {
	for i, h := range abi.Hooks {
		if h == hook {
			return i
		}
	}
	return -1
}

func registered(id int) bool {
	switch id {
	case idRoute:
		return raw[id] != nil || routeH != nil || routeViewH != nil
	case idCacheKey:
		return raw[id] != nil || cacheKeyH != nil
	case idOnRequest:
		return raw[id] != nil || requestH != nil
	case idOnResponse:
		return raw[id] != nil || responseH != nil
	case idOnStream:
		return raw[id] != nil || streamH != nil
	case idOnLog:
		return raw[id] != nil || logH != nil
	}
	return raw[id] != nil
}

func register(hook string) int {
	id := hookID(hook)
	if id < 0 || !abi.IsHook(hook) {
		panic("sdk: unknown hook " + strconv.Quote(hook))
	}
	if registered(id) {
		panic("sdk: hook " + hook + " registered twice")
	}
	return id
}

// Handle registers a raw handler for hook (one of the Hook constants). Translator plugins use
// this level. Registering init here replaces the SDK's config handling.
func Handle(hook string, h HandlerFunc) { raw[register(hook)] = h }

// HandleRoute registers the route hook.
func HandleRoute(h func(RouteInput) (RouteOutput, error)) {
	register(HookRoute)
	routeH = h
}

// HandleCacheKey registers the cache_key hook.
func HandleCacheKey(h func(CacheKeyInput) (CacheKeyOutput, error)) {
	register(HookCacheKey)
	cacheKeyH = h
}

// HandleRequest registers the on_request policy hook.
func HandleRequest(h func(RequestInput) (Decision, error)) {
	register(HookOnRequest)
	requestH = h
}

// HandleResponse registers the on_response policy hook.
func HandleResponse(h func(ResponseInput) (Decision, error)) {
	register(HookOnResponse)
	responseH = h
}

// HandleStream registers the on_stream hook: a policy over a stream's chunks as they are
// relayed (sdk/ABI.md, section 5.2).
func HandleStream(h func(StreamInput) (StreamDecision, error)) {
	register(HookOnStream)
	streamH = h
}

// HandleLog registers the on_log hook, called after each response off the request path.
func HandleLog(h func(LogInput) error) {
	register(HookOnLog)
	logH = h
}

// OnInit registers a function run once per instance after the host passes the plugin's config.
// Returning an error makes the host refuse to load the plugin.
func OnInit(f func(Config) error) { onInit = f }

// Hooks lists the hooks this plugin serves, in ABI order. init is always served (the SDK
// stores the config).
func Hooks() []string {
	out := []string{HookInit}
	for id := idRoute; id < numHooks; id++ {
		if registered(id) {
			out = append(out, abi.Hooks[id])
		}
	}
	return out
}

// dispatch runs hook on in. The returned slice may alias an SDK buffer reused by the next call.
func dispatch(hook string, in []byte) ([]byte, error) {
	id := hookID(hook)
	if id < 0 {
		return nil, Errorf(500, "hook_not_registered", "hook %q is not registered", hook)
	}
	return dispatchID(id, in)
}

func dispatchID(id int, in []byte) ([]byte, error) {
	if h := raw[id]; h != nil {
		return h(in)
	}
	var out []byte
	var err error
	switch {
	case id == idRoute && routeViewH != nil:
		out, err = runRouteView(in)
	case id == idRoute && routeH != nil:
		out, err = runRoute(in)
	case id == idCacheKey && cacheKeyH != nil:
		out, err = runCacheKey(in)
	case id == idOnRequest && requestH != nil:
		out, err = runRequest(in)
	case id == idOnResponse && responseH != nil:
		out, err = runResponse(in)
	case id == idOnStream && streamH != nil:
		out, err = runStream(in)
	case id == idOnLog && logH != nil:
		out, err = runLog(in)
	case id == idInit:
		return initHook(in)
	default:
		return nil, Errorf(500, "hook_not_registered", "hook %q is not registered", abi.Hooks[id])
	}
	if err == nil && cap(out) <= 1<<20 {
		outBuf = out // keep the grown buffer for the next call
	}
	return out, err
}

func runRoute(in []byte) ([]byte, error) {
	v := &views.route
	if err := decodeRoute(in, v, true, &views.temp); err != nil {
		return nil, Errorf(400, "invalid_hook_input", "route: %v", err)
	}
	o, err := routeH(*v)
	if err != nil {
		return nil, err
	}
	return o.AppendJSON(outBuf[:0]), nil
}

func runCacheKey(in []byte) ([]byte, error) {
	v := &views.cacheKey
	if err := decodeCacheKey(in, v, true, &views.temp); err != nil {
		return nil, Errorf(400, "invalid_hook_input", "cache_key: %v", err)
	}
	o, err := cacheKeyH(*v)
	if err != nil {
		return nil, err
	}
	return o.AppendJSON(outBuf[:0]), nil
}

func runRequest(in []byte) ([]byte, error) {
	v := &views.request
	if err := decodeRequest(in, v, true, &views.temp); err != nil {
		return nil, Errorf(400, "invalid_hook_input", "on_request: %v", err)
	}
	d, err := requestH(*v)
	if err != nil {
		return nil, err
	}
	return d.AppendJSON(outBuf[:0]), nil
}

func runResponse(in []byte) ([]byte, error) {
	v := &views.response
	if err := decodeResponse(in, v, true, &views.temp); err != nil {
		return nil, Errorf(400, "invalid_hook_input", "on_response: %v", err)
	}
	d, err := responseH(*v)
	if err != nil {
		return nil, err
	}
	return d.AppendJSON(outBuf[:0]), nil
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
	raw = [numHooks]HandlerFunc{}
	routeH, cacheKeyH, requestH, responseH = nil, nil, nil, nil
	streamH, logH = nil, nil
	routeViewH = nil
	onInit = nil
	cfg = Config{}
}

var initKeys = [...]string{"name", "config"}

func initHook(in []byte) ([]byte, error) {
	var c Config
	var s jsonx.Scanner
	s.Reset(in, "")
	if s.Open('{') {
		var keys seen
		for n := 0; ; {
			k, ok := s.Member(&n)
			if !ok {
				break
			}
			idx := keyIndex(k, initKeys[:], -1)
			if keys.dup(idx, k) {
				s.Fail(errDup(k))
				break
			}
			switch idx {
			case 0:
				c.name = s.Str()
			case 1:
				c.raw = s.Raw()
			default:
				s.Skip()
			}
		}
	}
	if err := s.End(); err != nil {
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
		e = &Error{Status: 500, Type: abi.TypeServer, Code: "plugin_error", Message: err.Error()}
	}
	st, typ := e.Status, e.Type
	if st == 0 {
		st = 400
	}
	if typ == "" {
		typ = abi.ErrorType(st)
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
