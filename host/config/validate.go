package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// BuiltinPlugins are the plugins embedded in the binary; providers may name them as translator
// without declaring them under [plugins].
var BuiltinPlugins = []string{"anthropic", "gemini", "bedrock"}

type validator struct {
	file  string
	loc   *locator
	unset map[int][]string
	// disabled are the providers switched off with enabled = false.
	disabled map[string]bool
	errs     []Problem
	warns    []Problem
}

func (v *validator) errAt(key, format string, args ...any) {
	v.errs = append(v.errs, Problem{File: v.file, Line: v.loc.line(key), Key: key, Msg: fmt.Sprintf(format, args...)})
}

// envOf names the environment variable a key's value came from, if it came from one.
func (v *validator) envOf(key string) string {
	if m := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`).FindStringSubmatch(v.loc.raw[key]); m != nil {
		return m[1]
	}
	return ""
}

// IsLoopbackAddr reports whether a listen address (host:port) binds only loopback: an empty
// host or 0.0.0.0 / [::] binds every interface and is not loopback.
func IsLoopbackAddr(addr string) bool {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func isLoopbackURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

var (
	rateRE   = regexp.MustCompile(`^\s*\$?\d+(\.\d+)?\s*/\s*(\d+\s*)?(s|sec|second|m|min|minute|h|hour|d|day|w|week|month)\s*$`)
	budgetRE = regexp.MustCompile(`^\s*\$?\d+(\.\d+)?\s*/\s*(day|week|month)\s*$`)
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
)

func sortedKeys[M ~map[string]V, V any](m M) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (c *Config) validate(v *validator) {
	c.validateServer(v)
	c.validateRedis(v)
	c.validateResponsesAndLog(v)
	c.validateProviders(v)
	c.validatePlugins(v)
	c.validateReferences(v)
	c.validateCache(v, "cache", &c.Cache)
	for i := range c.Limits {
		validateLimit(v, fmt.Sprintf("limits[%d]", i), &c.Limits[i])
	}
	c.validateAuth(v)
	c.validateTelemetryAndPricing(v)
}

// validateServer checks [server]: listeners, sizes and timeouts.
func (c *Config) validateServer(v *validator) {
	for _, f := range []struct {
		key string
		n   int
	}{{"server.max_messages", c.Server.MaxMessages}, {"server.max_tools", c.Server.MaxTools}, {"server.max_implicit_routers", c.Server.MaxImplicitRouters}} {
		if f.n < 0 {
			v.errAt(f.key, "must be positive, got %d", f.n)
		}
	}
	if c.Server.MaxHeaderBytes < 4<<10 {
		v.errAt("server.max_header_bytes", "must be at least 4KiB, got %d bytes", c.Server.MaxHeaderBytes)
	}
	if _, _, err := net.SplitHostPort(c.Server.Listen); err != nil {
		v.errAt("server.listen", "%q is not host:port", c.Server.Listen)
	}
	if c.Server.MaxConnections < 1 {
		v.errAt("server.max_connections", "must be at least 1, got %d", c.Server.MaxConnections)
	}
	if c.Server.MaxStreams < 1 {
		v.errAt("server.max_streams", "must be at least 1, got %d", c.Server.MaxStreams)
	} else if c.Server.MaxStreams > c.Server.MaxConnections && c.Server.MaxConnections >= 1 {
		v.errAt("server.max_streams", "%d streams cannot fit in max_connections = %d", c.Server.MaxStreams, c.Server.MaxConnections)
	}
	for _, t := range []struct {
		key string
		d   Duration
	}{{"server.read_header_timeout", c.Server.ReadHeaderTimeout}, {"server.read_body_timeout", c.Server.ReadBodyTimeout}, {"server.write_timeout", c.Server.WriteTimeout}} {
		if t.d.D() < 100*time.Millisecond {
			v.errAt(t.key, "%s is too short for any client (at least 100ms)", t.d.D())
		}
	}
	if a := c.Server.AdminListen; a != "" && a != "off" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			v.errAt("server.admin_listen", "%q is not host:port (or \"off\")", a)
		} else if !IsLoopbackAddr(a) && c.Server.AdminToken == "" {
			v.errAt("server.admin_listen", "%q is not a loopback address, so server.admin_token is required (the admin API reloads config, purges caches and shows state)", a)
		}
	}
	if t := c.Server.AdminToken; t != "" && len(t) < 16 {
		v.errAt("server.admin_token", "is shorter than 16 characters; use a long random token (e.g. openssl rand -hex 32)")
	}
	if m := c.Server.MetricsListen; m != "" && m != "off" {
		if _, _, err := net.SplitHostPort(m); err != nil {
			v.errAt("server.metrics_listen", "%q is not host:port (or \"off\")", m)
		}
	}
}

// validateResponsesAndLog checks [responses] and [log].
func (c *Config) validateResponsesAndLog(v *validator) {
	switch rs := c.Responses; {
	case !slices.Contains([]string{"memory", "redis", "off"}, rs.Store):
		v.errAt("responses.store", "%q is not one of memory, redis, off", rs.Store)
	case rs.Store == "redis" && c.Redis.URL == "":
		v.errAt("responses.store", "store \"redis\" needs [redis] url")
	case rs.MaxRecord > rs.MaxBytes:
		v.errAt("responses.max_record", "%d is larger than max_bytes (%d)", rs.MaxRecord, rs.MaxBytes)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		v.errAt("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	if !slices.Contains([]string{"text", "json"}, c.Log.Format) {
		v.errAt("log.format", "%q is not one of text, json", c.Log.Format)
	}
}

// validateProviders checks each provider; the ones without credentials are one warning.
func (c *Config) validateProviders(v *validator) {
	var missing []string
	for _, name := range sortedKeys(c.Providers) {
		p := c.Providers[name]
		key := "providers." + name
		if !nameRE.MatchString(name) || strings.Contains(name, "/") {
			v.errAt(key, "provider name %q must be letters, digits, '-', '_' or '.'", name)
		}
		k, ok := Kinds[p.Kind]
		if !ok {
			if p.Kind == "" {
				v.errAt(key+".kind", "a custom provider needs a kind (one of %s)", kindList())
			} else {
				v.errAt(key+".kind", "unknown kind %q (one of %s)", p.Kind, kindList())
			}
			continue
		}
		for _, g := range p.Passthrough {
			if !strings.HasPrefix(g, "/") && g != "*" {
				v.errAt(key+".passthrough", "%q is not a path glob starting with / (relative to base_url, e.g. \"/files*\")", g)
			}
		}
		if !slices.Contains(AuthStyles, p.Auth) {
			v.errAt(key+".auth", "%q is not one of %s", p.Auth, strings.Join(AuthStyles, ", "))
		}
		if p.Kind != "demo" {
			if p.BaseURL == "" {
				missing = append(missing, fmt.Sprintf("%s (set %s_BASE_URL)", name, strings.ToUpper(name)))
				continue
			} else if u, err := url.Parse(p.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.errAt(key+".base_url", "%q is not an http(s) URL", p.BaseURL)
			}
		}
		if p.Translator != "" && !slices.Contains(BuiltinPlugins, p.Translator) {
			if _, ok := c.Plugins[p.Translator]; !ok {
				v.errAt(key+".translator", "plugin %q is neither built in (%s) nor declared under [plugins]", p.Translator, strings.Join(BuiltinPlugins, ", "))
			}
		}
		switch {
		case p.Kind == "bedrock" && (p.AccessKeyID == "") != (p.SecretAccessKey == ""):
			// One of the pair alone is a mistake; neither means the SDK's default chain.
			v.errAt(key+".access_key_id", "access_key_id and secret_access_key go together (leave both empty for the AWS default credential chain)")
		case p.Kind == "vertex" && p.Project == "":
			missing = append(missing, name+" (set GOOGLE_CLOUD_PROJECT)")
		case k.NeedsKey && p.APIKey == "" && p.Auth != "none" && !p.BYOK:
			env := p.KeyEnv
			if env == "" {
				env = "api_key"
			}
			missing = append(missing, fmt.Sprintf("%s (set %s)", name, env))
		}
		if p.Credentials != "" && p.Credentials != "static" && p.Credentials != "chain" {
			v.errAt(key+".credentials", "%q is not static or chain", p.Credentials)
		}
		if p.Kind == "azure" && p.APIVersion == "" {
			v.errAt(key+".api_version", "azure needs an api_version, e.g. \"2024-10-21\"")
		}
		for _, d := range p.Native {
			switch {
			case d == "responses" && (p.Kind == "azure" || (k.Translator == "" && p.Kind != "demo")):
			case d == "messages" && (p.Kind == "anthropic" || p.Kind == "bedrock" || p.Kind == "vertex"):
			case d == "responses" || d == "messages":
				v.errAt(key+".native", "kind %q cannot serve the %s API natively", p.Kind, d)
			default:
				v.errAt(key+".native", "unknown API %q (responses or messages)", d)
			}
		}
	}
	if len(missing) > 0 {
		v.warns = append(v.warns, Problem{File: v.file, Msg: "providers not configured (requests to them answer 503 until they are): " + strings.Join(missing, ", ")})
	}
}

// validatePlugins checks each plugin's file and settings.
func (c *Config) validatePlugins(v *validator) {
	for _, name := range sortedKeys(c.Plugins) {
		p := c.Plugins[name]
		key := "plugins." + name
		if !nameRE.MatchString(name) {
			v.errAt(key, "plugin name %q must be letters, digits, '-', '_' or '.'", name)
		}
		if p.Path == "" {
			v.errAt(key+".path", "is required")
		} else if _, err := os.Stat(p.Path); err != nil {
			v.errAt(key+".path", "%v", err)
		}
		switch p.Sandbox {
		case "metered":
		case "trusted", "untrusted":
			// Accepted so that older configs keep loading; both now mean metered.
			v.warns = append(v.warns, Problem{File: v.file, Line: v.loc.line(key + ".sandbox"), Key: key + ".sandbox",
				Msg: fmt.Sprintf("%q is deprecated and ignored: every plugin, built-ins included, runs metered (CPU budget from timeout, call-depth cap, memory cap); remove the key", p.Sandbox)})
			p.Sandbox = "metered"
		default:
			v.errAt(key+".sandbox", "%q is not \"metered\" (the one sandbox level; \"trusted\" and \"untrusted\" are deprecated aliases)", p.Sandbox)
		}
		if p.MaxDepth < 0 || p.MaxDepth > 1_000_000 {
			v.errAt(key+".max_depth", "%d is not between 0 (the default) and 1000000", p.MaxDepth)
		}
		if !slices.Contains([]string{"hold", "incremental"}, p.Stream) {
			v.errAt(key+".stream", "%q is not one of hold, incremental", p.Stream)
		}
		if p.Memory < 4<<20 {
			v.errAt(key+".memory", "%d bytes is below the 4MiB a plugin needs to start", p.Memory)
		}
		if p.Pool < 0 {
			v.errAt(key+".pool", "must not be negative")
		}
		validateHeaderGlobs(v, key+".upstream_headers", p.UpstreamHeaders)
		validateHeaderGlobs(v, key+".response_headers", p.ResponseHeaders)
	}
}

// validateReferences checks the routers and every name that refers to a provider, router or plugin.
func (c *Config) validateReferences(v *validator) {
	for _, name := range sortedKeys(c.Routers) {
		c.validateRouter(v, name, c.Routers[name])
	}
	for _, alias := range sortedKeys(c.Aliases) {
		c.checkModel(v, "aliases."+alias, c.Aliases[alias], true)
	}
	if dp := c.Server.DefaultProvider; dp != "" {
		if _, ok := c.Providers[dp]; !ok {
			v.errAt("server.default_provider", "provider %q is not declared", dp)
		}
	}
	if dr := c.Server.DefaultRouter; dr != "" {
		if _, ok := c.Routers[dr]; !ok {
			v.errAt("server.default_router", "router %q is not declared", dr)
		}
	}
	for i, pol := range c.Policies {
		if _, ok := c.Plugins[pol]; !ok {
			v.errAt("policies", "policy %d: plugin %q is not declared under [plugins]", i+1, pol)
		}
	}
}

// validateAuth checks [auth] and each virtual key (and fills a key limit's scope).
func (c *Config) validateAuth(v *validator) {
	if c.Auth.Required && len(c.Auth.Keys) == 0 && c.Auth.KeysFile == "" {
		v.errAt("auth.required", "auth is required but no keys or keys_file are given")
	}
	for i, k := range c.Auth.Keys {
		key := fmt.Sprintf("auth.keys[%d]", i)
		if k.ID == "" {
			v.errAt(key+".id", "is required")
		}
		if (k.Key == "") == (k.KeyHash == "") {
			v.errAt(key+".key", "exactly one of key or key_hash is required")
		}
		for _, p := range k.Passthrough {
			if prov, path, ok := strings.Cut(p, ":"); !ok || prov == "" || !strings.HasPrefix(path, "/") && path != "*" {
				v.errAt(key+".passthrough", "%q is not provider:path-glob (e.g. \"openai:/files*\")", p)
			}
		}
		for j := range k.Limits {
			if l := &c.Auth.Keys[i].Limits[j]; l.Scope == "" {
				l.Scope = "key" // a key's own limits are per key whatever they say
			}
			validateLimit(v, fmt.Sprintf("%s.limits[%d]", key, j), &c.Auth.Keys[i].Limits[j])
		}
	}
}

// validateTelemetryAndPricing checks [telemetry] and [pricing].
func (c *Config) validateTelemetryAndPricing(v *validator) {
	if !slices.Contains([]string{"", "none", "otlp-grpc", "otlp-http", "stdout"}, c.Telemetry.Traces) {
		v.errAt("telemetry.traces", "%q is not one of none, otlp-grpc, otlp-http, stdout", c.Telemetry.Traces)
	}
	if r := c.Telemetry.SampleRatio; r != nil && !(*r >= 0 && *r <= 1) { // NaN fails too
		v.errAt("telemetry.sample_ratio", "%v is not between 0 and 1", *r)
	}
	for _, m := range sortedKeys(c.Pricing) {
		p := c.Pricing[m]
		if !validPrice(p.Input) || !validPrice(p.Output) || !validPrice(p.CachedInput) || !validPrice(p.CacheWrite) {
			v.errAt("pricing."+m, "prices must be finite and not negative")
		}
	}
}

func validPrice(f float64) bool { return f >= 0 && !math.IsInf(f, 1) }

func kindList() string {
	return strings.Join(sortedKeys(Kinds), ", ")
}

// checkModel checks a "provider/model" reference (or, when routers are allowed, a router name).
func (c *Config) checkModel(v *validator, key, model string, allowRouter bool) {
	if allowRouter {
		if _, ok := c.Routers[model]; ok {
			return
		}
	}
	prov, name, ok := strings.Cut(model, "/")
	if !ok || prov == "" || name == "" {
		v.errAt(key, "%q is not provider/model", model)
		return
	}
	if _, ok := c.Providers[prov]; !ok {
		if v.disabled[prov] {
			v.errAt(key, "provider %q in %q is disabled (enabled = false)", prov, model)
		} else {
			v.errAt(key, "provider %q in %q is not declared", prov, model)
		}
	}
}

func (c *Config) validateRouter(v *validator, name string, r *Router) {
	key := "routers." + name
	if !nameRE.MatchString(name) {
		v.errAt(key, "router name %q must be letters, digits, '-', '_' or '.'", name)
	}
	if !slices.Contains(Strategies, r.Strategy) {
		v.errAt(key+".strategy", "%q is not one of %s", r.Strategy, strings.Join(Strategies, ", "))
	}
	if r.Strategy == "plugin" {
		if r.Plugin == "" {
			v.errAt(key+".plugin", "strategy \"plugin\" needs plugin = \"<name>\"")
		} else if _, ok := c.Plugins[r.Plugin]; !ok {
			v.errAt(key+".plugin", "plugin %q is not declared under [plugins]", r.Plugin)
		}
	}
	if !slices.Contains(Strategies, r.FallbackStrategy) || r.FallbackStrategy == "plugin" {
		v.errAt(key+".fallback_strategy", "%q is not a non-plugin strategy", r.FallbackStrategy)
	}
	if len(r.Targets) == 0 {
		v.errAt(key+".targets", "a router needs at least one target")
	}
	for i, t := range r.Targets {
		c.checkModel(v, fmt.Sprintf("%s.targets", key), t.Model, false)
		if !(t.Weight >= 0) || math.IsInf(t.Weight, 1) {
			v.errAt(key+".targets", "target %d: weight must be finite and not negative", i+1)
		}
	}
	if r.Retries.Attempts < 1 {
		v.errAt(key+".retries", "attempts must be at least 1")
	}
	if !(r.Retries.Budget >= 0 && r.Retries.Budget <= 1) {
		v.errAt(key+".retries", "budget %v is not a ratio between 0 and 1", r.Retries.Budget)
	}
	if r.AttemptTimeout != 0 && r.AttemptTimeout < r.Timeout && !r.Retries.AfterSend && len(r.Targets) > 1 {
		v.warns = append(v.warns, Problem{File: v.file, Line: v.loc.line(key + ".attempt_timeout"), Key: key + ".attempt_timeout",
			Msg: fmt.Sprintf("an attempt that times out after its request was sent is not moved to another target (the upstream may bill it twice); the request fails at %s unless retries.after_send = true", r.AttemptTimeout.D())})
	}
	if !ValidThreshold(r.Health.Threshold) {
		v.errAt(key+".health", "threshold %v is not a ratio in (0, 1]", r.Health.Threshold)
	}
	for _, alias := range sortedKeys(r.Aliases) {
		c.checkModel(v, key+".aliases."+alias, r.Aliases[alias], false)
	}
	if r.Cache != nil {
		c.validateCache(v, key+".cache", r.Cache)
	}
}

func (c *Config) validateCache(v *validator, key string, cc *Cache) {
	if !slices.Contains([]string{"memory", "redis", "tiered"}, cc.Store) {
		v.errAt(key+".store", "%q is not one of memory, redis, tiered", cc.Store)
	} else if cc.Store != "memory" && c.Redis.URL == "" && cc.On() {
		v.errAt(key+".store", "store %q needs [redis] url", cc.Store)
	}
	if cc.Buckets < 1 || cc.Buckets > cc.MaxBuckets {
		v.errAt(key+".buckets", "%d is not between 1 and max_buckets (%d)", cc.Buckets, cc.MaxBuckets)
	}
	if cc.KeyPlugin != "" {
		if _, ok := c.Plugins[cc.KeyPlugin]; !ok {
			v.errAt(key+".key_plugin", "plugin %q is not declared under [plugins]", cc.KeyPlugin)
		}
	}
}

// validateLimit checks one limit; key is its indexed path ("limits[2]"), which both names it
// and finds its line.
func validateLimit(v *validator, key string, l *Limit) {
	if !slices.Contains([]string{"global", "router", "team", "user", "key"}, l.Scope) {
		v.errAt(key+".scope", "%q is not one of global, router, team, user, key", l.Scope)
	}
	if l.Unit == "" {
		l.Unit = "requests"
	}
	if !slices.Contains([]string{"requests", "tokens", "cost"}, l.Unit) {
		v.errAt(key+".unit", "%q is not one of requests, tokens, cost", l.Unit)
	}
	switch {
	case l.Rate == "" && l.Budget == "":
		v.errAt(key, "one of rate (e.g. \"100/min\") or budget (e.g. \"50/day\") is required")
	case l.Rate != "" && l.Budget != "":
		v.errAt(key+".budget", "give rate or budget, not both")
	case l.Rate != "" && !rateRE.MatchString(l.Rate):
		v.errAt(key+".rate", "%q is not a rate like \"100/min\", \"10/s\", \"5000/day\"", l.Rate)
	case l.Budget != "" && !budgetRE.MatchString(l.Budget):
		v.errAt(key+".budget", "%q is not a budget like \"50/day\", \"1000000/month\"", l.Budget)
	}
	if l.Burst < 0 {
		v.errAt(key+".burst", "must not be negative")
	}
}

// defaultNative is what a provider speaks natively when its table does not say: OpenAI itself
// and Azure serve the Responses API, Anthropic the Messages API. Other OpenAI-compatible servers
// often serve only chat completions, so they declare native = ["responses"] when they can.
func defaultNative(name string, p *Provider) []string {
	switch {
	case p.Kind == "azure":
		return []string{"responses"}
	case p.Kind == "anthropic", p.Kind == "bedrock", p.Kind == "vertex":
		return []string{"messages"} // bedrock and vertex: for Anthropic's models (InvokeModel, rawPredict)
	case p.Kind == "openai" && (name == "openai" || strings.HasPrefix(p.BaseURL, "https://api.openai.com/")):
		return []string{"responses"}
	}
	return []string{}
}

func (c *Config) validateRedis(v *validator) {
	r := &c.Redis
	tlsSet := r.TLSCAFile != "" || r.TLSCertFile != "" || r.TLSKeyFile != "" || r.TLSServerName != "" || r.TLSInsecureSkipVerify
	sentinelSet := len(r.SentinelAddrs) > 0 || r.SentinelMaster != "" || r.SentinelPassword != ""
	if r.URL == "" {
		if tlsSet || sentinelSet {
			v.errAt("redis.url", "is required when other [redis] settings are given")
		}
		return
	}
	u, err := url.Parse(r.URL)
	switch {
	case err != nil:
		// url.Error quotes the URL, password included: only the reason is shown.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		v.errAt("redis.url", "does not parse: %v", err)
		return
	case u.Scheme != "redis" && u.Scheme != "rediss":
		v.errAt("redis.url", "scheme %q is not redis or rediss", u.Scheme)
		return
	case u.Opaque != "" || (u.Host == "" && !sentinelSet):
		v.errAt("redis.url", "has no host (want redis://[user[:password]@]host[:port][/db])")
		return
	case u.RawQuery != "":
		v.errAt("redis.url", "query options are not supported; use the [redis] keys")
		return
	}
	if p := strings.TrimPrefix(u.Path, "/"); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 0 {
			v.errAt("redis.url", "database %q is not a non-negative number", p)
		}
	}
	c.validateRedisTLS(v, u.Scheme, tlsSet)
	if sentinelSet {
		switch {
		case len(r.SentinelAddrs) == 0:
			v.errAt("redis.sentinel_addrs", "is required with sentinel_master and sentinel_password")
		case r.SentinelMaster == "":
			v.errAt("redis.sentinel_master", "is required with sentinel_addrs (the name in \"sentinel monitor <name> ...\")")
		}
		for i, a := range r.SentinelAddrs {
			if h, p, err := net.SplitHostPort(a); err != nil || h == "" || p == "" {
				v.errAt("redis.sentinel_addrs", "entry %d %q is not host:port", i+1, a)
			}
		}
	}
}

// validateRedisTLS checks the [redis] TLS settings against the URL's scheme.
func (c *Config) validateRedisTLS(v *validator, scheme string, tlsSet bool) {
	r := &c.Redis
	if tlsSet && scheme != "rediss" {
		for _, f := range []struct {
			key string
			set bool
		}{{"tls_ca_file", r.TLSCAFile != ""}, {"tls_cert_file", r.TLSCertFile != ""}, {"tls_key_file", r.TLSKeyFile != ""},
			{"tls_server_name", r.TLSServerName != ""}, {"tls_insecure_skip_verify", r.TLSInsecureSkipVerify}} {
			if f.set {
				v.errAt("redis."+f.key, "needs a rediss:// url (TLS settings do nothing on redis://)")
				break
			}
		}
	}
	if (r.TLSCertFile == "") != (r.TLSKeyFile == "") {
		key := "redis.tls_cert_file"
		if r.TLSCertFile == "" {
			key = "redis.tls_key_file"
		}
		v.errAt(key, "tls_cert_file and tls_key_file go together")
	}
	for _, f := range []struct{ key, path string }{
		{"redis.tls_ca_file", r.TLSCAFile}, {"redis.tls_cert_file", r.TLSCertFile}, {"redis.tls_key_file", r.TLSKeyFile},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			v.errAt(f.key, "%q cannot be read: %v", f.path, errors.Unwrap(err))
		}
	}
	if r.TLSInsecureSkipVerify && scheme == "rediss" {
		v.warns = append(v.warns, Problem{File: v.file, Line: v.loc.line("redis.tls_insecure_skip_verify"), Key: "redis.tls_insecure_skip_verify",
			Msg: "the Redis server's certificate is not verified: anyone on the path can read and change rate limits, cached answers and stored responses"})
	}
}
