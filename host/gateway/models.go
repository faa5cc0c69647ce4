package gateway

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/sluice-gw/sluice/host/openai"
	"github.com/sluice-gw/sluice/sdk/jsonx"
)

// models lists what a client may name as model: routers, aliases and each provider's
// configured models as provider/model.
func (g *Gateway) models(w http.ResponseWriter, r *http.Request) {
	created := time.Now().Unix()
	b := make([]byte, 0, 2048)
	b = append(b, `{"object":"list","data":[`...)
	n := 0
	add := func(id, owner string) {
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = append(b, `{"id":`...)
		b = jsonx.AppendString(b, id)
		b = append(b, `,"object":"model","created":`...)
		b = strconv.AppendInt(b, created, 10)
		b = append(b, `,"owned_by":`...)
		b = jsonx.AppendString(b, owner)
		b = append(b, '}')
	}
	if rn := mux.Vars(r)["router"]; rn != "" {
		rc, ok := g.cfg.Routers[rn]
		if !ok {
			g.notFoundRouter(w, rn)
			return
		}
		for _, t := range rc.Targets {
			add(t.Model, "router:"+rn)
		}
	} else {
		for _, name := range sortedNames(g.cfg.Routers) {
			add(name, "router")
		}
		for _, name := range sortedNames(g.cfg.Aliases) {
			add(name, "alias")
		}
		for _, name := range sortedNames(g.providers) {
			p := g.providers[name]
			if p.Unavailable() != "" {
				continue
			}
			for _, m := range p.Models {
				add(name+"/"+m, name)
			}
		}
	}
	b = append(b, "]}\n"...)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (g *Gateway) notFoundRouter(w http.ResponseWriter, name string) {
	openai.Errorf(404, "router_not_found", "router \""+name+"\" is not configured").Write(w)
}
