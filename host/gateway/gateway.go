package gateway

import (
	"container/list"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"

	"github.com/sluice-gw/sluice/host/auth"
	"github.com/sluice-gw/sluice/host/balance"
	"github.com/sluice-gw/sluice/host/cache"
	"github.com/sluice-gw/sluice/host/clientconn"
	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/host/openai"
	"github.com/sluice-gw/sluice/host/plugin"
	"github.com/sluice-gw/sluice/host/pricing"
	"github.com/sluice-gw/sluice/host/provider"
	"github.com/sluice-gw/sluice/host/ratelimit"
	"github.com/sluice-gw/sluice/host/respstore"
	"github.com/sluice-gw/sluice/host/telemetry"
	"github.com/sluice-gw/sluice/sdk/abi"
	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// Deps are the stages a Gateway connects. Optional stages are nil when off.
type Deps struct {
	Config    *config.Config
	Providers map[string]*provider.Provider
	Routers   map[string]*balance.Router
	// Registry shares target health between routers, including the implicit single-target
	// routers made for plain provider/model requests.
	Registry *balance.Registry
	Log      *slog.Logger
	Access   *slog.Logger
	// Plugins resolves policy, route and cache-key plugins by name.
	Plugins *plugin.Registry
	// Auth identifies callers; nil serves everyone anonymously.
	Auth *auth.Authenticator
	// Overrides lists the virtual key ids allowed to pin or exclude providers.
	Overrides map[string]bool
	Limiter   *ratelimit.Limiter
	Prices    *pricing.Table
	// Caches maps a router name to its cache; "" is the global cache.
	Caches map[string]*cache.Cache
	// Telemetry records spans and metrics; nil turns both off.
	Telemetry *telemetry.Telemetry
	// Responses keeps stored Responses API answers; nil when [responses] store = "off".
	Responses respstore.Store
	// Streams bounds the streams relayed at once (server.max_streams); nil is unbounded.
	Streams *clientconn.Slots
}

// Gateway is the http.Handler clients talk to.
type Gateway struct {
	cfg       *config.Config
	providers map[string]*provider.Provider
	routers   map[string]*balance.Router
	registry  *balance.Registry
	log       *slog.Logger
	access    *slog.Logger
	plugins   *plugin.Registry
	auth      *auth.Authenticator
	overrides map[string]bool
	limiter   *ratelimit.Limiter
	prices    *pricing.Table
	caches    map[string]*cache.Cache
	policies  []*plugin.Plugin
	keyPlugin map[string]*plugin.Plugin // cache key plugin per router ("" global)
	tel       *telemetry.Telemetry
	stored    respstore.Store
	streams   *clientconn.Slots
	redact    *telemetry.Redactor // non-nil when the access log captures bodies
	authOn    bool                // virtual keys are configured: auth is a stage worth a span
	// responseGuards: some policy reads answers (on_response), so dialect requests go bridged
	// and the policy sees every answer in chat's shape.
	responseGuards bool
	// streamGuards are the policies with on_stream; logQueues run the on_log hooks.
	streamGuards []*plugin.Plugin
	logQueues    []*logQueue
	creds        []string // credentials of the config, scrubbed from client errors
	handler      http.Handler

	implicitMu  sync.Mutex
	implicit    map[string]*list.Element // of *implicitEntry, in implicitLRU
	implicitLRU *list.List               // most recently used first

	idPrefix string
	idSeq    atomic.Uint64
	ready    atomic.Bool

	hdrs headerCache // x-sluice-* values per target

	// stageHook, when set (by tests), sees the name of each pipeline stage as it starts.
	stageHook func(stage string)
}

// New connects the stages.
func New(d Deps) (*Gateway, error) {
	g := &Gateway{
		cfg: d.Config, providers: d.Providers, routers: d.Routers, registry: d.Registry,
		log: d.Log, access: d.Access, plugins: d.Plugins, implicit: map[string]*list.Element{}, implicitLRU: list.New(),
		auth: d.Auth, overrides: d.Overrides, limiter: d.Limiter, prices: d.Prices, caches: d.Caches,
		keyPlugin: map[string]*plugin.Plugin{}, tel: d.Telemetry, stored: d.Responses, streams: d.Streams,
	}
	g.creds = d.Config.Credentials()
	g.authOn = d.Config.Auth.Required || len(d.Config.Auth.Keys) > 0 || d.Config.Auth.KeysFile != ""
	if lc := d.Config.Log; lc.CaptureBodies && d.Access != nil {
		g.redact = telemetry.NewRedactor(telemetry.RedactConfig{Headers: []string{"X-Sluice-Provider-Key"}, Fields: lc.RedactFields, MaxBytes: int(lc.MaxBodyBytes)})
	}
	for _, name := range g.cfg.Policies {
		p, ok := d.Plugins.Get(name)
		if !ok {
			return nil, fmt.Errorf("gateway: policy plugin %q is not loaded", name)
		}
		if !p.HasNext(abi.HookOnRequest) && !p.HasNext(abi.HookOnResponse) && !p.HasNext(abi.HookOnStream) && !p.HasNext(abi.HookOnLog) {
			return nil, fmt.Errorf("gateway: plugin %q has none of on_request, on_response, on_stream and on_log, so it cannot be a policy", name)
		}
		g.policies = append(g.policies, p)
		g.responseGuards = g.responseGuards || p.HasNext(abi.HookOnResponse) || p.HasNext(abi.HookOnStream)
		if p.HasNext(abi.HookOnStream) {
			g.streamGuards = append(g.streamGuards, p)
		}
		if p.HasNext(abi.HookOnLog) {
			g.logQueues = append(g.logQueues, g.newLogQueue(p))
		}
	}
	addKeyPlugin := func(router, name string) error {
		if name == "" {
			return nil
		}
		p, ok := d.Plugins.Get(name)
		if !ok || !p.HasNext(abi.HookCacheKey) {
			return fmt.Errorf("gateway: cache key plugin %q is not loaded or has no cache_key hook", name)
		}
		g.keyPlugin[router] = p
		return nil
	}
	if err := addKeyPlugin("", g.cfg.Cache.KeyPlugin); err != nil {
		return nil, err
	}
	for name, rc := range g.cfg.Routers {
		if rc.Cache != nil {
			if err := addKeyPlugin(name, rc.Cache.KeyPlugin); err != nil {
				return nil, err
			}
		}
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.registry == nil {
		g.registry = balance.NewRegistry()
	}
	var p [6]byte
	if _, err := rand.Read(p[:]); err != nil {
		return nil, fmt.Errorf("gateway: request id prefix: %w", err)
	}
	g.idPrefix = hex.EncodeToString(p[:])
	g.handler = g.routes()
	g.ready.Store(true)
	return g, nil
}

// SetReady flips /ready, e.g. to drain before shutdown.
func (g *Gateway) SetReady(v bool) { g.ready.Store(v) }

// Close stops background work of the gateway's own routers.
func (g *Gateway) Close() {
	g.drainLogs()
	g.implicitMu.Lock()
	defer g.implicitMu.Unlock()
	for _, el := range g.implicit {
		el.Value.(*implicitEntry).r.Close()
	}
}

func (g *Gateway) routes() http.Handler {
	m := mux.NewRouter()
	m.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		openai.Errorf(404, openai.CodeNotFound, fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path)).Write(w)
	})
	m.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		openai.Errorf(405, openai.CodeMethodNotAllow, fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path)).Write(w)
	})
	m.HandleFunc("/health", g.health).Methods(http.MethodGet, http.MethodHead)
	m.HandleFunc("/ready", g.readyz).Methods(http.MethodGet, http.MethodHead)
	for _, prefix := range []string{"/v1", "/router/{router}/v1"} {
		m.Handle(prefix+"/chat/completions", g.api(provider.ChatCompletions)).Methods(http.MethodPost)
		m.Handle(prefix+"/completions", g.api(provider.Completions)).Methods(http.MethodPost)
		m.Handle(prefix+"/embeddings", g.api(provider.Embeddings)).Methods(http.MethodPost)
		m.HandleFunc(prefix+"/models", g.models).Methods(http.MethodGet)
	}
	for _, prefix := range []string{"/v1", "/router/{router}/v1"} {
		m.Handle(prefix+"/responses", g.responses()).Methods(http.MethodPost)
		m.HandleFunc(prefix+"/responses/{id}", g.responseByID("get")).Methods(http.MethodGet)
		m.HandleFunc(prefix+"/responses/{id}", g.responseByID("delete")).Methods(http.MethodDelete)
		m.HandleFunc(prefix+"/responses/{id}/input_items", g.responseByID("input_items")).Methods(http.MethodGet)
		m.HandleFunc(prefix+"/responses/{id}/cancel", g.responseByID("cancel")).Methods(http.MethodPost)
	}
	m.HandleFunc("/v1/messages/count_tokens", g.countTokens).Methods(http.MethodPost)
	m.HandleFunc("/router/{router}/v1/messages/count_tokens", g.countTokens).Methods(http.MethodPost)
	m.Handle("/v1/messages", g.messages()).Methods(http.MethodPost)
	m.Handle("/router/{router}/v1/messages", g.messages()).Methods(http.MethodPost)
	m.PathPrefix("/passthrough/{provider}/").HandlerFunc(g.passthrough)
	return m
}

