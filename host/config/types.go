package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Config is one whole, validated configuration. Values are final: environment references are
// expanded and defaults are filled.
type Config struct {
	Server    Server               `toml:"server"`
	Log       Log                  `toml:"log"`
	Aliases   map[string]string    `toml:"aliases"`
	Providers map[string]*Provider `toml:"providers"`
	Plugins   map[string]*Plugin   `toml:"plugins"`
	Routers   map[string]*Router   `toml:"routers"`
	Policies  []string             `toml:"policies"`
	Cache     Cache                `toml:"cache"`
	Limits    []Limit              `toml:"limits"`
	Auth      Auth                 `toml:"auth"`
	Redis     Redis                `toml:"redis"`
	Telemetry Telemetry            `toml:"telemetry"`
	Pricing   map[string]Price     `toml:"pricing"`
	Responses Responses            `toml:"responses"`

	// Source names where the configuration came from ("embedded default" or a file path).
	Source string `toml:"-"`
	// Warnings are problems that do not stop sluice from serving, such as a provider whose key
	// is not set: requests to it fail with a clear error until it is.
	Warnings []Problem `toml:"-"`
}

// Server holds the listeners and the limits applied to every client request.
type Server struct {
	Listen            string   `toml:"listen"`
	AdminListen       string   `toml:"admin_listen"`
	MaxBodySize       ByteSize `toml:"max_body_size"`
	ReadHeaderTimeout Duration `toml:"read_header_timeout"`
	// ReadBodyTimeout bounds reading a request's body; WriteTimeout each response write, so a
	// client that stops reading a stream is cut (and its upstream call canceled).
	ReadBodyTimeout Duration `toml:"read_body_timeout"`
	WriteTimeout    Duration `toml:"write_timeout"`
	// MaxConnections caps open client connections (over it: 503 and close); MaxStreams the
	// streams relayed at once (over it: 503 too_many_streams). Both are read at start only.
	MaxConnections  int      `toml:"max_connections"`
	MaxStreams      int      `toml:"max_streams"`
	IdleTimeout     Duration `toml:"idle_timeout"`
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
	DefaultProvider string   `toml:"default_provider"`
	DefaultRouter   string   `toml:"default_router"`
	// IncludeUsage asks upstreams for usage on streams even when the client did not, so that
	// token limits and metrics see real numbers; the extra chunk is stripped for such clients.
	IncludeUsage *bool `toml:"include_usage"`
	// MaxHeaderBytes bounds a request's header block (names, values and request line).
	MaxHeaderBytes ByteSize `toml:"max_header_bytes"`
	// MaxMessages and MaxTools cap the messages and tools arrays of a request (400 naming the
	// parameter past them).
	MaxMessages int `toml:"max_messages"`
	MaxTools    int `toml:"max_tools"`
	// MaxImplicitRouters bounds the single-target routers kept for plain provider/model
	// requests; the least recently used one is dropped past it.
	MaxImplicitRouters int `toml:"max_implicit_routers"`
	// AdminToken is the bearer token the admin listener requires ("Authorization: Bearer
	// <token>"). Required when admin_listen is not a loopback address; optional on loopback.
	AdminToken string `toml:"admin_token"`
	// AdminHosts are the Host header names the admin listener answers besides loopback names
	// and addresses (DNS rebinding defence).
	AdminHosts []string `toml:"admin_hosts"`
	// AdminPprof serves /debug/pprof on the admin listener.
	AdminPprof bool `toml:"admin_pprof"`
	// MetricsListen is a separate listener that serves only /metrics, for scrapers that must
	// not reach the admin API.
	MetricsListen string `toml:"metrics_listen"`
	// PolicyBuffer bounds how much of a streamed answer is held for on_response policies
	// before any byte is sent; a longer stream is refused (fail closed).
	PolicyBuffer ByteSize `toml:"policy_buffer"`
	// DrainDelay is how long, after SIGTERM, /ready answers 503 while requests are still
	// accepted, so load balancers that poll /ready take the replica out before its listener
	// closes; the shutdown_timeout drain follows. Zero (the default) closes at once.
	DrainDelay Duration `toml:"drain_delay" json:",omitempty"`
}

