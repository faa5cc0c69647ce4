package telemetry

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
)

// startMetricPush exports the Prometheus registry over OTLP on a timer. The
// registry stays the single source of truth: a Producer converts each
// gather into OTLP data, so /metrics and the push always agree.
func startMetricPush(ctx context.Context, cfg Metrics, res *resource.Resource, g prometheus.Gatherer) (func(context.Context) error, error) {
	exp, err := newMetricExporter(ctx, cfg)
	if err != nil {
		return nil, err
	}
	interval := cfg.Interval
	if interval <= 0 {
		interval = 60 * time.Second
		if ms, err := strconv.Atoi(os.Getenv("OTEL_METRIC_EXPORT_INTERVAL")); err == nil && ms > 0 {
			interval = time.Duration(ms) * time.Millisecond
		}
	}
	reader := sdkmetric.NewPeriodicReader(exp,
		sdkmetric.WithInterval(interval),
		sdkmetric.WithProducer(&promProducer{g: g, start: time.Now()}))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(reader))
	return mp.Shutdown, nil
}

func newMetricExporter(ctx context.Context, cfg Metrics) (sdkmetric.Exporter, error) {
	proto := strings.ToLower(cfg.Protocol)
	if proto == "" {
		proto = strings.ToLower(os.Getenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"))
	}
	if proto == "" {
		proto = strings.ToLower(os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL"))
	}
	if proto == "grpc" {
		var opts []otlpmetricgrpc.Option
		if cfg.Endpoint != "" {
			ep, err := parseEndpoint(cfg.Endpoint, cfg.Insecure, "")
			if err != nil {
				return nil, fmt.Errorf("telemetry: metrics: %w", err)
			}
			opts = append(opts, otlpmetricgrpc.WithEndpoint(ep.hostport))
			if ep.insecure {
				opts = append(opts, otlpmetricgrpc.WithInsecure())
			}
		} else if cfg.Insecure {
			opts = append(opts, otlpmetricgrpc.WithInsecure())
		}
		if len(cfg.Headers) > 0 {
			opts = append(opts, otlpmetricgrpc.WithHeaders(cfg.Headers))
		}
		exp, err := otlpmetricgrpc.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("telemetry: metrics: otlp-grpc: %w", err)
		}
		return exp, nil
	}
	var opts []otlpmetrichttp.Option
	if cfg.Endpoint != "" {
		ep, err := parseEndpoint(cfg.Endpoint, cfg.Insecure, "/v1/metrics")
		if err != nil {
			return nil, fmt.Errorf("telemetry: metrics: %w", err)
		}
		opts = append(opts, otlpmetrichttp.WithEndpoint(ep.hostport), otlpmetrichttp.WithURLPath(ep.path))
		if ep.insecure {
			opts = append(opts, otlpmetrichttp.WithInsecure())
		}
	} else if cfg.Insecure {
		opts = append(opts, otlpmetrichttp.WithInsecure())
	}
	if len(cfg.Headers) > 0 {
		opts = append(opts, otlpmetrichttp.WithHeaders(cfg.Headers))
	}
	exp, err := otlpmetrichttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("telemetry: metrics: otlp-http: %w", err)
	}
	return exp, nil
}

// promProducer turns a Prometheus gather into OTLP cumulative data.
type promProducer struct {
	g     prometheus.Gatherer
	start time.Time
}

func (p *promProducer) Produce(context.Context) ([]metricdata.ScopeMetrics, error) {
	families, err := p.g.Gather()
	if err != nil && len(families) == 0 {
		return nil, fmt.Errorf("telemetry: metrics: gather: %w", err)
	}
	now := time.Now()
	out := make([]metricdata.Metrics, 0, len(families))
	for _, f := range families {
		if m, ok := convertFamily(f, p.start, now); ok {
			out = append(out, m)
		}
	}
	return []metricdata.ScopeMetrics{{
		Scope:   instrumentation.Scope{Name: "github.com/sluice-gw/sluice/host/telemetry"},
		Metrics: out,
	}}, nil
}

func labelSet(lp []*dto.LabelPair) attribute.Set {
	kv := make([]attribute.KeyValue, 0, len(lp))
	for _, l := range lp {
		kv = append(kv, attribute.String(l.GetName(), l.GetValue()))
	}
	return attribute.NewSet(kv...)
}

func convertFamily(f *dto.MetricFamily, start, now time.Time) (metricdata.Metrics, bool) {
	m := metricdata.Metrics{Name: f.GetName(), Description: f.GetHelp(), Unit: unitOf(f.GetName())}
	switch f.GetType() {
	case dto.MetricType_COUNTER:
		sum := metricdata.Sum[float64]{Temporality: metricdata.CumulativeTemporality, IsMonotonic: true}
		for _, pm := range f.GetMetric() {
			sum.DataPoints = append(sum.DataPoints, metricdata.DataPoint[float64]{
				Attributes: labelSet(pm.GetLabel()), StartTime: start, Time: now, Value: pm.GetCounter().GetValue(),
			})
		}
		m.Data = sum
	case dto.MetricType_GAUGE:
		g := metricdata.Gauge[float64]{}
		for _, pm := range f.GetMetric() {
			g.DataPoints = append(g.DataPoints, metricdata.DataPoint[float64]{
				Attributes: labelSet(pm.GetLabel()), Time: now, Value: pm.GetGauge().GetValue(),
			})
		}
		m.Data = g
	case dto.MetricType_HISTOGRAM:
		h := metricdata.Histogram[float64]{Temporality: metricdata.CumulativeTemporality}
		for _, pm := range f.GetMetric() {
			ph := pm.GetHistogram()
			dp := metricdata.HistogramDataPoint[float64]{
				Attributes: labelSet(pm.GetLabel()), StartTime: start, Time: now,
				Count: ph.GetSampleCount(), Sum: ph.GetSampleSum(),
			}
			// Prometheus buckets are cumulative; OTLP wants per-bucket
			// counts plus one overflow bucket.
			var prev uint64
			for _, b := range ph.GetBucket() {
				if b.GetUpperBound() == posInf {
					continue
				}
				dp.Bounds = append(dp.Bounds, b.GetUpperBound())
				dp.BucketCounts = append(dp.BucketCounts, b.GetCumulativeCount()-prev)
				prev = b.GetCumulativeCount()
			}
			dp.BucketCounts = append(dp.BucketCounts, ph.GetSampleCount()-prev)
			h.DataPoints = append(h.DataPoints, dp)
		}
		m.Data = h
	default:
		// Summaries and untyped values come only from the runtime
		// collectors; OTLP consumers get those from their own receivers.
		return m, false
	}
	return m, true
}

var posInf = func() float64 { f, _ := strconv.ParseFloat("+Inf", 64); return f }()

// unitOf derives a UCUM unit from the name suffix convention.
func unitOf(name string) string {
	n := strings.TrimSuffix(name, "_total")
	switch {
	case strings.HasSuffix(n, "_seconds"):
		return "s"
	case strings.HasSuffix(n, "_bytes"):
		return "By"
	case strings.HasSuffix(n, "_usd"):
		return "{USD}"
	case strings.HasSuffix(n, "_tokens"):
		return "{token}"
	}
	return ""
}
