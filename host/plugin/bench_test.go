package plugin

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/sdk/conformance"
)

func benchCall(b *testing.B, p *Plugin, hook string, in []byte) {
	ctx := context.Background()
	if _, err := p.Call(ctx, hook, in); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := p.Call(ctx, hook, in); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	st := p.Stats()
	b.ReportMetric(float64(st.P50.Microseconds()), "p50-bucket-us")
}

// BenchmarkCall measures a hook call through the pool (slot, write, call, copy) per sandbox
// mechanism (sandboxModes; metered is what every plugin gets).
func BenchmarkCall(b *testing.B) {
	e, _ := newTestEngine(b)
	good := goodWasm(b, "v1")
	translate := []byte(`{"endpoint":"chat.completions","model":"m","body":{"messages":[{"role":"user","content":"` + strings.Repeat("x", 900) + `"}]}}`)
	for _, m := range sandboxModes {
		spec := Spec{Name: "raw", Bytes: conformance.Echo(false, "route"), Pool: 1}
		m.set(&spec)
		raw := load(b, e, spec)
		spec = Spec{Name: "good", Bytes: good, Pool: 1}
		m.set(&spec)
		goP := load(b, e, spec)
		b.Run(m.name+"/noop-handmade", func(b *testing.B) { benchCall(b, raw, "route", []byte("{}")) })
		b.Run(m.name+"/noop-go", func(b *testing.B) { benchCall(b, goP, "translate_request", []byte("{}")) })
		b.Run(m.name+"/route-meta-go", func(b *testing.B) { benchCall(b, goP, "route", []byte(routeIn)) })
		b.Run(m.name+"/translate-echo-1KB-go", func(b *testing.B) { benchCall(b, goP, "translate_request", translate) })
	}
}

// BenchmarkInstantiate measures one Go guest instance: instantiate, _initialize, handshake, init.
func BenchmarkInstantiate(b *testing.B) {
	e, _ := newTestEngine(b)
	p := load(b, e, Spec{Name: "good", Bytes: goodWasm(b, "v1")})
	v := p.acquire()
	defer v.unref()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		inst, err := v.newInstance(ctx, false)
		if err != nil {
			b.Fatal(err)
		}
		v.live.Add(-1)
		inst.mod.Close(ctx)
	}
}

// BenchmarkLoadCached is a plugin's start cost with a warm file cache: a fresh engine (as at
// process start), compile-cache hit, validation and the first instance.
func BenchmarkLoadCached(b *testing.B) {
	bin := goodWasm(b, "v1")
	e0, _ := newTestEngine(b)
	load(b, e0, Spec{Name: "warm", Bytes: bin}).Close()
	ctx := context.Background()
	b.ReportAllocs()
	var worst time.Duration
	for b.Loop() {
		start := time.Now()
		e, _ := newTestEngine(b)
		p, err := e.Load(ctx, Spec{Name: "good", Bytes: bin})
		if err != nil {
			b.Fatal(err)
		}
		worst = max(worst, time.Since(start))
		p.Close()
		e.Close()
	}
	b.ReportMetric(float64(worst.Milliseconds()), "worst-ms")
}

// BenchmarkReload swaps between two cached Go guest versions.
func BenchmarkReload(b *testing.B) {
	e, _ := newTestEngine(b)
	v1, v2 := goodWasm(b, "v1"), goodWasm(b, "v2")
	p := load(b, e, Spec{Name: "good", Bytes: v1})
	if err := p.Reload(context.Background(), v2); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		bin := v1
		if i%2 == 1 {
			bin = v2
		}
		i++
		if err := p.Reload(context.Background(), bin); err != nil {
			b.Fatal(err)
		}
	}
}
