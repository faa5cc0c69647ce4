package pricing

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// The shipped snapshot, written by `make prices` (host/pricing/gen) from the pinned
// @pydantic/genai-prices package.
//
//go:embed genai-prices.json
var snapshotJSON []byte

// SnapshotInfo says which list and which day the shipped prices come from.
type SnapshotInfo struct {
	Source, Version, Date string
}

type snapshot struct {
	info      SnapshotInfo
	providers []*providerPrices // in the file's order: the order a bare model is matched in
	byID      map[string]*providerPrices
}

type providerPrices struct {
	id         string
	modelMatch *match
	fallback   []string
	models     []model
}

type model struct {
	id    string
	match match
	price Price
}

// match is one of the list's model-matching rules. Names are compared lowercased.
type match struct {
	Or         []match `json:"or"`
	And        []match `json:"and"`
	Equals     *string `json:"equals"`
	StartsWith *string `json:"starts_with"`
	EndsWith   *string `json:"ends_with"`
	Contains   *string `json:"contains"`
	Regex      *string `json:"regex"`
	re         *regexp.Regexp
	// notRe is a leading negative lookahead, which Go's regexp lacks: the list writes
	// "^(?!A)B", kept here as "must not match ^A, must match ^B".
	notRe *regexp.Regexp
}

func (m *match) compile() error {
	n := 0
	for _, set := range []bool{m.Or != nil, m.And != nil, m.Equals != nil, m.StartsWith != nil, m.EndsWith != nil, m.Contains != nil, m.Regex != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("a match rule has %d operators, want 1", n)
	}
	for _, s := range []**string{&m.Equals, &m.StartsWith, &m.EndsWith, &m.Contains} {
		if *s != nil {
			l := strings.ToLower(**s)
			*s = &l
		}
	}
	if m.Regex != nil {
		pattern := *m.Regex
		if neg, rest, ok := leadingLookahead(pattern); ok {
			re, err := regexp.Compile("^(?:" + neg + ")")
			if err != nil {
				return fmt.Errorf("regex %q: %w", *m.Regex, err)
			}
			m.notRe, pattern = re, "^"+rest
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			return fmt.Errorf("regex %q: %w", *m.Regex, err)
		}
		m.re = re
	}
	for i := range m.Or {
		if err := m.Or[i].compile(); err != nil {
			return err
		}
	}
	for i := range m.And {
		if err := m.And[i].compile(); err != nil {
			return err
		}
	}
	return nil
}

// matches reports whether the lowercased name s satisfies the rule.
func (m *match) matches(s string) bool {
	switch {
	case m.Or != nil:
		return slices.ContainsFunc(m.Or, func(x match) bool { return x.matches(s) })
	case m.And != nil:
		return !slices.ContainsFunc(m.And, func(x match) bool { return !x.matches(s) })
	case m.Equals != nil:
		return s == *m.Equals
	case m.StartsWith != nil:
		return strings.HasPrefix(s, *m.StartsWith)
	case m.EndsWith != nil:
		return strings.HasSuffix(s, *m.EndsWith)
	case m.Contains != nil:
		return strings.Contains(s, *m.Contains)
	case m.re != nil:
		return (m.notRe == nil || !m.notRe.MatchString(s)) && m.re.MatchString(s)
	}
	return false
}

// leadingLookahead splits "^(?!A)B" into A and B.
func leadingLookahead(p string) (neg, rest string, ok bool) {
	if !strings.HasPrefix(p, "^(?!") {
		return "", "", false
	}
	depth, class := 1, false
	for i := 4; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\':
			i++
		case class:
			class = c != ']'
		case c == '[':
			class = true
		case c == '(':
			depth++
		case c == ')':
			if depth--; depth == 0 {
				return p[4:i], p[i+1:], true
			}
		}
	}
	return "", "", false
}

// rawRate is a per-million price: a number, or a base with long-context tiers.
type rawRate struct {
	Base  float64
	Tiers []struct {
		Start int64   `json:"start"`
		Price float64 `json:"price"`
	}
}

