package gateway

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/sluice-gw/sluice/host/auth"
	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/host/openai"
)

// Default passthrough path lists by wire format (the kind's translator, "" for OpenAI's):
// the endpoints sluice does not model. Inference endpoints are left out on purpose, so that
// by default they go through /v1 where policies, the cache and failover apply.
var defaultPassthrough = map[string][]string{
	"":          {"/files*", "/batches*", "/uploads*", "/audio/*", "/images/*", "/models", "/models/*", "/moderations", "/fine_tuning/*", "/vector_stores*"},
	"anthropic": {"/messages/batches*", "/files*", "/models", "/models/*", "/messages/count_tokens"},
	"gemini":    {"/files*", "/cachedContents*"},
}

// passthroughHeaders are the request headers relayed upstream; every other one (the client's
// Authorization, cookies, x-sluice-*, forwarding headers) is dropped, and the provider's own
// credentials are set by sluice.
var passthroughHeaders = []string{
	"Accept", "Content-Type", "User-Agent", "Idempotency-Key",
	"OpenAI-Beta", "Anthropic-Version", "Anthropic-Beta",
}

// accountedEndpoints are the OpenAI-shaped answers whose usage passthrough reads, so token and
// cost limits see passthrough traffic to them.
var accountedEndpoints = []string{"/chat/completions", "/completions", "/embeddings"}

// inferenceEndpoint reports whether a passthrough path serves a model: such traffic bypasses
// policy plugins, so it is refused while policies are configured.
func inferenceEndpoint(rest string) bool {
	for _, s := range []string{"/chat/completions", "/completions", "/embeddings", "/responses", "/messages"} {
		if strings.HasSuffix(rest, s) {
			return true
		}
	}
	return strings.HasPrefix(rest, "/responses/") || strings.Contains(rest, ":generateContent") || strings.Contains(rest, ":streamGenerateContent") ||
		strings.HasSuffix(rest, "/invoke") || strings.HasSuffix(rest, "/invoke-with-response-stream") ||
		strings.HasSuffix(rest, "/converse") || strings.HasSuffix(rest, "/converse-stream")
}

// passthroughPaths is the provider's passthrough allow-list: configured, or its kind's default.
func (g *Gateway) passthroughPaths(name string) []string {
	pc := g.cfg.Providers[name]
	if pc == nil {
		return nil
	}
	if pc.Passthrough != nil {
		return pc.Passthrough
	}
	return defaultPassthrough[config.Kinds[pc.Kind].Translator]
}

// passthrough relays /passthrough/{provider}/... to the provider's base URL, for endpoints
// sluice does not model (files, batches, audio). The path must be on the provider's
// passthrough list and, for a virtual key, on the key's; only allow-listed headers are
// relayed and the provider's credentials replace the client's; a key's model allow-list
// applies to the body's model; limits, usage accounting (OpenAI-shaped answers) and the
// access log apply.
func (g *Gateway) passthrough(w http.ResponseWriter, r *http.Request) {
	c := &call{id: r.Header.Get("X-Request-Id"), start: time.Now(), endpoint: "passthrough", r: r}
	defer g.respond(w, c) // settlement and the access line, after the answer is flushed
	g.servePassthrough(w, r, c)
	c.answered = true
}

