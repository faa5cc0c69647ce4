package telemetry

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// OtherLabel replaces model, team and target names past the Metrics.MaxModels cap, and any
// such name longer than MaxLabelBytes.
const OtherLabel = "other"

// MaxLabelBytes bounds a model, team or target label value; a longer one is counted as
// OtherLabel, so no client-chosen string can make one series large.
const MaxLabelBytes = 256

// RequestRecord describes one finished client request.
type RequestRecord struct {
	Route    string // route template, e.g. "/v1/chat/completions"
	Provider string // provider that answered; "" if none did (cache hit, rejection)
	Model    string // model as served (or as requested when none was)
	Team     string // caller's team, "" when anonymous
	Status   int    // HTTP status sent to the client
	Duration time.Duration
	// TTFT is the time to the first streamed token; 0 when not streamed.
	TTFT time.Duration
	// FirstEvent is the kind of the stream's first event, TTFT's "event" label.
	FirstEvent   FirstEvent
	InputTokens  int
	OutputTokens int
	CostUSD      float64
	// EstimatedInputTokens is the gateway's prompt estimate made before the call (for limits);
	// with InputTokens it feeds the estimate-error histogram. 0 when none was made.
	EstimatedInputTokens int
}

// AttemptRecord describes one upstream attempt.
type AttemptRecord struct {
	Provider string
	Target   string // "openai/gpt-4o-mini#0"
	// Outcome is a short fixed word: "ok", "error", "timeout",
	// "rate_limited", "5xx", "reset", ...
	Outcome  string
	Duration time.Duration
	// Failover is true when the gateway moved on to another target after
	// this attempt.
	Failover bool
}

// TargetHealth is the balancer's view of one target.
type TargetHealth struct {
	Provider string
	Target   string
	Healthy  bool
	EWMA     time.Duration // smoothed upstream latency
}

// PluginRecord describes one plugin hook call.
type PluginRecord struct {
	Plugin   string
	Hook     string
	Duration time.Duration
	Err      bool // the guest returned an error payload
	Trap     bool // the guest trapped (instance discarded)
}

