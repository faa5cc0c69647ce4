package telemetry

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-gw/sluice/host/admin/dashboard"
)

const (
	liveWindow    = 300 // seconds kept
	liveModels    = 32  // models tracked individually; the rest share one row
	latBuckets    = 96  // log buckets: 1µs * 1.25^i, covers up to ~35 minutes
	latBase       = 1e3 // ns
	latGrowth     = 1.25
	recentSeconds = 10 // window for the headline rates
	pctSeconds    = 60 // window for the headline percentiles
)

var logGrowth = math.Log(latGrowth)

// Live aggregates recent traffic in memory for the admin dashboard. Writers
// touch only atomics in a per-second slot; a lock is taken once per second
// to recycle a slot and when a new model, plugin or tier first appears.
type Live struct {
	start time.Time
	now   func() time.Time

	ring    [liveWindow]slot
	resetMu sync.Mutex

	inFlight, streams atomic.Int64
	requests, errors  atomic.Int64
	tokensIn          atomic.Int64
	tokensOut         atomic.Int64
	costNano          atomic.Int64
	rateLimited       atomic.Int64

	modelsMu sync.RWMutex
	modelIdx map[string]int
	models   []modelInfo

	pluginsMu sync.RWMutex
	plugins   map[[2]string]*pluginStats

	limitsMu sync.RWMutex
	limits   map[[2]string]*atomic.Int64

	targets atomic.Pointer[func() []dashboard.Target]
}

type modelInfo struct{ name, provider string }

type slot struct {
	sec                                         atomic.Int64
	requests, errors, tokensIn, tokensOut, cost atomic.Int64
	cacheHits, cacheMisses, rateLimited         atomic.Int64
	lat                                         [latBuckets]atomic.Uint32
	models                                      [liveModels]modelSlot
}

type modelSlot struct {
	requests, errors, tokensIn, tokensOut, costNano, latNs atomic.Int64
}

type pluginStats struct {
	calls, errors, traps, totalNs atomic.Int64
	lat                           [latBuckets]atomic.Uint32
}

func newLive() *Live {
	return &Live{
		start:    time.Now(),
		now:      time.Now,
		modelIdx: make(map[string]int),
		plugins:  make(map[[2]string]*pluginStats),
		limits:   make(map[[2]string]*atomic.Int64),
	}
}

// Live returns the in-process aggregator (nil for a nil *Telemetry).
func (t *Telemetry) Live() *Live {
	if t == nil {
		return nil
	}
	return t.live
}

// SetTargetSource registers the function the dashboard calls for the
// balancer's current view of its targets.
func (l *Live) SetTargetSource(f func() []dashboard.Target) {
	if l == nil {
		return
	}
	l.targets.Store(&f)
}

// slotFor returns the slot for the current second, recycling it first if
// it still holds data from liveWindow seconds ago.
func (l *Live) slotFor(sec int64) *slot {
	s := &l.ring[sec%liveWindow]
	if s.sec.Load() == sec {
		return s
	}
	l.resetMu.Lock()
	if s.sec.Load() != sec {
		s.clear()
		s.sec.Store(sec)
	}
	l.resetMu.Unlock()
	return s
}

func (s *slot) clear() {
	s.requests.Store(0)
	s.errors.Store(0)
	s.tokensIn.Store(0)
	s.tokensOut.Store(0)
	s.cost.Store(0)
	s.cacheHits.Store(0)
	s.cacheMisses.Store(0)
	s.rateLimited.Store(0)
	for i := range s.lat {
		s.lat[i].Store(0)
	}
	for i := range s.models {
		m := &s.models[i]
		m.requests.Store(0)
		m.errors.Store(0)
		m.tokensIn.Store(0)
		m.tokensOut.Store(0)
		m.costNano.Store(0)
		m.latNs.Store(0)
	}
}

