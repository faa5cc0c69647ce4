package app

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/host/openai"
)

// adminGuard stands in front of the admin API. It refuses, in order:
//   - a Host that is not a loopback name or address, the listener's own address or one of
//     server.admin_hosts (a DNS-rebinding page reaches the listener under its own name);
//   - a state-changing request from another origin (Origin or Sec-Fetch-Site), so a web page
//     cannot POST a reload or a purge through the operator's browser;
//   - without the bearer token, when server.admin_token is set (always, off loopback).
//
// The dashboard's static files are served without the token (they hold no data; the page
// sends the token it finds in its URL fragment with each data request).
type adminGuard struct {
	next  http.Handler
	token *[sha256.Size]byte // nil: no token required
	hosts map[string]bool    // extra allowed Host names and addresses, lower case
}

func newAdminGuard(next http.Handler, s config.Server, bound string) *adminGuard {
	g := &adminGuard{next: next, hosts: map[string]bool{}}
	if s.AdminToken != "" {
		sum := sha256.Sum256([]byte(s.AdminToken))
		g.token = &sum
	}
	for _, h := range s.AdminHosts {
		g.hosts[strings.ToLower(hostOnly(h))] = true
	}
	if h := hostOnly(bound); h != "" {
		if ip := net.ParseIP(h); ip != nil && !ip.IsUnspecified() {
			g.hosts[ip.String()] = true
		}
	}
	return g
}

// hostOnly strips a port and IPv6 brackets from a Host value.
func hostOnly(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
}

func (g *adminGuard) hostAllowed(hostport string) bool {
	h := strings.ToLower(hostOnly(hostport))
	if h == "localhost" || g.hosts[h] {
		return true
	}
	if ip := net.ParseIP(h); ip != nil {
		return ip.IsLoopback() || g.hosts[ip.String()]
	}
	return false
}

var dashboardAssets = map[string]bool{"/dashboard": true, "/dashboard/": true, "/dashboard/app.js": true, "/dashboard/style.css": true}

func (g *adminGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !g.hostAllowed(r.Host) {
		adminError(w, http.StatusForbidden, openai.CodeHostNotAllowed, "the admin API answers only loopback hosts and server.admin_hosts")
		return
	}
	safe := r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions
	if !safe && !g.sameOrigin(r) {
		adminError(w, http.StatusForbidden, openai.CodeCrossOriginRefused, "the admin API refuses state-changing requests from another origin")
		return
	}
	if g.token != nil && !(safe && dashboardAssets[r.URL.Path]) && !g.tokenOK(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sluice-admin"`)
		adminError(w, http.StatusUnauthorized, openai.CodeAdminTokenRequired, "the admin API needs Authorization: Bearer <server.admin_token>")
		return
	}
	g.next.ServeHTTP(w, r)
}

// sameOrigin reports whether a request comes from no browser page or from the admin API's
// own origin. Browsers send Origin on cross-origin POSTs and Sec-Fetch-Site on every request.
func (g *adminGuard) sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return false // includes "null"
	}
	return strings.EqualFold(u.Host, r.Host) && g.hostAllowed(u.Host)
}

func (g *adminGuard) tokenOK(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(sum[:], g.token[:]) == 1
}

// metricsOnly serves /metrics and nothing else, for server.metrics_listen.
func metricsOnly(metrics http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			http.NotFound(w, r)
			return
		}
		metrics.ServeHTTP(w, r)
	})
}