// Log configures the process log and the access log.
type Log struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
	// Access is where access-log lines go: "stderr" (with the process log), "stdout", "off",
	// or a file path.
	Access string `toml:"access"`
	// AccessOTLP also sends every access record as an OTLP log record, batched off the request
	// path, to the [telemetry] endpoint (or OTEL_EXPORTER_OTLP_LOGS_ENDPOINT /
	// OTEL_EXPORTER_OTLP_ENDPOINT). It adds to Access; Access = "off" leaves only the export.
	AccessOTLP bool `toml:"access_otlp"`
	// CaptureBodies adds size-capped, redacted request and response bodies to access lines.
	CaptureBodies bool     `toml:"capture_bodies"`
	MaxBodyBytes  ByteSize `toml:"max_body_bytes"`
	RedactFields  []string `toml:"redact_fields"`
}

// Provider is one upstream API endpoint and its credentials.
type Provider struct {
	// Enabled = false removes the provider as if it were not declared (the built-in demo
	// provider included); its models are then unknown.
	Enabled    *bool             `toml:"enabled"`
	Kind       string            `toml:"kind"`
	BaseURL    string            `toml:"base_url"`
	APIKey     string            `toml:"api_key"`
	Auth       string            `toml:"auth"`
	Translator string            `toml:"translator"`
	Headers    map[string]string `toml:"headers"`
	Models     []string          `toml:"models"`
	Timeout    Duration          `toml:"timeout"`
	// IdleTimeout bounds the silence between two stream events (and before response headers).
	IdleTimeout Duration       `toml:"idle_timeout"`
	Options     map[string]any `toml:"options"`
	// BYOK lets a client send its own provider key in x-sluice-provider-key.
	BYOK bool `toml:"byok"`
	// Passthrough lists the path globs (relative to base_url, as sent after
	// /passthrough/NAME) that /passthrough/NAME/... may reach. Unset: the kind's default list
	// (OpenAI-style file, batch, audio, image and model endpoints); [] turns passthrough off.
	Passthrough []string `toml:"passthrough"`
	// PassthroughHeaders adds request headers relayed on passthrough besides the built-in
	// allow-list (content negotiation, idempotency and API version/beta headers).
	PassthroughHeaders []string `toml:"passthrough_headers"`
	// KeyEnv names the environment variable api_key came from, for clear "missing key" errors.
	KeyEnv string `toml:"key_env"`

	// Bedrock.
	Region          string `toml:"region"`
	AccessKeyID     string `toml:"access_key_id"`
	SecretAccessKey string `toml:"secret_access_key"`
	SessionToken    string `toml:"session_token"`
	// Without static keys, credentials come from the AWS SDK's default chain; Profile names a
	// shared config profile for it, and Credentials = "chain" uses the chain even when no
	// source is visible locally (an EC2 instance profile) or static keys are set.
	Profile     string `toml:"profile"`
	Credentials string `toml:"credentials"`

	// Vertex AI. Credentials come from CredentialsFile (a service-account key file) or, when
	// it is empty, Google's application default credentials.
	Project         string `toml:"project"`
	Location        string `toml:"location"`
	CredentialsFile string `toml:"credentials_file"`

	// Azure OpenAI.
	APIVersion  string            `toml:"api_version"`
	Deployments map[string]string `toml:"deployments"`

	// Native lists the client dialects the upstream serves itself ("responses", "messages"):
	// such requests pass through whole instead of being bridged through chat completions.
	// Unset, it follows the kind: openai and azure speak responses, anthropic messages.
	Native []string `toml:"native"`

	// Demo.
	ChunkDelay Duration `toml:"chunk_delay"`

	Name string `toml:"-"`
}

// Plugin is one WebAssembly module and its settings.
type Plugin struct {
	Path    string         `toml:"path"`
	Config  map[string]any `toml:"config"`
	Timeout Duration       `toml:"timeout"`
	Memory  ByteSize       `toml:"memory"`
	Pool    int            `toml:"pool"`
	// Sandbox is "metered", the one level: a per-call CPU budget (from timeout), a call-depth
	// cap (max_depth) and the memory cap. "trusted" and "untrusted" are deprecated aliases.
	Sandbox string `toml:"sandbox"`
	// MaxDepth caps the plugin's call depth per call (runaway recursion); 0 means the default.
	MaxDepth int `toml:"max_depth"`
	// Stream says how an on_response policy sees streamed answers: "hold" (default: the stream
	// is held until the policy passed the whole answer) or "incremental" (chunks flow; the
	// policy checks the answer so far every check_every bytes and at the end, and a rejection
	// ends the stream with an in-stream error event).
	Stream     string   `toml:"stream"`
	CheckEvery ByteSize `toml:"check_every"`
	// UpstreamHeaders and ResponseHeaders are the globs of header names a policy's decisions
	// may set or remove on the upstream request (on_request) and on the client's response
	// (on_response, an on_request answer). Reserved names never match.
	UpstreamHeaders []string `toml:"upstream_headers" json:",omitempty"`
	ResponseHeaders []string `toml:"response_headers" json:",omitempty"`

	Name string `toml:"-"`
}

