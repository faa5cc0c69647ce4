package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/internal/loadgen"
)

// The floor suite measures gateways against the cheapest proxy that does a gateway's minimum,
// side by side in one run: cmd/bareproxy (httputil's ReverseProxy plus one JSON decode of the
// body), sluice on its embedded default config exactly as `make run` serves it, and sluice with
// every feature on. Each gateway runs pinned to core 0; the load generator (this process), the
// fake upstreams and the OTLP sink run on core 1, so a gateway's CPU and throughput are its own.
//
// A round measures every target in turn, the order rotated by one each round: an open loop at
// -rate (latency and the gateway's CPU per request), a closed loop with -conns connections
// (req/s at saturation) and sequential streams (time to first token). "direct" is the same
// load sent to the upstream itself; added latency is the target minus direct in the same round.
// Figures are medians over the rounds; every ratio is to bare in the same round.

// floorTarget is one gateway of the floor suite.
type floorTarget struct {
	Name  string
	About string
	// Bare runs cmd/bareproxy; otherwise sluice, with Config written to a file and passed
	// with -c, or with no -c at all (the embedded default) when Config is nil.
	Bare   bool
	Config func(e floorEnv) string
	// Env is added to the gateway's environment.
	Env    func(e floorEnv) []string
	Model  string            // model sent through the gateway
	Header map[string]string // headers sent through the gateway
	// NoStream skips the stream run (targets that exist only for a paired figure).
	NoStream bool
	// Optional targets run only when named in -floor.
	Optional bool
}

// floorEnv is what a target's config and environment are built from.
type floorEnv struct {
	Listen string   // the gateway's listen address
	Admin  string   // a free address for the admin listener
	Ups    []string // host:port of each fake upstream
	OTLP   string   // host:port of the OTLP sink
}

// The key the full target's clients send; only its hash is in the config.
const floorKey = "sk-bench-full-0123456789abcdef"

var floorTargets = []*floorTarget{
	{Name: "bare", Bare: true, Model: "bench-model",
		About: "cmd/bareproxy: httputil.ReverseProxy plus one JSON decode of the body"},
	{Name: "default", Model: "gpt-4o-mini", Env: defaultEnv,
		About: "sluice serve with no -c: the embedded default config as `make run` serves it (access log on)"},
	{Name: "default-nolog", Model: "gpt-4o-mini", Env: defaultEnv, Config: func(floorEnv) string { return defaultAccessOff() },
		About: "the embedded default with [log] access = \"off\", paired with default for the access log's cost"},
	{Name: "full", Model: "bench", Header: map[string]string{"Authorization": "Bearer " + floorKey},
		Config: func(e floorEnv) string { return fullConfig(e, "0.1") },
		About:  "keys, limit tiers on requests/tokens/cost, cache on (unique bodies: all misses), a two-target latency router, metrics, access log, tracing at 0.1"},
	{Name: "full-trace0", Model: "bench", Header: map[string]string{"Authorization": "Bearer " + floorKey}, NoStream: true, Optional: true,
		Config: func(e floorEnv) string { return fullConfig(e, "0.0") },
		About:  "full with tracing sampled at 0 (OTLP exporter configured, nothing sampled)"},
	{Name: "full-trace1", Model: "bench", Header: map[string]string{"Authorization": "Bearer " + floorKey}, NoStream: true, Optional: true,
		Config: func(e floorEnv) string { return fullConfig(e, "1.0") },
		About:  "full with every request traced and exported over OTLP/HTTP"},
	{Name: "full-trace1-sdk", Model: "bench", Header: map[string]string{"Authorization": "Bearer " + floorKey}, NoStream: true, Optional: true,
		Config: func(e floorEnv) string { return fullConfig(e, "1.0") }, Env: func(floorEnv) []string { return []string{"SLUICE_TRACES_SDK=true"} },
		About: "full-trace1 through the OTel SDK and its OTLP/HTTP exporter instead of the lean tracer"},
}

