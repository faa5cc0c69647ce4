package config

import (
	"strings"
	"time"
)

// The defaults and ranges below are the only ones: host/balance, the implicit single-target
// routers and the stores take these values (validated here) and never choose their own.

// Router defaults, for declared routers, implicit routers and host/balance alike.
const (
	DefaultStrategy         = "latency"
	DefaultFallbackStrategy = "priority"
	// DefaultAttempts caps a router's attempts per request, the first included; a declared
	// router with fewer targets gets one per target.
	DefaultAttempts      = 3
	DefaultBackoff       = 25 * time.Millisecond
	DefaultMaxBackoff    = time.Second
	DefaultRetryBudget   = 0.2
	DefaultBudgetFloor   = 10.0 // retries per second allowed on top of the budget ratio
	DefaultBudgetWindow  = 10 * time.Second
	DefaultRouterTimeout = 10 * time.Minute
	DefaultRTT           = 250 * time.Millisecond
	DefaultDecay         = 10 * time.Second

	DefaultHealthWindow    = 30 * time.Second
	DefaultHealthBuckets   = 10
	DefaultHealthThreshold = 0.5
	DefaultMinRequests     = 5
	DefaultCooldown        = 5 * time.Second
	DefaultMaxCooldown     = 2 * time.Minute
	// DefaultRetryAfter cools a target after a 429 that carries no usable Retry-After.
	DefaultRetryAfter    = 30 * time.Second
	DefaultProbeInterval = 10 * time.Second
	// MaxProbeTimeout bounds one active health check (shorter when the probe interval is).
	MaxProbeTimeout = 5 * time.Second

	// ImplicitAttempts is what an implicit single-target router (a plain provider/model
	// request) allows: one retry on the same target after a failure that started nothing.
	ImplicitAttempts = 2
)

// Store defaults.
const (
	DefaultRedisTimeout       = 250 * time.Millisecond
	DefaultCacheTTL           = 10 * time.Minute
	DefaultCacheMaxBytes      = 256 << 20
	DefaultCacheMaxEntrySize  = 1 << 20
	DefaultResponsesTTL       = 24 * time.Hour
	DefaultResponsesMaxBytes  = 128 << 20
	DefaultResponsesMaxRecord = 8 << 20
)

// ImplicitRouter is the router a plain provider/model request gets: one target, the
// priority strategy, ImplicitAttempts, the provider's timeout, and every other setting the
// same default a declared router gets.
func ImplicitRouter(model string, timeout Duration) *Router {
	r := &Router{
		Name:     model,
		Strategy: "priority",
		Targets:  []Target{{Model: model, Weight: 1}},
		Retries:  Retries{Attempts: ImplicitAttempts},
		Timeout:  timeout,
	}
	routerDefaults(r)
	return r
}

func setDur(d *Duration, def time.Duration) {
	if *d == 0 {
		*d = Duration(def)
	}
}

func setInt[T ~int | ~int64](n *T, def T) {
	if *n == 0 {
		*n = def
	}
}