// MetricsHandler serves the registry in the Prometheus text format, for
// /metrics on the admin listener.
func (t *Telemetry) MetricsHandler() http.Handler {
	if t == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(t.metrics.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// RecordUnpriced counts a call to a model nothing prices.
func (t *Telemetry) RecordUnpriced(model string) {
	if t == nil {
		return
	}
	t.metrics.unpriced.WithLabelValues(t.metrics.models.label(model)).Inc()
}

// RecordRequest counts a finished request in metrics and live stats.
func (t *Telemetry) RecordRequest(r RequestRecord) {
	if t == nil {
		return
	}
	m := t.metrics
	h := m.requestHandles(r.Route, r.Provider, r.Model, r.Team, r.Status)
	secs := r.Duration.Seconds()
	h.requests.Inc()
	h.duration.Observe(secs)
	if r.TTFT > 0 {
		m.ttftFor(h, r.FirstEvent).Observe(r.TTFT.Seconds())
	}
	if r.InputTokens > 0 {
		h.tokensIn.Add(float64(r.InputTokens))
	}
	if r.OutputTokens > 0 {
		h.tokensOut.Add(float64(r.OutputTokens))
	}
	if r.CostUSD > 0 {
		h.cost.Add(r.CostUSD)
	}
	if r.EstimatedInputTokens > 0 && r.InputTokens > 0 {
		h.estimate.Observe(float64(r.EstimatedInputTokens) / float64(r.InputTokens))
	}
	t.live.recordRequest(h.liveModel, r)
}

// RecordAttempt counts one upstream attempt (and a failover away from it).
func (t *Telemetry) RecordAttempt(a AttemptRecord) {
	if t == nil {
		return
	}
	h := t.metrics.attemptHandles(a.Provider, a.Target, a.Outcome)
	h.attempts.Inc()
	h.duration.Observe(a.Duration.Seconds())
	if a.Failover {
		// Rare, and resolved here so no target shows a failover series before it has one.
		t.metrics.failovers.WithLabelValues(a.Provider, h.target).Inc()
	}
}

// SetTargetHealth publishes a target's health and EWMA latency gauges. A target past the
// label cap is not published: one "other" gauge would only show whichever came last.
func (t *Telemetry) SetTargetHealth(h TargetHealth) {
	if t == nil {
		return
	}
	m := t.metrics
	target := m.targets.label(h.Target)
	if target == OtherLabel && h.Target != OtherLabel {
		return
	}
	v := 0.0
	if h.Healthy {
		v = 1
	}
	m.targetHealthy.WithLabelValues(h.Provider, target).Set(v)
	m.targetEWMA.WithLabelValues(h.Provider, target).Set(h.EWMA.Seconds())
}

// PublishTargetHealth sets the health gauges of every target the balancer has now and
// removes those of targets it no longer has (a router closed on reload, or an implicit router
// dropped), so the gauges describe the present and do not pile up.
func (t *Telemetry) PublishTargetHealth(hs []TargetHealth) {
	if t == nil {
		return
	}
	m := t.metrics
	now := make(map[[2]string]struct{}, len(hs))
	for _, h := range hs {
		t.SetTargetHealth(h)
		now[[2]string{h.Provider, m.targets.label(h.Target)}] = struct{}{}
	}
	m.publishedMu.Lock()
	defer m.publishedMu.Unlock()
	for k := range m.published {
		if _, ok := now[k]; !ok {
			m.targetHealthy.DeleteLabelValues(k[0], k[1])
			m.targetEWMA.DeleteLabelValues(k[0], k[1])
		}
	}
	m.published = now
}

// ForgetLabels drops a client-chosen model and target name that no longer has a router (the
// gateway dropped its implicit router): their series are deleted and their places under the
// cap freed, so the labels kept are those of recently used models. Configured (pinned) names
// are never forgotten.
func (t *Telemetry) ForgetLabels(model, target string) {
	if t == nil {
		return
	}
	m := t.metrics
	if model != "" && m.models.forget(model) {
		m.handlesMu.Lock()
		for k := range m.handles {
			if k.model == model {
				delete(m.handles, k)
			}
		}
		m.handlesMu.Unlock()
		l := prometheus.Labels{"model": model}
		for _, v := range []interface{ DeletePartialMatch(prometheus.Labels) int }{m.requests, m.duration, m.ttft, m.tokensIn, m.tokensOut, m.cost} {
			v.DeletePartialMatch(l)
		}
	}
	if target != "" && m.targets.forget(target) {
		m.attemptsMu.Lock()
		for k := range m.attemptsBy {
			if k[1] == target {
				delete(m.attemptsBy, k)
			}
		}
		m.attemptsMu.Unlock()
		l := prometheus.Labels{"target": target}
		for _, v := range []interface{ DeletePartialMatch(prometheus.Labels) int }{m.attempts, m.attemptDur, m.failovers, m.targetHealthy, m.targetEWMA} {
			v.DeletePartialMatch(l)
		}
	}
}

// PinLabels admits configured model and target names as labels ahead of the cap: they are
// always counted under their own name, however many other names clients send. A reload pins
// the new configuration's names too (pinned names are never dropped: a configuration is small).
func (t *Telemetry) PinLabels(models, targets []string) {
	if t == nil {
		return
	}
	t.metrics.models.pin(models)
	t.metrics.targets.pin(targets)
}

// RecordPlugin counts one plugin hook call.
func (t *Telemetry) RecordPlugin(p PluginRecord) {
	if t == nil {
		return
	}
	h := t.metrics.pluginHandles(p.Plugin, p.Hook)
	h.calls.Inc()
	h.duration.Observe(p.Duration.Seconds())
	if p.Err {
		h.errors.Inc()
	}
	if p.Trap {
		h.traps.Inc()
	}
	t.live.recordPlugin(h.live, p)
}

// RecordPluginReload counts a hot reload attempt; ok=false means the new
// version was refused and the old one kept serving.
func (t *Telemetry) RecordPluginReload(plugin string, ok bool) {
	if t == nil {
		return
	}
	result := "ok"
	if !ok {
		result = "refused"
	}
	t.metrics.pluginReloads.WithLabelValues(plugin, result).Inc()
}

// RecordPluginLogDropped counts an on_log record dropped because the plugin's queue was full.
func (t *Telemetry) RecordPluginLogDropped(plugin string) {
	if t == nil {
		return
	}
	t.metrics.pluginLogDropped.WithLabelValues(plugin).Inc()
}

// RecordCache counts one cache lookup.
func (t *Telemetry) RecordCache(hit bool) {
	if t == nil {
		return
	}
	if hit {
		t.metrics.cacheHits.Inc()
	} else {
		t.metrics.cacheMisses.Inc()
	}
	t.live.recordCache(hit)
}

// RecordCacheEvictions counts entries the cache evicted.
func (t *Telemetry) RecordCacheEvictions(n int) {
	if t == nil || n <= 0 {
		return
	}
	t.metrics.cacheEvictions.Add(float64(n))
}

// SetCacheBytes publishes the cache's current size.
func (t *Telemetry) SetCacheBytes(n int64) {
	if t == nil {
		return
	}
	t.metrics.cacheBytes.Set(float64(n))
}

// RecordRateLimit counts one rejection at tier ("global", "router", "team",
// "user", "key") in unit ("requests", "tokens", "cost").
func (t *Telemetry) RecordRateLimit(tier, unit string) {
	if t == nil {
		return
	}
	t.metrics.rateLimited.WithLabelValues(tier, unit).Inc()
	t.live.recordRateLimit(tier, unit)
}

// RequestStarted counts a request in flight until the returned func runs.
func (t *Telemetry) RequestStarted() (done func()) {
	if t == nil {
		return nop
	}
	t.metrics.inFlight.Inc()
	t.live.inFlight.Add(1)
	return t.metrics.requestDone
}

// StreamStarted counts an open response stream until the returned func runs.
func (t *Telemetry) StreamStarted() (done func()) {
	if t == nil {
		return nop
	}
	t.metrics.streams.Inc()
	t.live.streams.Add(1)
	return t.metrics.streamDone
}

func nop() {}

// metrics holds the registry and every instrument. Only client_golang is
// on the hot path: see docs/decisions.md.
type metrics struct {
	reg     *prometheus.Registry
	models  *capper
	teams   *capper
	targets *capper
	live    *Live

	publishedMu sync.Mutex
	published   map[[2]string]struct{} // provider, target of the health gauges set

	requests, tokensIn, tokensOut, cost    *prometheus.CounterVec
	duration, ttft                         *prometheus.HistogramVec
	cacheHits, cacheMisses, cacheEvictions prometheus.Counter
	cacheBytes                             prometheus.Gauge
	rateLimited                            *prometheus.CounterVec
	attempts, failovers                    *prometheus.CounterVec
	attemptDur                             *prometheus.HistogramVec
	targetHealthy, targetEWMA              *prometheus.GaugeVec
	pluginCalls, pluginErrors, pluginTraps *prometheus.CounterVec
	pluginReloads                          *prometheus.CounterVec
	pluginLogDropped                       *prometheus.CounterVec
	estimate                               *prometheus.HistogramVec
	unpriced                               *prometheus.CounterVec
	pluginDur                              *prometheus.HistogramVec
	inFlight, streams                      prometheus.Gauge
	requestDone, streamDone                func()
	handlesMu                              sync.RWMutex
	handles                                map[reqKey]*reqHandles
	pluginsMu                              sync.RWMutex
	plugins                                map[[2]string]*pluginHandles
	attemptsMu                             sync.RWMutex
	attemptsBy                             map[[3]string]*attemptHandles
}

// pluginHandles are one plugin hook's resolved children: several hooks run
// per request, so they skip the label hashing too.
type pluginHandles struct {
	calls, errors, traps prometheus.Counter
	duration             prometheus.Observer
	live                 *pluginStats
}

func (m *metrics) pluginHandles(plugin, hook string) *pluginHandles {
	k := [2]string{plugin, hook}
	m.pluginsMu.RLock()
	h := m.plugins[k]
	m.pluginsMu.RUnlock()
	if h != nil {
		return h
	}
	m.pluginsMu.Lock()
	defer m.pluginsMu.Unlock()
	if h = m.plugins[k]; h != nil {
		return h
	}
	h = &pluginHandles{
		calls:    m.pluginCalls.WithLabelValues(plugin, hook),
		errors:   m.pluginErrors.WithLabelValues(plugin, hook),
		traps:    m.pluginTraps.WithLabelValues(plugin, hook),
		duration: m.pluginDur.WithLabelValues(plugin, hook),
		live:     m.live.pluginStats(plugin, hook),
	}
	m.plugins[k] = h
	return h
}

// attemptHandles are one (provider, target, outcome)'s resolved children: every request
// makes at least one attempt, so a repeat RecordAttempt is one map lookup plus atomic adds.
type attemptHandles struct {
	attempts prometheus.Counter
	duration prometheus.Observer
	target   string // the capped label
}

// attemptHandles returns cached children, keyed by the capped target name so unbounded
// target strings cannot grow the cache (outcomes are a short fixed set of words).
func (m *metrics) attemptHandles(provider, target, outcome string) *attemptHandles {
	k := [3]string{provider, target, outcome}
	m.attemptsMu.RLock()
	h := m.attemptsBy[k]
	m.attemptsMu.RUnlock()
	if h != nil {
		return h
	}
	if k[1] = m.targets.label(target); k[1] != target {
		m.attemptsMu.RLock()
		h = m.attemptsBy[k]
		m.attemptsMu.RUnlock()
		if h != nil {
			return h
		}
	}
	m.attemptsMu.Lock()
	defer m.attemptsMu.Unlock()
	if h = m.attemptsBy[k]; h != nil {
		return h
	}
	h = &attemptHandles{
		attempts: m.attempts.WithLabelValues(provider, k[1], outcome),
		duration: m.attemptDur.WithLabelValues(provider, k[1]),
		target:   k[1],
	}
	m.attemptsBy[k] = h
	return h
}

type reqKey struct {
	route, provider, model, team string
	status                       int
}

// reqHandles are the resolved children for one label combination, so a
// repeat RecordRequest is one map lookup plus atomic adds.
type reqHandles struct {
	requests, tokensIn, tokensOut, cost prometheus.Counter
	duration, estimate                  prometheus.Observer
	ttft                                [numFirstEvents]atomic.Pointer[ttftChild]
	provider, model                     string // the TTFT children's labels
	liveModel                           int
}

var (
	durationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}
	ttftBuckets     = []float64{.025, .05, .1, .2, .3, .5, .75, 1, 1.5, 2, 3, 5, 10}
	// estimateBuckets are estimate/actual prompt-token ratios: 1 is exact.
	estimateBuckets = []float64{.25, .5, .67, .8, .9, 1, 1.1, 1.25, 1.5, 2, 4}
	pluginBuckets   = []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .1, 1}
)

