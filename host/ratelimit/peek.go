package ratelimit

import (
	"context"
	"fmt"
)

// Peek reports the state of every tier that applies to s without consuming anything: per
// rule the limit, what remains and when it resets. Allowed says whether the tier has at least
// one unit left now. It is for operators (the admin API); requests use Check.
//
// It runs the stores' ordinary check with a zero demand, which both stores evaluate but never
// commit, so a peek is as consistent as a check and leaves no trace.
func (l *Limiter) Peek(ctx context.Context, s Subject) ([]Decision, error) {
	now := l.clock().UnixNano()
	var tiers []tier
	for i := range l.rules {
		if v, ok := subjectValue(&l.rules[i], &s); ok {
			tiers = append(tiers, tier{rule: &l.rules[i], prefix: l.prefixes[i], value: v})
		}
	}
	if s.Key != "" {
		for i := range s.KeyRules {
			r := s.KeyRules[i]
			r.Scope, r.Match = Key, ""
			r.Name = "keyrule-" + r.Name
			if err := r.validate(); err != nil {
				return nil, fmt.Errorf("ratelimit: peek: key %s: %w", s.Key, err)
			}
			tiers = append(tiers, tier{rule: &r, prefix: cellPrefix(&r), value: s.Key})
		}
	}
	if len(tiers) == 0 {
		return nil, nil
	}
	ops := make([]op, len(tiers))
	vals := make([]int64, len(tiers))
	for i := range tiers {
		ops[i] = tiers[i].op(now, 0)
	}
	if _, err := l.store.check(ctx, now, ops, vals); err != nil {
		return nil, fmt.Errorf("ratelimit: peek: %w", err)
	}
	out := make([]Decision, len(tiers))
	for i := range tiers {
		d := tiers[i].decision(now, vals[i], true, &ops[i])
		// A key rule is reported under the name it was configured with.
		if s.Key != "" && i >= len(tiers)-len(s.KeyRules) {
			d.Rule = s.KeyRules[i-(len(tiers)-len(s.KeyRules))].Name
		}
		d.Remaining = max(d.Remaining, 0)
		d.Allowed = d.Remaining > 0
		out[i] = d
	}
	return out, nil
}
