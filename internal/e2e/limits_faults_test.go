package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
	"github.com/sluice-gw/sluice/internal/redistest"
)

// hangUp sends a whole chat request on a fresh connection and closes it at once, without
// reading the answer: a client that gave up.
func hangUp(t *testing.T, base, body string, headers ...string) {
	t.Helper()
	addr := strings.TrimPrefix(base, "http://")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Errorf("dial %s: %v", addr, err)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", addr, len(body))
	for i := 0; i+1 < len(headers); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", headers[i], headers[i+1])
	}
	b.WriteString("\r\n" + body)
	_, _ = c.Write([]byte(b.String()))
	c.Close()
}

// TestLimitRedisHangups: clients hanging up right after sending must not be taken for a Redis
// failure. With fail_open (the default) that used to open the store's breaker and admit every
// request of every caller (15 of 15 past a spent 5/min limit); the limit must still hold.
func TestLimitRedisHangups(t *testing.T) {
	rd := redistest.Start(t)
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithoutRecording())
	cfg := upstreamConfig(up.URL, fmt.Sprintf(`
[redis]
url = %q

[[limits]]
name = "team-5-per-min"
scope = "team"
unit = "requests"
rate = "5/min"
burst = 5
`, rd.URL))
	cfg = strings.Replace(cfg, `level = "debug"`, `level = "info"`+"\naccess = \"off\"", 1)
	s := startSluice(t, cfg)
	body := fmt.Sprintf(chatHi, "up/gpt-test")
	for i := 0; i < 5; i++ {
		if code, _, b := post(t, s.URL+"/v1/chat/completions", body, "X-Sluice-Team", "a"); code != 200 {
			t.Fatalf("request %d within the limit: %d %s", i, code, b)
		}
	}
	// Hang-ups, from other callers too, in waves while the limit is spent.
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				hangUp(t, s.URL, body, "X-Sluice-Team", []string{"a", "b"}[i%2])
			}(i)
		}
		wg.Wait()
		time.Sleep(20 * time.Millisecond)
	}
	admitted := 0
	for i := 0; i < 15; i++ {
		code, h, b := post(t, s.URL+"/v1/chat/completions", body, "X-Sluice-Team", "a")
		switch code {
		case 200:
			admitted++
		case 429:
			check429(t, code, h, b, "rate_limit_exceeded", "team:a", "requests")
		default:
			t.Fatalf("request %d: %d %s", i, code, b)
		}
	}
	if admitted != 0 {
		t.Fatalf("%d of 15 requests past the spent limit were admitted after the hang-ups", admitted)
	}
	if strings.Contains(s.Logs(), "ratelimit: store failed") {
		t.Fatalf("hang-ups were logged as store failures:\n%s", s.Logs())
	}
	// Another team still has its own budget: the store answers for everyone.
	if code, _, b := post(t, s.URL+"/v1/chat/completions", body, "X-Sluice-Team", "fresh"); code != 200 {
		t.Fatalf("a fresh team: %d %s", code, b)
	}
}

