package telemetry

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func labelValues(t *testing.T, tel *Telemetry, family, label string) map[string]bool {
	t.Helper()
	_, fams := scrape(t, tel)
	out := map[string]bool{}
	for _, m := range fams[family].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				out[l.GetValue()] = true
			}
		}
	}
	return out
}

func TestLabelsBounded(t *testing.T) {
	tel, err := New(context.Background(), Config{Traces: Traces{Exporter: ExporterNone}, Metrics: Metrics{MaxModels: 4, DisableRuntime: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	tel.PinLabels([]string{"cfg/model"}, []string{"cfg/model#0"})
	long := "p/" + strings.Repeat("x", MaxLabelBytes)
	tel.RecordRequest(RequestRecord{Route: "/r", Provider: "p", Model: long, Status: 200})
	tel.RecordAttempt(AttemptRecord{Provider: "p", Target: long, Outcome: "ok"})
	for i := range 50 {
		m := fmt.Sprintf("p/m%d", i)
		tel.RecordRequest(RequestRecord{Route: "/r", Provider: "p", Model: m, Status: 200})
		tel.RecordAttempt(AttemptRecord{Provider: "p", Target: m, Outcome: "ok"})
	}
	// The configured name is labelled even after the cap filled up.
	tel.RecordRequest(RequestRecord{Route: "/r", Provider: "cfg", Model: "cfg/model", Status: 200})
	tel.RecordAttempt(AttemptRecord{Provider: "cfg", Target: "cfg/model#0", Outcome: "ok"})
	models := labelValues(t, tel, "sluice_requests_total", "model")
	targets := labelValues(t, tel, "sluice_upstream_attempts_total", "target")
	if len(models) != 6 || !models["cfg/model"] || !models[OtherLabel] || models[long] {
		t.Errorf("model labels %v, want 4 admitted, cfg/model and other", models)
	}
	if len(targets) != 6 || !targets["cfg/model#0"] || !targets[OtherLabel] {
		t.Errorf("target labels %v", targets)
	}

	// Forgetting a dropped name frees its place and deletes its series.
	tel.ForgetLabels("p/m0", "p/m0")
	tel.ForgetLabels("cfg/model", "cfg/model#0") // pinned: kept
	models = labelValues(t, tel, "sluice_requests_total", "model")
	targets = labelValues(t, tel, "sluice_upstream_attempts_total", "target")
	if models["p/m0"] || targets["p/m0"] || !models["cfg/model"] || !targets["cfg/model#0"] {
		t.Errorf("after forget: models %v targets %v", models, targets)
	}
	tel.RecordRequest(RequestRecord{Route: "/r", Provider: "p", Model: "p/new", Status: 200})
	if !labelValues(t, tel, "sluice_requests_total", "model")["p/new"] {
		t.Error("a freed place was not reused")
	}
	// Attempt children are cached: a forgotten target must not keep counting into the
	// deleted series, and a freed place must go to the next new target.
	tel.RecordAttempt(AttemptRecord{Provider: "p", Target: "p/m1", Outcome: "ok"})
	tel.ForgetLabels("", "p/m1")
	tel.RecordAttempt(AttemptRecord{Provider: "p", Target: "p/m1", Outcome: "ok"})
	if !labelValues(t, tel, "sluice_upstream_attempts_total", "target")["p/m1"] {
		t.Error("an attempt after the target was forgotten was not counted under its name")
	}
}

func TestAttemptChildrenCached(t *testing.T) {
	tel, err := New(context.Background(), Config{Traces: Traces{Exporter: ExporterNone}, Metrics: Metrics{DisableRuntime: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	a := AttemptRecord{Provider: "openai", Target: "openai/gpt-4o-mini#0", Outcome: "ok", Duration: time.Millisecond}
	tel.RecordAttempt(a)
	if n := testing.AllocsPerRun(100, func() { tel.RecordAttempt(a) }); n != 0 {
		t.Errorf("RecordAttempt allocates %v times per call once its children are resolved", n)
	}
	if got := labelValues(t, tel, "sluice_upstream_failovers_total", "target"); len(got) != 0 {
		t.Errorf("failover series %v before any failover", got)
	}
	a.Failover = true
	tel.RecordAttempt(a)
	if got := labelValues(t, tel, "sluice_upstream_failovers_total", "target"); !got["openai/gpt-4o-mini#0"] {
		t.Errorf("failover series %v", got)
	}
}

func TestPublishTargetHealthRemovesStale(t *testing.T) {
	tel, err := New(context.Background(), Config{Traces: Traces{Exporter: ExporterNone}, Metrics: Metrics{DisableRuntime: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	tel.PublishTargetHealth([]TargetHealth{{Provider: "a", Target: "a/x#0", Healthy: true, EWMA: time.Millisecond}, {Provider: "b", Target: "b/y", Healthy: true}})
	if got := labelValues(t, tel, "sluice_target_healthy", "target"); len(got) != 2 {
		t.Fatalf("targets %v", got)
	}
	tel.PublishTargetHealth([]TargetHealth{{Provider: "a", Target: "a/x#0", Healthy: false}})
	got := labelValues(t, tel, "sluice_target_healthy", "target")
	if len(got) != 1 || !got["a/x#0"] {
		t.Fatalf("after b/y went away: %v", got)
	}
	if ewma := labelValues(t, tel, "sluice_target_latency_ewma_seconds", "target"); ewma["b/y"] {
		t.Fatal("stale EWMA gauge kept")
	}
}
