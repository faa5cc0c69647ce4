package gateway

import (
	"strconv"
	"sync"
	"sync/atomic"
)

// targetHeaderValues are the x-sluice-* header values of one target, made once: every answer
// from the target sends the same ones. Each slice is full (len == cap), so that a later Add
// to the header copies it instead of writing into the shared array.
type targetHeaderValues struct {
	provider, model, target []string
}

// maxTargetHeaders bounds the targets whose values are kept (implicit provider/model targets
// are named by clients); past it the values are made per answer.
const maxTargetHeaders = 4096

type headerCache struct {
	m sync.Map // target id -> *targetHeaderValues
	n atomic.Int32
}

func one(s string) []string { return []string{s}[:1:1] }

// targetHeaders returns the header values of a target. A target id names one provider and
// model (declared: "provider/model#i", implicit: "provider/model"), so the id is the key.
func (g *Gateway) targetHeaders(id, provider, model string) *targetHeaderValues {
	if v, ok := g.hdrs.m.Load(id); ok {
		return v.(*targetHeaderValues)
	}
	th := &targetHeaderValues{provider: one(provider), model: one(provider + "/" + model), target: one(id)}
	if g.hdrs.n.Load() < maxTargetHeaders {
		if _, loaded := g.hdrs.m.LoadOrStore(id, th); !loaded {
			g.hdrs.n.Add(1)
		}
	}
	return th
}

// attemptValues are the x-sluice-attempts values of the first attempts.
var attemptValues = func() (v [10][]string) {
	for i := range v {
		v[i] = one(strconv.Itoa(i))
	}
	return v
}()

func attemptsValue(n int) []string {
	if n >= 0 && n < len(attemptValues) {
		return attemptValues[n]
	}
	return one(strconv.Itoa(n))
}
