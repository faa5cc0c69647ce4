package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/pprof"
	"slices"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/sluice-gw/sluice/host/admin/dashboard"
	"github.com/sluice-gw/sluice/host/auth"
	"github.com/sluice-gw/sluice/host/cache"
	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/host/openai"
	"github.com/sluice-gw/sluice/host/ratelimit"
)

// adminHandler serves the admin listener (loopback by default): health, reloads, the
// effective configuration with secrets redacted, router health and plugin statistics,
// metrics and the dashboard, a cache purge and a read-only view of rate-limit state.
func (a *App) adminHandler() http.Handler {
	m := mux.NewRouter()
	m.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, map[string]any{"status": "ok", "uptime_s": int(time.Since(a.started).Seconds())})
	}).Methods(http.MethodGet)
	m.HandleFunc("/admin/reload", func(w http.ResponseWriter, r *http.Request) {
		if err := a.Reload(r.Context()); err != nil {
			writeJSON(w, 422, map[string]any{"error": map[string]any{"message": a.scrub(err), "type": openai.TypeInvalidRequest, "code": openai.CodeReloadRefused}})
			return
		}
		writeJSON(w, 200, map[string]any{"status": "reloaded"})
	}).Methods(http.MethodPost)
	m.HandleFunc("/admin/plugins/{name}/reload", func(w http.ResponseWriter, r *http.Request) {
		name := mux.Vars(r)["name"]
		if err := a.plugins.ReloadOne(r.Context(), name); err != nil {
			writeJSON(w, 422, map[string]any{"error": map[string]any{"message": a.scrub(err), "type": openai.TypeInvalidRequest, "code": openai.CodeReloadRefused}})
			return
		}
		p, _ := a.plugins.Get(name)
		writeJSON(w, 200, map[string]any{"status": "reloaded", "plugin": name, "version": p.Version()})
	}).Methods(http.MethodPost)
	m.HandleFunc("/admin/plugins", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, a.plugins.Stats())
	}).Methods(http.MethodGet)
	m.HandleFunc("/admin/routers", func(w http.ResponseWriter, _ *http.Request) {
		st := a.state.Load()
		out := map[string]any{}
		for name, r := range st.gw.Routers() {
			out[name] = r.Snapshot()
		}
		writeJSON(w, 200, out)
	}).Methods(http.MethodGet)
	m.HandleFunc("/admin/config", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, a.state.Load().cfg.Redacted())
	}).Methods(http.MethodGet)
	m.HandleFunc("/admin/cache/purge", a.purgeCache).Methods(http.MethodPost)
	m.HandleFunc("/admin/ratelimit", a.peekLimits).Methods(http.MethodGet)
	m.Handle("/metrics", a.tel.MetricsHandler()).Methods(http.MethodGet)
	// Profiling only when asked for (server.admin_pprof): a CPU profile or trace is a cheap
	// way to load the process, and the heap profile shows memory contents' shape.
	if a.state.Load().cfg.Server.AdminPprof {
		m.HandleFunc("/debug/pprof/", pprof.Index)
		m.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		m.HandleFunc("/debug/pprof/profile", pprof.Profile)
		m.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		m.HandleFunc("/debug/pprof/trace", pprof.Trace)
		m.PathPrefix("/debug/pprof/").HandlerFunc(pprof.Index)
	}
	dash := dashboard.Handler(a.tel.Live().Snapshot)
	m.PathPrefix("/dashboard").Handler(dash)
	return m
}

// scrub is an error's message without any secret of the running configuration or a URL
// password, for answers and logs.
func (a *App) scrub(err error) string {
	var cfg *config.Config
	if st := a.state.Load(); st != nil {
		cfg = st.cfg
	}
	return cfg.Scrub(err.Error())
}

func adminError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": openai.TypeInvalidRequest, "code": code}})
}

// purgeCache empties every response cache: the in-process store, and for Redis every key under
// the cache prefix (found by SCAN, so Redis never blocks). Caches sharing a store purge it once.
func (a *App) purgeCache(w http.ResponseWriter, r *http.Request) {
	st := a.state.Load()
	var done []*cache.Cache
	removed := 0
	var errs []error
	for _, c := range st.stages.caches {
		if slices.ContainsFunc(done, c.SameStore) {
			continue
		}
		done = append(done, c)
		n, err := c.Purge(r.Context())
		removed += n
		errs = append(errs, err)
	}
	if len(done) == 0 {
		adminError(w, 404, openai.CodeCacheDisabled, "no response cache is configured")
		return
	}
	if err := errors.Join(errs...); err != nil {
		a.log.Warn("admin: cache purge incomplete", "removed", removed, "err", a.scrub(err))
		adminError(w, 502, openai.CodePurgeFailed, fmt.Sprintf("purged %d entries, then: %s", removed, a.scrub(err)))
		return
	}
	a.log.Info("admin: cache purged", "removed", removed, "stores", len(done))
	writeJSON(w, 200, map[string]any{"status": "purged", "removed": removed, "stores": len(done)})
}