// Router is a named set of targets with a balancing strategy and a retry policy.
type Router struct {
	Strategy         string            `toml:"strategy"`
	FallbackStrategy string            `toml:"fallback_strategy"`
	Plugin           string            `toml:"plugin"`
	Targets          []Target          `toml:"targets"`
	Retries          Retries           `toml:"retries"`
	Timeout          Duration          `toml:"timeout"`
	AttemptTimeout   Duration          `toml:"attempt_timeout"`
	Health           Health            `toml:"health"`
	DefaultRTT       Duration          `toml:"default_rtt"`
	Decay            Duration          `toml:"decay"`
	Aliases          map[string]string `toml:"aliases"`
	Cache            *Cache            `toml:"cache"`

	Name string `toml:"-"`
}

// Target is one provider/model a router may send to.
type Target struct {
	Model    string  `toml:"model"`
	Weight   float64 `toml:"weight"`
	Priority int     `toml:"priority"`
}

// Retries bounds how a failed attempt is retried on the next target.
type Retries struct {
	Attempts   int      `toml:"attempts"`
	Backoff    Duration `toml:"backoff"`
	MaxBackoff Duration `toml:"max_backoff"`
	Budget     float64  `toml:"budget"`
	// AfterSend also retries, on the next target, failures after the whole request reached
	// the upstream (a timeout or reset while waiting for the answer, a stream cut before its
	// first chunk). Off by default: the upstream may then do and bill the work twice.
	AfterSend bool `toml:"after_send"`
}

// Health configures passive health tracking of a router's targets.
type Health struct {
	Window      Duration `toml:"window"`
	Threshold   float64  `toml:"threshold"`
	MinRequests int      `toml:"min_requests"`
	Cooldown    Duration `toml:"cooldown"`
	MaxCooldown Duration `toml:"max_cooldown"`
	Probe       Duration `toml:"probe"`
}

// Cache configures response caching globally or for one router.
type Cache struct {
	Enabled      *bool    `toml:"enabled"`
	TTL          Duration `toml:"ttl"`
	Buckets      int      `toml:"buckets"`
	MaxBuckets   int      `toml:"max_buckets"`
	MaxBytes     ByteSize `toml:"max_bytes"`
	MaxEntrySize ByteSize `toml:"max_entry_size"`
	Store        string   `toml:"store"`
	Ignore       []string `toml:"ignore"`
	KeyPlugin    string   `toml:"key_plugin"`
	SharedAcross bool     `toml:"share_across_tenants"`
	ReplayPace   Duration `toml:"replay_pace"`
}

// On reports whether caching is enabled.
func (c *Cache) On() bool { return c != nil && c.Enabled != nil && *c.Enabled }

// Limit is one rate or budget rule.
type Limit struct {
	Name   string `toml:"name"`
	Scope  string `toml:"scope"`
	Match  string `toml:"match"`
	Unit   string `toml:"unit"`
	Rate   string `toml:"rate"`
	Burst  int64  `toml:"burst"`
	Budget string `toml:"budget"`
	// FailOpen admits requests unchecked at this limit while the shared store is down. Unset,
	// requests limits follow [redis] fail_open and tokens and cost limits fail closed.
	FailOpen *bool `toml:"fail_open"`
}

// Auth configures virtual API keys.
type Auth struct {
	Required   bool      `toml:"required"`
	Keys       []KeySpec `toml:"keys"`
	KeysFile   string    `toml:"keys_file"`
	UserHeader string    `toml:"user_header"`
	TeamHeader string    `toml:"team_header"`
	// TrustIdentityHeaders names callers without a key by user_header and team_header even
	// though keys are configured. Off, those headers are ignored whenever keys exist.
	TrustIdentityHeaders bool `toml:"trust_identity_headers"`
}

// KeySpec declares one virtual key.
type KeySpec struct {
	ID      string   `toml:"id"`
	Key     string   `toml:"key"`
	KeyHash string   `toml:"key_hash"`
	User    string   `toml:"user"`
	Team    string   `toml:"team"`
	Models  []string `toml:"models"`
	Routers []string `toml:"routers"`
	BYOK    bool     `toml:"byok"`
	// Passthrough lists "provider:path-glob" pairs the key may reach through /passthrough.
	Passthrough []string `toml:"passthrough"`
	Limits      []Limit  `toml:"limits"`
	// Overrides lets this key pin or exclude providers with request headers.
	Overrides bool `toml:"overrides"`
}

