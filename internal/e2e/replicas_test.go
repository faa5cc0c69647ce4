package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
	"github.com/sluice-gw/sluice/internal/redistest"
)

// TestReplicasSharedState runs three sluice processes on one redis-server behind a round-robin
// client, as a deployment with a load balancer does, and checks every piece of shared state:
// a rate limit holds exactly across them, a cached answer from one is a hit on the others, a
// stored Responses conversation moves between them, each applies a config reload, and when one
// is killed with SIGKILL under load only the requests sent to it fail.
func TestReplicasSharedState(t *testing.T) {
	rd := redistest.Start(t)
	// A small upstream delay keeps requests in flight when a replica is killed.
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithoutResponses(), fakeprovider.WithDelay(20*time.Millisecond))
	const limit = 30 // requests a minute for the team "metered"; burst defaults to the rate
	cfg := func(extra string) string {
		c := upstreamConfig(up.URL, fmt.Sprintf(`
[redis]
url = %q
timeout = "1s"

[cache]
enabled = true
store = "redis"

[[limits]]
name = "metered"
scope = "team"
match = "metered"
unit = "requests"
rate = "%d/min"
`, rd.URL, limit)+extra)
		// Debug text logs of a few thousand requests would only slow a loaded machine down.
		return strings.Replace(c, `level = "debug"`, `level = "info"`+"\naccess = \"off\"", 1)
	}
	var replicas []*Sluice
	for i := 0; i < 3; i++ {
		replicas = append(replicas, startSluice(t, cfg("")))
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
	send := func(r *Sluice, method, path, body string, headers ...string) (int, http.Header, string, error) {
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, r.URL+path, rd)
		if err != nil {
			return 0, nil, "", err
		}
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, nil, "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b), err
	}
	must := func(r *Sluice, method, path, body string, headers ...string) (int, http.Header, string) {
		t.Helper()
		code, h, b, err := send(r, method, path, body, headers...)
		if err != nil {
			t.Fatalf("%s %s%s: %v", method, r.URL, path, err)
		}
		return code, h, b
	}

	t.Run("limit exact across replicas", func(t *testing.T) {
		var admitted, denied int
		start := time.Now()
		for i := 0; i < 2*limit; i++ {
			code, h, b := must(replicas[i%3], "POST", "/v1/chat/completions", chatBody("up/gpt-test", fmt.Sprintf("metered %d", i)), "X-Sluice-Team", "metered")
			switch code {
			case 200:
				admitted++
			case 429:
				denied++
				if h.Get("Retry-After") == "" {
					t.Errorf("429 without Retry-After: %s", b)
				}
			default:
				t.Fatalf("request %d on replica %d: %d %s", i, i%3+1, code, b)
			}
		}
		// The burst, plus what the rate refills while the loop runs (half a request a second).
		want := float64(limit) + time.Since(start).Minutes()*limit
		t.Logf("admitted %d, denied %d of %d round-robin requests in %s; limit %d/min, expected %.1f", admitted, denied, 2*limit, time.Since(start).Round(time.Millisecond), limit, want)
		if float64(admitted) < want-1 || float64(admitted) > want+1 {
			t.Fatalf("admitted %d, want %.1f±1: the replicas do not share the limit", admitted, want)
		}
		// Another team is not metered: the limit is the team's, not the replicas'.
		if code, _, b := must(replicas[0], "POST", "/v1/chat/completions", chatBody("up/gpt-test", "unmetered"), "X-Sluice-Team", "other"); code != 200 {
			t.Fatalf("another team: %d %s", code, b)
		}
	})

	t.Run("cache hits shared", func(t *testing.T) {
		body := chatBody("up/gpt-test", "cached once, served by all three")
		before := up.Count()
		code, h, first := must(replicas[0], "POST", "/v1/chat/completions", body)
		if code != 200 || h.Get("X-Sluice-Cache") != "MISS" {
			t.Fatalf("replica 1: %d cache %q %s", code, h.Get("X-Sluice-Cache"), first)
		}
		for i := 1; i < 3; i++ {
			code, h, got := must(replicas[i], "POST", "/v1/chat/completions", body)
			if code != 200 || h.Get("X-Sluice-Cache") != "HIT" {
				t.Fatalf("replica %d: %d cache %q %s", i+1, code, h.Get("X-Sluice-Cache"), got)
			}
			if content(t, got) != content(t, first) {
				t.Fatalf("replica %d answered %q, replica 1 %q", i+1, content(t, got), content(t, first))
			}
		}
		if n := up.Count() - before; n != 1 {
			t.Fatalf("the upstream saw %d requests for one cached question, want 1", n)
		}
	})

	t.Run("stored responses move between replicas", func(t *testing.T) {
		code, _, body := must(replicas[0], "POST", "/v1/responses", `{"model":"up/gpt-test","input":"remember the word kestrel"}`)
		if code != 200 {
			t.Fatalf("replica 1 create: %d %s", code, body)
		}
		first := respID(t, body)
		code, _, body = must(replicas[1], "POST", "/v1/responses", `{"model":"up/gpt-test","previous_response_id":"`+first+`","input":"which bird?"}`)
		if code != 200 {
			t.Fatalf("replica 2 continue: %d %s", code, body)
		}
		second := respID(t, body)
		rs := up.Requests()
		if last := rs[len(rs)-1]; !strings.Contains(string(last.Body), "remember the word kestrel") || !strings.Contains(string(last.Body), "which bird?") {
			t.Fatalf("replica 2's upstream request lacks the first turn: %s", last.Body)
		}
		for _, id := range []string{first, second} {
			if code, _, body := must(replicas[2], "GET", "/v1/responses/"+id, ""); code != 200 || !strings.Contains(body, id) {
				t.Fatalf("replica 3 GET %s: %d %s", id, code, body)
			}
		}
		if code, _, body := must(replicas[2], "GET", "/v1/responses/"+second+"/input_items", ""); code != 200 || !strings.Contains(body, "which bird?") {
			t.Fatalf("replica 3 input_items: %d %s", code, body)
		}
	})

	t.Run("config reload on each", func(t *testing.T) {
		for i, r := range replicas {
			if code, _, _ := must(r, "POST", "/v1/chat/completions", chatBody("swift", "before")); code != 404 {
				t.Fatalf("replica %d served the alias before it existed: %d", i+1, code)
			}
		}
		changed := cfg("\n[aliases]\nswift = \"up/gpt-test\"\n")
		for _, r := range replicas {
			path := r.cmd.Args[len(r.cmd.Args)-1]
			if err := os.WriteFile(path, []byte(changed), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := r.cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
		}
		for i, r := range replicas {
			deadline := time.Now().Add(10 * time.Second)
			for n := 0; ; n++ {
				code, _, body := must(r, "POST", "/v1/chat/completions", chatBody("swift", fmt.Sprintf("after %d %d", i, n)))
				if code == 200 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("replica %d does not serve the new alias: %d %s", i+1, code, body)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if !strings.Contains(r.Logs(), "configuration reloaded") {
				t.Fatalf("replica %d logged no reload", i+1)
			}
		}
	})

	t.Run("SIGKILL under load", func(t *testing.T) {
		// 200 requests a second for 3 s, round robin, each on its own goroutine so a slow answer
		// does not hold the rate back; replica 3 is killed half way.
		const rate, window = 200, 3 * time.Second
		total := int(rate * window / time.Second)
		victim := replicas[2]
		var ok, failed [3]atomic.Int64
		var failedBefore, okAfter atomic.Int64 // on the victim: failed though sent before the kill; answered though sent after
		var survivorErr sync.Once
		var firstSurvivorErr string
		var killedAt atomic.Int64 // unix nanos, 0 until the kill
		var wg sync.WaitGroup
		start := time.Now()
		tick := time.NewTicker(time.Second / rate)
		defer tick.Stop()
		for i := 0; i < total; i++ {
			<-tick.C
			if i == total/2 {
				if err := victim.cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				killedAt.Store(time.Now().UnixNano())
			}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				r := i % 3
				sentAt := time.Now().UnixNano()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, "POST", replicas[r].URL+"/v1/chat/completions", strings.NewReader(chatBody("up/gpt-test", fmt.Sprintf("load %d", i))))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				code := 0
				if err == nil {
					code = resp.StatusCode
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				k := killedAt.Load()
				if err == nil && code == 200 {
					ok[r].Add(1)
					if r == 2 && k != 0 && sentAt > k {
						okAfter.Add(1)
					}
					return
				}
				failed[r].Add(1)
				if r != 2 {
					survivorErr.Do(func() { firstSurvivorErr = fmt.Sprintf("replica %d request %d: %d %v", r+1, i, code, err) })
				} else if k == 0 || sentAt < k {
					failedBefore.Add(1)
				}
			}(i)
		}
		wg.Wait()
		elapsed := time.Since(start)
		<-victim.done // reaped, so the cleanup does not wait for it
		t.Logf("%d requests in %s: replica 1 %d ok %d failed, replica 2 %d ok %d failed, killed replica 3 %d ok %d failed (%d of them sent before the kill)",
			total, elapsed.Round(time.Millisecond), ok[0].Load(), failed[0].Load(), ok[1].Load(), failed[1].Load(), ok[2].Load(), failed[2].Load(), failedBefore.Load())
		for r := 0; r < 2; r++ {
			if failed[r].Load() != 0 {
				t.Errorf("survivor replica %d failed %d requests; first: %s", r+1, failed[r].Load(), firstSurvivorErr)
			}
			if ok[r].Load()+failed[r].Load() != int64((total+2-r)/3) {
				t.Errorf("replica %d: %d answers, want %d", r+1, ok[r].Load()+failed[r].Load(), (total+2-r)/3)
			}
		}
		sentToVictim := int64(total / 3)
		if ok[2].Load()+failed[2].Load() != sentToVictim {
			t.Errorf("killed replica: %d answers, want %d", ok[2].Load()+failed[2].Load(), sentToVictim)
		}
		if okAfter.Load() != 0 {
			t.Errorf("%d requests sent to the killed replica after the kill succeeded", okAfter.Load())
		}
		// Everything sent to the victim after the kill fails; of what was sent before, only the
		// requests still in flight may: at 20 ms upstream delay and ~67 req/s to the victim that
		// is a handful, bounded generously for a loaded machine (1 s of its traffic).
		sentAfter := sentToVictim - int64(total/2/3)
		if failed[2].Load() < sentAfter-1 {
			t.Errorf("killed replica: only %d failed, but ~%d were sent after the kill", failed[2].Load(), sentAfter)
		}
		if failedBefore.Load() > rate/3 {
			t.Errorf("killed replica: %d requests sent before the kill failed; only those in flight should", failedBefore.Load())
		}
		if ok[2].Load() == 0 {
			t.Errorf("the killed replica answered nothing before the kill")
		}
		// The survivors still share the cache after losing a peer.
		for r := 0; r < 2; r++ {
			if code, h, b := must(replicas[r], "POST", "/v1/chat/completions", chatBody("up/gpt-test", "cached once, served by all three")); code != 200 || h.Get("X-Sluice-Cache") != "HIT" {
				t.Errorf("survivor %d after the kill: %d cache %q %s", r+1, code, h.Get("X-Sluice-Cache"), b)
			}
		}
	})
}
