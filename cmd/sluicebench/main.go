// Command sluicebench measures what sluice adds to a request. It starts fake upstreams and the
// sluice binary as real processes, then runs each named scenario twice per round, DIRECT to the
// upstream and THROUGH sluice, alternating the order, and reports medians over -runs rounds
// because a shared 2-core machine is noisy. It also measures sluice's idle RSS, time to ready
// and stripped binary size, and prints every figure next to its budget.
//
//	sluicebench [-sluice bin/sluice] [-upstream bin/fakeupstream] [-duration 10s] [-rate 1000]
//	            [-conns 50] [-runs 3] [-scenarios core,throughput,stream,chaos] [-json FILE]
//	            [-markdown FILE]
//
// Scenarios are registered in scenario_*.go files; see Scenario for how to add one.
// Without a sluice binary only the direct side is measured.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "sluicebench:", err)
		os.Exit(1)
	}
}

// Options are the command-line settings every scenario can read.
type Options struct {
	Sluice        string        `json:"sluice"`
	Upstream      string        `json:"upstream"`
	Src           string        `json:"src"`
	Duration      time.Duration `json:"-"`
	Warmup        time.Duration `json:"-"`
	Rate          float64       `json:"rate"`
	StreamRate    float64       `json:"stream_rate"`
	Conns         int           `json:"conns"`
	Runs          int           `json:"runs"`
	Starts        int           `json:"starts"`
	ChaosRate     float64       `json:"chaos_rate"`
	ChaosDuration time.Duration `json:"-"`
	FlapPeriod    time.Duration `json:"-"`
	Scenarios     []string      `json:"scenarios"`
	JSON          string        `json:"-"`
	Markdown      string        `json:"-"`
	NoProcess     bool          `json:"no_process"`
	BareProxy     string        `json:"bareproxy"`
	Floor         []string      `json:"floor"`
	FloorDuration time.Duration `json:"-"`
	FloorStreams  time.Duration `json:"-"`

	// Seconds, for the JSON report.
	DurationS      float64 `json:"duration_s"`
	WarmupS        float64 `json:"warmup_s"`
	ChaosDurationS float64 `json:"chaos_duration_s"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "fake" {
		return runFake(ctx, args[1:], stdout, stderr)
	}
	o, floorTs, err := parseOptions(args, stderr)
	if err != nil {
		return err
	}
	if _, err := os.Stat(o.Upstream); err != nil {
		return fmt.Errorf("upstream binary: %w (build it with: go build -o bin/fakeupstream ./cmd/fakeupstream)", err)
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("own path: %w", err)
	}

	rep := &Report{
		Date:    time.Now().UTC().Format(time.RFC3339),
		Machine: machineInfo(),
		Command: "sluicebench " + strings.Join(args, " "),
		Options: o,
	}
	if _, err := os.Stat(o.Sluice); err == nil {
		rep.SluiceAvailable = true
	} else {
		rep.Notes = append(rep.Notes, fmt.Sprintf("sluice binary %s not found: direct side only", o.Sluice))
		fmt.Fprintf(stderr, "sluicebench: %s not found; measuring the direct side only\n", o.Sluice)
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }

	if err := measureAll(ctx, &o, rep, floorTs, self, logf); err != nil {
		return err
	}
	rep.finish(&o)
	rep.printText(stdout)
	return writeReports(rep, &o)
}

// parseOptions reads the flags, resolves the scenario and floor selections and checks the
// figures that must be positive.
func parseOptions(args []string, stderr io.Writer) (Options, []*floorTarget, error) {
	var o Options
	var scen, floor string
	fs := flag.NewFlagSet("sluicebench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Sluice, "sluice", "bin/sluice", "sluice binary (missing: direct side only)")
	fs.StringVar(&o.Upstream, "upstream", "bin/fakeupstream", "fake upstream binary")
	fs.StringVar(&o.Src, "src", ".", "module root, for the stripped build that is measured")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "length of each measured run")
	fs.DurationVar(&o.Warmup, "warmup", 2*time.Second, "unmeasured warm-up per side before the runs")
	fs.Float64Var(&o.Rate, "rate", 1000, "open-loop rate of the core scenario (req/s)")
	fs.Float64Var(&o.StreamRate, "stream-rate", 200, "open-loop rate of the stream scenario (req/s)")
	fs.IntVar(&o.Conns, "conns", 50, "connections of the closed-loop throughput scenario")
	fs.IntVar(&o.Runs, "runs", 3, "rounds per scenario; figures are medians over them")
	fs.IntVar(&o.Starts, "starts", 5, "sluice starts for time-to-ready and idle RSS")
	fs.Float64Var(&o.ChaosRate, "chaos-rate", 500, "open-loop rate of the chaos scenario (req/s)")
	fs.DurationVar(&o.ChaosDuration, "chaos-duration", 10*time.Second, "length of each chaos run (60s for the published figure)")
	fs.DurationVar(&o.FlapPeriod, "flap-period", time.Second, "chaos: length of the flapping upstream's healthy and failing phases")
	fs.StringVar(&scen, "scenarios", "", "comma-separated scenarios (default: "+defaultScenarios()+"; all: "+strings.Join(scenarioNames(), ",")+")")
	fs.StringVar(&o.JSON, "json", "", "also write the report as JSON to this file")
	fs.StringVar(&o.Markdown, "markdown", "", "also write BENCHMARKS.md sections for the measured areas to this file")
	fs.StringVar(&o.BareProxy, "bareproxy", "bin/bareproxy", "the floor suite's bare proxy binary (cmd/bareproxy)")
	fs.StringVar(&floor, "floor", "", "floor suite targets, comma-separated, or off (default without -scenarios: "+defaultFloor()+"; all: "+floorTargetNames()+")")
	fs.DurationVar(&o.FloorDuration, "floor-duration", 4*time.Second, "floor suite: length of each open-loop and each closed-loop run")
	fs.DurationVar(&o.FloorStreams, "floor-streams", 2*time.Second, "floor suite: length of each run of sequential streams (0: none)")
	fs.BoolVar(&o.NoProcess, "no-process", false, "skip time-to-ready, idle RSS and binary size")
	if err := fs.Parse(args); err != nil {
		return o, nil, err
	}
	if fs.NArg() > 0 {
		return o, nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if scen == "" {
		scen = defaultScenarios()
	}
	if scen == "none" {
		scen = ""
	}
	if floor == "" && !explicit["scenarios"] {
		floor = defaultFloor()
	}
	var floorTs []*floorTarget
	if floor != "off" {
		var err error
		if floorTs, err = parseFloor(floor); err != nil {
			return o, nil, err
		}
		for _, t := range floorTs {
			o.Floor = append(o.Floor, t.Name)
		}
	}
	for _, n := range strings.Split(scen, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if registry[n] == nil {
			return o, nil, fmt.Errorf("unknown scenario %q (known: %s)", n, strings.Join(scenarioNames(), ", "))
		}
		o.Scenarios = append(o.Scenarios, n)
	}
	if o.Runs < 1 || o.Duration <= 0 || o.Rate <= 0 || o.StreamRate <= 0 || o.ChaosRate <= 0 || o.Conns < 1 {
		return o, nil, fmt.Errorf("-runs, -duration, -rate, -stream-rate, -chaos-rate and -conns must be positive")
	}
	o.DurationS, o.WarmupS, o.ChaosDurationS = o.Duration.Seconds(), o.Warmup.Seconds(), o.ChaosDuration.Seconds()
	return o, floorTs, nil
}

// measureAll runs what the options select, in order: the process figures, the floor suite and
// the scenarios, filling rep.
func measureAll(ctx context.Context, o *Options, rep *Report, floorTs []*floorTarget, self string, logf func(string, ...any)) error {
	if rep.SluiceAvailable && !o.NoProcess {
		logf("process: %d starts, stripped build", o.Starts)
		p, err := measureProcess(ctx, o)
		if err != nil {
			return err
		}
		rep.Process = p
	}
	if rep.SluiceAvailable && len(floorTs) > 0 {
		if _, err := os.Stat(o.BareProxy); err != nil {
			return fmt.Errorf("bare proxy binary: %w (build it with: go build -o bin/bareproxy ./cmd/bareproxy)", err)
		}
		logf("floor: %s; %d rounds, order rotated", strings.Join(o.Floor, ", "), o.Runs)
		f, err := runFloor(ctx, o, floorTs, logf)
		if err != nil {
			return fmt.Errorf("floor: %w", err)
		}
		rep.Floor = f
	}
	for _, n := range o.Scenarios {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s := registry[n]
		logf("scenario %s: %s", s.Name, s.About)
		m, err := runScenario(ctx, o, s, self, rep.SluiceAvailable, logf)
		if err != nil {
			return fmt.Errorf("scenario %s: %w", n, err)
		}
		rep.Scenarios = append(rep.Scenarios, m)
		measured[n] = m
	}
	return nil
}

// writeReports writes the JSON and Markdown reports the options ask for.
func writeReports(rep *Report, o *Options) error {
	if o.JSON != "" {
		if err := rep.writeJSON(o.JSON); err != nil {
			return err
		}
	}
	if o.Markdown != "" {
		if err := os.WriteFile(o.Markdown, []byte(rep.markdown()), 0o644); err != nil {
			return fmt.Errorf("markdown: %w", err)
		}
	}
	return nil
}