// Redis configures the shared store used by limits and the cache across replicas.
type Redis struct {
	// URL is redis://[user[:password]@]host[:port][/db], or rediss:// for TLS. With
	// sentinel_addrs its host is not used (the sentinels name the primary); its scheme,
	// credentials and db still apply.
	URL     string   `toml:"url"`
	Timeout Duration `toml:"timeout"`
	// TLS of rediss:// (and of the sentinels when url is rediss://): a CA bundle to trust
	// instead of the system roots, a client certificate and key, the name to verify instead
	// of the host's, and (for tests only; warned about) no verification at all.
	TLSCAFile             string `toml:"tls_ca_file"`
	TLSCertFile           string `toml:"tls_cert_file"`
	TLSKeyFile            string `toml:"tls_key_file"`
	TLSServerName         string `toml:"tls_server_name"`
	TLSInsecureSkipVerify bool   `toml:"tls_insecure_skip_verify"`
	// SentinelAddrs (host:port each) find the primary named SentinelMaster through Redis
	// Sentinel and follow its failovers. SentinelPassword is the sentinels' own.
	SentinelAddrs    []string `toml:"sentinel_addrs"`
	SentinelMaster   string   `toml:"sentinel_master"`
	SentinelPassword string   `toml:"sentinel_password"`
	// FailOpen admits requests unchecked while Redis is down, at requests limits only (and
	// at limits that set fail_open = true themselves); tokens and cost limits fail closed.
	FailOpen *bool `toml:"fail_open"`
}

// Responses configures stored Responses API answers (store: true, previous_response_id and
// GET /v1/responses/{id}).
type Responses struct {
	// Store is "memory", "redis" (every replica sees every stored response) or "off"; unset, it
	// is redis when [redis] url is set, else memory.
	Store string `toml:"store"`
	// TTL is how long a stored response can be continued or read.
	TTL Duration `toml:"ttl"`
	// MaxBytes bounds the memory store (oldest records go first).
	MaxBytes ByteSize `toml:"max_bytes"`
	// MaxRecord bounds one stored conversation; a larger one is answered but not stored.
	MaxRecord ByteSize `toml:"max_record"`
}

// Telemetry configures traces and metrics.
type Telemetry struct {
	ServiceName string            `toml:"service_name"`
	Traces      string            `toml:"traces"`
	Endpoint    string            `toml:"endpoint"`
	Insecure    bool              `toml:"insecure"`
	Headers     map[string]string `toml:"headers"`
	SampleRatio *float64          `toml:"sample_ratio"`
	OTLPMetrics bool              `toml:"otlp_metrics"`
}

// Price overrides the shipped price of one model, in USD per million tokens.
type Price struct {
	Input       float64 `toml:"input"`
	Output      float64 `toml:"output"`
	CachedInput float64 `toml:"cached_input"`
	CacheWrite  float64 `toml:"cache_write"`
}

// Duration is a time.Duration written as "250ms", "1m30s".
type Duration time.Duration

// UnmarshalText parses Go duration syntax.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("invalid duration %q (want e.g. \"250ms\", \"30s\", \"1m\")", string(b))
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", string(b))
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration back in Go syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// ByteSize is a size written as "256MiB", "10MB", "4096".
type ByteSize int64

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
}

// UnmarshalText parses a size with an optional unit suffix.
func (s *ByteSize) UnmarshalText(b []byte) error {
	v, err := ParseByteSize(string(b))
	if err != nil {
		return err
	}
	*s = ByteSize(v)
	return nil
}

// MarshalText writes the size in bytes.
func (s ByteSize) MarshalText() ([]byte, error) { return []byte(strconv.FormatInt(int64(s), 10)), nil }

// ParseByteSize parses "256MiB", "10MB", "512K" or a plain byte count.
func ParseByteSize(str string) (int64, error) {
	t := strings.TrimSpace(str)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	// NaN, infinities and sizes past int64 would convert to nonsense (a negative size).
	if err != nil || !(n >= 0) || n*float64(mult) >= 1<<63 {
		return 0, fmt.Errorf("invalid size %q (want e.g. \"10MiB\", \"512KB\", \"4096\")", str)
	}
	return int64(n * float64(mult)), nil
}
