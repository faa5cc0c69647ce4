package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Scenario is one named benchmark: the fake upstreams it needs, the sluice config that fronts
// them, the request it repeats and the load it applies. Each run of a scenario measures the same
// request sent DIRECT to an upstream and THROUGH sluice, alternating, so the difference is what
// sluice adds on this machine at this moment.
//
// To add a scenario (plugins, translation, rate limits, cache, telemetry, ...), create a file
// scenario_<area>.go in this package with an init function that calls register:
//
//	func init() {
//		register(&Scenario{
//			Name: "cache-hit", Area: AreaCache, About: "exact-match hits at 2,000 req/s",
//			Upstreams: []Upstream{{Args: []string{"-body-size", "1024"}}},
//			Config: func(ups []string) string {
//				return openAIProvider("up", ups[0]) + "[cache]\nenabled = true\n"
//			},
//			Request: func(through bool) Req { return chatReq(through, "up/bench-model", false) },
//			Direct:  0,
//			Load:    func(o *Options) Load { return Load{Rate: 2000, Duration: o.Duration} },
//			Budgets: func(o *Options, m *Measured) []Budget { ... },
//		})
//	}
//
// Config returns the TOML that follows the harness's own [server] and [log] tables; ups holds
// the host:port of each upstream in the order declared. Direct names the upstream the direct
// side is sent to, or -1 when a direct comparison makes no sense. An Upstream is either a
// fakeupstream process (Args are its flags) or, with Mode set, a copy of this program serving
// a fault mode the fake binary has no flag for (see fakeMode). Budgets turn figures into
// PASS/MISS lines; they appear in the table and in the JSON report.
type Scenario struct {
	Name      string
	Area      string
	About     string
	Default   bool // run when -scenarios is not given
	Upstreams []Upstream
	Config    func(ups []string) string
	Request   func(through bool) Req
	Direct    int
	Load      func(o *Options) Load
	Budgets   func(o *Options, m *Measured) []Budget
}

// Upstream is one fake upstream process.
type Upstream struct {
	Args []string // flags for the fakeupstream binary
	Mode string   // when set, run "sluicebench fake -mode MODE" instead
}

// Req is what a scenario sends: a path under the upstream's or sluice's root and a body.
type Req struct {
	Path   string
	Body   []byte
	Stream bool
	Header map[string]string
	// EndEvent names the SSE event that ends a stream whose API sends no [DONE].
	EndEvent string
}

// Load is the load one side of a run applies: open loop when Rate > 0, else closed loop.
type Load struct {
	Rate     float64
	Conns    int
	Duration time.Duration
}

func (l Load) String() string {
	if l.Rate > 0 {
		return fmt.Sprintf("open %g/s", l.Rate)
	}
	return fmt.Sprintf("closed %d conns", l.Conns)
}

// BENCHMARKS.md areas, in document order.
const (
	AreaCore        = "Core proxy"
	AreaPlugins     = "Plugins"
	AreaTranslation = "Translation"
	AreaRouting     = "Routing/chaos"
	AreaRateLimits  = "Rate limits"
	AreaCache       = "Cache"
	AreaTelemetry   = "Telemetry"
	AreaDialects    = "Dialects"
)

var registry = map[string]*Scenario{}

// measured holds the scenarios this invocation has finished, by name, so that a scenario's
// budgets can compare it with another measured on the same machine minutes before (see
// scenario_dialects.go). Only the goroutine running the scenarios touches it.
var measured = map[string]*Measured{}

func register(s *Scenario) {
	if _, dup := registry[s.Name]; dup {
		panic("sluicebench: scenario registered twice: " + s.Name)
	}
	registry[s.Name] = s
}

func scenarioNames() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func defaultScenarios() string {
	var names []string
	for _, n := range []string{"core", "throughput", "stream", "chaos"} {
		if s, ok := registry[n]; ok && s.Default {
			names = append(names, n)
		}
	}
	for _, n := range scenarioNames() {
		if registry[n].Default && !strings.Contains(","+strings.Join(names, ",")+",", ","+n+",") {
			names = append(names, n)
		}
	}
	return strings.Join(names, ",")
}

// openAIProvider is the TOML for one OpenAI-compatible provider named name at addr.
func openAIProvider(name, addr string) string {
	return fmt.Sprintf("[providers.%s]\nkind = \"openai\"\nbase_url = \"http://%s/v1\"\napi_key = \"bench\"\n\n", name, addr)
}

// chatReq is a chat completion request; the model is "bench-model" direct and model through
// sluice.
func chatReq(through bool, model string, stream bool) Req {
	if !through {
		model = "bench-model"
	}
	body := map[string]any{
		"model":      model,
		"messages":   []map[string]string{{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Summarise the benchmark in one paragraph, please."}},
		"max_tokens": 256,
	}
	if stream {
		body["stream"] = true
	}
	b, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	return Req{Path: "/v1/chat/completions", Body: b, Stream: stream}
}