// defaultFloor names the targets `sluicebench` measures when -floor is not given.
func defaultFloor() string {
	var names []string
	for _, t := range floorTargets {
		if !t.Optional {
			names = append(names, t.Name)
		}
	}
	return strings.Join(names, ",")
}

func floorTargetNames() string {
	var names []string
	for _, t := range floorTargets {
		names = append(names, t.Name)
	}
	return strings.Join(names, ",")
}

// parseFloor turns the -floor flag into targets in the suite's order.
func parseFloor(v string) ([]*floorTarget, error) {
	want := map[string]bool{}
	for _, n := range strings.Split(v, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if n == "all" {
			for _, t := range floorTargets {
				want[t.Name] = true
			}
			continue
		}
		found := false
		for _, t := range floorTargets {
			found = found || t.Name == n
		}
		if !found {
			return nil, fmt.Errorf("unknown -floor target %q (known: %s)", n, floorTargetNames())
		}
		want[n] = true
	}
	var out []*floorTarget
	for _, t := range floorTargets {
		if want[t.Name] {
			out = append(out, t)
		}
	}
	return out, nil
}

// defaultEnv points the embedded default's openai provider at the first fake upstream and its
// listeners at free ports; everything else stays as `make run` has it.
func defaultEnv(e floorEnv) []string {
	return []string{"SLUICE_LISTEN=" + e.Listen, "SLUICE_ADMIN_LISTEN=" + e.Admin,
		"OPENAI_BASE_URL=http://" + e.Ups[0] + "/v1", "OPENAI_API_KEY=bench"}
}

// defaultAccessOff is the embedded default config with the access log turned off.
func defaultAccessOff() string {
	return strings.Replace(string(config.Default()), "\n[log]\n", "\n[log]\naccess = \"off\"\n", 1)
}

// fullConfig is every feature at once. Limits sit far above the load, so every request is
// checked and settled and none is refused.
func fullConfig(e floorEnv, ratio string) string {
	sum := sha256.Sum256([]byte(floorKey))
	return fmt.Sprintf(`[server]
listen = %q
admin_listen = %q

[log]
level = "info"
access = "stderr"

[providers.up-a]
kind = "openai"
base_url = "http://%s/v1"
api_key = "bench"

[providers.up-b]
kind = "openai"
base_url = "http://%s/v1"
api_key = "bench"

[routers.bench]
strategy = "latency"
targets = [{ model = "up-a/gpt-4o-mini" }, { model = "up-b/gpt-4o-mini" }]

[auth]
required = true

[[auth.keys]]
id = "bench-app"
key_hash = "sha256:%s"
team = "bench-team"
user = "bench-user"

[[limits]]
scope = "global"
unit = "requests"
rate = "1000000/s"

[[limits]]
scope = "team"
unit = "tokens"
rate = "1000000000/min"

[[limits]]
scope = "user"
unit = "cost"
rate = "1000000/min" # USD

[cache]
enabled = true
ttl = "10m"

[telemetry]
traces = "otlp-http"
endpoint = "http://%s"
sample_ratio = %s
`, e.Listen, e.Admin, e.Ups[0], e.Ups[len(e.Ups)-1], hex.EncodeToString(sum[:]), e.OTLP, ratio)
}

// floorMarker is overwritten in every request body with a request number, so bodies differ and
// the full target's cache sees only misses. Every target, direct included, gets the same bodies.
const floorMarker = "XXXXXXXXXXXXXXXX"

func floorBody(model string, stream bool) []byte {
	s := ""
	if stream {
		s = `,"stream":true`
	}
	return []byte(`{"model":"` + model + `","messages":[{"role":"system","content":"You are terse."},` +
		`{"role":"user","content":"Summarise the benchmark in one paragraph, please. Request ` + floorMarker + `."}],"max_tokens":256` + s + `}`)
}

