package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluice-gw/sluice/host/redisclient"
	"github.com/sluice-gw/sluice/internal/fakeprovider"
	"github.com/sluice-gw/sluice/internal/redistest"
)

// TestLimitSharedRedisTLSAndSentinel: two replicas share one requests limit through a
// TLS-only Redis that requires a client certificate, and through a primary found by Sentinel
// (the url's host is a decoy server that must stay empty). fail_open = false, so a replica
// that could not reach Redis would answer an error, not 200.
func TestLimitSharedRedisTLSAndSentinel(t *testing.T) {
	up := fakeprovider.NewOpenAI(t, fakeprovider.WithoutRecording())
	const limit = `
[[limits]]
name = "global-requests"
scope = "global"
unit = "requests"
rate = "2/hour"
burst = 2
`
	tlsSrv := redistest.Start(t, redistest.TLS())
	f := tlsSrv.TLS
	primary := redistest.Start(t)
	decoy := redistest.Start(t)
	sentinel := redistest.StartSentinel(t, primary, "main")
	ctx := context.Background()
	cases := []struct {
		name, redis string
		// where the limiter's keys must be, and where they must not
		at, notAt redisclient.Options
	}{
		{"tls", fmt.Sprintf(`[redis]
url = %q
timeout = "1s"
fail_open = false
tls_ca_file = %q
tls_cert_file = %q
tls_key_file = %q
`, tlsSrv.URL, f.CAFile, f.CertFile, f.KeyFile),
			redisclient.Options{URL: tlsSrv.URL, TLS: redisclient.TLS{CAFile: f.CAFile, CertFile: f.CertFile, KeyFile: f.KeyFile}},
			redisclient.Options{}},
		{"sentinel", fmt.Sprintf(`[redis]
url = %q
timeout = "1s"
fail_open = false
sentinel_addrs = [%q]
sentinel_master = "main"
`, decoy.URL, sentinel.Addr),
			redisclient.Options{URL: primary.URL}, redisclient.Options{URL: decoy.URL}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := upstreamConfig(up.URL, tc.redis+limit)
			a, b := startSluice(t, cfg), startSluice(t, cfg)
			body := fmt.Sprintf(chatHi, "up/gpt-test")
			for i, s := range []*Sluice{a, b, a, b} {
				code, _, resp := post(t, s.URL+"/v1/chat/completions", body)
				want := 200
				if i >= 2 {
					want = 429
				}
				if code != want {
					t.Fatalf("request %d: %d %s, want %d (the burst of 2 is shared by both replicas)", i+1, code, resp, want)
				}
			}
			keys := func(o redisclient.Options) int {
				c, err := redisclient.New(o)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				v, err := c.Do(ctx, "KEYS", "sluice:rl:*")
				if err != nil {
					t.Fatal(err)
				}
				a, _ := v.Array()
				return len(a)
			}
			if n := keys(tc.at); n == 0 {
				t.Fatalf("no limiter key on %s", tc.at.URL)
			}
			if tc.notAt.URL != "" {
				if n := keys(tc.notAt); n != 0 {
					t.Fatalf("%d limiter keys on the url's host, which the sentinel does not name", n)
				}
			}
		})
	}
}
