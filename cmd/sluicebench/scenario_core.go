package main

import "fmt"

// The core proxy scenarios: one OpenAI-compatible upstream with a ~1 KB completion.
func init() {
	up := []Upstream{{Args: []string{"-body-size", "1024"}}}
	cfg := func(ups []string) string { return openAIProvider("up", ups[0]) }
	register(&Scenario{
		Name: "core", Area: AreaCore, Default: true,
		About:     "non-stream chat completion, ~1 KB reply, open loop at -rate",
		Upstreams: up, Config: cfg, Direct: 0,
		Request: func(through bool) Req { return chatReq(through, "up/bench-model", false) },
		Load:    func(o *Options) Load { return Load{Rate: o.Rate, Duration: o.Duration} },
		Budgets: func(o *Options, m *Measured) []Budget {
			at := fmt.Sprintf(" at %g req/s", o.Rate)
			return []Budget{
				atMost("added p50"+at, m.AddedP50, 0.3, "ms"),
				atMost("added p99"+at, m.AddedP99, 1, "ms"),
			}
		},
	})
	register(&Scenario{
		Name: "throughput", Area: AreaCore, Default: true,
		About:     "non-stream chat completion, ~1 KB reply, closed loop with -conns connections",
		Upstreams: up, Config: cfg, Direct: 0,
		Request: func(through bool) Req { return chatReq(through, "up/bench-model", false) },
		Load:    func(o *Options) Load { return Load{Conns: o.Conns, Duration: o.Duration} },
		Budgets: func(o *Options, m *Measured) []Budget {
			return []Budget{atLeast(fmt.Sprintf("req/s through sluice with %d conns", o.Conns), m.Through.RPS, 15000, "req/s")}
		},
	})
	register(&Scenario{
		Name: "stream", Area: AreaCore, Default: true,
		About:     "streamed chat completion in 20 chunks, open loop at -stream-rate; TTFT is the first data line",
		Upstreams: []Upstream{{Args: []string{"-body-size", "1024", "-chunks", "20", "-chunk-delay", "1ms"}}},
		Config:    cfg, Direct: 0,
		Request: func(through bool) Req { return chatReq(through, "up/bench-model", true) },
		Load:    func(o *Options) Load { return Load{Rate: o.StreamRate, Duration: o.Duration} },
	})
}

// atMost is a budget met when value <= limit.
func atMost(name string, value, limit float64, unit string) Budget {
	return Budget{Name: name, Value: value, Limit: limit, Unit: unit, Op: "<=", Pass: value <= limit}
}

// atLeast is a budget met when value >= limit.
func atLeast(name string, value, limit float64, unit string) Budget {
	return Budget{Name: name, Value: value, Limit: limit, Unit: unit, Op: ">=", Pass: value >= limit}
}

// Budget is one target and whether the measured figure meets it.
type Budget struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Limit float64 `json:"limit"`
	Unit  string  `json:"unit"`
	Op    string  `json:"op"`
	Pass  bool    `json:"pass"`
	// Skipped budgets could not be measured in this run (e.g. no sluice binary).
	Skipped bool `json:"skipped,omitempty"`
}
