package gateway

import (
	"log/slog"
)

// logAccess writes the one access-log line of a request. Keys and Authorization never appear:
// nothing from the request headers is logged.
func (g *Gateway) logAccess(c *call) {
	if g.access == nil {
		return
	}
	attrs := make([]slog.Attr, 0, 16)
	attrs = append(attrs,
		slog.String("request_id", c.id),
		slog.String("method", c.r.Method),
		slog.String("path", c.r.URL.Path),
		slog.Int("status", c.status),
		slog.Float64("latency_ms", since(c.start)),
	)
	if c.req != nil {
		attrs = append(attrs, slog.String("model", c.req.Model), slog.Bool("stream", c.stream))
	}
	if c.router != "" {
		attrs = append(attrs, slog.String("router", c.router))
	}
	if c.provider != "" {
		attrs = append(attrs, slog.String("provider", c.provider), slog.String("upstream_model", c.model), slog.Int("attempts", c.attempts))
	}
	if c.ttft > 0 {
		attrs = append(attrs, slog.Float64("ttft_ms", float64(c.ttft.Microseconds())/1000))
	}
	if c.usage != nil {
		attrs = append(attrs, slog.Int64("prompt_tokens", c.usage.PromptTokens), slog.Int64("completion_tokens", c.usage.CompletionTokens))
	}
	if cost := g.costUSD(c); cost > 0 {
		attrs = append(attrs, slog.Float64("cost_usd", cost))
	}
	if c.ident.Team != "" {
		attrs = append(attrs, slog.String("team", c.ident.Team))
	}
	if c.finish != "" {
		attrs = append(attrs, slog.String("finish_reason", c.finish))
	}
	if c.cacheNote != "" {
		attrs = append(attrs, slog.String("cache", c.cacheNote))
	}
	if c.errMsg != "" {
		attrs = append(attrs, slog.String("error", c.errMsg))
	}
	attrs = g.captured(c, attrs)
	level := slog.LevelInfo
	if c.status >= 500 {
		level = slog.LevelWarn
	}
	g.access.LogAttrs(c.r.Context(), level, "request", attrs...)
}
