//go:build wasip1

// Command good is the host tests' SDK guest. route reverses the candidates, translate_request
// echoes, cache_key lower-cases, on_response reports the build's version (set with
// -ldflags=-X main.version=...), and on_request misbehaves on demand by the request's model:
// panic, loop, hog (allocate until out of memory), recurse (unbounded recursion), error,
// sleep (a 30 ms busy loop), crunch (1e6 xorshift steps), whisper (a line to stderr) or log.
package main

import (
	"strings"
	"time"

	"github.com/sluice-gw/sluice/sdk"
)

var version = "v1"

var (
	sink     [][]byte
	crunched uint64
)

func recurse(n int) int {
	var pad [64]byte
	pad[n%64] = byte(n)
	return recurse(n+1) + int(pad[0])
}

func init() {
	sdk.OnInit(func(c sdk.Config) error {
		if c.Bool("refuse", false) {
			return sdk.Errorf(400, "bad_config", "refused by config")
		}
		return nil
	})
	sdk.HandleRoute(func(in sdk.RouteInput) (sdk.RouteOutput, error) {
		out := sdk.RouteOutput{Order: make([]string, 0, len(in.Candidates))}
		for i := len(in.Candidates) - 1; i >= 0; i-- {
			out.Order = append(out.Order, in.Candidates[i].ID)
		}
		return out, nil
	})
	sdk.HandleCacheKey(func(in sdk.CacheKeyInput) (sdk.CacheKeyOutput, error) {
		return sdk.CacheKeyOutput{Key: strings.ToLower(in.LastUser)}, nil
	})
	sdk.Handle(sdk.HookTranslateRequest, func(in []byte) ([]byte, error) { return in, nil })
	sdk.HandleResponse(func(in sdk.ResponseInput) (sdk.Decision, error) {
		return sdk.Rewrite([]byte(`{"version":"` + version + `"}`)), nil
	})
	sdk.HandleRequest(func(in sdk.RequestInput) (sdk.Decision, error) {
		switch in.Meta.Model {
		case "panic":
			var m map[string]int
			m["boom"] = 1
		case "loop":
			for {
				sink = sink[:0]
			}
		case "hog":
			for {
				sink = append(sink, make([]byte, 1<<20))
			}
		case "recurse":
			return sdk.Allow(), sdk.Errorf(500, "unreachable", "%d", recurse(0))
		case "error":
			return sdk.Decision{}, sdk.Errorf(403, "model_not_allowed", "model %q is not allowed", in.Meta.Model)
		case "sleep":
			end := time.Now().Add(30 * time.Millisecond)
			for time.Now().Before(end) {
			}
		case "crunch":
			// A loop-heavy call for the sandbox benchmarks: 1e6 xorshift steps.
			x := uint64(88172645463325252)
			for range 1_000_000 {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
			}
			crunched = x
		case "whisper":
			println("tenant-a-secret") // to stderr; the call succeeds
		case "log":
			sdk.Log(sdk.LevelWarn, "hello from the guest")
		}
		return sdk.Allow(), nil
	})
}

func main() {}
