package dashboard

import "time"

// Snapshot is the JSON document served at /dashboard/data.json. Rates and
// percentiles cover recent seconds; counts marked "since start" are
// cumulative for the process.
type Snapshot struct {
	GeneratedAt   time.Time   `json:"generated_at"`
	UptimeSeconds float64     `json:"uptime_seconds"`
	WindowSeconds int         `json:"window_seconds"` // length of Series and of the per-model sums
	Totals        Totals      `json:"totals"`
	Series        Series      `json:"series"`
	Models        []Model     `json:"models"`
	Targets       []Target    `json:"targets"`
	Plugins       []Plugin    `json:"plugins"`
	RateLimits    []RateLimit `json:"rate_limits"`
}

// Totals are the headline numbers.
type Totals struct {
	Requests       int64   `json:"requests"` // since start
	Errors         int64   `json:"errors"`   // since start; status >= 500
	RequestsPerSec float64 `json:"requests_per_sec"`
	ErrorsPerSec   float64 `json:"errors_per_sec"`
	P50Ms          float64 `json:"p50_ms"` // over the last minute
	P90Ms          float64 `json:"p90_ms"`
	P99Ms          float64 `json:"p99_ms"`
	TokensIn       int64   `json:"tokens_in"`  // since start
	TokensOut      int64   `json:"tokens_out"` // since start
	CostUSD        float64 `json:"cost_usd"`   // since start
	// CacheHitRate is hits/(hits+misses) over the window, -1 with no lookups.
	CacheHitRate float64 `json:"cache_hit_rate"`
	RateLimited  int64   `json:"rate_limited"` // since start
	InFlight     int64   `json:"in_flight"`
	Streams      int64   `json:"streams"`
}

// Series holds one value per second, oldest first, starting at Start (unix
// seconds). All slices have WindowSeconds entries.
type Series struct {
	Start       int64     `json:"start"`
	Requests    []float64 `json:"requests"`
	Errors      []float64 `json:"errors"`
	P50Ms       []float64 `json:"p50_ms"`
	P90Ms       []float64 `json:"p90_ms"`
	P99Ms       []float64 `json:"p99_ms"`
	TokensIn    []float64 `json:"tokens_in"`
	TokensOut   []float64 `json:"tokens_out"`
	CostUSD     []float64 `json:"cost_usd"`
	CacheHits   []float64 `json:"cache_hits"`
	CacheMisses []float64 `json:"cache_misses"`
	RateLimited []float64 `json:"rate_limited"`
}

// Model sums one model's traffic over the window.
type Model struct {
	Model     string  `json:"model"`
	Provider  string  `json:"provider"`
	Requests  int64   `json:"requests"`
	Errors    int64   `json:"errors"`
	TokensIn  int64   `json:"tokens_in"`
	TokensOut int64   `json:"tokens_out"`
	CostUSD   float64 `json:"cost_usd"`
	MeanMs    float64 `json:"mean_ms"`
}

// Target is one upstream target as the balancer sees it; the gateway
// supplies these.
type Target struct {
	Router    string  `json:"router"`
	Target    string  `json:"target"`
	Provider  string  `json:"provider"`
	Healthy   bool    `json:"healthy"`
	EWMAMs    float64 `json:"ewma_ms"`
	InFlight  int64   `json:"in_flight"`
	ErrorRate float64 `json:"error_rate"` // 0..1
}

// Plugin sums one plugin hook's calls since start.
type Plugin struct {
	Plugin string  `json:"plugin"`
	Hook   string  `json:"hook"`
	Calls  int64   `json:"calls"`
	Errors int64   `json:"errors"`
	Traps  int64   `json:"traps"`
	MeanUs float64 `json:"mean_us"`
	P99Us  float64 `json:"p99_us"`
}

// RateLimit counts rejections at one tier and unit since start.
type RateLimit struct {
	Tier       string `json:"tier"`
	Unit       string `json:"unit"`
	Rejections int64  `json:"rejections"`
}