func newMetrics(maxModels int, runtime bool, live *Live) *metrics {
	m := &metrics{
		reg:        prometheus.NewRegistry(),
		models:     newCapper(maxModels),
		teams:      newCapper(maxModels),
		targets:    newCapper(maxModels),
		live:       live,
		handles:    make(map[reqKey]*reqHandles),
		plugins:    make(map[[2]string]*pluginHandles),
		attemptsBy: make(map[[3]string]*attemptHandles),
	}
	m.requests = m.counterVec("sluice_requests_total", "Client requests finished, by route, provider, model and HTTP status.", "route", "provider", "model", "status")
	m.duration = m.histogramVec("sluice_request_duration_seconds", "Client request latency from first byte in to last byte out.", durationBuckets, "route", "provider", "model", "status")
	m.ttft = m.histogramVec("sluice_time_to_first_token_seconds", "Time from request start to the first streamed token, by the kind of the stream's first event.", ttftBuckets, "provider", "model", "event")
	m.tokensIn = m.counterVec("sluice_input_tokens_total", "Prompt tokens reported by providers.", "provider", "model")
	m.tokensOut = m.counterVec("sluice_output_tokens_total", "Completion tokens reported by providers.", "provider", "model")
	m.cost = m.counterVec("sluice_cost_usd_total", "Estimated spend in US dollars.", "provider", "model", "team")
	m.cacheHits = m.counter("sluice_cache_hits_total", "Response cache lookups that found an answer.")
	m.cacheMisses = m.counter("sluice_cache_misses_total", "Response cache lookups that found nothing.")
	m.cacheEvictions = m.counter("sluice_cache_evictions_total", "Entries evicted from the response cache.")
	m.cacheBytes = m.gauge("sluice_cache_size_bytes", "Bytes held by the response cache.")
	m.rateLimited = m.counterVec("sluice_ratelimit_rejections_total", "Requests rejected by a rate limit, by tier and unit.", "tier", "unit")
	m.attempts = m.counterVec("sluice_upstream_attempts_total", "Upstream attempts by provider, target and outcome.", "provider", "target", "outcome")
	m.attemptDur = m.histogramVec("sluice_upstream_attempt_duration_seconds", "Upstream attempt latency to response headers or failure.", durationBuckets, "provider", "target")
	m.failovers = m.counterVec("sluice_upstream_failovers_total", "Attempts after which the gateway failed over to another target.", "provider", "target")
	m.targetHealthy = m.gaugeVec("sluice_target_healthy", "1 when the balancer considers the target healthy, else 0.", "provider", "target")
	m.targetEWMA = m.gaugeVec("sluice_target_latency_ewma_seconds", "Smoothed upstream latency the balancer uses for the target.", "provider", "target")
	m.pluginCalls = m.counterVec("sluice_plugin_calls_total", "Plugin hook calls.", "plugin", "hook")
	m.pluginErrors = m.counterVec("sluice_plugin_errors_total", "Plugin hook calls that returned an error payload.", "plugin", "hook")
	m.pluginTraps = m.counterVec("sluice_plugin_traps_total", "Plugin hook calls that trapped.", "plugin", "hook")
	m.pluginReloads = m.counterVec("sluice_plugin_reloads_total", "Plugin hot reloads by result (ok or refused).", "plugin", "result")
	m.pluginLogDropped = m.counterVec("sluice_plugin_log_dropped_total", "on_log records dropped because the plugin's queue was full.", "plugin")
	m.pluginDur = m.histogramVec("sluice_plugin_call_duration_seconds", "Plugin hook call latency.", pluginBuckets, "plugin", "hook")
	m.estimate = m.histogramVec("sluice_token_estimate_ratio", "The prompt-token estimate limits reserve before a call, divided by the provider's count (1 is exact).", estimateBuckets, "provider", "model")
	m.unpriced = m.counterVec("sluice_price_unknown_total", "Calls to a model no price entry names, costed at the configured default (pricing.\"*\") or at zero.", "model")
	m.inFlight = m.gauge("sluice_requests_in_flight", "Client requests being served.")
	m.streams = m.gauge("sluice_streams_in_flight", "Streaming responses open.")
	// Made once so RequestStarted does not allocate a closure per call.
	m.requestDone = func() { m.inFlight.Dec(); live.inFlight.Add(-1) }
	m.streamDone = func() { m.streams.Dec(); live.streams.Add(-1) }
	if runtime {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

func (m *metrics) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	m.reg.MustRegister(v)
	return v
}

func (m *metrics) counter(name, help string) prometheus.Counter {
	v := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	m.reg.MustRegister(v)
	return v
}

func (m *metrics) gauge(name, help string) prometheus.Gauge {
	v := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	m.reg.MustRegister(v)
	return v
}

func (m *metrics) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	m.reg.MustRegister(v)
	return v
}

