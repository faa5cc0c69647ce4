// Command ab-split is an example route plugin: a percentage A/B split between two targets,
// deterministic per request id, so retries of one request land on the same arm.
package main

import (
	"hash/fnv"

	"github.com/sluice-gw/sluice/sdk"
)

// Split is the config: arm targets as "provider/model" and the percentage sent to B.
type Split struct {
	A, B     string
	PercentB int
}

// SplitFrom reads a = "...", b = "...", percent_b = 20.
func SplitFrom(c sdk.Config) Split {
	return Split{A: c.String("a", ""), B: c.String("b", ""), PercentB: c.Int("percent_b", 50)}
}

// Arm returns the target for a request id: B when fnv1a(id) % 100 < PercentB.
func (s Split) Arm(requestID string) string {
	h := fnv.New32a()
	h.Write([]byte(requestID))
	if int(h.Sum32()%100) < s.PercentB {
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
	var first, second, rest []string
	for _, c := range in.Candidates {
		switch c.Provider + "/" + c.Model {
		case chosen:
			first = append(first, c.ID)
		case other:
			second = append(second, c.ID)
		default:
			rest = append(rest, c.ID)
		}
	}
	return sdk.RouteOutput{Order: append(append(first, second...), rest...)}
}
