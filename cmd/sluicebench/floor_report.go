package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// ratioText prints a ratio with its range across rounds: "0.92 (0.85-1.01)".
func ratioText(r Ratio) string {
	if r.Median == 0 && r.Min == 0 && r.Max == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f (%.2f–%.2f)", r.Median, r.Min, r.Max)
}

func timesText(v float64) string {
	if v == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}

// floorRows is the suite's table, one row per target; the text and markdown reports share it.
func floorRows(f *Floor) (head []string, rows [][]string) {
	head = []string{"target", "req/s", "× bare", "CPU µs/req", "× bare", "p50", "p99", "added p50", "× bare", "added p99", "× bare", "TTFT p50", "TTFT added", "− bare's", "idle RSS MB", "errors", "rounds behind"}
	for _, t := range f.Targets {
		errs, behind := 0, 0
		for _, r := range t.Rounds {
			errs += r.Errors
			if r.Behind {
				behind++
			}
		}
		cpu, added50, added99, ttftAdded, over := "–", "–", "–", "–", "–"
		if t.Name != "direct" {
			cpu, added50, added99 = fmt.Sprintf("%.1f", t.CPUus), signedMS(t.AddedP50), signedMS(t.AddedP99)
			if t.TTFTP50 > 0 {
				ttftAdded = signedMS(t.AddedTTFT)
			}
			if t.Name != "bare" && t.TTFTP50 > 0 {
				over = signedMS(t.TTFTOverBare)
			}
		}
		rps, cpur := "–", "–"
		if t.Name != "direct" && t.Name != "bare" {
			rps, cpur = ratioText(t.RPSRatio), ratioText(t.CPURatio)
		}
		a50, a99 := "–", "–"
		if t.Name != "direct" && t.Name != "bare" {
			a50, a99 = timesText(t.AddedP50Ratio), timesText(t.AddedP99Ratio)
		}
		ttft := "–"
		if t.TTFTP50 > 0 {
			ttft = fmtMS(t.TTFTP50)
		}
		rss := "–"
		if t.IdleRSSMB > 0 {
			rss = fmt.Sprintf("%.1f", t.IdleRSSMB)
		}
		rows = append(rows, []string{t.Name, fmt.Sprintf("%.0f", t.RPS), rps, cpu, cpur, fmtMS(t.P50), fmtMS(t.P99), added50, a50, added99, a99, ttft, ttftAdded, over, rss, fmt.Sprint(errs), fmt.Sprint(behind)})
	}
	return head, rows
}

func (f *Floor) printText(w io.Writer) {
	fmt.Fprintf(w, "\nfloor: medians of %d rounds (order rotated); %s\n", f.Rounds, f.Pinned)
	fmt.Fprintf(w, "req/s: closed loop, %d conns, %gs; latency and CPU: open loop at %g req/s, %gs; TTFT: sequential streams, %gs; ms\n", f.Conns, f.Duration, f.Rate, f.Duration, f.Streams)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head, rows := floorRows(f)
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
	}
	tw.Flush()
	fmt.Fprintf(w, "rounds behind: open-loop p50 above %d ms, the gateway starved of CPU; their latency and CPU figures say little\n", behindP50)
	if l := f.AccessLogLoss; l != nil {
		fmt.Fprintf(w, "access log on vs off: %.1f %% of req/s lost (rounds %.1f to %.1f)\n", l.Median, l.Min, l.Max)
	}
	if c, l := f.TraceCPUus, f.TraceLoss; c != nil && l != nil {
		fmt.Fprintf(w, "tracing at 1.0 vs 0: %+.1f µs CPU per request (rounds %.1f to %.1f), %.1f %% of req/s lost (rounds %.1f to %.1f)\n", c.Median, c.Min, c.Max, l.Median, l.Min, l.Max)
	}
	if c, l := f.TraceSDKCPUus, f.TraceSDKLoss; c != nil && l != nil {
		fmt.Fprintf(w, "tracing at 1.0 through the OTel SDK vs 0: %+.1f µs CPU per request (rounds %.1f to %.1f), %.1f %% of req/s lost (rounds %.1f to %.1f)\n", c.Median, c.Min, c.Max, l.Median, l.Min, l.Max)
	}
}

func (f *Floor) markdown(b *strings.Builder) {
	fmt.Fprintf(b, "### Against the floor\n\nMedians of %d rounds, order rotated each round; %s. req/s: closed loop, %d connections, %g s; latency and CPU per request (utime+stime of the gateway over the run ÷ requests): open loop at %g req/s, %g s; TTFT: sequential streams of 20 chunks, %g s. Ratios are to `bare` in the same round (req/s and CPU: median and range of per-round ratios; added latency: ratio of the medians). Latency in ms.\n\n",
		f.Rounds, f.Pinned, f.Conns, f.Duration, f.Rate, f.Duration, f.Streams)
	head, rows := floorRows(f)
	b.WriteString("| " + strings.Join(head, " | ") + " |\n|---|" + strings.Repeat("--:|", len(head)-1) + "\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	fmt.Fprintf(b, "\n\"Rounds behind\" counts rounds whose open loop had a p50 above %d ms: the gateway did not get the CPU it needed and queued requests, and then its CPU per request drops with the batching a backlog brings. Their latency and CPU figures say little.\n\n", behindP50)
	if l := f.AccessLogLoss; l != nil {
		fmt.Fprintf(b, "Access log on vs off (`default` vs `default-nolog`): %.1f %% of req/s lost (rounds %.1f to %.1f).\n\n", l.Median, l.Min, l.Max)
	}
	if c, l := f.TraceCPUus, f.TraceLoss; c != nil && l != nil {
		fmt.Fprintf(b, "Tracing at 1.0 vs 0 (`full-trace1` vs `full-trace0`): %+.1f µs CPU per request (rounds %.1f to %.1f), %.1f %% of req/s lost (rounds %.1f to %.1f).\n\n", c.Median, c.Min, c.Max, l.Median, l.Min, l.Max)
	}
	if c, l := f.TraceSDKCPUus, f.TraceSDKLoss; c != nil && l != nil {
		fmt.Fprintf(b, "The same through the OTel SDK (`full-trace1-sdk` vs `full-trace0`): %+.1f µs CPU per request (rounds %.1f to %.1f), %.1f %% of req/s lost (rounds %.1f to %.1f).\n\n", c.Median, c.Min, c.Max, l.Median, l.Min, l.Max)
	}
	if len(f.Budgets) > 0 {
		b.WriteString("| budget | measured | target | |\n|---|--:|--:|---|\n")
		for _, bu := range f.Budgets {
			fmt.Fprintf(b, "| %s | %.3f %s | %s %g %s | %s |\n", bu.Name, bu.Value, bu.Unit, bu.Op, bu.Limit, bu.Unit, passText(bu))
		}
		b.WriteString("\n")
	}
}
