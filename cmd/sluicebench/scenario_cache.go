package main

import "fmt"

// The cache scenarios: the same request repeated, so after the first miss every request through
// sluice is a hit served from the in-process store without reaching the upstream. There is no
// direct side: a hit's whole latency is what sluice costs.
func init() {
	cfg := func(ups []string) string {
		return openAIProvider("up", ups[0]) + "[cache]\nenabled = true\nttl = \"10m\"\n"
	}
	register(&Scenario{
		Name: "cache", Area: AreaCache,
		About:     "exact-match cache hit, non-stream ~1 KB answer, open loop at 2,000 req/s",
		Upstreams: []Upstream{{Args: []string{"-body-size", "1024"}}},
		Config:    cfg, Direct: -1,
		Request: func(through bool) Req { return chatReq(through, "up/bench-model", false) },
		Load:    func(o *Options) Load { return Load{Rate: 2000, Duration: o.Duration} },
		Budgets: func(o *Options, m *Measured) []Budget {
			if m.Through == nil {
				return nil
			}
			return []Budget{
				atMost("cache hit p99 end to end at 2000 req/s", m.Through.P99, 0.3, "ms"),
				atLeast("cache hit success ratio", m.Through.SuccessRatio, 1, ""),
			}
		},
	})
	register(&Scenario{
		Name: "cache-stream", Area: AreaCache,
		About:     "exact-match cache hit replayed as SSE (20 chunks), open loop at 2,000 req/s",
		Upstreams: []Upstream{{Args: []string{"-body-size", "1024", "-chunks", "20"}}},
		Config:    cfg, Direct: -1,
		Request: func(through bool) Req { return chatReq(through, "up/bench-model", true) },
		Load:    func(o *Options) Load { return Load{Rate: 2000, Duration: o.Duration} },
		Budgets: func(o *Options, m *Measured) []Budget {
			if m.Through == nil {
				return nil
			}
			return []Budget{atMost(fmt.Sprintf("replayed stream p99 at %d req/s", 2000), m.Through.P99, 1, "ms")}
		},
	})
}
