package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-gw/sluice/internal/loadgen"
)

// baseConfig is the part of every benchmark config the harness owns: a quiet sluice on addr.
func baseConfig(addr string) string {
	return fmt.Sprintf("[server]\nlisten = %q\nadmin_listen = \"off\"\n\n[log]\nlevel = \"warn\"\naccess = \"off\"\n\n", addr)
}

// startSluice writes cfg to dir and starts sluice on addr, returning once /health answers.
func startSluice(ctx context.Context, o *Options, dir, addr, cfg string) (*proc, time.Duration, error) {
	path := filepath.Join(dir, "sluice-"+strconv.FormatInt(time.Now().UnixNano(), 36)+".toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, 0, fmt.Errorf("config: %w", err)
	}
	p, err := startProc(ctx, "sluice", o.Sluice, []string{"serve", "-c", path}, nil)
	if err != nil {
		return nil, 0, err
	}
	ready, err := waitReady(p, addr, 15*time.Second)
	if err != nil {
		p.stop()
		return nil, 0, err
	}
	return p, ready, nil
}

// Process holds the figures about the sluice process itself.
type Process struct {
	ReadyMS        float64   `json:"ready_ms"`
	ReadyAllMS     []float64 `json:"ready_all_ms"`
	IdleRSSMB      float64   `json:"idle_rss_mb"`
	BinaryMB       float64   `json:"binary_mb"`
	StrippedMB     float64   `json:"stripped_mb"`
	StrippedBuild  string    `json:"stripped_build"`
	LoadRSSMB      float64   `json:"load_rss_mb"` // peak over the scenarios, filled in later
	StrippedFailed string    `json:"stripped_failed,omitempty"`
}

