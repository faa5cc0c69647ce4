package balance

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluice-gw/sluice/host/config"
)

func TestConfigValidationNamesField(t *testing.T) {
	two := []Target{tgt("a", "p"), tgt("b", "q")}
	tests := []struct {
		name  string
		with  func(*Config)
		field string
	}{
		{"no name", func(c *Config) { c.Name = "" }, "name"},
		{"strategy", func(c *Config) { c.Strategy = "fastest" }, "strategy"},
		{"fallback plugin", func(c *Config) { c.FallbackStrategy = StrategyPlugin }, "fallback_strategy"},
		{"plugin without orderer", func(c *Config) { c.Strategy = StrategyPlugin }, "orderer"},
		{"no targets", func(c *Config) { c.Targets = nil }, "targets"},
		{"empty id", func(c *Config) { c.Targets[1].ID = "" }, "targets[1].id"},
		{"dup id", func(c *Config) { c.Targets[1].ID = "a" }, "targets[1].id"},
		{"no provider", func(c *Config) { c.Targets[0].Provider = "" }, "targets[0].provider"},
		{"no model", func(c *Config) { c.Targets[0].Model = "" }, "targets[0].model"},
		{"weight", func(c *Config) { c.Targets[1].Weight = -1 }, "targets[1].weight"},
		{"price", func(c *Config) { c.Targets[0].PriceOut = -1 }, "targets[0].price_out"},
		{"attempts", func(c *Config) { c.Retries.Attempts = -2 }, "retries.attempts"},
		{"max backoff", func(c *Config) { c.Retries.Backoff, c.Retries.MaxBackoff = time.Second, time.Millisecond }, "retries.max_backoff"},
		{"budget", func(c *Config) { c.Retries.Budget = -0.1 }, "retries.budget"},
		{"threshold", func(c *Config) { c.Health.Threshold = 1.5 }, "health.threshold"},
		{"threshold 0 after defaults", func(c *Config) { c.Health.Threshold = -0.1 }, "health.threshold"},
		{"buckets", func(c *Config) { c.Health.Buckets = -1 }, "health.buckets"},
		{"max cooldown", func(c *Config) { c.Health.Cooldown, c.Health.MaxCooldown = time.Minute, time.Second }, "health.max_cooldown"},
		{"attempt timeout", func(c *Config) { c.Timeout, c.AttemptTimeout = time.Second, time.Minute }, "attempt_timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Name: "prod", Targets: append([]Target(nil), two...)}
			tc.with(&cfg)
			_, err := NewRouter(cfg)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *ConfigError", err)
			}
			if ce.Field != tc.field {
				t.Fatalf("field = %q, want %q (%v)", ce.Field, tc.field, err)
			}
			if !strings.Contains(err.Error(), tc.field) || !strings.HasPrefix(err.Error(), "balance: ") {
				t.Fatalf("message %q lacks prefix or field", err)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	r := mustRouter(t, Config{Targets: []Target{tgt("a", "p")}})
	// The defaults are host/config's, the ones declared and implicit routers get.
	if r.maxAttempts != config.DefaultAttempts || r.Timeout() != config.DefaultRouterTimeout || r.AttemptTimeout() != config.DefaultRouterTimeout {
		t.Fatalf("defaults: attempts %d timeout %s attempt %s", r.maxAttempts, r.Timeout(), r.AttemptTimeout())
	}
	if r.strategy != StrategyLatency || r.fallback != StrategyPriority {
		t.Fatalf("strategies %q %q", r.strategy, r.fallback)
	}
}

func TestParseStrategy(t *testing.T) {
	for _, name := range []string{"latency", "weighted", "round_robin", "least_busy", "priority", "cost", "plugin"} {
		if s, err := ParseStrategy(name); err != nil || string(s) != name {
			t.Fatalf("ParseStrategy(%q) = %q, %v", name, s, err)
		}
	}
	if _, err := ParseStrategy("random"); err == nil || !strings.Contains(err.Error(), `"random"`) {
		t.Fatalf("ParseStrategy(random) = %v", err)
	}
}

// TestThresholdOneAccepted: host/config accepts a health threshold of 1 (never eject), so
// balance does too.
func TestThresholdOneAccepted(t *testing.T) {
	r := mustRouter(t, Config{Targets: []Target{tgt("a", "p")}, Health: Health{Threshold: 1}})
	if r == nil {
		t.Fatal("no router")
	}
}