func latIndex(d time.Duration) int {
	ns := float64(d.Nanoseconds())
	if ns <= latBase {
		return 0
	}
	i := int(math.Ceil(math.Log(ns/latBase) / logGrowth))
	if i >= latBuckets {
		return latBuckets - 1
	}
	return i
}

// latValue is the geometric middle of bucket i, in nanoseconds.
func latValue(i int) float64 {
	if i == 0 {
		return latBase
	}
	return latBase * math.Pow(latGrowth, float64(i)-0.5)
}

// modelIndex maps a (capped) model name to its row; past liveModels rows
// everything lands in the last, shown as "other".
func (l *Live) modelIndex(model, provider string) int {
	l.modelsMu.RLock()
	i, ok := l.modelIdx[model]
	l.modelsMu.RUnlock()
	if ok {
		return i
	}
	l.modelsMu.Lock()
	defer l.modelsMu.Unlock()
	if i, ok := l.modelIdx[model]; ok {
		return i
	}
	if len(l.models) < liveModels-1 || (len(l.models) == liveModels-1 && model == OtherLabel) {
		l.models = append(l.models, modelInfo{model, provider})
		l.modelIdx[model] = len(l.models) - 1
		return len(l.models) - 1
	}
	if len(l.models) < liveModels {
		l.models = append(l.models, modelInfo{OtherLabel, ""})
		l.modelIdx[OtherLabel] = liveModels - 1
	}
	return l.modelIdx[OtherLabel]
}

func (l *Live) recordRequest(model int, r RequestRecord) {
	s := l.slotFor(l.now().Unix())
	isErr := r.Status >= 500 || r.Status == 0
	cost := int64(math.Round(r.CostUSD * 1e9))
	s.requests.Add(1)
	s.lat[latIndex(r.Duration)].Add(1)
	ms := &s.models[model]
	ms.requests.Add(1)
	ms.latNs.Add(r.Duration.Nanoseconds())
	l.requests.Add(1)
	if isErr {
		s.errors.Add(1)
		ms.errors.Add(1)
		l.errors.Add(1)
	}
	if r.InputTokens > 0 {
		n := int64(r.InputTokens)
		s.tokensIn.Add(n)
		ms.tokensIn.Add(n)
		l.tokensIn.Add(n)
	}
	if r.OutputTokens > 0 {
		n := int64(r.OutputTokens)
		s.tokensOut.Add(n)
		ms.tokensOut.Add(n)
		l.tokensOut.Add(n)
	}
	if cost > 0 {
		s.cost.Add(cost)
		ms.costNano.Add(cost)
		l.costNano.Add(cost)
	}
}

func (l *Live) recordCache(hit bool) {
	s := l.slotFor(l.now().Unix())
	if hit {
		s.cacheHits.Add(1)
	} else {
		s.cacheMisses.Add(1)
	}
}

func (l *Live) recordRateLimit(tier, unit string) {
	s := l.slotFor(l.now().Unix())
	s.rateLimited.Add(1)
	l.rateLimited.Add(1)
	k := [2]string{tier, unit}
	l.limitsMu.RLock()
	c := l.limits[k]
	l.limitsMu.RUnlock()
	if c == nil {
		l.limitsMu.Lock()
		if c = l.limits[k]; c == nil {
			c = new(atomic.Int64)
			l.limits[k] = c
		}
		l.limitsMu.Unlock()
	}
	c.Add(1)
}

// pluginStats returns the row for a plugin hook, creating it on first use.
func (l *Live) pluginStats(plugin, hook string) *pluginStats {
	k := [2]string{plugin, hook}
	l.pluginsMu.Lock()
	defer l.pluginsMu.Unlock()
	ps := l.plugins[k]
	if ps == nil {
		ps = new(pluginStats)
		l.plugins[k] = ps
	}
	return ps
}