// ServeHTTP adds the request id, recovers panics and bounds the body before routing.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("X-Request-Id")
	idv := r.Header["X-Request-Id"]
	if id == "" || len(id) > 128 || len(idv) != 1 {
		if id == "" || len(id) > 128 {
			id = g.idPrefix + strconv.FormatUint(g.idSeq.Add(1), 36)
		}
		// One value slice for both headers (capacity 1: an Add to either copies).
		idv = []string{id}[:1:1]
		r.Header["X-Request-Id"] = idv
	}
	w.Header()["X-Request-Id"] = idv
	r.Body = http.MaxBytesReader(w, r.Body, int64(g.cfg.Server.MaxBodySize))
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			g.log.Error("panic serving request", "request_id", id, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			openai.Errorf(500, openai.CodeInternal, "sluice hit an internal error serving request "+id).Write(w)
		}
	}()
	g.handler.ServeHTTP(w, r)
}

func (g *Gateway) health(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
}

func (g *Gateway) readyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if !g.ready.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"draining"}` + "\n"))
		return
	}
	b := []byte(`{"status":"ready","providers":{`)
	first := true
	for _, name := range sortedNames(g.providers) {
		p := g.providers[name]
		if !first {
			b = append(b, ',')
		}
		first = false
		b = jsonx.AppendString(b, name)
		b = append(b, ':')
		if u := p.Unavailable(); u != "" {
			b = jsonx.AppendString(b, "unconfigured: "+u)
		} else {
			b = append(b, `"ok"`...)
		}
	}
	b = append(b, "}}\n"...)
	_, _ = w.Write(b)
}

func since(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }
