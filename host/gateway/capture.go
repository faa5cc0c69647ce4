package gateway

import (
	"log/slog"
	"net/http"
)

// captureWriter keeps the first max bytes of a response for the access log's body capture,
// passing everything through unchanged (flushes included, via Unwrap).
type captureWriter struct {
	http.ResponseWriter
	buf []byte
	max int
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if room := c.max - len(c.buf); room > 0 {
		c.buf = append(c.buf, b[:min(room, len(b))]...)
	}
	return c.ResponseWriter.Write(b)
}

func (c *captureWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *captureWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// captured adds the redacted, size-capped request and response to an access line.
func (g *Gateway) captured(c *call, attrs []slog.Attr) []slog.Attr {
	if g.redact == nil {
		return attrs
	}
	if c.req != nil {
		attrs = append(attrs, slog.String("request_body", g.redact.Body(c.req.Raw)))
	}
	attrs = append(attrs, slog.Any("request_headers", g.redact.Headers(c.r.Header)))
	if c.capture != nil {
		attrs = append(attrs, slog.String("response_body", g.redact.Body(c.capture.buf)))
	}
	return attrs
}