func (m *metrics) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	m.reg.MustRegister(v)
	return v
}

// requestHandles returns cached children for the label set, resolving and
// capping model and team names on first sight.
func (m *metrics) requestHandles(route, provider, model, team string, status int) *reqHandles {
	k := reqKey{route: route, provider: provider, model: model, team: team, status: status}
	m.handlesMu.RLock()
	h := m.handles[k]
	m.handlesMu.RUnlock()
	if h != nil {
		return h
	}
	// Key the cache by capped names so unbounded model strings cannot grow it.
	k.model = m.models.label(model)
	k.team = m.teams.label(team)
	if k.model != model || k.team != team {
		m.handlesMu.RLock()
		h = m.handles[k]
		m.handlesMu.RUnlock()
		if h != nil {
			return h
		}
	}
	m.handlesMu.Lock()
	defer m.handlesMu.Unlock()
	if h = m.handles[k]; h != nil {
		return h
	}
	st := statusLabel(status)
	h = &reqHandles{
		requests:  m.requests.WithLabelValues(route, provider, k.model, st),
		duration:  m.duration.WithLabelValues(route, provider, k.model, st),
		provider:  provider,
		model:     k.model,
		tokensIn:  m.tokensIn.WithLabelValues(provider, k.model),
		tokensOut: m.tokensOut.WithLabelValues(provider, k.model),
		cost:      m.cost.WithLabelValues(provider, k.model, k.team),
		estimate:  m.estimate.WithLabelValues(provider, k.model),
		liveModel: m.live.modelIndex(k.model, provider),
	}
	m.handles[k] = h
	return h
}