func (r *rawRate) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '{' {
		var v struct {
			Base  float64 `json:"base"`
			Tiers []struct {
				Start int64   `json:"start"`
				Price float64 `json:"price"`
			} `json:"tiers"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		r.Base, r.Tiers = v.Base, v.Tiers
		return nil
	}
	return json.Unmarshal(b, &r.Base)
}

type rawPrices struct {
	Input        *rawRate `json:"input"`
	Output       *rawRate `json:"output"`
	CacheRead    *rawRate `json:"cache_read"`
	CacheWrite   *rawRate `json:"cache_write"`
	CacheWrite1h *rawRate `json:"cache_write_1h"`
}

type rawSnapshot struct {
	Source    string `json:"source"`
	Version   string `json:"version"`
	Date      string `json:"date"`
	Providers []struct {
		ID         string   `json:"id"`
		ModelMatch *match   `json:"model_match"`
		Fallback   []string `json:"fallback"`
		Models     []struct {
			ID     string `json:"id"`
			Match  match  `json:"match"`
			Prices []struct {
				Start  string    `json:"start"`
				Prices rawPrices `json:"prices"`
			} `json:"prices"`
		} `json:"models"`
	} `json:"providers"`
}

var (
	shippedOnce sync.Once
	shippedSnap *snapshot
)

// shipped is the embedded snapshot, parsed once; it is covered by tests, so a failure is a
// build defect.
func shipped() *snapshot {
	shippedOnce.Do(func() {
		s, err := parseSnapshot(snapshotJSON, time.Now())
		if err != nil {
			panic(err)
		}
		shippedSnap = s
	})
	return shippedSnap
}

// Snapshot describes the shipped price list.
func Snapshot() SnapshotInfo { return shipped().info }

// parseSnapshot reads a snapshot, choosing for each model the prices in force at now (the
// latest variant that has started).
func parseSnapshot(b []byte, now time.Time) (*snapshot, error) {
	var raw rawSnapshot
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("pricing: snapshot: %w", err)
	}
	s := &snapshot{info: SnapshotInfo{Source: raw.Source, Version: raw.Version, Date: raw.Date}, byID: map[string]*providerPrices{}}
	for _, rp := range raw.Providers {
		p := &providerPrices{id: rp.ID, modelMatch: rp.ModelMatch, fallback: rp.Fallback}
		if p.modelMatch != nil {
			if err := p.modelMatch.compile(); err != nil {
				return nil, fmt.Errorf("pricing: snapshot: provider %s: %w", rp.ID, err)
			}
		}
		for _, rm := range rp.Models {
			m := model{id: rm.ID, match: rm.Match}
			if err := m.match.compile(); err != nil {
				return nil, fmt.Errorf("pricing: snapshot: %s/%s: %w", rp.ID, rm.ID, err)
			}
			chosen := -1
			for i := len(rm.Prices) - 1; i >= 0; i-- {
				v := rm.Prices[i]
				if v.Start == "" {
					chosen = i
					break
				}
				start, err := time.Parse("2006-01-02", v.Start)
				if err != nil {
					return nil, fmt.Errorf("pricing: snapshot: %s/%s: start %q: %w", rp.ID, rm.ID, v.Start, err)
				}
				if !now.Before(start) {
					chosen = i
					break
				}
			}
			if chosen < 0 {
				chosen = 0
			}
			if len(rm.Prices) == 0 {
				continue
			}
			price, err := rm.Prices[chosen].Prices.price()
			if err != nil {
				return nil, fmt.Errorf("pricing: snapshot: %s/%s: %w", rp.ID, rm.ID, err)
			}
			m.price = price
			p.models = append(p.models, m)
		}
		s.providers = append(s.providers, p)
		s.byID[p.id] = p
	}
	return s, nil
}

// price merges the per-unit tiers into tiers of whole rate sets: at each threshold any unit
// priced there, every other unit at the rate it has at that size.
func (r rawPrices) price() (Price, error) {
	units := []*rawRate{r.Input, r.Output, r.CacheRead, r.CacheWrite}
	at := func(u *rawRate, above int64) (float64, error) {
		if u == nil {
			return 0, nil
		}
		if u.Base < 0 {
			return 0, fmt.Errorf("negative price")
		}
		v := u.Base
		for _, t := range u.Tiers {
			if t.Price < 0 {
				return 0, fmt.Errorf("negative price")
			}
			if above >= t.Start {
				v = t.Price
			}
		}
		return v, nil
	}
	set := func(above int64) (Tier, error) {
		var vs [4]float64
		for i, u := range units {
			v, err := at(u, above)
			if err != nil {
				return Tier{}, err
			}
			vs[i] = v
		}
		return Tier{Above: above, Input: vs[0], Output: vs[1], CachedInput: vs[2], CacheWrite: vs[3]}, nil
	}
	base, err := set(-1)
	if err != nil {
		return Price{}, err
	}
	p := Price{Input: base.Input, Output: base.Output, CachedInput: base.CachedInput, CacheWrite: base.CacheWrite}
	var starts []int64
	for _, u := range units {
		if u != nil {
			for _, t := range u.Tiers {
				starts = append(starts, t.Start)
			}
		}
	}
	slices.Sort(starts)
	for _, s := range slices.Compact(starts) {
		t, err := set(s)
		if err != nil {
			return Price{}, err
		}
		p.Tiers = append(p.Tiers, t)
	}
	return p, nil
}

// find prices name on the provider prov of kind kind ("" when the model came bare).
func (s *snapshot) find(prov, kind, name string) (Price, bool) {
	name = strings.TrimPrefix(name, "models/") // Gemini's resource form
	var ids []string
	switch {
	case prov == "":
	case kindLists[kind] != nil:
		ids = kindLists[kind]
	case s.byID[kind] != nil:
		ids = []string{kind}
	case s.byID[prov] != nil:
		ids = []string{prov}
	}
	if ids == nil {
		// A bare model, or a provider the list does not know (an OpenAI-compatible server):
		// the list's own rule says whose model the name is.
		for _, p := range s.providers {
			if p.modelMatch != nil && p.modelMatch.matches(name) {
				ids = []string{p.id}
				break
			}
		}
	}
	for _, id := range ids {
		if pr, ok := s.inProvider(s.byID[id], name, true); ok {
			return pr, true
		}
	}
	return Price{}, false
}

func (s *snapshot) inProvider(p *providerPrices, name string, fallback bool) (Price, bool) {
	if p == nil {
		return Price{}, false
	}
	for _, n := range []string{name, dashedDates(name)} {
		for i := range p.models {
			if p.models[i].match.matches(n) {
				return p.models[i].price, true
			}
		}
		if fallback {
			for _, f := range p.fallback {
				if pr, ok := s.inProvider(s.byID[f], n, false); ok {
					return pr, true
				}
			}
		}
	}
	return Price{}, false
}

var compactDate = regexp.MustCompile(`-(20\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(-|:|@|$)`)

// dashedDates rewrites "-20250514" as "-2025-05-14", the form some of the list's rules use.
func dashedDates(s string) string {
	return compactDate.ReplaceAllString(s, "-$1-$2-$3$4")
}
