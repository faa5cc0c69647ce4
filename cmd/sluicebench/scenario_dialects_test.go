package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDialectBudgetsAgainstReference(t *testing.T) {
	defer func() { delete(measured, "core"); delete(measured, "throughput") }()
	m := &Measured{AddedP50: 0.31, AddedP99: 0.5, SluiceCPU: 0.5, Through: &Side{RPS: 5000}, Direct: &Side{}}
	for _, b := range append(addedVs("core", m, 1.05), rpsVs("throughput", m, 0.95)...) {
		if !b.Skipped || b.Pass {
			t.Errorf("without a reference: %+v", b)
		}
	}
	measured["core"] = &Measured{AddedP50: 0.3, AddedP99: -0.1, Through: &Side{}, Direct: &Side{}}
	b := addedVs("core", m, 1.05)
	if len(b) != 2 || !b[0].Pass || b[0].Skipped || b[0].Value < 1.03 || b[0].Value > 1.04 {
		t.Errorf("p50 ratio: %+v", b[0])
	}
	if !b[1].Skipped || b[1].Pass {
		t.Errorf("a negative reference p99 must skip, not pass: %+v", b[1])
	}
	if b := addedVs("core", m, 1); b[0].Pass {
		t.Errorf("0.31 vs 0.30 passed a budget of 1x: %+v", b[0])
	}
	// 100 µs per request against 80: capacity 0.8x, whatever the raw req/s.
	measured["throughput"] = &Measured{SluiceCPU: 0.8, Through: &Side{RPS: 10000}, Direct: &Side{}}
	r := rpsVs("throughput", m, 0.95)
	if len(r) != 1 || r[0].Pass || r[0].Value < 0.79 || r[0].Value > 0.81 || !strings.Contains(r[0].Name, "100 vs 80 µs") {
		t.Errorf("capacity ratio: %+v", r)
	}
}

func TestDialectRequests(t *testing.T) {
	for _, n := range scenarioNames() {
		s := registry[n]
		if s.Area != AreaDialects {
			continue
		}
		for _, through := range []bool{false, true} {
			r := s.Request(through)
			var body map[string]any
			if err := json.Unmarshal(r.Body, &body); err != nil {
				t.Fatalf("%s through=%v: %v", n, through, err)
			}
			model, _ := body["model"].(string)
			if through == (model == "bench-model") {
				t.Errorf("%s through=%v: model %q", n, through, model)
			}
			stream := strings.Contains(n, "stream")
			if r.Stream != stream || (body["stream"] == true) != stream {
				t.Errorf("%s through=%v: stream %v, body stream %v", n, through, r.Stream, body["stream"])
			}
			dialect := r.Path != "/v1/chat/completions"
			if (r.EndEvent != "") != dialect {
				t.Errorf("%s through=%v: path %s with end event %q", n, through, r.Path, r.EndEvent)
			}
			if !through && strings.Contains(n, "bridged") && dialect {
				t.Errorf("%s: the direct side of a bridged scenario should be the chat request its upstream gets", n)
			}
			if through && r.Path == "/v1/responses" && body["store"] != false {
				t.Errorf("%s: Responses requests are sent with store = false", n)
			}
		}
	}
}