// measureProcess starts sluice o.Starts times against one fake upstream and builds a stripped
// copy of it.
func measureProcess(ctx context.Context, o *Options) (*Process, error) {
	dir, err := os.MkdirTemp("", "sluicebench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	up, upAddr, err := startUpstream(ctx, "fakeupstream", o.Upstream, nil)
	if err != nil {
		return nil, err
	}
	defer up.stop()
	p := &Process{}
	var rss []float64
	for range max(o.Starts, 1) {
		addr, err := freePort()
		if err != nil {
			return nil, err
		}
		sl, ready, err := startSluice(ctx, o, dir, addr, baseConfig(addr)+openAIProvider("up", upAddr))
		if err != nil {
			return nil, err
		}
		// Let start-up work (config, plugin compilation) settle before reading RSS.
		time.Sleep(300 * time.Millisecond)
		v, err := rssBytes(sl.pid())
		sl.stop()
		if err != nil {
			return nil, fmt.Errorf("rss: %w", err)
		}
		p.ReadyAllMS = append(p.ReadyAllMS, ms(ready))
		rss = append(rss, float64(v)/(1<<20))
	}
	p.ReadyMS, p.IdleRSSMB = median(p.ReadyAllMS), median(rss)
	if fi, err := os.Stat(o.Sluice); err == nil {
		p.BinaryMB = float64(fi.Size()) / (1 << 20)
	}
	out := filepath.Join(dir, "sluice-stripped")
	// The same tags as `make build`: without grpcnotrace the linker's dead-code elimination is off
	// and the figure would not be the binary that ships.
	p.StrippedBuild = "go build -trimpath -tags grpcnotrace -ldflags='-s -w' ./cmd/sluice"
	// A tree others are editing can fail to build for a moment; one retry covers that.
	for try := range 2 {
		if try > 0 {
			time.Sleep(10 * time.Second)
		}
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-tags", "grpcnotrace", "-ldflags=-s -w", "-o", out, "./cmd/sluice")
		cmd.Dir = o.Src
		b, err := cmd.CombinedOutput()
		if err != nil {
			p.StrippedFailed = strings.TrimSpace(fmt.Sprintf("%v: %s", err, b))
			continue
		}
		fi, err := os.Stat(out)
		if err != nil {
			return nil, fmt.Errorf("stripped build: %w", err)
		}
		p.StrippedFailed, p.StrippedMB = "", float64(fi.Size())/(1<<20)
		break
	}
	return p, nil
}

// Side is one side (direct or through) of a scenario: medians over the runs, totals of counts.
type Side struct {
	RPS          float64        `json:"rps"`
	P50          float64        `json:"p50_ms"`
	P90          float64        `json:"p90_ms"`
	P99          float64        `json:"p99_ms"`
	P999         float64        `json:"p999_ms"`
	Max          float64        `json:"max_ms"`
	TTFTP50      float64        `json:"ttft_p50_ms,omitempty"`
	TTFTP99      float64        `json:"ttft_p99_ms,omitempty"`
	SendLagP99   float64        `json:"send_lag_p99_ms,omitempty"`
	Sent         int            `json:"sent"`
	OK           int            `json:"ok"`
	Errors       map[string]int `json:"errors,omitempty"`
	SuccessRatio float64        `json:"success_ratio"`
	Runs         []RunFigures   `json:"runs"`
}

// RunFigures are one run's figures.
type RunFigures struct {
	RPS     float64 `json:"rps"`
	P50     float64 `json:"p50_ms"`
	P90     float64 `json:"p90_ms"`
	P99     float64 `json:"p99_ms"`
	P999    float64 `json:"p999_ms"`
	Max     float64 `json:"max_ms"`
	TTFTP50 float64 `json:"ttft_p50_ms,omitempty"`
	TTFTP99 float64 `json:"ttft_p99_ms,omitempty"`
	LagP99  float64 `json:"send_lag_p99_ms,omitempty"`
	Sent    int     `json:"sent"`
	OK      int     `json:"ok"`
	Errors  int     `json:"errors"`
}

// Measured is one scenario's result.
type Measured struct {
	Name    string  `json:"name"`
	Area    string  `json:"area"`
	About   string  `json:"about"`
	Load    string  `json:"load"`
	Seconds float64 `json:"seconds_per_run"`
	Runs    int     `json:"runs"`
	Direct  *Side   `json:"direct,omitempty"`
	Through *Side   `json:"through,omitempty"`
	// Added figures are medians of the per-run differences through minus direct (paired runs
	// cancel most of the machine's drift), in ms.
	AddedP50     float64  `json:"added_p50_ms"`
	AddedP99     float64  `json:"added_p99_ms"`
	AddedTTFTP50 float64  `json:"added_ttft_p50_ms,omitempty"`
	AddedTTFTP99 float64  `json:"added_ttft_p99_ms,omitempty"`
	IdleRSSMB    float64  `json:"sluice_idle_rss_mb,omitempty"`
	LoadRSSMB    float64  `json:"sluice_load_rss_mb,omitempty"`
	SluiceCPU    float64  `json:"sluice_cpu_cores,omitempty"` // CPU seconds per second during the through runs
	Budgets      []Budget `json:"budgets,omitempty"`
	Config       string   `json:"config,omitempty"`
}

// runScenario measures one scenario: it starts the upstreams and, withSluice, sluice in front
// of them, then runs the direct and through sides and compares them.
func runScenario(ctx context.Context, o *Options, s *Scenario, self string, withSluice bool, logf func(string, ...any)) (*Measured, error) {
	dir, err := os.MkdirTemp("", "sluicebench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	var ups []string
	for i, u := range s.Upstreams {
		name := fmt.Sprintf("upstream %d", i)
		bin, args := o.Upstream, u.Args
		if u.Mode != "" {
			bin, args = self, []string{"fake", "-mode", u.Mode, "-period", o.FlapPeriod.String()}
		}
		p, addr, err := startUpstream(ctx, name, bin, args)
		if err != nil {
			return nil, err
		}
		defer p.stop()
		ups = append(ups, addr)
	}
	load := s.Load(o)
	m := &Measured{Name: s.Name, Area: s.Area, About: s.About, Load: load.String(), Seconds: load.Duration.Seconds(), Runs: o.Runs}

	var sides []*benchSide
	pool := max(load.Conns, 256)
	if s.Direct >= 0 {
		r := s.Request(false)
		sides = append(sides, &benchSide{name: "direct", req: toLoadgen("http://"+ups[s.Direct], r), client: loadgen.NewClient(pool)})
	}
	if withSluice {
		addr, err := freePort()
		if err != nil {
			return nil, err
		}
		m.Config = s.Config(ups)
		sl, _, err := startSluice(ctx, o, dir, addr, baseConfig(addr)+m.Config)
		if err != nil {
			return nil, err
		}
		defer sl.stop()
		if v, err := rssBytes(sl.pid()); err == nil {
			m.IdleRSSMB = float64(v) / (1 << 20)
		}
		r := s.Request(true)
		sides = append(sides, &benchSide{name: "through", req: toLoadgen("http://"+addr, r), client: loadgen.NewClient(pool), sl: sl})
	}
	defer func() {
		for _, sd := range sides {
			sd.client.CloseIdleConnections()
		}
	}()
	if err := runSides(ctx, o, load, sides, logf); err != nil {
		return nil, err
	}
	m.collect(sides)
	if s.Budgets != nil && m.Through != nil {
		m.Budgets = s.Budgets(o, m)
	}
	return m, nil
}

// benchSide is one way of reaching the upstream (direct, or through sluice) and its runs.
type benchSide struct {
	name   string
	req    loadgen.Request
	client *http.Client
	sl     *proc // the sluice process, for the through side
	res    []*loadgen.Result
	cpu    []float64
	peak   int64
}

// loadConfig is the load generator's configuration for one run of d on sd.
func (sd *benchSide) loadConfig(load Load, d time.Duration) loadgen.Config {
	return loadgen.Config{Request: sd.req, Rate: load.Rate, Conns: load.Conns, Duration: d, Client: sd.client, Timeout: 10 * time.Second}
}

// runSides warms each side up, then runs the sides in turn o.Runs times, alternating their
// order so that neither always runs on a warmer machine.
func runSides(ctx context.Context, o *Options, load Load, sides []*benchSide, logf func(string, ...any)) error {
	if o.Warmup > 0 {
		for _, sd := range sides {
			if _, err := loadgen.Run(ctx, sd.loadConfig(load, o.Warmup)); err != nil {
				return err
			}
		}
	}
	for r := range o.Runs {
		order := slices.Clone(sides)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, sd := range order {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			time.Sleep(300 * time.Millisecond) // let the previous run's sockets and GC settle
			if err := sd.run(ctx, load); err != nil {
				return err
			}
			res := sd.res[len(sd.res)-1]
			logf("  run %d %-7s %s: %.0f req/s p50 %s p99 %s ok %d err %d", r+1, sd.name, load, res.Throughput(),
				fmtMS(ms(res.Latency.Quantile(0.5))), fmtMS(ms(res.Latency.Quantile(0.99))), res.OK, res.ErrorCount())
		}
	}
	return nil
}

// run is one measured run of sd; through sluice it also samples the process's peak RSS and
// CPU, and fails if sluice exited.
func (sd *benchSide) run(ctx context.Context, load Load) error {
	var sampler *rssSampler
	var cpu0 time.Duration
	if sd.sl != nil {
		sampler = sampleRSS(sd.sl.pid())
		cpu0, _ = cpuTime(sd.sl.pid())
	}
	start := time.Now()
	res, err := loadgen.Run(ctx, sd.loadConfig(load, load.Duration))
	if err != nil {
		return err
	}
	if sd.sl != nil {
		sd.peak = max(sd.peak, sampler.Stop())
		if cpu1, err := cpuTime(sd.sl.pid()); err == nil {
			sd.cpu = append(sd.cpu, (cpu1-cpu0).Seconds()/time.Since(start).Seconds())
		}
		if sd.sl.exited() {
			return fmt.Errorf("sluice exited during the run: %v: %s", sd.sl.err, sd.sl.out)
		}
	}
	sd.res = append(sd.res, res)
	return nil
}

// collect summarizes each side's runs into m and, when both sides ran, the added latency.
func (m *Measured) collect(sides []*benchSide) {
	for _, sd := range sides {
		switch sd.name {
		case "direct":
			m.Direct = summarize(sd.res)
		case "through":
			m.Through = summarize(sd.res)
			m.LoadRSSMB = float64(sd.peak) / (1 << 20)
			m.SluiceCPU = median(sd.cpu)
		}
	}
	if m.Direct == nil || m.Through == nil {
		return
	}
	diff := func(f func(RunFigures) float64) float64 {
		var d []float64
		for i := range m.Through.Runs {
			d = append(d, f(m.Through.Runs[i])-f(m.Direct.Runs[i]))
		}
		return median(d)
	}
	m.AddedP50 = diff(func(r RunFigures) float64 { return r.P50 })
	m.AddedP99 = diff(func(r RunFigures) float64 { return r.P99 })
	if m.Through.TTFTP50 > 0 {
		m.AddedTTFTP50 = diff(func(r RunFigures) float64 { return r.TTFTP50 })
		m.AddedTTFTP99 = diff(func(r RunFigures) float64 { return r.TTFTP99 })
	}
}

func toLoadgen(root string, r Req) loadgen.Request {
	h := http.Header{}
	for k, v := range r.Header {
		h.Set(k, v)
	}
	return loadgen.Request{URL: root + r.Path, Body: r.Body, Stream: r.Stream, EndEvent: r.EndEvent, Header: h}
}

func summarize(res []*loadgen.Result) *Side {
	s := &Side{Errors: map[string]int{}}
	var rps, p50, p90, p99, p999, mx, t50, t99, lag []float64
	for _, r := range res {
		f := RunFigures{
			RPS: r.Throughput(), P50: ms(r.Latency.Quantile(0.5)), P90: ms(r.Latency.Quantile(0.9)),
			P99: ms(r.Latency.Quantile(0.99)), P999: ms(r.Latency.Quantile(0.999)), Max: ms(r.Latency.Max()),
			Sent: r.Sent, OK: r.OK, Errors: r.ErrorCount(),
		}
		if r.TTFT.Count() > 0 {
			f.TTFTP50, f.TTFTP99 = ms(r.TTFT.Quantile(0.5)), ms(r.TTFT.Quantile(0.99))
			t50, t99 = append(t50, f.TTFTP50), append(t99, f.TTFTP99)
		}
		if r.Mode == "open" {
			f.LagP99 = ms(r.SendLag.Quantile(0.99))
			lag = append(lag, f.LagP99)
		}
		s.Runs = append(s.Runs, f)
		rps, p50, p90, p99 = append(rps, f.RPS), append(p50, f.P50), append(p90, f.P90), append(p99, f.P99)
		p999, mx = append(p999, f.P999), append(mx, f.Max)
		s.Sent += r.Sent
		s.OK += r.OK
		for k, v := range r.Errors {
			s.Errors[k] += v
		}
	}
	s.RPS, s.P50, s.P90, s.P99, s.P999, s.Max = median(rps), median(p50), median(p90), median(p99), median(p999), median(mx)
	s.TTFTP50, s.TTFTP99, s.SendLagP99 = median(t50), median(t99), median(lag)
	done := s.OK
	for _, v := range s.Errors {
		done += v
	}
	s.SuccessRatio = 1
	if done > 0 {
		s.SuccessRatio = float64(s.OK) / float64(done)
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// median of xs (the mean of the middle two for an even count; 0 when empty).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
