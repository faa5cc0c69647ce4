// Command ab-split is an example route plugin: a percentage A/B split between two targets,
// deterministic per request id, so retries of one request land on the same arm.
package main

import "github.com/sluice-gw/sluice/sdk"

// Split is the config: arm targets as "provider/model" and the percentage sent to B.
type Split struct {
	A, B     string
	PercentB int
}

// SplitFrom reads a = "...", b = "...", percent_b = 20.
func SplitFrom(c sdk.Config) Split {
	return Split{A: c.String("a", ""), B: c.String("b", ""), PercentB: c.Int("percent_b", 50)}
}

// Arm returns the target for a request id: B when fnv1a(id) % 100 < PercentB. The hash is
// written out (not hash/fnv) so the hot path allocates nothing.
func (s Split) Arm(requestID string) string {
	h := uint32(2166136261)
	for i := 0; i < len(requestID); i++ {
		h ^= uint32(requestID[i])
		h *= 16777619
	}
	if int(h%100) < s.PercentB {
		return s.B
	}
	return s.A
}

// Route orders the chosen arm's candidates first, then the other arm's, then the rest.
func Route(s Split, in sdk.RouteInput) sdk.RouteOutput {
	chosen := s.Arm(in.Meta.RequestID)
	other := s.A
	if chosen == s.A {
		other = s.B
	}
	order := make([]string, 0, len(in.Candidates))
	for pass := 0; pass < 3; pass++ {
		for i := range in.Candidates {
			c := &in.Candidates[i]
			isChosen, isOther := is(c, chosen), is(c, other)
			if (pass == 0 && isChosen) || (pass == 1 && isOther && !isChosen) || (pass == 2 && !isChosen && !isOther) {
				order = append(order, c.ID)
			}
		}
	}
	return sdk.RouteOutput{Order: order}
}

// is reports whether c is the target "provider/model" without building the string.
func is(c *sdk.Candidate, target string) bool {
	p := len(c.Provider)
	return len(target) == p+1+len(c.Model) && target[p] == '/' && target[:p] == c.Provider && target[p+1:] == c.Model
}
