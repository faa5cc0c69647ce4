package main

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/host/config"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func rounds(rps, p50, p99, cpu, ttft []float64) []FloorRound {
	out := make([]FloorRound, len(rps))
	for i := range rps {
		out[i] = FloorRound{RPS: rps[i], P50: p50[i], P99: p99[i], CPUus: cpu[i], TTFTP50: ttft[i]}
	}
	return out
}

func TestFloorRatios(t *testing.T) {
	f := &Floor{Rate: 1000, Targets: []*FloorTarget{
		{Name: "direct", Rounds: rounds([]float64{20000, 20000, 20000}, []float64{0.5, 0.6, 0.5}, []float64{1, 1, 1}, []float64{0, 0, 0}, []float64{0.2, 0.2, 0.2})},
		{Name: "bare", Rounds: rounds([]float64{8000, 7000, 9000}, []float64{0.8, 0.9, 0.8}, []float64{1.5, 1.4, 1.6}, []float64{250, 260, 240}, []float64{0.4, 0.4, 0.4})},
		// Round by round: 1.0, 1.2, 0.8 of bare's req/s; CPU 1.2, 1.0, 1.25.
		{Name: "default", Rounds: rounds([]float64{8000, 8400, 7200}, []float64{1.1, 1.2, 1.0}, []float64{1.0, 1.0, 1.0}, []float64{300, 260, 300}, []float64{0.5, 0.44, 0.45})},
		{Name: "default-nolog", Rounds: rounds([]float64{8000, 8000, 8000}, []float64{1, 1, 1}, []float64{1, 1, 1}, []float64{1, 1, 1}, []float64{1, 1, 1})},
		{Name: "full-trace0", Rounds: rounds([]float64{5000, 5000, 5000}, []float64{1, 1, 1}, []float64{1, 1, 1}, []float64{300, 300, 300}, []float64{0, 0, 0})},
		{Name: "full-trace1", Rounds: rounds([]float64{4600, 4500, 4400}, []float64{1, 1, 1}, []float64{1, 1, 1}, []float64{315, 330, 325}, []float64{0, 0, 0})},
	}}
	summarizeFloor(f)
	bare, def := f.Targets[1], f.Targets[2]
	if !near(bare.AddedP50, 0.3) || !near(bare.AddedP99, 0.5) || !near(bare.AddedTTFT, 0.2) {
		t.Errorf("bare added p50 %v p99 %v ttft %v; want 0.3, 0.5, 0.2", bare.AddedP50, bare.AddedP99, bare.AddedTTFT)
	}
	if r := def.RPSRatio; !near(r.Median, 1.0) || !near(r.Min, 0.8) || !near(r.Max, 1.2) {
		t.Errorf("req/s ratio %+v, want 1.0 (0.8-1.2)", r)
	}
	if r := def.CPURatio; !near(r.Median, 1.2) || !near(r.Min, 1.0) || !near(r.Max, 1.25) {
		t.Errorf("CPU ratio %+v, want 1.2 (1.0-1.25)", r)
	}
	// default adds 0.6 at p50 (per-round 0.6, 0.6, 0.5) and 0 at p99, against bare's 0.3 and 0.5.
	if !near(def.AddedP50, 0.6) || !near(def.AddedP50Ratio, 2) || !near(def.AddedP99Ratio, 0) {
		t.Errorf("added p50 %v ratio %v, p99 ratio %v; want 0.6, 2, 0", def.AddedP50, def.AddedP50Ratio, def.AddedP99Ratio)
	}
	if !near(def.TTFTOverBare, 0.05) {
		t.Errorf("TTFT over bare %v, want 0.05 (0.25 - 0.2)", def.TTFTOverBare)
	}
	if l := f.AccessLogLoss; l == nil || !near(l.Median, 0) || !near(l.Min, -5) || !near(l.Max, 10) {
		t.Errorf("access log loss %+v, want 0 (-5 to 10)", l)
	}
	if c, l := f.TraceCPUus, f.TraceLoss; c == nil || !near(c.Median, 25) || l == nil || !near(l.Median, 10) {
		t.Errorf("trace cost %+v / %+v, want 25 µs and 10 %%", c, l)
	}
	got := map[string]Budget{}
	for _, b := range f.Budgets {
		got[b.Name] = b
	}
	for name, pass := range map[string]bool{
		"default: req/s ÷ bare's":                   true,
		"default: CPU per request ÷ bare's":         false,
		"default: added p50 at 1000 req/s ÷ bare's": false,
		"default: added p99 at 1000 req/s ÷ bare's": true,
		"default: TTFT added minus bare's":          true,
		"access log on: req/s lost against off":     true,
		"tracing at 1.0: CPU per request added":     false,
		"tracing at 1.0: req/s lost against 0":      true,
	} {
		b, ok := got[name]
		if !ok {
			t.Errorf("no budget %q in %v", name, f.Budgets)
			continue
		}
		if b.Pass != pass {
			t.Errorf("%s: pass %v, want %v (%+v)", name, b.Pass, pass, b)
		}
	}
}

