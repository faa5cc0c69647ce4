package main

import "fmt"

// The rate-limit scenario: the core request with four tiers active (global requests, router
// tokens, team requests, user cost), limits far above the load so nothing is refused and every
// request pays for the check, the settlement and the headers. Compare its added p99 with the
// core scenario's at the same rate to get the limiter's share.
func init() {
	register(&Scenario{
		Name: "limits", Area: AreaRateLimits,
		About:     "non-stream chat completion through a router with 4 limit tiers (in-memory store), open loop at 1,000 req/s",
		Upstreams: []Upstream{{Args: []string{"-body-size", "1024"}}},
		Config: func(ups []string) string {
			return openAIProvider("up", ups[0]) + `[routers.bench]
targets = [{ model = "up/bench-model" }]

[[limits]]
scope = "global"
unit = "requests"
rate = "1000000/s"

[[limits]]
scope = "router"
unit = "tokens"
rate = "1000000000/min"

[[limits]]
scope = "team"
unit = "requests"
rate = "1000000/s"

[[limits]]
scope = "user"
unit = "cost"
rate = "1000000/min" # USD
`
		},
		Direct: 0,
		Request: func(through bool) Req {
			r := chatReq(through, "bench", false)
			r.Header = map[string]string{"X-Sluice-Team": "bench-team", "X-Sluice-User": "bench-user"}
			return r
		},
		Load: func(o *Options) Load { return Load{Rate: 1000, Duration: o.Duration} },
		Budgets: func(o *Options, m *Measured) []Budget {
			return []Budget{
				atMost(fmt.Sprintf("added p99 with 4 limit tiers at %d req/s", 1000), m.AddedP99, 1, "ms"),
				atLeast("success ratio with limits far above the load", m.Through.SuccessRatio, 1, ""),
			}
		},
	})
}