func (l *Live) recordPlugin(ps *pluginStats, p PluginRecord) {
	ps.calls.Add(1)
	ps.totalNs.Add(p.Duration.Nanoseconds())
	ps.lat[latIndex(p.Duration)].Add(1)
	if p.Err {
		ps.errors.Add(1)
	}
	if p.Trap {
		ps.traps.Add(1)
	}
}

// percentiles returns the values (ns) at each quantile q of the counts.
func percentiles(counts *[latBuckets]uint64, qs ...float64) []float64 {
	var total uint64
	for _, c := range counts {
		total += c
	}
	out := make([]float64, len(qs))
	if total == 0 {
		return out
	}
	for qi, q := range qs {
		rank := uint64(math.Ceil(q * float64(total)))
		if rank == 0 {
			rank = 1
		}
		var cum uint64
		for i, c := range counts {
			cum += c
			if cum >= rank {
				out[qi] = latValue(i)
				break
			}
		}
	}
	return out
}

// Snapshot summarises the window for the dashboard. It reads atomics only
// (plus short read locks on the name tables), so it can run while traffic
// is being recorded; a second in progress is reported as it stands.
func (l *Live) Snapshot() dashboard.Snapshot {
	if l == nil {
		return dashboard.Snapshot{}
	}
	now := l.now()
	snap := dashboard.Snapshot{
		GeneratedAt:   now.UTC(),
		UptimeSeconds: now.Sub(l.start).Seconds(),
		WindowSeconds: liveWindow,
	}
	l.modelsMu.RLock()
	models := append([]modelInfo(nil), l.models...)
	l.modelsMu.RUnlock()
	w := l.window(&snap.Series, now.Unix(), len(models))
	snap.Totals = l.totals(w)
	snap.Models = modelRows(models, w)
	snap.Plugins = l.pluginRows()
	snap.RateLimits = l.limitRows()
	if f := l.targets.Load(); f != nil {
		snap.Targets = (*f)()
	}
	return snap
}

// windowSums are the sums over the live window that the headline figures and the per-model
// rows are made of.
type windowSums struct {
	models                             [liveModels]struct{ req, errs, in, out, cost, lat int64 }
	pct                                [latBuckets]uint64
	recentReq, recentErr, hits, misses int64
}

// window fills the per-second series of the last liveWindow seconds and sums what the
// totals and the model rows need; nModels models are summed.
func (l *Live) window(se *dashboard.Series, nowSec int64, nModels int) *windowSums {
	first := nowSec - liveWindow + 1
	se.Start = first
	for _, p := range []*[]float64{&se.Requests, &se.Errors, &se.P50Ms, &se.P90Ms, &se.P99Ms, &se.TokensIn, &se.TokensOut, &se.CostUSD, &se.CacheHits, &se.CacheMisses, &se.RateLimited} {
		*p = make([]float64, liveWindow)
	}
	w := &windowSums{}
	for i := range liveWindow {
		sec := first + int64(i)
		s := &l.ring[sec%liveWindow]
		if s.sec.Load() != sec {
			continue
		}
		var counts [latBuckets]uint64
		for b := range counts {
			counts[b] = uint64(s.lat[b].Load())
		}
		req, errs := s.requests.Load(), s.errors.Load()
		se.Requests[i] = float64(req)
		se.Errors[i] = float64(errs)
		if req > 0 {
			p := percentiles(&counts, .5, .9, .99)
			se.P50Ms[i], se.P90Ms[i], se.P99Ms[i] = p[0]/1e6, p[1]/1e6, p[2]/1e6
		}
		se.TokensIn[i] = float64(s.tokensIn.Load())
		se.TokensOut[i] = float64(s.tokensOut.Load())
		se.CostUSD[i] = float64(s.cost.Load()) / 1e9
		h, m := s.cacheHits.Load(), s.cacheMisses.Load()
		se.CacheHits[i], se.CacheMisses[i] = float64(h), float64(m)
		w.hits, w.misses = w.hits+h, w.misses+m
		se.RateLimited[i] = float64(s.rateLimited.Load())
		// Headline rates use whole seconds only: skip the one in progress.
		if sec < nowSec && sec >= nowSec-recentSeconds {
			w.recentReq += req
			w.recentErr += errs
		}
		if sec > nowSec-pctSeconds {
			for b := range counts {
				w.pct[b] += counts[b]
			}
		}
		for mi := range nModels {
			ms := &s.models[mi]
			a := &w.models[mi]
			a.req += ms.requests.Load()
			a.errs += ms.errors.Load()
			a.in += ms.tokensIn.Load()
			a.out += ms.tokensOut.Load()
			a.cost += ms.costNano.Load()
			a.lat += ms.latNs.Load()
		}
	}
	return w
}

