package grafana_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sluice-gw/sluice/host/telemetry"
)

type panel struct {
	Type    string  `json:"type"`
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

type dashboardJSON struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// registryFamilies scrapes a real telemetry instance after recording one
// of everything, so every family the gateway can emit is present.
func registryFamilies(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	tel, err := telemetry.New(context.Background(), telemetry.Config{Traces: telemetry.Traces{Exporter: telemetry.ExporterNone}})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	tel.RecordRequest(telemetry.RequestRecord{Route: "/v1/chat/completions", Provider: "openai", Model: "gpt-4o-mini", Team: "acme", Status: 200,
		Duration: time.Second, TTFT: time.Millisecond, InputTokens: 1, OutputTokens: 1, CostUSD: 1, EstimatedInputTokens: 1})
	tel.RecordUnpriced("openai/unlisted")
	tel.RecordAttempt(telemetry.AttemptRecord{Provider: "openai", Target: "openai/gpt-4o-mini#0", Outcome: "ok", Duration: time.Second, Failover: true})
	tel.SetTargetHealth(telemetry.TargetHealth{Provider: "openai", Target: "openai/gpt-4o-mini#0", Healthy: true, EWMA: time.Second})
	tel.RecordPlugin(telemetry.PluginRecord{Plugin: "p", Hook: "route", Duration: time.Microsecond, Err: true, Trap: true})
	tel.RecordPluginReload("p", true)
	tel.RecordCache(true)
	tel.RecordCache(false)
	tel.RecordCacheEvictions(1)
	tel.SetCacheBytes(1)
	tel.RecordRateLimit("team", "tokens")
	tel.RequestStarted()
	tel.StreamStarted()

	srv := httptest.NewServer(tel.MetricsHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

var metricRE = regexp.MustCompile(`\bsluice_[a-z0-9_]+`)

func TestDashboardQueriesExistingMetrics(t *testing.T) {
	raw, err := os.ReadFile("sluice.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboardJSON
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("sluice.json does not parse: %v", err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard lacks title, uid or panels")
	}
	fams := registryFamilies(t)

	exprs := map[string]string{} // expr -> panel title
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q has an empty query", p.Title)
				}
				exprs[tg.Expr] = p.Title
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if q, ok := v.Query.(map[string]any); ok {
			if s, _ := q["query"].(string); s != "" {
				exprs[s] = "variable " + v.Name
			}
		}
	}

	used := map[string]bool{}
	for expr, title := range exprs {
		if strings.Count(expr, "(") != strings.Count(expr, ")") || strings.Count(expr, "{") != strings.Count(expr, "}") {
			t.Errorf("%s: unbalanced query %q", title, expr)
		}
		for _, name := range metricRE.FindAllString(expr, -1) {
			base := name
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(name, suf); ok && fams[b] != nil && fams[b].GetType() == dto.MetricType_HISTOGRAM {
					base = b
				}
			}
			if fams[base] == nil {
				t.Errorf("%s: queries %s, which the registry does not export", title, name)
				continue
			}
			if base != name || fams[base].GetType() != dto.MetricType_HISTOGRAM {
				used[base] = true
			} else {
				t.Errorf("%s: uses histogram %s without _bucket/_sum/_count", title, name)
			}
		}
	}
	// Every sluice family should be on the dashboard somewhere.
	var missing []string
	for name := range fams {
		if strings.HasPrefix(name, "sluice_") && !used[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("metrics with no panel: %v", missing)
	}
}