func (g *Gateway) servePassthrough(w http.ResponseWriter, r *http.Request, c *call) {
	if e := g.identify(c); e != nil {
		c.fail(w, e)
		return
	}
	name := mux.Vars(r)["provider"]
	p, ok := g.providers[name]
	c.provider = name
	if !ok {
		c.fail(w, openai.Errorf(404, openai.CodeProviderNotFound, fmt.Sprintf("provider %q is not configured", name)))
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, "/passthrough/"+name)
	if cl := path.Clean(rest); rest == "" || cl != strings.TrimSuffix(rest, "/") && cl != rest {
		c.fail(w, openai.Errorf(400, openai.CodeInvalidPath, "passthrough paths must be clean (no '.', '..' or empty segments)"))
		return
	}
	if !globAny(g.passthroughPaths(name), rest) {
		c.fail(w, openai.Errorf(403, openai.CodePassthroughNotAllowed, fmt.Sprintf("provider %s does not allow passthrough to %s (providers.%s.passthrough)", name, rest, name)))
		return
	}
	if !c.ident.AllowsPassthrough(name, rest) {
		c.fail(w, openai.Errorf(403, openai.CodePassthroughNotAllowed, fmt.Sprintf("key %q may not use passthrough to %s:%s; add it to the key's passthrough list", c.ident.KeyID, name, rest)))
		return
	}
	if len(g.policies) > 0 && inferenceEndpoint(rest) {
		c.fail(w, openai.Errorf(403, openai.CodePolicyBypassRefused, fmt.Sprintf("passthrough to the inference endpoint %s is refused while policy plugins are configured (they cannot see passthrough traffic); use the /v1 API", rest)))
		return
	}
	if p.Kind == "demo" {
		c.fail(w, openai.Errorf(400, openai.CodeUnsupported, "the demo provider has no raw API to pass through to"))
		return
	}
	if u := p.Unavailable(); u != "" {
		c.fail(w, openai.Errorf(503, openai.CodeProviderNotConfigured, u))
		return
	}
	account := false
	for _, s := range accountedEndpoints {
		account = account || strings.HasSuffix(rest, s)
	}
	if e := g.passthroughModel(c, name, account); e != nil {
		c.fail(w, e)
		return
	}
	if e := g.admitRaw(c); e != nil {
		c.fail(w, e)
		return
	}
	base, err := url.Parse(p.BaseURL)
	if err != nil {
		c.fail(w, openai.Errorf(500, openai.CodeBadProviderURL, "provider "+name+": base_url does not parse"))
		return
	}
	allowed := passthroughHeaders
	if pc := g.cfg.Providers[name]; pc != nil && len(pc.PassthroughHeaders) > 0 {
		allowed = append(append([]string(nil), passthroughHeaders...), pc.PassthroughHeaders...)
	}
	rec := &statusRecorder{ResponseWriter: w}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = base.Scheme, base.Host
			pr.Out.URL.Path = strings.TrimRight(base.Path, "/") + rest
			pr.Out.URL.RawPath = ""
			pr.Out.Host = base.Host
			h := make(http.Header, len(allowed)+2)
			for _, k := range allowed {
				if vs := pr.In.Header.Values(k); len(vs) > 0 {
					h[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
				}
			}
			h.Set("X-Request-Id", c.id)
			if _, ok := h["User-Agent"]; !ok {
				h["User-Agent"] = []string{""} // not Go's default
			}
			pr.Out.Header = h
			p.Authorize(pr.Out)
		},
		Transport:     p.Transport(),
		FlushInterval: -1,
		ModifyResponse: func(resp *http.Response) error {
			if account && resp.StatusCode/100 == 2 {
				resp.Body = &usageTap{rc: resp.Body, c: c, sse: strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")}
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			e := g.scrubbed(openai.Errorf(502, openai.CodeUpstreamUnreachable, fmt.Sprintf("provider %s: %v", name, err)))
			c.errMsg = e.Message
			e.Write(w)
		},
	}
	g.limitHeaders(w, c)
	proxy.ServeHTTP(rec, r)
	c.status = rec.status
}

// passthroughModel applies the key's model allow-list to the model a passthrough body names
// (a JSON "model" member or a multipart "model" field). A model-restricted key must name an
// allowed model on an inference endpoint, and any model it names elsewhere must be allowed.
func (g *Gateway) passthroughModel(c *call, provider string, account bool) *openai.Error {
	restricted := !c.ident.Anonymous && c.ident.RestrictsModels()
	if !restricted && !account {
		return nil
	}
	r := c.r
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return openai.Errorf(413, openai.CodeRequestTooLarge, "reading request body: "+err.Error())
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	model := ""
	if len(bytes.TrimSpace(body)) > 0 {
		mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch {
		case mt == "multipart/form-data":
			mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
			for {
				part, err := mr.NextPart()
				if err != nil {
					break
				}
				if part.FormName() == "model" {
					b, _ := io.ReadAll(io.LimitReader(part, 1024))
					model = strings.TrimSpace(string(b))
					break
				}
			}
		default:
			if req, err := openai.ParseRequest(body); err == nil {
				model = req.Model
			}
		}
	}
	rest := strings.TrimPrefix(r.URL.Path, "/passthrough/"+provider)
	c.model = model // priced at settlement
	if !restricted {
		return nil
	}
	if model == "" {
		if inferenceEndpoint(rest) {
			return openai.Errorf(403, openai.CodeModelNotAllowed, fmt.Sprintf("key %q has a model allow-list and this passthrough request names no model", c.ident.KeyID))
		}
		return nil
	}
	if err := c.ident.CheckModel(provider + "/" + model); err != nil {
		return authError(err)
	}
	return nil
}

func globAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if auth.Glob(p, s) {
			return true
		}
	}
	return false
}

// usageTap reads the usage of an OpenAI-shaped answer (a JSON body, or an SSE stream's usage
// chunk) as it is relayed, for settlement. It keeps at most maxTapped bytes of a JSON body
// and one line of a stream.
type usageTap struct {
	rc   io.ReadCloser
	c    *call
	sse  bool
	buf  []byte
	over bool
	done bool
}

const maxTapped = 8 << 20

func (u *usageTap) Read(b []byte) (int, error) {
	n, err := u.rc.Read(b)
	if n > 0 && !u.over {
		u.buf = append(u.buf, b[:n]...)
		if u.sse {
			u.lines()
		} else if len(u.buf) > maxTapped {
			u.over, u.buf = true, nil
		}
	}
	if err == io.EOF {
		u.finish()
	}
	return n, err
}

func (u *usageTap) Close() error {
	u.finish()
	return u.rc.Close()
}

// lines consumes the complete lines of the buffered stream.
func (u *usageTap) lines() {
	consumed := 0
	for {
		i := bytes.IndexByte(u.buf[consumed:], '\n')
		if i < 0 {
			break
		}
		line := bytes.TrimSpace(u.buf[consumed : consumed+i])
		consumed += i + 1
		if data, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			u.note(bytes.TrimSpace(data), false)
		}
	}
	u.buf = append(u.buf[:0], u.buf[consumed:]...)
	if len(u.buf) > maxTapped {
		u.over = true
	}
}

func (u *usageTap) note(chunk []byte, full bool) {
	if len(chunk) == 0 || chunk[0] != '{' {
		return
	}
	s := openai.Summarize(chunk, full)
	if s.Usage != nil {
		u.c.usage = s.Usage
	}
	if s.FinishReason != "" {
		u.c.finish = s.FinishReason
	}
	if u.c.model == "" && s.Model != "" {
		u.c.model = s.Model
	}
}

func (u *usageTap) finish() {
	if u.done {
		return
	}
	u.done = true
	if !u.sse && !u.over {
		u.note(bytes.TrimSpace(u.buf), true)
	}
	u.buf = nil
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
