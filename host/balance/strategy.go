package balance

import (
	"context"
	"time"
)

// orderBy writes in's members into out in the order of strategy s and
// returns out. in is in declaration order; lat holds each member's latency
// estimate at now, by member index.
func (r *Router) orderBy(s Strategy, req *Request, lat []float64, in, out []*member) []*member {
	out = append(out[:0], in...)
	n := len(out)
	if n < 2 {
		return out
	}
	var kbuf [maxTargets]float64
	keys := kbuf[:n]
	switch s {
	case StrategyPriority:
		for i, m := range out {
			keys[i] = float64(m.t.Priority)
		}
		sortByKey(out, keys)
	case StrategyCost:
		ein, eout := float64(req.EstTokensIn), float64(req.EstTokensOut)
		if ein == 0 && eout == 0 {
			ein, eout = 1, 1
		}
		// Priority, then declaration order, break price ties.
		for i, m := range out {
			keys[i] = m.t.PriceIn*ein + m.t.PriceOut*eout
		}
		sortByKey2(out, keys, func(m *member) int { return m.t.Priority })
	case StrategyRoundRobin:
		start := int((r.rr.Add(1) - 1) % uint64(n))
		rotate(out, start)
	case StrategyLeastBusy:
		// Rotate randomly first so ties do not all land on the first target.
		rotate(out, r.randN(n))
		for i, m := range out {
			keys[i] = float64(m.st.inFlight.Load())
		}
		sortByKey(out, keys)
	case StrategyWeighted:
		r.orderWeighted(out, keys)
	default: // StrategyLatency
		r.orderLatency(lat, out, keys)
	}
	return out
}

// orderLatency puts the power-of-two-choices pick first and the rest in
// ascending score (PeakEWMA x (in-flight+1)).
func (r *Router) orderLatency(lat []float64, out []*member, keys []float64) {
	n := len(out)
	for i, m := range out {
		keys[i] = lat[m.idx] * float64(m.st.inFlight.Load()+1)
	}
	a := r.randN(n)
	b := r.randN(n - 1)
	if b >= a {
		b++
	}
	pick := a
	if keys[b] < keys[a] {
		pick = b
	}
	first := out[pick]
	sortByKey(out, keys)
	// Move the pick to the front, keeping the rest in score order.
	for i := range out {
		if out[i] == first {
			copy(out[1:i+1], out[:i])
			out[0] = first
			break
		}
	}
}

// orderWeighted puts the smooth weighted round robin pick first, then the
// rest by descending weight. Smooth WRR spreads a 3:1 split as a a b a ...
// instead of bursts, and is exact over every cycle.
func (r *Router) orderWeighted(out []*member, keys []float64) {
	r.swrrMu.Lock()
	total, best := 0, -1
	for i, m := range out {
		w := m.t.weight()
		r.swrr[m.idx] += w
		total += w
		if best < 0 || r.swrr[m.idx] > r.swrr[out[best].idx] {
			best = i
		}
	}
	r.swrr[out[best].idx] -= total
	r.swrrMu.Unlock()
	first := out[best]
	copy(out[1:best+1], out[:best])
	out[0] = first
	rest := out[1:]
	for i, m := range rest {
		keys[i] = -float64(m.t.weight())
	}
	sortByKey(rest, keys[:len(rest)])
}

// orderPlugin asks the Orderer. Its order is filtered to healthy targets;
// if it names only unhealthy ones they are planned anyway (panic) since the
// plugin's rule outranks health. An error, or an order naming no known
// candidate, falls back to the fallback strategy and is counted; an empty
// order keeps the fallback strategy's order uncounted.
func (r *Router) orderPlugin(ctx context.Context, req *Request, now int64, lat []float64, cands, healthy, out []*member, panicked *bool) []*member {
	stats := make([]CandidateStats, len(cands))
	var okBits uint64
	for _, m := range healthy {
		okBits |= 1 << m.idx
	}
	if *panicked {
		okBits = 0
	}
	for i, m := range cands {
		v := m.st.view(now)
		stats[i] = CandidateStats{
			ID:        m.t.ID,
			Provider:  m.t.Provider,
			Model:     m.t.Model,
			Weight:    m.t.weight(),
			Priority:  m.t.Priority,
			Healthy:   okBits&(1<<m.idx) != 0,
			EWMAms:    v.latency / float64(time.Millisecond),
			InFlight:  m.st.inFlight.Load(),
			ErrorRate: v.errRate,
			PriceIn:   m.t.PriceIn,
			PriceOut:  m.t.PriceOut,
		}
	}
	ids, err := r.orderer(ctx, req.Meta, stats)
	if err != nil {
		r.pluginErrors.Add(1)
		return r.orderBy(r.fallback, req, lat, healthy, out)
	}
	if len(ids) == 0 {
		return r.orderBy(r.fallback, req, lat, healthy, out)
	}
	var named, seen uint64
	out = out[:0]
	for _, id := range ids {
		for _, m := range cands {
			if m.t.ID != id || seen&(1<<m.idx) != 0 {
				continue
			}
			seen |= 1 << m.idx
			if *panicked || okBits&(1<<m.idx) != 0 {
				out = append(out, m)
			} else {
				named |= 1 << m.idx
			}
		}
	}
	if len(out) > 0 {
		return out
	}
	if named == 0 {
		r.pluginErrors.Add(1)
		return r.orderBy(r.fallback, req, lat, healthy, out)
	}
	*panicked = true
	for _, id := range ids {
		for _, m := range cands {
			if m.t.ID == id && named&(1<<m.idx) != 0 {
				named &^= 1 << m.idx
				out = append(out, m)
			}
		}
	}
	return out
}

func rotate(s []*member, k int) {
	if k == 0 {
		return
	}
	var tmp [maxTargets]*member
	n := copy(tmp[:], s[:k])
	copy(s, s[k:])
	copy(s[len(s)-n:], tmp[:n])
}

// sortByKey sorts ms by ascending keys, stably (insertion sort: n <= 64 and
// usually a handful, with no allocation).
func sortByKey(ms []*member, keys []float64) {
	for i := 1; i < len(ms); i++ {
		m, k := ms[i], keys[i]
		j := i
		for ; j > 0 && keys[j-1] > k; j-- {
			ms[j], keys[j] = ms[j-1], keys[j-1]
		}
		ms[j], keys[j] = m, k
	}
}

// sortByKey2 is sortByKey with a secondary integer key for ties.
func sortByKey2(ms []*member, keys []float64, second func(*member) int) {
	for i := 1; i < len(ms); i++ {
		m, k := ms[i], keys[i]
		j := i
		for ; j > 0 && (keys[j-1] > k || keys[j-1] == k && second(ms[j-1]) > second(m)); j-- {
			ms[j], keys[j] = ms[j-1], keys[j-1]
		}
		ms[j], keys[j] = m, k
	}
}
