package balance

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Kind classifies the outcome of one attempt.
type Kind uint8

const (
	// KindOK: the upstream answered 2xx (for a stream: the stream completed).
	KindOK Kind = iota
	// KindConnect: dial, TLS or connection reset before a response.
	KindConnect
	// KindTimeout: the per-attempt timeout fired.
	KindTimeout
	// KindStatus5xx: the upstream answered 5xx.
	KindStatus5xx
	// KindStatus429: the upstream rate-limited us; set Outcome.RetryAfter.
	KindStatus429
	// KindStatus4xx: any other 4xx; the request is at fault, not the upstream.
	KindStatus4xx
	// KindBrokenStream: a stream ended without its terminal event.
	KindBrokenStream
	// KindCanceled: the caller gave up (client gone, total deadline);
	// nothing is learned about the upstream.
	KindCanceled
)

var kindNames = [...]string{"ok", "connect", "timeout", "status_5xx", "status_429", "status_4xx", "broken_stream", "canceled"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Outcome is what the gateway reports for one attempt.
type Outcome struct {
	// Target is the target the attempt went to; when set it must match the
	// one Next returned.
	Target Target
	Kind   Kind
	// RetryAfter is the parsed Retry-After of a 429 (see ParseRetryAfter);
	// zero applies the router's default.
	RetryAfter time.Duration
	// Latency is the attempt's duration to the complete response.
	Latency time.Duration
	// TTFB is the time to the first byte of a stream; when set it is the
	// latency sample instead of Latency, so long generations do not read as
	// slow upstreams.
	TTFB time.Duration
	// FirstByteSent is true once any byte went to the client: from then on
	// the request can no longer move to another attempt.
	FirstByteSent bool
	// AfterSend is true for a transport failure (timeout, reset, broken
	// stream) after the whole request reached the upstream and before an
	// explicit status: the upstream may have started, and may bill, the work.
	// The plan moves on after such an outcome only when the router's
	// Retries.AfterSend allows it. Health learns from it either way.
	AfterSend bool
}

// Retryable reports whether another attempt may follow this outcome:
// connect errors, 5xx, 429, timeouts and broken streams, and only while
// nothing was sent to the client. A 4xx is never retried: another target
// would reject the same request.
func (o Outcome) Retryable() bool {
	if o.FirstByteSent {
		return false
	}
	switch o.Kind {
	case KindConnect, KindTimeout, KindStatus5xx, KindStatus429, KindBrokenStream:
		return true
	}
	return false
}

// ParseRetryAfter parses a Retry-After header value: delay seconds or an
// HTTP date (relative to now). It returns false for an empty or malformed
// value; a date in the past yields zero and true.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs < 0 || secs > 1e9 {
			return 0, false
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// ParseProviderList splits a header value like "openai, groq" into
// lower-case, non-empty entries, for Request.Exclude.
func ParseProviderList(v string) []string {
	var out []string
	for part := range strings.SplitSeq(v, ",") {
		if p := strings.ToLower(strings.TrimSpace(part)); p != "" {
			out = append(out, p)
		}
	}
	return out
}
