package main

// The routing chaos scenario: a latency router over three upstreams, one always failing with
// 500, one flapping between healthy and 500 every -flap-period, one healthy. The direct side
// goes to the healthy one, so the added latency includes the failover sluice does.
func init() {
	register(&Scenario{
		Name: "chaos", Area: AreaRouting, Default: true,
		About: "latency router over three upstreams (always 500, flapping, healthy), open loop at -chaos-rate for -chaos-duration",
		Upstreams: []Upstream{
			{Args: []string{"-body-size", "1024"}},
			{Mode: "always500"},
			{Mode: "flap"},
		},
		Config: func(ups []string) string {
			return openAIProvider("good", ups[0]) + openAIProvider("bad", ups[1]) + openAIProvider("flaky", ups[2]) +
				"[routers.chaos]\nstrategy = \"latency\"\ntargets = [\n  { model = \"good/bench-model\" },\n  { model = \"bad/bench-model\" },\n  { model = \"flaky/bench-model\" },\n]\n"
		},
		Direct:  0,
		Request: func(through bool) Req { return chatReq(through, "chaos", false) },
		Load:    func(o *Options) Load { return Load{Rate: o.ChaosRate, Duration: o.ChaosDuration} },
	})
}