func TestAddedBudgetWhenBareAddsNothing(t *testing.T) {
	if b := addedBudget("x", 0.2, -0.1); b.Pass || !near(b.Value, 0.3) {
		t.Errorf("target above a bare that adds nothing must miss: %+v", b)
	}
	if b := addedBudget("x", -0.2, -0.1); !b.Pass {
		t.Errorf("target at or below bare must pass: %+v", b)
	}
	if b := addedBudget("x", 0.3, 0.2); b.Pass || !near(b.Value, 1.5) {
		t.Errorf("1.5x bare: %+v", b)
	}
}

func TestRotateAndParseFloor(t *testing.T) {
	got := strings.Join(rotate([]string{"a", "b", "c"}, 4), "")
	if got != "bca" {
		t.Errorf("rotate by 4 of abc: %q", got)
	}
	ts, err := parseFloor("full, bare")
	if err != nil || len(ts) != 2 || ts[0].Name != "bare" || ts[1].Name != "full" {
		t.Errorf("parseFloor keeps the suite's order: %v %v", ts, err)
	}
	if _, err := parseFloor("bare,nope"); err == nil {
		t.Error("an unknown target must be refused")
	}
	if strings.Contains(defaultFloor(), "trace") || !strings.Contains(defaultFloor(), "full") {
		t.Errorf("default floor %q", defaultFloor())
	}
}

// TestFloorConfigsParse checks every config the suite and the scenarios start sluice with,
// through the same loader and validator as `sluice check` (and through `sluice check` itself
// when bin/sluice has been built).
func TestFloorConfigsParse(t *testing.T) {
	dir := t.TempDir()
	e := floorEnv{Listen: "127.0.0.1:18080", Admin: "127.0.0.1:19090", Ups: []string{"127.0.0.1:1", "127.0.0.1:2"}, OTLP: "127.0.0.1:3"}
	files := map[string]string{}
	for _, ft := range floorTargets {
		if ft.Config != nil {
			files["floor-"+ft.Name] = ft.Config(e)
		}
	}
	for _, n := range scenarioNames() {
		s := registry[n]
		ups := make([]string, len(s.Upstreams))
		for i := range ups {
			ups[i] = e.Ups[0]
		}
		files["scenario-"+n] = baseConfig(e.Listen) + s.Config(ups)
	}
	bin, _ := filepath.Abs("../../bin/sluice")
	if _, err := os.Stat(bin); err != nil {
		bin = ""
	}
	for name, text := range files {
		path := filepath.Join(dir, name+".toml")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(path)
		if err != nil {
			t.Errorf("%s: %v\n%s", name, err, text)
			continue
		}
		switch name {
		case "floor-default-nolog":
			if cfg.Log.Access != "off" {
				t.Errorf("default-nolog: access %q", cfg.Log.Access)
			}
		case "floor-full":
			if cfg.Log.Access == "off" || !cfg.Cache.On() || !cfg.Auth.Required || len(cfg.Limits) != 3 || len(cfg.Routers["bench"].Targets) != 2 {
				t.Errorf("full: access %q, cache %v, auth %v, %d limits, router %+v", cfg.Log.Access, cfg.Cache.On(), cfg.Auth.Required, len(cfg.Limits), cfg.Routers["bench"])
			}
		}
		if bin != "" {
			if out, err := exec.Command(bin, "check", "-c", path).CombinedOutput(); err != nil {
				t.Errorf("sluice check %s: %v: %s", name, err, out)
			}
		}
	}
}
