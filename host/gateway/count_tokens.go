package gateway

import (
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/gorilla/mux"

	"github.com/sluice-gw/sluice/host/balance"
	"github.com/sluice-gw/sluice/host/messagesapi"
	"github.com/sluice-gw/sluice/host/openai"
	"github.com/sluice-gw/sluice/host/provider"
)

// HeaderTokenCount says how an answer of /v1/messages/count_tokens was counted: "provider"
// when the upstream counted, "estimate" when sluice did because no target has a counter (or
// every counter failed).
const HeaderTokenCount = "X-Sluice-Token-Count"

// countTokens serves POST /v1/messages/count_tokens: forwarded to the first target that speaks
// the Messages API, or counted by the first whose provider has a counter of its own (Gemini's
// countTokens, given the request its translator would send), otherwise estimated from the
// request the bridge would send.
func (g *Gateway) countTokens(w http.ResponseWriter, r *http.Request) {
	fail := func(e *openai.Error) {
		writeAnthropicError(w, e.Status, "", e.Message)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeAnthropicError(w, 413, "request_too_large", "request body: "+err.Error())
		return
	}
	raw, err := openai.ParseRequest(body)
	if err != nil {
		writeAnthropicError(w, 400, "invalid_request_error", "request body: "+err.Error())
		return
	}
	c := &call{id: r.Header.Get("X-Request-Id"), r: r, req: raw}
	if e := g.identify(c); e != nil {
		fail(e)
		return
	}
	c.router = mux.Vars(r)["router"]
	name, router, implicit, oe := g.resolve(c.router, raw.Model)
	if oe != nil {
		fail(oe)
		return
	}
	c.router = name
	if e := g.authorize(c, routeTargets(router, implicit), raw.Model); e != nil {
		fail(e)
		return
	}
	if implicit != "" {
		if router, oe = g.implicitRouter(implicit); oe != nil {
			fail(oe)
			return
		}
	}
	plan, err := router.Plan(r.Context(), balance.Request{Pin: r.Header.Get("X-Sluice-Provider"), Allow: c.az.allow})
	if err != nil {
		writeAnthropicError(w, 503, "", "router "+routerLabel(c)+": "+err.Error())
		return
	}
	targets := plan.Targets()
	plan.Close()
	var chat []byte // the chat form, for a provider whose counter takes its own request shape
	for _, t := range targets {
		p := g.providers[t.Provider]
		if p == nil || p.Unavailable() != "" {
			continue
		}
		if !p.Speaks(provider.CountTokens, t.Model) {
			if !p.HasCounter() {
				continue
			}
			if chat == nil {
				conv, err := messagesapi.ToOpenAI(body)
				if err != nil || conv.Refusal != nil {
					break // the estimate below refuses it alike
				}
				chat = conv.Body
			}
			ctx, cancel := context.WithTimeout(r.Context(), p.Timeout)
			n, err := p.CountTokens(ctx, chat, t.Model)
			cancel()
			if err != nil {
				continue // the estimate below still answers
			}
			w.Header().Set("X-Sluice-Provider", t.Provider)
			w.Header().Set(HeaderTokenCount, "provider")
			writeJSON(w, 200, inputTokens(n))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), p.Timeout)
		resp, err := p.DoNative(ctx, &provider.NativeRequest{
			Dialect: provider.CountTokens, Body: raw.Set("model", jsonString(t.Model)),
			RequestID: c.id, Header: forwardHeaders(r),
		})
		cancel()
		if err != nil || resp.Status >= 500 || resp.Status == 429 {
			continue // the estimate below still answers
		}
		w.Header().Set("X-Sluice-Provider", t.Provider)
		if resp.Status/100 == 2 {
			w.Header().Set(HeaderTokenCount, "provider")
		}
		writeJSON(w, resp.Status, resp.Body) // a 4xx is the client's to fix, in Anthropic's shape
		return
	}
	n, err := messagesapi.CountTokens(body)
	if err != nil {
		writeAnthropicError(w, 400, "invalid_request_error", err.Error())
		return
	}
	w.Header().Set(HeaderTokenCount, "estimate")
	writeJSON(w, 200, inputTokens(n))
}

func inputTokens(n int64) []byte {
	return []byte(`{"input_tokens":` + strconv.FormatInt(n, 10) + `}`)
}
