package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-gw/sluice/host/openai"
	"github.com/sluice-gw/sluice/host/pricing"
	"github.com/sluice-gw/sluice/host/ratelimit"
)

// admit reserves the request at every rate-limit tier that applies: one request, the prompt
// estimate plus max_tokens, and their price at the first-choice target.
func (g *Gateway) admit(c *call) *openai.Error {
	if g.limiter == nil {
		return nil
	}
	d := ratelimit.Demand{Requests: 1, Tokens: c.req.TokenEstimate + c.req.MaxTokens}
	if ts := c.plan.Targets(); len(ts) > 0 && g.prices != nil {
		d.CostMicros = g.prices.CostMicros(ts[0].Provider+"/"+ts[0].Model, pricing.Usage{InputTokens: c.req.TokenEstimate, OutputTokens: c.req.MaxTokens})
	}
	return g.check(c, d)
}

// admitRaw counts a passthrough call as one request; its tokens are unknown to sluice.
func (g *Gateway) admitRaw(c *call) *openai.Error {
	if g.limiter == nil {
		return nil
	}
	return g.check(c, ratelimit.Demand{Requests: 1})
}

func (g *Gateway) check(c *call, d ratelimit.Demand) *openai.Error {
	res, err := g.limiter.Check(c.r.Context(), ratelimit.Subject{
		Router: c.router, Team: c.ident.Team, User: c.ident.User, Key: c.ident.KeyID, KeyRules: c.ident.Limits,
	}, d)
	if err != nil {
		var de *ratelimit.DeniedError
		if errors.As(err, &de) {
			e := openai.Errorf(429, de.Code(), de.Error())
			e.Header = make(map[string][]string)
			de.WriteHeaders(e.Header)
			c.limitTier = de.Scope.String()
			g.tel.RecordRateLimit(c.limitTier, de.Unit.String())
			return e
		}
		if errors.Is(err, ratelimit.ErrUnavailable) {
			return openai.Errorf(503, openai.CodeRateLimitUnavailable, "the rate-limit store is unavailable and limits are configured to fail closed")
		}
		return openai.Errorf(500, openai.CodeRateLimitError, fmt.Sprintf("rate limit: %v", err))
	}
	c.resv = res
	return nil
}

// settle corrects the reservation with the real usage (zero for errors and cache hits).
func (g *Gateway) settle(c *call) {
	if c.resv == nil {
		return
	}
	var act ratelimit.Actual
	switch {
	case c.cacheHit, c.served != "": // no upstream did any work
	case c.usage != nil:
		act.Tokens = c.usage.TotalTokens
		if g.prices != nil {
			act.CostMicros = g.prices.CostMicros(c.provider+"/"+c.model, pricing.Usage{
				InputTokens: c.usage.PromptTokens, OutputTokens: c.usage.CompletionTokens, CachedInputTokens: c.usage.CachedTokens,
				CacheWriteTokens: c.usage.CacheCreationTokens,
			})
			c.costMicros = act.CostMicros
		}
	case c.upstreamWork:
		// The upstream may have done and billed the work but its usage never came (the
		// client left before the usage chunk, the stream broke, the call timed out after it
		// was sent). Refunding it whole would let hang-ups spend for free, so an unfinished
		// answer is charged the reservation's output allowance or what was relayed (a chunk
		// carries at least a token), whichever is more; a finished one without usage, what
		// was relayed.
		in, out := c.req.TokenEstimate, int64(c.relayed)
		if c.finish == "" {
			out = max(out, c.req.MaxTokens)
		}
		act.Tokens = in + out
		if g.prices != nil {
			act.CostMicros = g.prices.CostMicros(c.provider+"/"+c.model, pricing.Usage{InputTokens: in, OutputTokens: out})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.resv.Settle(ctx, act); err != nil {
		g.log.Warn("rate limit settlement failed", "request_id", c.id, "err", err)
	}
}