func setStr(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

func setBool(b **bool, def bool) {
	if *b == nil {
		*b = &def
	}
}

func (c *Config) applyDefaults(v *validator) {
	serverDefaults(&c.Server)
	logDefaults(&c.Log)
	c.providerDefaults(v)
	for name, p := range c.Plugins {
		p.Name = name
		pluginDefaults(p)
	}
	for name, r := range c.Routers {
		r.Name = name
		routerDefaults(r)
	}
	cacheDefaults(&c.Cache)
	for _, name := range sortedKeys(c.Routers) {
		c.mergeRouterCache(v, name, c.Routers[name])
	}
	setStr(&c.Auth.UserHeader, "x-sluice-user")
	setStr(&c.Auth.TeamHeader, "x-sluice-team")
	rs := &c.Responses
	if rs.Store == "" {
		rs.Store = "memory"
		if c.Redis.URL != "" {
			rs.Store = "redis"
		}
	}
	setDur(&rs.TTL, DefaultResponsesTTL)
	setInt(&rs.MaxBytes, DefaultResponsesMaxBytes)
	setInt(&rs.MaxRecord, DefaultResponsesMaxRecord)
	setDur(&c.Redis.Timeout, DefaultRedisTimeout)
	setBool(&c.Redis.FailOpen, true)
	// Telemetry defaults stay empty on purpose: empty means "decide from the standard OTEL_*
	// environment variables" (OTEL_SERVICE_NAME, OTEL_TRACES_EXPORTER, ...).
}

func serverDefaults(s *Server) {
	setStr(&s.Listen, "127.0.0.1:8080")
	setInt(&s.MaxBodySize, 16<<20)
	setInt(&s.MaxHeaderBytes, 64<<10)
	setInt(&s.MaxMessages, 10000)
	setInt(&s.MaxTools, 512)
	setInt(&s.MaxImplicitRouters, 1024)
	setDur(&s.ReadHeaderTimeout, 10*time.Second)
	setDur(&s.ReadBodyTimeout, 60*time.Second)
	setDur(&s.WriteTimeout, 30*time.Second)
	setInt(&s.MaxConnections, 4096)
	setInt(&s.MaxStreams, 1024)
	setDur(&s.IdleTimeout, 120*time.Second)
	setDur(&s.ShutdownTimeout, 30*time.Second)
	setBool(&s.IncludeUsage, true)
	setInt(&s.PolicyBuffer, 4<<20)
}

func logDefaults(l *Log) {
	setStr(&l.Level, "info")
	setStr(&l.Format, "text")
	setStr(&l.Access, "stderr")
	setInt(&l.MaxBodyBytes, 4<<10)
}

// providerDefaults adds the demo provider, drops the disabled ones (remembering them for
// clearer errors) and fills each kind's defaults.
func (c *Config) providerDefaults(v *validator) {
	if c.Providers == nil {
		c.Providers = map[string]*Provider{}
	}
	if _, ok := c.Providers["demo"]; !ok {
		// The local demo model is always there, so any config can be tried without a key.
		c.Providers["demo"] = &Provider{Kind: "demo"}
	}
	for name, p := range c.Providers {
		if p.Enabled != nil && !*p.Enabled {
			delete(c.Providers, name)
			if v.disabled == nil {
				v.disabled = map[string]bool{}
			}
			v.disabled[name] = true
		}
	}
	for name, p := range c.Providers {
		p.Name = name
		if p.Kind == "" {
			if _, ok := Kinds[name]; ok {
				p.Kind = name
			}
		}
		k, ok := Kinds[p.Kind]
		if !ok {
			continue // reported by validate
		}
		if p.BaseURL == "" {
			p.BaseURL = k.BaseURL
			if p.Kind == "bedrock" && p.Region != "" {
				p.BaseURL = "https://bedrock-runtime." + p.Region + ".amazonaws.com"
			}
			if p.Kind == "vertex" {
				p.BaseURL = VertexBaseURL(p.Location)
			}
		}
		p.BaseURL = strings.TrimRight(p.BaseURL, "/")
		if p.Kind == "vertex" && p.Location == "" {
			p.Location = "global"
		}
		if p.Auth == "" {
			p.Auth = k.Auth
			if p.Kind == "openai" && p.APIKey == "" && p.KeyEnv == "" && !p.BYOK && isLoopbackURL(p.BaseURL) {
				p.Auth = "none"
			}
		}
		setStr(&p.Translator, k.Translator)
		setStr(&p.KeyEnv, v.envOf("providers."+name+".api_key"))
		if p.Kind == "demo" && len(p.Models) == 0 {
			p.Models = []string{"echo", "lorem"}
		}
		if p.Native == nil {
			p.Native = defaultNative(name, p)
		}
		setDur(&p.Timeout, 10*time.Minute)
		setDur(&p.IdleTimeout, 60*time.Second)
	}
}

func pluginDefaults(p *Plugin) {
	setDur(&p.Timeout, 50*time.Millisecond)
	setInt(&p.Memory, 64<<20)
	setStr(&p.Sandbox, "metered")
	setStr(&p.Stream, "hold")
	setInt(&p.CheckEvery, 1<<10)
}

func routerDefaults(r *Router) {
	setStr(&r.Strategy, DefaultStrategy)
	setStr(&r.FallbackStrategy, DefaultFallbackStrategy)
	for i := range r.Targets {
		if r.Targets[i].Weight == 0 {
			r.Targets[i].Weight = 1
		}
	}
	setInt(&r.Retries.Attempts, min(DefaultAttempts, max(1, len(r.Targets))))
	setDur(&r.Retries.Backoff, DefaultBackoff)
	setDur(&r.Retries.MaxBackoff, DefaultMaxBackoff)
	if r.Retries.Budget == 0 {
		r.Retries.Budget = DefaultRetryBudget
	}
	setDur(&r.Timeout, DefaultRouterTimeout)
	setDur(&r.DefaultRTT, DefaultRTT)
	setDur(&r.Decay, DefaultDecay)
	h := &r.Health
	setDur(&h.Window, DefaultHealthWindow)
	if h.Threshold == 0 {
		h.Threshold = DefaultHealthThreshold
	}
	setInt(&h.MinRequests, DefaultMinRequests)
	setDur(&h.Cooldown, DefaultCooldown)
	setDur(&h.MaxCooldown, DefaultMaxCooldown)
}

func cacheDefaults(c *Cache) {
	setBool(&c.Enabled, false)
	setDur(&c.TTL, DefaultCacheTTL)
	setInt(&c.Buckets, 1)
	setInt(&c.MaxBuckets, 10)
	setInt(&c.MaxBytes, DefaultCacheMaxBytes)
	setInt(&c.MaxEntrySize, DefaultCacheMaxEntrySize)
	setStr(&c.Store, "memory")
}

// mergeRouterCache lays a router's [cache] over the global one.
func (c *Config) mergeRouterCache(v *validator, name string, r *Router) {
	if r.Cache == nil {
		return
	}
	// All routers share the one store, so its kind and size are set under [cache] only.
	if r.Cache.Store != "" && r.Cache.Store != c.Cache.Store {
		v.errAt("routers."+name+".cache.store", "routers share the [cache] store; set store there")
	}
	if r.Cache.MaxBytes != 0 && r.Cache.MaxBytes != c.Cache.MaxBytes {
		v.errAt("routers."+name+".cache.max_bytes", "routers share the [cache] store; set max_bytes there")
	}
	merged := c.Cache
	if r.Cache.Enabled != nil {
		merged.Enabled = r.Cache.Enabled
	}
	if r.Cache.TTL != 0 {
		merged.TTL = r.Cache.TTL
	}
	if r.Cache.Buckets != 0 {
		merged.Buckets = r.Cache.Buckets
	}
	if r.Cache.MaxBuckets != 0 {
		merged.MaxBuckets = r.Cache.MaxBuckets
	}
	if r.Cache.SharedAcross {
		merged.SharedAcross = true
	}
	if r.Cache.MaxEntrySize != 0 {
		merged.MaxEntrySize = r.Cache.MaxEntrySize
	}
	if r.Cache.KeyPlugin != "" {
		merged.KeyPlugin = r.Cache.KeyPlugin
	}
	if r.Cache.Ignore != nil {
		merged.Ignore = r.Cache.Ignore
	}
	*r.Cache = merged
}

// ValidThreshold reports whether a health threshold (the failure ratio past which a target is
// ejected) is in range: (0, 1], where 1 never ejects.
func ValidThreshold(t float64) bool { return t > 0 && t <= 1 }
