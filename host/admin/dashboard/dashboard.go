// Package dashboard owns the admin dashboard: one embedded page (HTML, CSS
// and hand-written JavaScript, no external assets) and the JSON document it
// polls. It knows nothing about where the numbers come from: the caller
// passes a feed function, normally the telemetry live aggregator's
// Snapshot.
package dashboard

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// csp allows only same-origin assets, so the page works offline and cannot
// be made to load anything else.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"

// Handler serves GET /dashboard (the page), /dashboard/app.js,
// /dashboard/style.css and /dashboard/data.json (feed() as JSON). Mount it
// at the root of the admin listener's mux, or for the "/dashboard" and
// "/dashboard/" patterns.
func Handler(feed func() Snapshot) http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic("dashboard: embedded assets missing: " + err.Error())
	}
	page := mustRead(sub, "index.html")
	js := mustRead(sub, "app.js")
	css := mustRead(sub, "style.css")

	mux := http.NewServeMux()
	asset := func(body []byte, ctype string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			h := w.Header()
			h.Set("Content-Type", ctype)
			h.Set("Content-Security-Policy", csp)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("Cache-Control", "no-cache")
			_, _ = w.Write(body)
		}
	}
	mux.Handle("GET /dashboard", asset(page, "text/html; charset=utf-8"))
	mux.Handle("GET /dashboard/{$}", asset(page, "text/html; charset=utf-8"))
	mux.Handle("GET /dashboard/app.js", asset(js, "text/javascript; charset=utf-8"))
	mux.Handle("GET /dashboard/style.css", asset(css, "text/css; charset=utf-8"))
	mux.HandleFunc("GET /dashboard/data.json", func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		_ = json.NewEncoder(w).Encode(feed())
	})
	return mux
}

func mustRead(f fs.FS, name string) []byte {
	b, err := fs.ReadFile(f, name)
	if err != nil {
		panic("dashboard: embedded asset " + name + ": " + err.Error())
	}
	return b
}