// limitState is one rule's state for the admin API.
type limitState struct {
	Rule      string `json:"rule"`
	Scope     string `json:"scope"`
	Key       string `json:"key"`
	Unit      string `json:"unit"`
	Kind      string `json:"kind"` // "rate" or "budget"
	Limit     int64  `json:"limit"`
	Remaining int64  `json:"remaining"`
	ResetMs   int64  `json:"reset_ms"`
	Reset     string `json:"reset"`
	Allowed   bool   `json:"allowed"`
}

// peekLimits reports, without consuming anything, the state of every rate-limit rule that
// applies to a caller: ?key=<key id> (its user, team and own limits), or any of ?team=, ?user=
// and ?router=.
func (a *App) peekLimits(w http.ResponseWriter, r *http.Request) {
	st := a.state.Load()
	if st.stages.limiter == nil {
		adminError(w, 404, openai.CodeLimitsDisabled, "no rate limits are configured")
		return
	}
	q := r.URL.Query()
	subj := ratelimit.Subject{Router: q.Get("router"), Team: q.Get("team"), User: q.Get("user")}
	if id := q.Get("key"); id != "" {
		ks, ok, err := findKey(st.cfg, id)
		if err != nil {
			adminError(w, 500, openai.CodeKeysUnreadable, a.scrub(err))
			return
		}
		if !ok {
			adminError(w, 404, openai.CodeUnknownKey, fmt.Sprintf("no virtual key has id %q", id))
			return
		}
		subj.Key, subj.KeyRules = ks.ID, ks.rules
		if subj.User == "" {
			subj.User = ks.User
		}
		if subj.Team == "" {
			subj.Team = ks.Team
		}
	}
	if subj.Key == "" && subj.Team == "" && subj.User == "" && subj.Router == "" {
		adminError(w, 400, openai.CodeMissingSubject, "give key=<key id>, or team=, user= or router=")
		return
	}
	decs, err := st.stages.limiter.Peek(r.Context(), subj)
	if err != nil {
		adminError(w, 503, openai.CodeRateLimitUnavailable, a.scrub(err))
		return
	}
	out := make([]limitState, 0, len(decs))
	for _, d := range decs {
		kind := "rate"
		if d.Budget {
			kind = "budget"
		}
		out = append(out, limitState{
			Rule: d.Rule, Scope: d.Scope.String(), Key: d.Key, Unit: d.Unit.String(), Kind: kind,
			Limit: d.Limit, Remaining: d.Remaining, ResetMs: d.ResetAfter.Milliseconds(),
			Reset: ratelimit.FormatReset(d.ResetAfter), Allowed: d.Allowed,
		})
	}
	writeJSON(w, 200, map[string]any{
		"subject": map[string]string{"key": subj.Key, "team": subj.Team, "user": subj.User, "router": subj.Router},
		"rules":   out,
	})
}

// keyLimits is a virtual key as the limiter sees it.
type keyLimits struct {
	ID, User, Team string
	rules          []ratelimit.Rule
}

// findKey looks a key up by id in the config, then the keys file, and names its rules as the
// request path does (stages for config keys, auth for keys-file keys), so a peek reads the
// same state the requests consume.
func findKey(cfg *config.Config, id string) (keyLimits, bool, error) {
	for _, k := range cfg.Auth.Keys {
		if k.ID != id {
			continue
		}
		kl := keyLimits{ID: k.ID, User: k.User, Team: k.Team}
		for i, l := range k.Limits {
			sp := limitSpec(l)
			if sp.Name == "" {
				sp.Name = fmt.Sprintf("%s-%d", k.ID, i)
			}
			if sp.Scope == "" {
				sp.Scope = "key"
			}
			rule, err := sp.Rule()
			if err != nil {
				return kl, false, fmt.Errorf("admin: key %s: %w", id, err)
			}
			kl.rules = append(kl.rules, rule)
		}
		return kl, true, nil
	}
	if cfg.Auth.KeysFile == "" {
		return keyLimits{}, false, nil
	}
	more, err := auth.LoadKeysFile(cfg.Auth.KeysFile)
	if err != nil {
		return keyLimits{}, false, fmt.Errorf("admin: %w", err)
	}
	for _, k := range more {
		if k.ID != id {
			continue
		}
		kl := keyLimits{ID: k.ID, User: k.User, Team: k.Team}
		for j, sp := range k.Limits {
			if sp.Scope == "" {
				sp.Scope = "key"
			}
			if sp.Name == "" {
				sp.Name = "limit-" + strconv.Itoa(j)
			}
			rule, err := sp.Rule()
			if err != nil {
				return kl, false, fmt.Errorf("admin: key %s: %w", id, err)
			}
			kl.rules = append(kl.rules, rule)
		}
		return kl, true, nil
	}
	return keyLimits{}, false, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