// FloorRound is one target's figures in one round.
type FloorRound struct {
	RPS     float64 `json:"rps"`         // closed loop, -conns connections
	P50     float64 `json:"p50_ms"`      // open loop at -rate
	P99     float64 `json:"p99_ms"`      // open loop at -rate
	CPUus   float64 `json:"cpu_us"`      // gateway CPU per request in the open loop
	TTFTP50 float64 `json:"ttft_p50_ms"` // sequential streams
	TTFTP99 float64 `json:"ttft_p99_ms"`
	Errors  int     `json:"errors"`
	Sent    int     `json:"sent"`
	// Behind marks a round whose open loop fell behind the arrival rate (p50 above
	// behindP50 ms): the gateway did not get the CPU it needed (on a shared machine, another
	// process on its core), queued requests, and its CPU per request then drops with the
	// batching a backlog brings. Such a round's latency and CPU figures say little.
	Behind bool `json:"behind,omitempty"`
}

// behindP50 is the open-loop p50, in ms, above which a round counts as fallen behind.
const behindP50 = 20

// FloorTarget is one target's result: medians over the rounds and the ratios to bare.
type FloorTarget struct {
	Name      string       `json:"name"`
	About     string       `json:"about"`
	Config    string       `json:"config,omitempty"`
	IdleRSSMB float64      `json:"idle_rss_mb,omitempty"`
	ReadyMS   float64      `json:"ready_ms,omitempty"`
	Rounds    []FloorRound `json:"rounds"`

	RPS, P50, P99, CPUus, TTFTP50 float64 // medians
	// Added* are medians of the per-round differences to direct, in ms.
	AddedP50, AddedP99, AddedTTFT float64
	// Ratios to bare: req/s and CPU are medians of per-round ratios (with their range); added
	// latency is the ratio of the medians, since one round's added figure can be near zero.
	RPSRatio, CPURatio           Ratio
	AddedP50Ratio, AddedP99Ratio float64
	// TTFTOverBare is AddedTTFT minus bare's, in ms.
	TTFTOverBare float64
}

// Ratio is a median of per-round ratios and their range.
type Ratio struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// Floor is the suite's result.
type Floor struct {
	Rate     float64        `json:"rate"`
	Conns    int            `json:"conns"`
	Duration float64        `json:"duration_s"`
	Streams  float64        `json:"stream_duration_s"`
	Rounds   int            `json:"rounds"`
	Pinned   string         `json:"pinned"`
	Order    [][]string     `json:"order"`
	Targets  []*FloorTarget `json:"targets"` // direct first
	Budgets  []Budget       `json:"budgets"`
	// AccessLogLoss is 100 × (1 − req/s default ÷ req/s default-nolog), median of rounds.
	AccessLogLoss *Ratio `json:"access_log_loss_pct,omitempty"`
	// TraceCPUus and TraceLoss compare full-trace1 with full-trace0: CPU per request added
	// (µs) and req/s lost (%), medians of rounds.
	TraceCPUus *Ratio `json:"trace_cpu_us,omitempty"`
	TraceLoss  *Ratio `json:"trace_loss_pct,omitempty"`
	// The same through the OTel SDK (full-trace1-sdk), for comparison.
	TraceSDKCPUus *Ratio `json:"trace_sdk_cpu_us,omitempty"`
	TraceSDKLoss  *Ratio `json:"trace_sdk_loss_pct,omitempty"`
}

// ratioOf is the median and range of a[i]/b[i] over rounds where b[i] is not zero.
func ratioOf(a, b []float64) Ratio {
	return perRound(a, b, func(x, y float64) (float64, bool) { return x / y, y != 0 })
}

// lossOf is 100 × (1 − a[i]/b[i]): what a loses against b, in percent.
func lossOf(a, b []float64) Ratio {
	return perRound(a, b, func(x, y float64) (float64, bool) { return 100 * (1 - x/y), y != 0 })
}

