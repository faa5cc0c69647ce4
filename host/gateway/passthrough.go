package gateway

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/sluice-gw/sluice/host/openai"
)

// passthrough relays /passthrough/{provider}/... to the provider's base URL unchanged, for
// endpoints sluice does not model (files, batches, audio). The client's credentials are
// replaced by the provider's; limits and the access log still apply.
func (g *Gateway) passthrough(w http.ResponseWriter, r *http.Request) {
	c := &call{id: r.Header.Get("X-Request-Id"), start: time.Now(), endpoint: "passthrough", r: r}
	defer g.logAccess(c)
	if e := g.identify(c); e != nil {
		c.fail(w, e)
		return
	}
	if e := g.admitRaw(c); e != nil {
		c.fail(w, e)
		return
	}
	defer g.settle(c)
	name := mux.Vars(r)["provider"]
	p, ok := g.providers[name]
	c.provider = name
	if !ok {
		c.fail(w, openai.Errorf(404, "provider_not_found", fmt.Sprintf("provider %q is not configured", name)))
		return
	}
	if p.Kind == "demo" {
		c.fail(w, openai.Errorf(400, "unsupported", "the demo provider has no raw API to pass through to"))
		return
	}
	if u := p.Unavailable(); u != "" {
		c.fail(w, openai.Errorf(503, "provider_not_configured", u))
		return
	}
	base, err := url.Parse(p.BaseURL)
	if err != nil {
		c.fail(w, openai.Errorf(500, "bad_provider_url", err.Error()))
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, "/passthrough/"+name)
	rec := &statusRecorder{ResponseWriter: w}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = base.Scheme, base.Host
			pr.Out.URL.Path = strings.TrimRight(base.Path, "/") + rest
			pr.Out.URL.RawPath = ""
			pr.Out.Host = base.Host
			for _, h := range []string{"Authorization", "X-Api-Key", "Api-Key", "X-Goog-Api-Key", "X-Sluice-User", "X-Sluice-Team", "X-Sluice-Provider-Key"} {
				pr.Out.Header.Del(h)
			}
			p.Authorize(pr.Out)
		},
		Transport:     p.Transport(),
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			c.errMsg = err.Error()
			openai.Errorf(502, "upstream_unreachable", fmt.Sprintf("provider %s: %v", name, err)).Write(w)
		},
	}
	g.limitHeaders(w, c)
	proxy.ServeHTTP(rec, r)
	c.status = rec.status
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = 200
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
