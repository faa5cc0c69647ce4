package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
)

// Report is everything one sluicebench invocation measured; -json writes it as is, so later
// tooling can append sections to BENCHMARKS.md from it.
type Report struct {
	Date            string      `json:"date"`
	Machine         Machine     `json:"machine"`
	Command         string      `json:"command"`
	Options         Options     `json:"options"`
	SluiceAvailable bool        `json:"sluice_available"`
	Process         *Process    `json:"process,omitempty"`
	Floor           *Floor      `json:"floor,omitempty"`
	Scenarios       []*Measured `json:"scenarios"`
	Budgets         []Budget    `json:"budgets"` // process budgets and every scenario's
	Notes           []string    `json:"notes,omitempty"`
}

// Machine describes where the figures were taken.
type Machine struct {
	CPUs   int    `json:"nproc"`
	Arch   string `json:"arch"`
	CPU    string `json:"cpu"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
}

func machineInfo() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := exec.Command("uname", "-m").Output(); err == nil {
		m.Arch = strings.TrimSpace(string(b))
	}
	if b, err := exec.Command("uname", "-r").Output(); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// finish adds the process budgets and collects every budget in one list.
func (r *Report) finish(o *Options) {
	var peak float64
	for _, m := range r.Scenarios {
		peak = max(peak, m.LoadRSSMB)
	}
	if p := r.Process; p != nil {
		p.LoadRSSMB = peak
		r.Budgets = append(r.Budgets,
			atMost("idle RSS", p.IdleRSSMB, 30, "MB"),
			atMost("time to ready (median)", p.ReadyMS, 100, "ms"))
		if p.StrippedFailed == "" {
			r.Budgets = append(r.Budgets, atMost("stripped binary", p.StrippedMB, 25, "MB"))
		} else {
			r.Notes = append(r.Notes, "stripped build failed: "+p.StrippedFailed)
		}
	}
	if r.Floor != nil {
		r.Budgets = append(r.Budgets, r.Floor.Budgets...)
	}
	for _, m := range r.Scenarios {
		r.Budgets = append(r.Budgets, m.Budgets...)
	}
}

func (r *Report) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("json: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("json: %w", err)
	}
	return nil
}

// fmtMS prints milliseconds with three decimals below 10 ms, one above.
func fmtMS(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 10 && v > -10:
		return fmt.Sprintf("%.3f", v)
	default:
		return fmt.Sprintf("%.1f", v)
	}
}

func signedMS(v float64) string {
	if v >= 0 {
		return "+" + fmtMS(v)
	}
	return fmtMS(v)
}

func errText(e map[string]int) string {
	if len(e) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, e[k]))
	}
	return strings.Join(parts, " ")
}

func passText(b Budget) string {
	if b.Skipped {
		return "SKIP"
	}
	if b.Pass {
		return "PASS"
	}
	return "MISS"
}

func (r *Report) printText(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "\nsluicebench %s  (%d CPUs %s, %s, %s)\n", r.Date, m.CPUs, m.Arch, m.CPU, m.Go)
	fmt.Fprintf(w, "medians over %d runs; latency in ms; added = through minus direct, median of paired runs\n\n", r.Options.Runs)
	if r.Floor != nil {
		r.Floor.printText(w)
		fmt.Fprintln(w)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tload\tside\treq/s\tp50\tp90\tp99\tp99.9\tmax\tttft p50\tttft p99\tok %\terrors\t")
	for _, s := range r.Scenarios {
		row := func(name string, d *Side) {
			if d == nil {
				return
			}
			t50, t99 := "-", "-"
			if d.TTFTP50 > 0 {
				t50, t99 = fmtMS(d.TTFTP50), fmtMS(d.TTFTP99)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t%s\t\n", s.Name, s.Load, name, d.RPS,
				fmtMS(d.P50), fmtMS(d.P90), fmtMS(d.P99), fmtMS(d.P999), fmtMS(d.Max), t50, t99, 100*d.SuccessRatio, errText(d.Errors))
		}
		row("direct", s.Direct)
		row("sluice", s.Through)
		if s.Direct != nil && s.Through != nil {
			t50, t99 := "", ""
			if s.AddedTTFTP50 != 0 || s.AddedTTFTP99 != 0 {
				t50, t99 = signedMS(s.AddedTTFTP50), signedMS(s.AddedTTFTP99)
			}
			fmt.Fprintf(tw, "%s\t%s\tadded\t%+d\t%s\t\t%s\t\t\t%s\t%s\t\t\t\n", s.Name, s.Load, int(math.Round(s.Through.RPS-s.Direct.RPS)),
				signedMS(s.AddedP50), signedMS(s.AddedP99), t50, t99)
		}
	}
	tw.Flush()
	if p := r.Process; p != nil {
		stripped := fmt.Sprintf("%.1f MB", p.StrippedMB)
		if p.StrippedFailed != "" {
			stripped = "not built"
		}
		fmt.Fprintf(w, "\nsluice process: ready %.1f ms (median of %d: %v), idle RSS %.1f MB, RSS under load %.1f MB, binary %.1f MB, stripped %s\n",
			p.ReadyMS, len(p.ReadyAllMS), roundAll(p.ReadyAllMS), p.IdleRSSMB, p.LoadRSSMB, p.BinaryMB, stripped)
	}
	for _, s := range r.Scenarios {
		if s.Through != nil {
			fmt.Fprintf(w, "%s: sluice CPU %.2f cores (%.0f µs per request), idle RSS %.1f MB, peak RSS %.1f MB\n",
				s.Name, s.SluiceCPU, cpuPerRequest(s), s.IdleRSSMB, s.LoadRSSMB)
		}
	}
	if len(r.Budgets) > 0 {
		fmt.Fprintln(w, "\nbudgets:")
		for _, b := range r.Budgets {
			fmt.Fprintf(w, "  %-4s %-45s %10.3f %s (budget %s %g)\n", passText(b), b.Name, b.Value, b.Unit, b.Op, b.Limit)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}

// cpuPerRequest is sluice's CPU time per request through it, in µs.
func cpuPerRequest(m *Measured) float64 {
	if m.Through == nil || m.Through.RPS <= 0 {
		return 0
	}
	return m.SluiceCPU / m.Through.RPS * 1e6
}

func roundAll(xs []float64) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%.1f", x)
	}
	return out
}

// markdown renders one section per measured area, in BENCHMARKS.md's order, ready to paste
// under the area's header.
func (r *Report) markdown() string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "Measured %s on %d × %s (%s), kernel %s, %s. Command: `%s`. Medians over %d runs.\n\n",
		r.Date[:10], m.CPUs, m.CPU, m.Arch, m.Kernel, m.Go, r.Command, r.Options.Runs)
	areas := []string{AreaCore, AreaPlugins, AreaTranslation, AreaRouting, AreaRateLimits, AreaCache, AreaTelemetry, AreaDialects}
	for _, area := range areas {
		var ss []*Measured
		for _, s := range r.Scenarios {
			if s.Area == area {
				ss = append(ss, s)
			}
		}
		if len(ss) == 0 && !(area == AreaCore && (r.Process != nil || r.Floor != nil)) {
			continue
		}
		fmt.Fprintf(&b, "## %s\n\n", area)
		if area == AreaCore && r.Floor != nil {
			r.Floor.markdown(&b)
		}
		if len(ss) > 0 {
			b.WriteString("| scenario | load | req/s direct | req/s sluice | p50 direct | p50 sluice | added p50 | p99 direct | p99 sluice | added p99 | TTFT p50 / p99 added | success | sluice CPU |\n")
			b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
			for _, s := range ss {
				d, t := s.Direct, s.Through
				if d == nil {
					d = &Side{}
				}
				if t == nil {
					fmt.Fprintf(&b, "| %s | %s | %.0f | – | %s | – | – | %s | – | – | – | %.2f %% | – |\n", s.Name, s.Load, d.RPS, fmtMS(d.P50), fmtMS(d.P99), 100*d.SuccessRatio)
					continue
				}
				ttft := "–"
				if s.AddedTTFTP50 != 0 || s.AddedTTFTP99 != 0 {
					ttft = signedMS(s.AddedTTFTP50) + " / " + signedMS(s.AddedTTFTP99)
				}
				fmt.Fprintf(&b, "| %s | %s | %.0f | %.0f | %s | %s | %s | %s | %s | %s | %s | %.2f %% | %.2f |\n", s.Name, s.Load, d.RPS, t.RPS,
					fmtMS(d.P50), fmtMS(t.P50), signedMS(s.AddedP50), fmtMS(d.P99), fmtMS(t.P99), signedMS(s.AddedP99), ttft, 100*t.SuccessRatio, s.SluiceCPU)
			}
			b.WriteString("\nLatency in ms. Added = through minus direct, the median of per-run paired differences.\n\n")
		}
		if area == AreaCore && r.Process != nil {
			p := r.Process
			fmt.Fprintf(&b, "| process | value |\n|---|--:|\n| time to ready (median of %d) | %.1f ms |\n| idle RSS | %.1f MB |\n| RSS under load (peak) | %.1f MB |\n| binary | %.1f MB |\n| stripped binary (`%s`) | %.1f MB |\n\n",
				len(p.ReadyAllMS), p.ReadyMS, p.IdleRSSMB, p.LoadRSSMB, p.BinaryMB, p.StrippedBuild, p.StrippedMB)
		}
		var bs []Budget
		for _, s := range ss {
			bs = append(bs, s.Budgets...)
		}
		if area == AreaCore {
			for _, bu := range r.Budgets {
				if bu.Name == "idle RSS" || strings.HasPrefix(bu.Name, "time to ready") || bu.Name == "stripped binary" {
					bs = append(bs, bu)
				}
			}
		}
		if len(bs) > 0 {
			b.WriteString("| budget | measured | target | |\n|---|--:|--:|---|\n")
			for _, bu := range bs {
				fmt.Fprintf(&b, "| %s | %.3f %s | %s %g %s | %s |\n", bu.Name, bu.Value, bu.Unit, bu.Op, bu.Limit, bu.Unit, passText(bu))
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}
