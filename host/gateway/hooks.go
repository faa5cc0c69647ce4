package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-gw/sluice/host/cache"
	"github.com/sluice-gw/sluice/host/config"
	"github.com/sluice-gw/sluice/host/openai"
	"github.com/sluice-gw/sluice/host/plugin"
	"github.com/sluice-gw/sluice/sdk/abi"
)

// The v1 hook additions on the gateway's side (sdk/ABI.md, section 5.2): request-scoped state,
// a plugin's own answer to a request, and header edits within the plugin's allow-list. The
// stream policy is in hooks_stream.go, on_log in hooks_log.go.

// hookState is what those additions keep for one request.
type hookState struct {
	// pstate is each policy plugin's request state (what its on_request returned).
	pstate map[string][]byte
	// answer is an on_request's "respond" decision; served names its plugin.
	answer *plugin.Decision
	served string
	// upEdits apply to the upstream request, respEdits to the client's response.
	upEdits, respEdits []headerEdit
	// rejected is set when a policy refused the request or its answer (on_log's outcome).
	rejected bool
}

// headerEdit sets a header, or removes it when value is "".
type headerEdit struct{ name, value string }

// stateOf is the request state the plugin kept, or nil.
func (c *call) stateOf(p *plugin.Plugin) []byte { return c.pstate[p.Name()] }

// takeDecision keeps what a policy decision carries besides its action: the request state
// (on_request) and the header edits, checked against the plugin's allow-list. upstream says
// whether the headers are for the upstream request (on_request, not respond) or the client.
func (g *Gateway) takeDecision(c *call, p *plugin.Plugin, hook string, d *plugin.Decision) *openai.Error {
	if hook == abi.HookOnRequest && len(d.State) > 0 {
		if !json.Valid(d.State) {
			return openai.Errorf(502, openai.CodePluginError, fmt.Sprintf("plugin %s hook %s returned a state that is not JSON", p.Name(), hook))
		}
		if c.pstate == nil {
			c.pstate = make(map[string][]byte, 1)
		}
		c.pstate[p.Name()] = append([]byte(nil), d.State...)
	}
	if len(d.Headers) == 0 {
		return nil
	}
	upstream := hook == abi.HookOnRequest && d.Action != "respond"
	pc := g.cfg.Plugins[p.Name()]
	var allow []string
	key := "response_headers"
	if pc != nil {
		allow = pc.ResponseHeaders
		if upstream {
			allow = pc.UpstreamHeaders
		}
	}
	if upstream {
		key = "upstream_headers"
	}
	names := make([]string, 0, len(d.Headers))
	for name := range d.Headers {
		names = append(names, name)
	}
	sort.Strings(names) // the error names the same header every time
	for _, name := range names {
		ln := strings.ToLower(name)
		if config.ReservedHeader(ln) {
			return openai.Errorf(502, openai.CodePluginError, fmt.Sprintf("plugin %s hook %s set header %q, which no plugin may set", p.Name(), hook, name))
		}
		if !globMatch(allow, ln) || !validHeader(name, d.Headers[name]) {
			return openai.Errorf(502, openai.CodePluginError, fmt.Sprintf("plugin %s hook %s set header %q, which its %s do not allow", p.Name(), hook, name, key))
		}
		e := headerEdit{name: http.CanonicalHeaderKey(name), value: d.Headers[name]}
		if upstream {
			c.upEdits = append(c.upEdits, e)
		} else {
			c.respEdits = append(c.respEdits, e)
		}
	}
	return nil
}

// globMatch reports whether the lower-cased header name matches one of the globs.
func globMatch(globs []string, ln string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(strings.ToLower(g), ln); ok {
			return true
		}
	}
	return false
}

// validHeader refuses names and values net/http would refuse or that could split a header.
func validHeader(name, value string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return !strings.ContainsAny(value, "\r\n\x00")
}

// upstreamHeader is h with the plugins' upstream edits applied (a removal is an empty value,
// which the provider's request copies over a configured header).
func (c *call) upstreamHeader(h http.Header) http.Header {
	if len(c.upEdits) == 0 {
		return h
	}
	h = h.Clone()
	if h == nil {
		h = make(http.Header, len(c.upEdits))
	}
	for _, e := range c.upEdits {
		if e.value == "" {
			h[e.name] = []string{}
		} else {
			h[e.name] = []string{e.value}
		}
	}
	return h
}

// applyResponseEdits applies the plugins' client-response header edits.
func (c *call) applyResponseEdits(h http.Header) {
	for _, e := range c.respEdits {
		if e.value == "" {
			h.Del(e.name)
		} else {
			h.Set(e.name, e.value)
		}
	}
}

// serveAnswer writes an on_request's own answer: no upstream is called. A streamed request
// gets it as a stream, as a rewritten stream is sent. It is accounted as served by
// "plugin:<name>", at no cost.
func (g *Gateway) serveAnswer(w http.ResponseWriter, c *call) *openai.Error {
	d := c.answer
	status := d.Status
	if status == 0 {
		status = 200
	}
	if status < 200 || status > 599 {
		return openai.Errorf(502, openai.CodePluginError, fmt.Sprintf("plugin %s hook on_request answered with status %d", c.served, status))
	}
	body := []byte(d.Body)
	if len(body) == 0 || !json.Valid(body) || body[0] != '{' {
		return openai.Errorf(502, openai.CodePluginError, fmt.Sprintf("plugin %s hook on_request answered with a body that is not a JSON object", c.served))
	}
	c.provider, c.model, c.target = "plugin:"+c.served, c.req.Model, ""
	if status/100 == 2 {
		sum := openai.Summarize(body, true)
		c.usage, c.finish = sum.Usage, sum.FinishReason
	} else {
		c.errMsg = upstreamMessage(body)
	}
	var chunks [][]byte
	if c.stream && status == 200 {
		var err error
		chunks, err = (&cache.Entry{Model: c.req.Model, Body: body}).AsChunks(c.req.IncludeUsage)
		if err != nil {
			return openai.Errorf(502, openai.CodePluginError, fmt.Sprintf("plugin %s hook on_request answered a streamed request with something that is not a chat.completion: %v", c.served, err))
		}
	}
	c.status = status
	g.limitHeaders(w, c)
	h := w.Header()
	c.applyResponseEdits(h)
	h.Set("X-Sluice-Provider", c.provider)
	if c.router != "" {
		h.Set("X-Sluice-Router", c.router)
	}
	if chunks != nil {
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		w.WriteHeader(200)
		c.ttft = since0(c)
		if err := cache.WriteSSE(c.r.Context(), w, chunks, 0); err != nil {
			c.status, c.errMsg = 499, "client went away"
		}
		return nil
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

// since0 is the time from the request's start, the first token of an answer served locally.
func since0(c *call) time.Duration { return time.Since(c.start) }
