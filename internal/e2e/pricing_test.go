package e2e

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/sluice-gw/sluice/internal/fakeprovider"
)

// TestPricesPublishedAndUnknown: a call is costed at the model's own published price (o3-pro
// at $20/$80 per 1M, not o3's $2/$8), and a model no entry names is logged once, counted, and
// costed at the operator's pricing."*" default.
func TestPricesPublishedAndUnknown(t *testing.T) {
	up := fakeprovider.NewOpenAI(t)
	up.Script(func(fakeprovider.Received) fakeprovider.Reply {
		return fakeprovider.Reply{Usage: fakeprovider.Usage{Input: 1000, Output: 2000}}
	})
	s := startSluice(t, baseConfig+fmt.Sprintf(`
[providers.prod-openai]
kind = "openai"
base_url = %q
api_key = "sk-upstream"

[pricing."*"]
input = 7.0
output = 9.0
`, up.URL))
	for _, model := range []string{"o3-pro", "o9-unlisted", "o9-unlisted", "o3-pro-2025-06-10"} {
		body := fmt.Sprintf(`{"model":"prod-openai/%s","messages":[{"role":"user","content":"hi"}]}`, model)
		if code, _, b := post(t, s.URL+"/v1/chat/completions", body); code != 200 {
			t.Fatalf("%s: %d %s", model, code, b)
		}
	}
	settleWait()
	fams := scrape(t, s)
	for _, c := range []struct {
		model string
		usd   float64
	}{
		{"prod-openai/o3-pro", 1000*20/1e6 + 2000*80/1e6},
		{"prod-openai/o3-pro-2025-06-10", 1000*20/1e6 + 2000*80/1e6},
		{"prod-openai/o9-unlisted", 2 * (1000*7/1e6 + 2000*9/1e6)},
	} {
		got, ok := metric(fams, "sluice_cost_usd_total", "model", c.model)
		if !ok || math.Abs(got-c.usd) > 1e-6 {
			t.Errorf("cost of %s = %v (%v), want %v", c.model, got, ok, c.usd)
		}
	}
	if n, _ := metric(fams, "sluice_price_unknown_total", "model", "prod-openai/o9-unlisted"); n < 2 {
		t.Errorf("sluice_price_unknown_total for the unlisted model = %v, want at least 2", n)
	}
	if n, _ := metric(fams, "sluice_price_unknown_total", "model", "prod-openai/o3-pro"); n != 0 {
		t.Errorf("a listed model counted as unknown %v times", n)
	}
	if got := strings.Count(s.logs.String(), "no price lists this model"); got != 1 {
		t.Errorf("unknown-model warning logged %d times, want once:\n%s", got, s.logs.String())
	}
	if n, ok := metric(fams, "sluice_token_estimate_ratio", "provider", "prod-openai"); !ok || n < 4 {
		t.Errorf("estimate ratio observed %v times, want one per answered call", n)
	}
}