func (l *Live) totals(w *windowSums) dashboard.Totals {
	p := percentiles(&w.pct, .5, .9, .99)
	t := dashboard.Totals{
		Requests:       l.requests.Load(),
		Errors:         l.errors.Load(),
		RequestsPerSec: float64(w.recentReq) / recentSeconds,
		ErrorsPerSec:   float64(w.recentErr) / recentSeconds,
		P50Ms:          p[0] / 1e6,
		P90Ms:          p[1] / 1e6,
		P99Ms:          p[2] / 1e6,
		TokensIn:       l.tokensIn.Load(),
		TokensOut:      l.tokensOut.Load(),
		CostUSD:        float64(l.costNano.Load()) / 1e9,
		CacheHitRate:   -1,
		RateLimited:    l.rateLimited.Load(),
		InFlight:       l.inFlight.Load(),
		Streams:        l.streams.Load(),
	}
	if w.hits+w.misses > 0 {
		t.CacheHitRate = float64(w.hits) / float64(w.hits+w.misses)
	}
	return t
}

// modelRows are the models with requests in the window, busiest first.
func modelRows(models []modelInfo, w *windowSums) []dashboard.Model {
	var rows []dashboard.Model
	for mi, info := range models {
		a := w.models[mi]
		if a.req == 0 {
			continue
		}
		rows = append(rows, dashboard.Model{
			Model: info.name, Provider: info.provider,
			Requests: a.req, Errors: a.errs, TokensIn: a.in, TokensOut: a.out,
			CostUSD: float64(a.cost) / 1e9, MeanMs: float64(a.lat) / float64(a.req) / 1e6,
		})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Requests > rows[j].Requests })
	return rows
}

// pluginRows are the plugin hooks called so far, by plugin and hook.
func (l *Live) pluginRows() []dashboard.Plugin {
	var rows []dashboard.Plugin
	l.pluginsMu.RLock()
	for k, ps := range l.plugins {
		calls := ps.calls.Load()
		row := dashboard.Plugin{Plugin: k[0], Hook: k[1], Calls: calls, Errors: ps.errors.Load(), Traps: ps.traps.Load()}
		if calls > 0 {
			row.MeanUs = float64(ps.totalNs.Load()) / float64(calls) / 1e3
			var counts [latBuckets]uint64
			for b := range counts {
				counts[b] = uint64(ps.lat[b].Load())
			}
			row.P99Us = percentiles(&counts, .99)[0] / 1e3
		}
		rows = append(rows, row)
	}
	l.pluginsMu.RUnlock()
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Plugin != b.Plugin {
			return a.Plugin < b.Plugin
		}
		return a.Hook < b.Hook
	})
	return rows
}

// limitRows are the rate-limit rejections so far, by tier and unit.
func (l *Live) limitRows() []dashboard.RateLimit {
	var rows []dashboard.RateLimit
	l.limitsMu.RLock()
	for k, c := range l.limits {
		rows = append(rows, dashboard.RateLimit{Tier: k[0], Unit: k[1], Rejections: c.Load()})
	}
	l.limitsMu.RUnlock()
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Tier != b.Tier {
			return a.Tier < b.Tier
		}
		return a.Unit < b.Unit
	})
	return rows
}
