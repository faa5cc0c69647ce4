package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
)

// TestRoutingNoDoubleBilling: a request moves to another target only when the first upstream
// certainly did not start the work (refused connection, explicit 503 or 429), or when the
// router opts in with retries.after_send. Each fake counts the requests it received.
func TestRoutingNoDoubleBilling(t *testing.T) {
	ups := fakes(t, 2)
	bad, good := ups[0], ups[1]
	s := startSluice(t, routingConfig(ups, fmt.Sprintf(`
[providers.dead]
kind = "openai"
base_url = "%s/v1"
api_key = "sk-dead"

[routers.safe]
strategy = "priority"
targets = [{ model = "p0/m", priority = 0 }, { model = "p1/m", priority = 1 }]
attempt_timeout = "400ms"
health = { min_requests = 1000 }

[routers.refused]
strategy = "priority"
targets = [{ model = "dead/m", priority = 0 }, { model = "p1/m", priority = 1 }]
health = { min_requests = 1000 }

[routers.optin]
strategy = "priority"
targets = [{ model = "p0/m", priority = 0 }, { model = "p1/m", priority = 1 }]
attempt_timeout = "400ms"
health = { min_requests = 1000 }
retries = { after_send = true }
`, strings.TrimSuffix(strings.Replace(deadRedisURL(t), "redis://", "http://", 1), "/0"))))
	type want struct {
		retried bool
		status  int // when not retried
	}
	cases := []struct {
		name   string
		router string
		reply  *fakeprovider.Reply // on the first target; nil for the refused router
		stream bool
		want   want
	}{
		{"connection refused", "refused", nil, false, want{retried: true}},
		{"503", "safe", &fakeprovider.Reply{Status: 503, Message: "overloaded"}, false, want{retried: true}},
		{"reset after the request was read", "safe", &fakeprovider.Reply{Fault: fakeprovider.Reset()}, false, want{status: 502}},
		{"reset after the headers were read", "safe", &fakeprovider.Reply{Fault: fakeprovider.ResetAfter(0)}, true, want{status: 502}},
		{"timeout after the request was written", "safe", &fakeprovider.Reply{Fault: fakeprovider.Hang()}, false, want{status: 504}},
		{"stream timeout before the first chunk", "safe", &fakeprovider.Reply{HeaderDelay: 3 * time.Second}, true, want{status: 504}},
		{"timeout after the request was written, opted in", "optin", &fakeprovider.Reply{Fault: fakeprovider.Hang()}, false, want{retried: true}},
		{"reset after the headers were read, opted in", "optin", &fakeprovider.Reply{Fault: fakeprovider.ResetAfter(0)}, true, want{retried: true}},
		// Last: the 429 cools the first target for its Retry-After.
		{"429 with Retry-After", "safe", ptr(fakeprovider.RetryAfter(time.Second)), false, want{retried: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.reply != nil {
				bad.Enqueue(*c.reply)
			}
			badBefore, goodBefore := bad.Count(), good.Count()
			code, h, body := post(t, s.URL+"/router/"+c.router+"/v1/chat/completions", chat("any", c.stream))
			badGot, goodGot := bad.Count()-badBefore, good.Count()-goodBefore
			if c.reply != nil && badGot != 1 {
				t.Errorf("first target received %d requests, want 1", badGot)
			}
			if c.want.retried {
				wantServed(t, c.name, code, h, body, "p1/m#1", 2)
				if goodGot != 1 {
					t.Errorf("second target received %d requests, want 1", goodGot)
				}
				return
			}
			if goodGot != 0 {
				t.Errorf("resent to the second target (%d requests): the upstream may bill the work twice", goodGot)
			}
			if code != c.want.status {
				t.Errorf("status %d, want %d: %s", code, c.want.status, body)
			}
			if c.want.status != 200 {
				openaiError(t, body)
			}
		})
		time.Sleep(50 * time.Millisecond) // a hung fake handler sees its client leave
	}
}

func ptr[T any](v T) *T { return &v }

// TestTimeoutSlowHeadersNotRetried: a non-streamed answer whose headers need longer than the
// idle timeout (but less than the request's total timeout) is awaited, answered once and not
// retried; a stream's headers stay bounded by the idle timeout.
func TestTimeoutSlowHeadersNotRetried(t *testing.T) {
	ups := fakes(t, 2)
	cfg := baseConfig
	for i, up := range ups {
		cfg += fmt.Sprintf("\n[providers.p%d]\nkind = \"openai\"\nbase_url = %q\napi_key = \"sk-p%d\"\nidle_timeout = \"1s\"\n", i, up.URL, i)
	}
	s := startSluice(t, cfg+`
[routers.r]
strategy = "priority"
targets = [{ model = "p0/m", priority = 0 }, { model = "p1/m", priority = 1 }]
timeout = "5s"
health = { min_requests = 1000 }
`)
	url := s.URL + "/router/r/v1/chat/completions"
	ups[0].Enqueue(fakeprovider.Reply{HeaderDelay: 2 * time.Second})
	start := time.Now()
	code, h, body := post(t, url, chat("slow", false))
	wantServed(t, "slow headers", code, h, body, "p0/m#0", 1)
	if ups[0].Count() != 1 || ups[1].Count() != 0 {
		t.Fatalf("upstream requests %d and %d, want 1 and 0", ups[0].Count(), ups[1].Count())
	}
	if took := time.Since(start); took < 2*time.Second || took > 4*time.Second {
		t.Fatalf("took %s for 2s headers", took)
	}

	// A stream's first bytes come quickly: past the idle timeout (1s) it is cut, not awaited.
	ups[0].Enqueue(fakeprovider.Reply{HeaderDelay: 3 * time.Second})
	start = time.Now()
	code, _, body = post(t, url, chat("slow", true))
	if code < 500 || time.Since(start) > 2500*time.Millisecond {
		t.Fatalf("stream with slow headers: %d after %s: %s", code, time.Since(start), body)
	}
	if ups[1].Count() != 0 {
		t.Fatalf("a stream timed out after it was sent went to another target")
	}
}
