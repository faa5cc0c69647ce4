package fakeprovider

import (
	"encoding/json"
	"fmt"
	"strings"
)

// anthropicMaxBreakpoints is how many cache_control blocks the Messages API accepts.
const anthropicMaxBreakpoints = 4

// validateCacheControl checks one cache_control value the way the Messages API does.
func validateCacheControl(v any) string {
	cc, ok := v.(map[string]any)
	if !ok {
		return "cache_control: Input should be an object"
	}
	for k := range cc {
		if k != "type" && k != "ttl" {
			return "cache_control." + k + ": Extra inputs are not permitted"
		}
	}
	if cc["type"] != "ephemeral" {
		return "cache_control.type: Input should be 'ephemeral'"
	}
	if ttl, ok := cc["ttl"]; ok && ttl != "5m" && ttl != "1h" {
		return "cache_control.ttl: Input should be '5m' or '1h'"
	}
	return ""
}

// anthropicCache is what a request's prompt-cache breakpoints amount to: how many there are,
// and the prompt prefix up to the last one (tools, then system, then messages, Anthropic's
// order), rendered as text.
type anthropicCache struct {
	marks  int
	prefix string
}

// walkCache validates every cache_control in a request and finds the cached prefix; the
// message is "" when they are all well formed and at most four.
func walkCache(m map[string]any) (anthropicCache, string) {
	var c anthropicCache
	var b strings.Builder
	var bad string
	visit := func(at string, blk map[string]any) {
		raw, _ := json.Marshal(blk)
		b.Write(raw)
		b.WriteByte('\n')
		v, ok := blk["cache_control"]
		if !ok || v == nil {
			return
		}
		if msg := validateCacheControl(v); msg != "" && bad == "" {
			bad = at + "." + msg
		}
		c.marks++
		c.prefix = b.String()
	}
	if tools, ok := m["tools"].([]any); ok {
		for i, t := range tools {
			if tm, ok := t.(map[string]any); ok {
				visit(fmt.Sprintf("tools.%d", i), tm)
			}
		}
	}
	switch s := m["system"].(type) {
	case string:
		b.WriteString(s)
		b.WriteByte('\n')
	case []any:
		for i, blk := range s {
			if bm, ok := blk.(map[string]any); ok {
				visit(fmt.Sprintf("system.%d", i), bm)
			}
		}
	}
	msgs, _ := m["messages"].([]any)
	for i, raw := range msgs {
		msg, _ := raw.(map[string]any)
		switch content := msg["content"].(type) {
		case string:
			b.WriteString(content)
			b.WriteByte('\n')
		case []any:
			for j, blk := range content {
				bm, ok := blk.(map[string]any)
				if !ok {
					continue
				}
				visit(fmt.Sprintf("messages.%d.content.%d", i, j), bm)
				if inner, ok := bm["content"].([]any); ok && bm["type"] == "tool_result" {
					for k, ib := range inner {
						if im, ok := ib.(map[string]any); ok {
							if v, ok := im["cache_control"]; ok && v != nil {
								visit(fmt.Sprintf("messages.%d.content.%d.content.%d", i, j, k), im)
							}
						}
					}
				}
			}
		}
	}
	if bad != "" {
		return c, bad
	}
	if c.marks > anthropicMaxBreakpoints {
		return c, fmt.Sprintf("A maximum of %d blocks with cache_control may be provided. Found %d.", anthropicMaxBreakpoints, c.marks)
	}
	return c, ""
}

// cacheUsage answers a request's breakpoints as a prompt cache would: the prefix up to the last
// breakpoint is written the first time this server sees it and read afterwards. It returns the
// read and written token counts (words of the prefix).
func (s *Server) cacheUsage(c anthropicCache) (read, write int) {
	if c.marks == 0 {
		return 0, 0
	}
	n := max(words(c.prefix), 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached == nil {
		s.cached = make(map[string]bool)
	}
	if s.cached[c.prefix] {
		return n, 0
	}
	s.cached[c.prefix] = true
	return 0, n
}