// diffOf is a[i] − b[i].
func diffOf(a, b []float64) Ratio {
	return perRound(a, b, func(x, y float64) (float64, bool) { return x - y, true })
}

func perRound(a, b []float64, f func(x, y float64) (float64, bool)) Ratio {
	var v []float64
	for i := range min(len(a), len(b)) {
		if r, ok := f(a[i], b[i]); ok {
			v = append(v, r)
		}
	}
	if len(v) == 0 {
		return Ratio{}
	}
	return Ratio{Median: median(v), Min: minOf(v), Max: maxOf(v)}
}

func minOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = min(m, x)
	}
	return m
}

func maxOf(v []float64) float64 {
	m := v[0]
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// ratioOrZero is a/b, or 0 when b is not positive (the ratio means nothing then).
func ratioOrZero(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// col extracts one figure of every round.
func col(rs []FloorRound, f func(FloorRound) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

// rotate is the order of round r: targets shifted left by r.
func rotate[T any](ts []T, r int) []T {
	n := len(ts)
	out := make([]T, 0, n)
	for i := range n {
		out = append(out, ts[(i+r)%n])
	}
	return out
}

// summarizeFloor fills in medians, differences to direct (Targets[0]) and ratios to bare, and
// the suite's budgets.
func summarizeFloor(f *Floor) {
	if len(f.Targets) == 0 {
		return
	}
	direct := f.Targets[0]
	byName := map[string]*FloorTarget{}
	for _, t := range f.Targets {
		byName[t.Name] = t
		rs := t.Rounds
		t.RPS, t.P50, t.P99 = median(col(rs, func(r FloorRound) float64 { return r.RPS })), median(col(rs, func(r FloorRound) float64 { return r.P50 })), median(col(rs, func(r FloorRound) float64 { return r.P99 }))
		t.CPUus, t.TTFTP50 = median(col(rs, func(r FloorRound) float64 { return r.CPUus })), median(col(rs, func(r FloorRound) float64 { return r.TTFTP50 }))
		if t != direct {
			t.AddedP50 = diffOf(col(rs, func(r FloorRound) float64 { return r.P50 }), col(direct.Rounds, func(r FloorRound) float64 { return r.P50 })).Median
			t.AddedP99 = diffOf(col(rs, func(r FloorRound) float64 { return r.P99 }), col(direct.Rounds, func(r FloorRound) float64 { return r.P99 })).Median
			if t.TTFTP50 > 0 && direct.TTFTP50 > 0 {
				t.AddedTTFT = diffOf(col(rs, func(r FloorRound) float64 { return r.TTFTP50 }), col(direct.Rounds, func(r FloorRound) float64 { return r.TTFTP50 })).Median
			}
		}
	}
	bare := byName["bare"]
	rps := func(t *FloorTarget) []float64 { return col(t.Rounds, func(r FloorRound) float64 { return r.RPS }) }
	cpu := func(t *FloorTarget) []float64 { return col(t.Rounds, func(r FloorRound) float64 { return r.CPUus }) }
	if bare != nil {
		for _, t := range f.Targets[1:] {
			t.RPSRatio, t.CPURatio = ratioOf(rps(t), rps(bare)), ratioOf(cpu(t), cpu(bare))
			t.AddedP50Ratio, t.AddedP99Ratio = ratioOrZero(t.AddedP50, bare.AddedP50), ratioOrZero(t.AddedP99, bare.AddedP99)
			if t.TTFTP50 > 0 && bare.TTFTP50 > 0 {
				t.TTFTOverBare = t.AddedTTFT - bare.AddedTTFT
			}
		}
		for _, n := range []string{"default", "full"} {
			t := byName[n]
			if t == nil {
				continue
			}
			f.Budgets = append(f.Budgets,
				atLeast(n+": req/s ÷ bare's", t.RPSRatio.Median, 1, "x"),
				atMost(n+": CPU per request ÷ bare's", t.CPURatio.Median, 1, "x"),
				addedBudget(fmt.Sprintf("%s: added p50 at %g req/s ÷ bare's", n, f.Rate), t.AddedP50, bare.AddedP50),
				addedBudget(fmt.Sprintf("%s: added p99 at %g req/s ÷ bare's", n, f.Rate), t.AddedP99, bare.AddedP99))
			if t.TTFTP50 > 0 && bare.TTFTP50 > 0 {
				f.Budgets = append(f.Budgets, atMost(n+": TTFT added minus bare's", t.TTFTOverBare, 0.05, "ms"))
			}
		}
	}
	if on, off := byName["default"], byName["default-nolog"]; on != nil && off != nil {
		l := lossOf(rps(on), rps(off))
		f.AccessLogLoss = &l
		f.Budgets = append(f.Budgets, atMost("access log on: req/s lost against off", l.Median, 3, "%"))
	}
	if on, off := byName["full-trace1"], byName["full-trace0"]; on != nil && off != nil {
		c, l := diffOf(cpu(on), cpu(off)), lossOf(rps(on), rps(off))
		f.TraceCPUus, f.TraceLoss = &c, &l
		f.Budgets = append(f.Budgets,
			atMost("tracing at 1.0: CPU per request added", c.Median, 20, "µs"),
			atMost("tracing at 1.0: req/s lost against 0", l.Median, 10, "%"))
	}
	if sdk, off := byName["full-trace1-sdk"], byName["full-trace0"]; sdk != nil && off != nil {
		c, l := diffOf(cpu(sdk), cpu(off)), lossOf(rps(sdk), rps(off))
		f.TraceSDKCPUus, f.TraceSDKLoss = &c, &l
	}
}

// addedBudget is "added latency <= 1.0x bare's". When bare adds nothing measurable (its
// median difference to direct is at or below zero, which noise can make it), no ratio means
// anything: the budget is then met when the target adds no more than bare, and the ratio
// shown is 0.
func addedBudget(name string, target, bare float64) Budget {
	if bare <= 0 {
		b := atMost(name+" (bare adds ≤ 0: target − bare, ms)", target-bare, 0, "ms")
		return b
	}
	return atMost(name, target/bare, 1, "x")
}

// pinning says how processes are placed: "gateway on CPU 0, the rest on CPU 1", or why not.
type pinning struct {
	on      bool
	taskset string
	note    string
}

func choosePinning() pinning {
	if runtime.NumCPU() < 2 {
		return pinning{note: "not pinned: one CPU"}
	}
	ts, err := exec.LookPath("taskset")
	if err != nil {
		return pinning{note: "not pinned: taskset not found (util-linux)"}
	}
	return pinning{on: true, taskset: ts, note: "gateway on CPU 0; load generator, fake upstreams and OTLP sink on CPU 1"}
}

// cmd is bin and args, prefixed with taskset when pinning.
func (p pinning) cmd(cpu int, bin string, args ...string) (string, []string) {
	if !p.on {
		return bin, args
	}
	return p.taskset, append([]string{"-c", strconv.Itoa(cpu), bin}, args...)
}

// self moves every thread of this process to cpu (or back to all CPUs with cpu < 0).
func (p pinning) self(cpu int) error {
	if !p.on {
		return nil
	}
	list := strconv.Itoa(cpu)
	if cpu < 0 {
		list = "0-" + strconv.Itoa(runtime.NumCPU()-1)
	}
	if out, err := exec.Command(p.taskset, "-a", "-p", "-c", list, strconv.Itoa(os.Getpid())).CombinedOutput(); err != nil {
		return fmt.Errorf("taskset: %w: %s", err, out)
	}
	return nil
}

// floorSide is a running target.
type floorSide struct {
	t      *floorTarget
	res    *FloorTarget
	gw     *proc // nil for direct
	root   string
	client *http.Client
}

// runFloor measures the floor suite: the fake upstream directly and each target in front of
// it, in rounds whose order rotates.
func runFloor(ctx context.Context, o *Options, targets []*floorTarget, logf func(string, ...any)) (*Floor, error) {
	pin := choosePinning()
	f := &Floor{Rate: o.Rate, Conns: o.Conns, Duration: o.FloorDuration.Seconds(), Streams: o.FloorStreams.Seconds(), Rounds: o.Runs, Pinned: pin.note}
	if err := pin.self(1); err != nil {
		return nil, err
	}
	defer func() { _ = pin.self(-1) }()
	dir, err := os.MkdirTemp("", "sluicebench-floor-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	upArgs := []string{"-body-size", "1024", "-chunks", "20", "-chunk-delay", "1ms"}
	var ups []string
	for i := range 2 {
		bin, args := pin.cmd(1, o.Upstream, upArgs...)
		p, addr, err := startUpstream(ctx, fmt.Sprintf("upstream %d", i), bin, args)
		if err != nil {
			return nil, err
		}
		defer p.stop()
		ups = append(ups, addr)
	}
	sides := []*floorSide{{t: &floorTarget{Name: "direct", Model: "bench-model"}, res: &FloorTarget{Name: "direct", About: "the fake upstream itself"}, root: "http://" + ups[0]}}
	for _, t := range targets {
		s, err := startFloorTarget(ctx, o, pin, dir, t, ups)
		if err != nil {
			return nil, fmt.Errorf("floor %s: %w", t.Name, err)
		}
		defer s.gw.stop()
		sides = append(sides, s)
	}
	for _, s := range sides {
		f.Targets = append(f.Targets, s.res)
		s.client = loadgen.NewClient(max(o.Conns, 256))
		defer s.client.CloseIdleConnections()
	}
	if o.Warmup > 0 {
		for _, s := range sides {
			if _, err := s.run(ctx, loadgen.Config{Request: s.request(false), Conns: o.Conns, Duration: o.Warmup / 2}); err != nil {
				return nil, err
			}
		}
	}
	for r := range o.Runs {
		order := rotate(sides, r)
		var names []string
		for _, s := range order {
			names = append(names, s.t.Name)
		}
		f.Order = append(f.Order, names)
		for _, s := range order {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			fr, err := s.round(ctx, o)
			if err != nil {
				return nil, err
			}
			s.res.Rounds = append(s.res.Rounds, fr)
			logf("  round %d %-13s %6.0f req/s  p50 %s p99 %s  cpu %5.1f µs/req  ttft %s  errors %d", r+1, s.t.Name, fr.RPS,
				fmtMS(fr.P50), fmtMS(fr.P99), fr.CPUus, fmtMS(fr.TTFTP50), fr.Errors)
		}
	}
	summarizeFloor(f)
	return f, nil
}

// request is the floor's chat completion for s, marked so the upstream can tell it.
func (s *floorSide) request(stream bool) loadgen.Request {
	r := toLoadgen(s.root, Req{Path: "/v1/chat/completions", Body: floorBody(s.t.Model, stream), Stream: stream, Header: s.t.Header})
	r.Unique = []byte(floorMarker)
	return r
}

// run is one load run on s; it fails if the gateway exited during it.
func (s *floorSide) run(ctx context.Context, cfg loadgen.Config) (*loadgen.Result, error) {
	cfg.Client, cfg.Timeout = s.client, 10*time.Second
	res, err := loadgen.Run(ctx, cfg)
	if err == nil && s.gw != nil && s.gw.exited() {
		err = fmt.Errorf("%s exited during the run: %v: %s", s.t.Name, s.gw.err, s.gw.out)
	}
	return res, err
}

// round measures s once: an open-loop run at -rate (latency and the gateway's CPU per
// request), a closed-loop run (throughput), then sequential streams (time to first token)
// unless the target does not stream.
func (s *floorSide) round(ctx context.Context, o *Options) (FloorRound, error) {
	var fr FloorRound
	time.Sleep(200 * time.Millisecond)
	var cpu0 time.Duration
	if s.gw != nil {
		cpu0, _ = cpuTime(s.gw.pid())
	}
	open, err := s.run(ctx, loadgen.Config{Request: s.request(false), Rate: o.Rate, Duration: o.FloorDuration})
	if err != nil {
		return fr, err
	}
	if s.gw != nil && open.OK > 0 {
		if cpu1, err := cpuTime(s.gw.pid()); err == nil {
			fr.CPUus = float64((cpu1 - cpu0).Microseconds()) / float64(open.Sent)
		}
	}
	fr.P50, fr.P99 = ms(open.Latency.Quantile(0.5)), ms(open.Latency.Quantile(0.99))
	fr.Errors, fr.Sent = open.ErrorCount(), open.Sent
	fr.Behind = fr.P50 > behindP50
	time.Sleep(200 * time.Millisecond)
	closed, err := s.run(ctx, loadgen.Config{Request: s.request(false), Conns: o.Conns, Duration: o.FloorDuration})
	if err != nil {
		return fr, err
	}
	fr.RPS = closed.Throughput()
	fr.Errors, fr.Sent = fr.Errors+closed.ErrorCount(), fr.Sent+closed.Sent
	if !s.t.NoStream && o.FloorStreams > 0 {
		st, err := s.run(ctx, loadgen.Config{Request: s.request(true), Conns: 1, Duration: o.FloorStreams})
		if err != nil {
			return fr, err
		}
		fr.TTFTP50, fr.TTFTP99 = ms(st.TTFT.Quantile(0.5)), ms(st.TTFT.Quantile(0.99))
		fr.Errors, fr.Sent = fr.Errors+st.ErrorCount(), fr.Sent+st.Sent
	}
	return fr, nil
}

// startFloorTarget starts one gateway pinned to CPU 0 and waits until it is ready.
func startFloorTarget(ctx context.Context, o *Options, pin pinning, dir string, t *floorTarget, ups []string) (*floorSide, error) {
	listen, err := freePort()
	if err != nil {
		return nil, err
	}
	admin, err := freePort()
	if err != nil {
		return nil, err
	}
	e := floorEnv{Listen: listen, Admin: admin, Ups: ups, OTLP: otlpSink()}
	res := &FloorTarget{Name: t.Name, About: t.About}
	var p *proc
	if t.Bare {
		bin, args := pin.cmd(0, o.BareProxy, "-upstream", "http://"+ups[0])
		p, listen, err = startUpstream(ctx, "bareproxy", bin, args)
		if err != nil {
			return nil, err
		}
		res.ReadyMS = ms(time.Since(p.start))
	} else {
		args := []string{"serve"}
		if t.Config != nil {
			res.Config = t.Config(e)
			path := filepath.Join(dir, t.Name+".toml")
			if err := os.WriteFile(path, []byte(res.Config), 0o600); err != nil {
				return nil, fmt.Errorf("config: %w", err)
			}
			args = append(args, "-c", path)
		}
		var env []string
		if t.Env != nil {
			env = t.Env(e)
		}
		bin, args := pin.cmd(0, o.Sluice, args...)
		p, err = startProcEnv(ctx, "sluice "+t.Name, bin, args, env, nil)
		if err != nil {
			return nil, err
		}
		ready, err := waitReady(p, listen, 15*time.Second)
		if err != nil {
			p.stop()
			return nil, err
		}
		res.ReadyMS = ms(ready)
	}
	time.Sleep(300 * time.Millisecond)
	if v, err := rssBytes(p.pid()); err == nil {
		res.IdleRSSMB = float64(v) / (1 << 20)
	}
	return &floorSide{t: t, res: res, gw: p, root: "http://" + listen}, nil
}
