package ratelimit

import (
	"net/http"
	"strconv"
	"time"
)

// WriteHeaders sets OpenAI's rate-limit headers from the tiers of an admitted request.
func (r *Reservation) WriteHeaders(h http.Header) { writeHeaders(h, r.Decisions()) }

// WriteHeaders sets OpenAI's rate-limit headers and retry-after on a denial.
func (e *DeniedError) WriteHeaders(h http.Header) {
	writeHeaders(h, e.all)
	if e.TooLarge {
		return // no wait makes it pass; a Retry-After would invite a retry loop
	}
	h.Set("Retry-After", strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10))
}

// writeHeaders reports, per unit, the tier closest to refusing: x-ratelimit-limit-requests,
// x-ratelimit-remaining-requests, x-ratelimit-reset-requests and the -tokens variants.
// Cost has no OpenAI header and is not reported.
func writeHeaders(h http.Header, decs []Decision) {
	for _, u := range [...]Unit{Requests, Tokens} {
		best := -1
		for i := range decs {
			if decs[i].Unit != u {
				continue
			}
			if best < 0 || decs[i].Remaining < decs[best].Remaining ||
				(decs[i].Remaining == decs[best].Remaining && decs[i].ResetAfter > decs[best].ResetAfter) {
				best = i
			}
		}
		if best < 0 {
			continue
		}
		d := decs[best]
		name := u.String()
		h.Set("X-Ratelimit-Limit-"+name, strconv.FormatInt(d.Limit, 10))
		h.Set("X-Ratelimit-Remaining-"+name, strconv.FormatInt(d.Remaining, 10))
		h.Set("X-Ratelimit-Reset-"+name, FormatReset(d.ResetAfter))
	}
}

// FormatReset formats a duration the way OpenAI's x-ratelimit-reset-* headers do: "1s",
// "6m0s", "20ms", "7.66s". It rounds up to the millisecond so a pending reset never reads 0s.
func FormatReset(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	d = (d + time.Millisecond - 1).Truncate(time.Millisecond)
	return d.String()
}
