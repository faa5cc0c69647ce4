package app

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sluice-gw/sluice/host/config"
)

func TestAdminGuard(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })
	g := newAdminGuard(ok, config.Server{AdminToken: "tok-0123456789abcdef", AdminHosts: []string{"Admin.Internal:9090", "[fd00::1]"}}, "10.0.0.5:9090")
	open := newAdminGuard(ok, config.Server{}, "127.0.0.1:9090")
	const tok = "Bearer tok-0123456789abcdef"
	for _, c := range []struct {
		name   string
		g      *adminGuard
		method string
		path   string
		h      map[string]string
		want   int
	}{
		{"loopback v4", g, "GET", "/health", map[string]string{"Host": "127.0.0.1:9090", "Authorization": tok}, 204},
		{"loopback v6", g, "GET", "/health", map[string]string{"Host": "[::1]:9090", "Authorization": tok}, 204},
		{"localhost", g, "GET", "/health", map[string]string{"Host": "LOCALHOST:9090", "Authorization": tok}, 204},
		{"configured name", g, "GET", "/health", map[string]string{"Host": "admin.internal", "Authorization": tok}, 204},
		{"configured v6", g, "GET", "/health", map[string]string{"Host": "[fd00::1]:9090", "Authorization": tok}, 204},
		{"bound address", g, "GET", "/health", map[string]string{"Host": "10.0.0.5:9090", "Authorization": tok}, 204},
		{"rebinding name", g, "GET", "/health", map[string]string{"Host": "attacker.example", "Authorization": tok}, 403},
		{"other address", g, "GET", "/health", map[string]string{"Host": "10.0.0.6:9090", "Authorization": tok}, 403},
		{"no token", g, "GET", "/health", map[string]string{"Host": "127.0.0.1"}, 401},
		{"basic scheme", g, "GET", "/health", map[string]string{"Host": "127.0.0.1", "Authorization": "Basic tok-0123456789abcdef"}, 401},
		{"dashboard page without token", g, "GET", "/dashboard", map[string]string{"Host": "127.0.0.1"}, 204},
		{"dashboard data without token", g, "GET", "/dashboard/data.json", map[string]string{"Host": "127.0.0.1"}, 401},
		{"post same origin", g, "POST", "/admin/reload", map[string]string{"Host": "127.0.0.1:9090", "Origin": "http://127.0.0.1:9090", "Authorization": tok}, 204},
		{"post no origin", g, "POST", "/admin/reload", map[string]string{"Host": "127.0.0.1:9090", "Authorization": tok}, 204},
		{"post other port", g, "POST", "/admin/reload", map[string]string{"Host": "127.0.0.1:9090", "Origin": "http://127.0.0.1:8080", "Authorization": tok}, 403},
		{"post foreign origin", g, "POST", "/admin/reload", map[string]string{"Host": "127.0.0.1:9090", "Origin": "https://evil.example", "Authorization": tok}, 403},
		{"post same-site", g, "POST", "/admin/reload", map[string]string{"Host": "127.0.0.1:9090", "Sec-Fetch-Site": "same-site", "Authorization": tok}, 403},
		{"no token configured", open, "POST", "/admin/reload", map[string]string{"Host": "127.0.0.1:9090"}, 204},
		{"no token configured, rebinding", open, "GET", "/admin/config", map[string]string{"Host": "evil.example:9090"}, 403},
	} {
		r := httptest.NewRequest(c.method, c.path, nil)
		for k, v := range c.h {
			if k == "Host" {
				r.Host = v
				continue
			}
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		c.g.ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("%s: %d, want %d (%s)", c.name, w.Code, c.want, w.Body.String())
		}
	}
}

func TestMetricsOnly(t *testing.T) {
	h := metricsOnly(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }))
	for path, want := range map[string]int{"/metrics": 200, "/admin/config": 404, "/": 404, "/metrics/x": 404} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != want {
			t.Errorf("%s: %d", path, w.Code)
		}
	}
}
