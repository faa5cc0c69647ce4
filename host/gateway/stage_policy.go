package gateway

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/sluice-gw/sluice/host/openai"
	"github.com/sluice-gw/sluice/host/plugin"
)

type policyOut struct {
	Action  string          `json:"action"`
	Status  int             `json:"status"`
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Body    json.RawMessage `json:"body"`
}

// requestPolicies runs each policy plugin's on_request in order: allow, reject or rewrite.
func (g *Gateway) requestPolicies(c *call) *openai.Error {
	for _, p := range g.policies {
		if !p.Has("on_request") {
			continue
		}
		in := make([]byte, 0, len(c.req.Raw)+512)
		in = append(in, `{"meta":`...)
		in = append(in, g.metaJSON(c)...)
		in = append(in, `,"body":`...)
		in = append(in, c.req.Raw...)
		in = append(in, '}')
		out, err := g.callPlugin(c, p, "on_request", in)
		if err != nil {
			g.logPluginError(c, err)
			return pluginError(err)
		}
		body, oerr := g.applyPolicy(p, "on_request", out)
		if oerr != nil {
			return oerr
		}
		if body != nil {
			req, err := openai.ParseRequest(body)
			if err != nil {
				return openai.Errorf(502, "plugin_error", fmt.Sprintf("plugin %s hook on_request rewrote the body into invalid JSON: %v", p.Name(), err))
			}
			c.req = req
			c.stream = req.Stream && c.stream
			if c.dialect != nil {
				c.dialect.bridged = true
			}
		}
	}
	return nil
}

// responsePolicies runs on_response over a complete (non-streamed) answer.
func (g *Gateway) responsePolicies(c *call, status int, body []byte) ([]byte, *openai.Error) {
	for _, p := range g.policies {
		if !p.Has("on_response") {
			continue
		}
		in := make([]byte, 0, len(body)+512)
		in = append(in, `{"meta":`...)
		in = append(in, g.metaJSON(c)...)
		in = append(in, `,"status":`...)
		in = strconv.AppendInt(in, int64(status), 10)
		in = append(in, `,"body":`...)
		in = append(in, body...)
		in = append(in, '}')
		out, err := g.callPlugin(c, p, "on_response", in)
		if err != nil {
			g.logPluginError(c, err)
			return nil, pluginError(err)
		}
		nb, oerr := g.applyPolicy(p, "on_response", out)
		if oerr != nil {
			return nil, oerr
		}
		if nb != nil {
			if !json.Valid(nb) {
				return nil, openai.Errorf(502, "plugin_error", fmt.Sprintf("plugin %s hook on_response rewrote the body into invalid JSON", p.Name()))
			}
			body = nb
		}
	}
	return body, nil
}

func (g *Gateway) applyPolicy(p *plugin.Plugin, hook string, out []byte) ([]byte, *openai.Error) {
	var po policyOut
	if err := json.Unmarshal(out, &po); err != nil {
		return nil, openai.Errorf(502, "plugin_error", fmt.Sprintf("plugin %s hook %s returned invalid JSON: %v", p.Name(), hook, err))
	}
	switch po.Action {
	case "", "allow":
		return nil, nil
	case "reject":
		status := po.Status
		if status < 400 || status > 599 {
			status = 403
		}
		code := po.Code
		if code == "" {
			code = "policy_rejected"
		}
		msg := po.Message
		if msg == "" {
			msg = "rejected by policy " + p.Name()
		}
		return nil, openai.Errorf(status, code, msg)
	case "rewrite":
		if len(po.Body) == 0 {
			return nil, openai.Errorf(502, "plugin_error", fmt.Sprintf("plugin %s hook %s: rewrite without a body", p.Name(), hook))
		}
		return po.Body, nil
	}
	return nil, openai.Errorf(502, "plugin_error", fmt.Sprintf("plugin %s hook %s: unknown action %q (allow, reject or rewrite)", p.Name(), hook, po.Action))
}

// logPluginError logs a plugin failure with the guest's stderr tail, which clients never see.
func (g *Gateway) logPluginError(c *call, err error) {
	var pe *plugin.Error
	if ok := asPluginError(err, &pe); ok {
		if !pe.Trap && pe.Status > 0 && pe.Status < 500 {
			// The plugin refused the request on purpose: the client's error, not the plugin's.
			g.log.Info("plugin refused the request", "request_id", c.id, "plugin", pe.Plugin, "hook", pe.Hook, "status", pe.Status, "err", pe.Message)
			return
		}
		g.log.Error("plugin call failed", "request_id", c.id, "plugin", pe.Plugin, "hook", pe.Hook, "trap", pe.Trap, "err", pe.Message, "stderr", pe.Stderr)
		return
	}
	g.log.Error("plugin call failed", "request_id", c.id, "err", err)
}