// TestLimitStreamHangupCharged: a stream whose client leaves before the usage chunk is charged
// (its reservation), not refunded whole; an oversized demand is refused naming tier and unit
// and leaves no debt behind.
func TestLimitStreamHangupCharged(t *testing.T) {
	up := fakeprovider.NewOpenAI(t)
	s := startSluice(t, upstreamConfig(up.URL, `
[[limits]]
name = "team-tokens"
scope = "team"
unit = "tokens"
rate = "1000/day"
burst = 2000
`))
	const messages = `[{"role":"user","content":"hi there"}]`
	est := int64(len(messages)+3) / 4
	probe := `{"model":"up/gpt-test","max_tokens":1,"messages":` + messages + `}`
	remaining := func() int64 {
		t.Helper()
		code, h, b := post(t, s.URL+"/v1/chat/completions", probe, "X-Sluice-Team", "s")
		if code != 200 {
			t.Fatalf("%d %s", code, b)
		}
		_, rem := checkLimitHeaders(t, h, "Tokens")
		settleWait()
		return rem
	}
	before := remaining()

	// A slow stream of 40 words; the client reads the first chunk and leaves.
	up.Enqueue(fakeprovider.Reply{Text: strings.Repeat("word ", 40), ChunkDelay: 50 * time.Millisecond})
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"up/gpt-test","max_tokens":300,"stream":true,"messages":`+messages+`}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Sluice-Team", "s")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	time.Sleep(300 * time.Millisecond) // the gateway notices, cancels upstream and settles

	// The probe itself settles to its real usage (fake: derived), so compare what the stream
	// left behind: its reservation (prompt estimate + max_tokens) stays charged.
	after := remaining()
	probeUse := before - after
	if charged := probeUse; charged < est+300 {
		t.Fatalf("the abandoned stream was refunded: remaining %d -> %d (charged %d, want >= %d)", before, after, charged, est+300)
	}

	// Oversized: max_tokens above the whole burst can never pass; refused at once, no debt.
	n := up.Count()
	code, h, b := post(t, s.URL+"/v1/chat/completions", `{"model":"up/gpt-test","max_tokens":20000000,"messages":`+messages+`}`, "X-Sluice-Team", "big")
	if code != 429 {
		t.Fatalf("oversized demand: %d %s", code, b)
	}
	if _, c, msg := openaiError(t, b); c != "rate_limit_exceeded" || !strings.Contains(msg, "team:big") || !strings.Contains(msg, "tokens") || !strings.Contains(msg, "2000") {
		t.Fatalf("oversized demand: the 429 should name the tier, the unit and the limit: %s", b)
	}
	if h.Get("Retry-After") != "" {
		t.Fatalf("oversized demand: Retry-After %q on a request that can never pass", h.Get("Retry-After"))
	}
	if up.Count() != n {
		t.Fatal("oversized demand reached the upstream")
	}
	if code, _, b := post(t, s.URL+"/v1/chat/completions", probe, "X-Sluice-Team", "big"); code != 200 {
		t.Fatalf("after an oversized refusal the tier must be untouched: %d %s", code, b)
	}
}

// TestLimitSpendFailsClosed: with Redis down and the default fail_open, requests limits admit
// unchecked but a cost or tokens limit refuses (503) the requests it applies to.
func TestLimitSpendFailsClosed(t *testing.T) {
	up := fakeprovider.NewOpenAI(t)
	s := startSluice(t, upstreamConfig(up.URL, fmt.Sprintf(`
[redis]
url = %q
timeout = "200ms"

[[limits]]
scope = "global"
unit = "requests"
rate = "100/s"

[[limits]]
scope = "team"
match = "paid"
unit = "cost"
budget = "$5/day"

[[limits]]
scope = "team"
match = "metered"
unit = "tokens"
rate = "1000/min"
fail_open = true
`, deadRedisURL(t))))
	body := fmt.Sprintf(chatHi, "up/gpt-test")
	if code, _, b := post(t, s.URL+"/v1/chat/completions", body, "X-Sluice-Team", "free"); code != 200 {
		t.Fatalf("requests limit only: %d %s", code, b)
	}
	code, _, b := post(t, s.URL+"/v1/chat/completions", body, "X-Sluice-Team", "paid")
	if _, c, _ := openaiError(t, b); code != 503 || c != "rate_limit_unavailable" {
		t.Fatalf("cost budget with the store down: %d %s", code, b)
	}
	if code, _, b := post(t, s.URL+"/v1/chat/completions", body, "X-Sluice-Team", "metered"); code != 200 {
		t.Fatalf("tokens limit with fail_open = true: %d %s", code, b)
	}
	if up.Count() != 2 {
		t.Fatalf("upstream saw %d requests, want 2", up.Count())
	}
}
