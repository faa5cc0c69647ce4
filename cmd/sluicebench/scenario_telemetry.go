package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// The telemetry scenarios measure what tracing costs: the same request through sluice with
// tracing off and with every request sampled (ratio 1.0) and exported over OTLP/HTTP to a
// local sink that accepts and discards. Prometheus metrics and the live dashboard aggregator
// are always on in sluice, so both sides include them; the difference is the tracing
// pipeline (spans, attributes, W3C propagation upstream, batching and export).
//
// Each on/off pair is measured as two scenarios; the "on" one compares itself with the "off"
// one run just before it, so run them together:
//
//	sluicebench -scenarios telemetry-off,telemetry,telemetry-off-throughput,telemetry-throughput
func init() {
	up := []Upstream{{Args: []string{"-body-size", "1024"}}}
	req := func(through bool) Req { return chatReq(through, "up/bench-model", false) }
	off := func(ups []string) string {
		return openAIProvider("up", ups[0]) + "[telemetry]\ntraces = \"none\"\n"
	}
	on := func(ups []string) string {
		return openAIProvider("up", ups[0]) + fmt.Sprintf("[telemetry]\ntraces = \"otlp-http\"\nendpoint = \"http://%s\"\nsample_ratio = 1.0\n", otlpSink())
	}
	rate := func(o *Options) Load { return Load{Rate: o.Rate, Duration: o.Duration} }
	conns := func(o *Options) Load { return Load{Conns: o.Conns, Duration: o.Duration} }

	var offRate, offConns atomic.Pointer[Measured]
	register(&Scenario{
		Name: "telemetry-off", Area: AreaTelemetry, About: "core request, tracing off (metrics on), open loop at -rate",
		Upstreams: up, Config: off, Request: req, Direct: 0, Load: rate,
		Budgets: func(_ *Options, m *Measured) []Budget { offRate.Store(m); return nil },
	})
	register(&Scenario{
		Name: "telemetry", Area: AreaTelemetry, About: "core request, every request traced and exported over OTLP/HTTP, open loop at -rate",
		Upstreams: up, Config: on, Request: req, Direct: 0, Load: rate,
		Budgets: func(o *Options, m *Measured) []Budget {
			b := []Budget{sinkBudget()}
			ref := offRate.Load()
			if ref == nil {
				return append(b, Budget{Name: "added p50 vs tracing off (run telemetry-off first)", Limit: 0.02, Unit: "ms", Op: "<=", Skipped: true})
			}
			// Both sides' added p50 are paired against the same upstream, so their difference
			// is what tracing adds.
			return append(b, atMost(fmt.Sprintf("added p50 vs tracing off at %g req/s", o.Rate), m.AddedP50-ref.AddedP50, 0.02, "ms"))
		},
	})
	register(&Scenario{
		Name: "telemetry-off-throughput", Area: AreaTelemetry, About: "core request, tracing off (metrics on), closed loop with -conns",
		Upstreams: up, Config: off, Request: req, Direct: 0, Load: conns,
		Budgets: func(_ *Options, m *Measured) []Budget { offConns.Store(m); return nil },
	})
	register(&Scenario{
		Name: "telemetry-throughput", Area: AreaTelemetry, About: "core request, every request traced and exported over OTLP/HTTP, closed loop with -conns",
		Upstreams: up, Config: on, Request: req, Direct: 0, Load: conns,
		Budgets: func(o *Options, m *Measured) []Budget {
			b := []Budget{sinkBudget()}
			ref := offConns.Load()
			if ref == nil || ref.Through.RPS == 0 {
				return append(b, Budget{Name: "req/s loss vs tracing off (run telemetry-off-throughput first)", Limit: 10, Unit: "%", Op: "<=", Skipped: true})
			}
			loss := 100 * (1 - m.Through.RPS/ref.Through.RPS)
			return append(b, atMost(fmt.Sprintf("req/s loss vs tracing off with %d conns", o.Conns), loss, 10, "%"))
		},
	})
}

// sink counts what the OTLP sink received, so a run shows that spans were really exported.
var sink struct {
	once     sync.Once
	addr     string
	requests atomic.Int64
	bytes    atomic.Int64
}

// otlpSink starts, once per process, an OTLP/HTTP receiver on loopback that reads and discards
// every export and answers with an empty (valid) protobuf response.
func otlpSink() string {
	sink.once.Do(func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(fmt.Sprintf("sluicebench: otlp sink: %v", err))
		}
		sink.addr = ln.Addr().String()
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, _ := io.Copy(io.Discard, r.Body)
			sink.requests.Add(1)
			sink.bytes.Add(n)
			w.Header().Set("Content-Type", "application/x-protobuf")
			w.WriteHeader(http.StatusOK)
		})}
		go func() { _ = srv.Serve(ln) }()
	})
	return sink.addr
}

func sinkBudget() Budget {
	n := float64(sink.requests.Load())
	return atLeast(fmt.Sprintf("OTLP exports received by the sink (%.1f MB so far)", float64(sink.bytes.Load())/1e6), n, 1, "requests")
}
