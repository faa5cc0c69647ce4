package app

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/gorilla/mux"

	"github.com/sluice-gw/sluice/host/admin/dashboard"
)

// adminHandler serves the admin listener (loopback by default): health, reloads, the
// effective configuration with secrets redacted, router health and plugin statistics.
func (a *App) adminHandler() http.Handler {
	m := mux.NewRouter()
	m.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, map[string]any{"status": "ok", "uptime_s": int(time.Since(a.started).Seconds())})
	}).Methods(http.MethodGet)
	m.HandleFunc("/admin/reload", func(w http.ResponseWriter, r *http.Request) {
		if err := a.Reload(r.Context()); err != nil {
			writeJSON(w, 422, map[string]any{"error": map[string]any{"message": err.Error(), "type": "invalid_request_error", "code": "reload_refused"}})
			return
		}
		writeJSON(w, 200, map[string]any{"status": "reloaded"})
	}).Methods(http.MethodPost)
	m.HandleFunc("/admin/plugins/{name}/reload", func(w http.ResponseWriter, r *http.Request) {
		name := mux.Vars(r)["name"]
		if err := a.plugins.ReloadOne(r.Context(), name); err != nil {
			writeJSON(w, 422, map[string]any{"error": map[string]any{"message": err.Error(), "type": "invalid_request_error", "code": "reload_refused"}})
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
		for name, r := range st.routers {
			out[name] = r.Snapshot()
		}
		writeJSON(w, 200, out)
	}).Methods(http.MethodGet)
	m.HandleFunc("/admin/config", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, a.state.Load().cfg.Redacted())
	}).Methods(http.MethodGet)
	m.Handle("/metrics", a.tel.MetricsHandler()).Methods(http.MethodGet)
	// Profiling, for operators on the (loopback by default) admin listener.
	m.HandleFunc("/debug/pprof/", pprof.Index)
	m.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	m.HandleFunc("/debug/pprof/profile", pprof.Profile)
	m.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	m.HandleFunc("/debug/pprof/trace", pprof.Trace)
	m.PathPrefix("/debug/pprof/").HandlerFunc(pprof.Index)
	dash := dashboard.Handler(a.tel.Live().Snapshot)
	m.PathPrefix("/dashboard").Handler(dash)
	return m
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
