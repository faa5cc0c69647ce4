package telemetry

import (
	"context"
	"testing"
	"time"
)

func TestTTFTByFirstEvent(t *testing.T) {
	tel, err := New(context.Background(), Config{Traces: Traces{Exporter: ExporterNone}, Metrics: Metrics{DisableRuntime: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(context.Background())
	r := RequestRecord{Route: "/v1/chat/completions", Provider: "openai", Model: "openai/m", Status: 200, TTFT: 40 * time.Millisecond, FirstEvent: FirstEventRole}
	tel.RecordRequest(r)
	r.FirstEvent = FirstEventToolCall
	tel.RecordRequest(r)
	r.FirstEvent = NativeFirstEvent("message_start")
	tel.RecordRequest(r)
	r.FirstEvent = NativeFirstEvent("an.event.nobody.knows")
	tel.RecordRequest(r)
	r.FirstEvent = FirstEvent(200) // out of range: other
	tel.RecordRequest(r)
	r.TTFT = 0 // not streamed: no observation
	tel.RecordRequest(r)
	_, fams := scrape(t, tel)
	got := map[string]uint64{}
	for _, m := range fams["sluice_time_to_first_token_seconds"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "event" {
				got[l.GetValue()] += m.GetHistogram().GetSampleCount()
			}
		}
	}
	want := map[string]uint64{"role": 1, "tool_call": 1, "message_start": 1, "other": 2}
	if len(got) != len(want) {
		t.Fatalf("TTFT by event %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("TTFT by event %v, want %v", got, want)
		}
	}
	r.TTFT, r.FirstEvent = time.Millisecond, FirstEventContent
	tel.RecordRequest(r)
	if n := testing.AllocsPerRun(100, func() { tel.RecordRequest(r) }); n != 0 {
		t.Errorf("RecordRequest with a TTFT allocates %v times per call", n)
	}
}

func TestNativeFirstEventNames(t *testing.T) {
	for e := FirstEventResponseCreated; e < numFirstEvents; e++ {
		if NativeFirstEvent(e.String()) != e {
			t.Errorf("%q does not map back to itself", e.String())
		}
	}
	for e := FirstEventOther; e < numFirstEvents; e++ {
		if e.String() == "" {
			t.Errorf("kind %d has no label", e)
		}
	}
}