var statusLabels = func() [600]string {
	var s [600]string
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func statusLabel(code int) string {
	if code >= 0 && code < len(statusLabels) {
		return statusLabels[code]
	}
	return strconv.Itoa(code)
}

// capper admits pinned (configured) values of a label and the first max other distinct
// values, and maps the rest, and any value longer than MaxLabelBytes, to OtherLabel.
type capper struct {
	mu     sync.RWMutex
	seen   map[string]bool // admitted values: true when pinned
	pinned int             // how many of seen are pinned
	max    int
}

func newCapper(max int) *capper { return &capper{seen: make(map[string]bool), max: max} }

func (c *capper) pin(vs []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range vs {
		if v == "" || len(v) > MaxLabelBytes || c.seen[v] {
			continue
		}
		c.seen[v] = true
		c.pinned++
	}
}

// forget removes an admitted, unpinned value and reports whether it was one.
func (c *capper) forget(v string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	pinned, ok := c.seen[v]
	if !ok || pinned {
		return false
	}
	delete(c.seen, v)
	return true
}

func (c *capper) label(v string) string {
	if v == "" || v == OtherLabel {
		return v
	}
	if len(v) > MaxLabelBytes {
		return OtherLabel
	}
	c.mu.RLock()
	_, ok := c.seen[v]
	full := len(c.seen)-c.pinned >= c.max
	c.mu.RUnlock()
	if ok {
		return v
	}
	if full {
		return OtherLabel
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.seen[v]; ok {
		return v
	}
	if len(c.seen)-c.pinned >= c.max {
		return OtherLabel
	}
	c.seen[v] = false
	return v
}
