package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sluice-gw/sluice/host/balance"
	"github.com/sluice-gw/sluice/host/plugin"
	"github.com/sluice-gw/sluice/host/pricing"
	"github.com/sluice-gw/sluice/host/telemetry"
)

// report hands an attempt's outcome to the plan and records it: the attempt span, the
// attempt metric and whether the request moves on to another target.
func (g *Gateway) report(c *call, o balance.Outcome) error {
	err := c.plan.Report(o)
	if g.tel == nil {
		return err
	}
	outcome := outcomeWord(o.Kind)
	c.attemptSpan.SetString("sluice.outcome", outcome)
	if o.Kind != balance.KindOK && o.Kind != balance.KindStatus4xx {
		// Fail ignores a nil error, so name the outcome as the span's error.
		c.attemptSpan.Fail(attemptError(c.target, outcome), outcome)
	}
	c.attemptSpan.End()
	c.attemptSpan = nil
	d := o.Latency
	if d == 0 {
		d = time.Since(c.attemptStart)
	}
	g.tel.RecordAttempt(telemetry.AttemptRecord{
		Provider: c.provider, Target: c.target, Outcome: outcome, Duration: d,
		Failover: o.Retryable(),
	})
	return err
}

func attemptError(target, outcome string) error {
	return fmt.Errorf("gateway: upstream %s: attempt failed: %s", target, outcome)
}

func outcomeWord(k balance.Kind) string {
	switch k {
	case balance.KindOK:
		return "ok"
	case balance.KindConnect:
		return "connect_error"
	case balance.KindTimeout:
		return "timeout"
	case balance.KindStatus5xx:
		return "5xx"
	case balance.KindStatus429:
		return "rate_limited"
	case balance.KindStatus4xx:
		return "4xx"
	case balance.KindBrokenStream:
		return "broken_stream"
	default:
		return "canceled"
	}
}

// startAttempt opens the attempt's client span and returns the headers that carry the trace
// context upstream.
func (g *Gateway) startAttempt(ctx context.Context, c *call) (context.Context, http.Header) {
	c.attemptStart = time.Now()
	if g.tel == nil {
		return ctx, nil
	}
	ctx, c.attemptSpan = g.tel.StartUpstream(ctx, c.target, c.attempts)
	h := http.Header{}
	g.tel.Inject(ctx, h)
	if len(h) == 0 {
		return ctx, nil
	}
	return ctx, h
}

// pluginSpan opens the span of one plugin hook call; done records its latency and outcome.
func (g *Gateway) pluginSpan(c *call, p *plugin.Plugin, hook string) (ctx context.Context, done func(error)) {
	ctx, span := g.tel.StartStage(c.r.Context(), "plugin "+p.Name()+" "+hook)
	span.SetPlugin(p.Name(), hook)
	start := time.Now()
	return ctx, func(err error) {
		var pe *plugin.Error
		trap := err != nil && asPluginError(err, &pe) && pe.Trap
		g.tel.RecordPlugin(telemetry.PluginRecord{Plugin: p.Name(), Hook: hook, Duration: time.Since(start), Err: err != nil, Trap: trap})
		if err != nil {
			span.Fail(err, "plugin_error")
		}
		span.End()
	}
}

// stage opens a child span of the request for one pipeline stage.
func (g *Gateway) stage(c *call, name string) *telemetry.Span {
	_, span := g.tel.StartStage(c.r.Context(), name)
	return span
}

// costUSD is what the call cost upstream: the settled amount when limits priced it, else
// priced here from its usage. A cache hit or a refused call costs nothing.
func (g *Gateway) costUSD(c *call) float64 {
	if c.costMicros != 0 || c.usage == nil || c.cacheHit || c.served != "" || g.prices == nil || c.provider == "" || c.provider == "cache" {
		return float64(c.costMicros) / 1e6
	}
	return float64(g.prices.CostMicros(c.provider+"/"+c.model, pricing.Usage{
		InputTokens: c.usage.PromptTokens, OutputTokens: c.usage.CompletionTokens, CachedInputTokens: c.usage.CachedTokens,
		CacheWriteTokens: c.usage.CacheCreationTokens,
	})) / 1e6
}

// finishTelemetry records the request's metrics and closes its span. Passthrough calls (no
// route) record none.
func (g *Gateway) finishTelemetry(c *call) {
	if g.tel == nil || c.route == "" {
		return
	}
	rec := telemetry.RequestRecord{
		Route: c.route, Provider: c.provider, Status: c.status, Duration: time.Since(c.start),
		TTFT: c.ttft, FirstEvent: c.firstEvent, Team: c.ident.Team,
	}
	if c.provider != "" {
		rec.Model = c.provider + "/" + c.model
	} else if c.req != nil && c.plan != nil {
		// Only a model that resolved to a router labels a request: a refused name (unknown,
		// unauthorized) is the client's string and would make a series of its own.
		rec.Model = c.req.Model
	}
	if c.provider == "cache" {
		rec.Model = c.req.Model
	}
	if c.usage != nil {
		rec.InputTokens, rec.OutputTokens = int(c.usage.PromptTokens), int(c.usage.CompletionTokens)
		if c.req != nil && !c.cacheHit {
			rec.EstimatedInputTokens = int(c.req.TokenEstimate)
		}
	}
	rec.CostUSD = g.costUSD(c)
	g.tel.RecordRequest(rec)
	s := c.span
	if !s.Recording() {
		// An unsampled span drops attributes; skip building them.
		s.End()
		return
	}
	if c.req != nil {
		s.SetRequest(telemetry.GenAIRequest{
			System: genAISystem(g, c.provider), Operation: genAIOperation(c.endpoint), Model: c.req.Model,
			MaxTokens: int(c.req.MaxTokens), Temperature: c.req.Temperature,
		})
	}
	resp := telemetry.GenAIResponse{Model: c.model}
	if c.usage != nil {
		resp.InputTokens, resp.OutputTokens = int(c.usage.PromptTokens), int(c.usage.CompletionTokens)
	}
	s.SetResponse(resp)
	s.SetFinishReason(c.finish)
	if c.router != "" || c.target != "" {
		s.SetRoute(c.router, c.target, c.attempts)
	}
	if c.cacheNote != "" {
		s.SetCacheStatus(c.cacheNote)
	}
	if c.limitTier != "" {
		s.SetRateLimitTier(c.limitTier)
	}
	s.SetHTTPStatus(c.status)
	s.SetString(telemetry.AttrRequestID, c.id)
	if c.stream {
		s.SetBool(telemetry.AttrStream, true)
	}
	if c.errMsg != "" && c.status >= 400 {
		s.SetString("error.message", c.errMsg)
	}
	s.End()
}

func genAIOperation(endpoint string) string {
	switch endpoint {
	case "chat.completions":
		return "chat"
	case "completions":
		return "text_completion"
	case "embeddings":
		return "embeddings"
	}
	return endpoint
}

// genAISystem names the provider family as the GenAI conventions do.
func genAISystem(g *Gateway, provider string) string {
	p, ok := g.providers[provider]
	if !ok {
		return provider
	}
	switch p.Kind {
	case "anthropic":
		return "anthropic"
	case "gemini":
		return "gcp.gemini"
	case "bedrock":
		return "aws.bedrock"
	case "vertex":
		return "gcp.vertex_ai"
	case "azure":
		return "az.ai.openai"
	case "openai":
		if strings.Contains(p.BaseURL, "api.openai.com") {
			return "openai"
		}
	}
	return p.Name
}
