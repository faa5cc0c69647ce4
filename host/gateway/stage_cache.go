package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/sluice-gw/sluice/host/cache"
	"github.com/sluice-gw/sluice/host/openai"
	"github.com/sluice-gw/sluice/host/provider"
)

// cacheFor returns the cache that applies to the request's router, or nil.
func (g *Gateway) cacheFor(c *call) *cache.Cache {
	if cc, ok := g.caches[c.router]; ok && c.router != "" {
		return cc
	}
	return g.caches[""]
}

// maxMetadata bounds the metadata object passed to a cache_key plugin (OpenAI allows 16 pairs
// of at most 64 + 512 characters).
const maxMetadata = 16 << 10

type cacheKeyOut struct {
	Key     string `json:"key"`
	Skip    bool   `json:"skip"`
	Buckets int    `json:"buckets"`
}

// serveFromCache looks the request up; on a hit it answers and returns true. On a miss it
// remembers the key and bucket so a complete answer is stored after the upstream call.
func (g *Gateway) serveFromCache(w http.ResponseWriter, c *call) (bool, *openai.Error) {
	cc := g.cacheFor(c)
	if cc == nil || c.endpoint == provider.Completions && c.stream {
		return false, nil
	}
	ctl := cc.Control(c.r.Header)
	if ctl.Bypass() {
		w.Header().Set(cache.HeaderStatus, cache.Bypass.String())
		c.cacheNote = "BYPASS"
		return false, nil
	}
	ns := ""
	if !g.cacheShared(c) {
		ns = c.ident.Team + "\x00" + c.ident.KeyID
	}
	model := c.router
	if model == "" {
		if ts := c.plan.Targets(); len(ts) > 0 {
			model = ts[0].Provider + "/" + ts[0].Model
		}
	}
	parts := cache.KeyParts{Endpoint: c.endpoint, Model: model, Namespace: ns, Seed: ctl.Seed, Ignore: cc.Policy().Ignore}
	raw := c.req.Raw
	if d := c.dialect; d != nil {
		// Keyed by what the client sent: fields a native upstream reads but the chat form
		// lacks (cache_control, beta features) must tell answers apart.
		parts.Endpoint, raw = d.name, d.body.Raw
	}
	key, ext, err := cache.KeyFor(raw, parts)
	if err != nil {
		return false, nil // an unkeyable body is served, not cached
	}
	kp := g.keyPlugin[c.router]
	if kp == nil {
		kp = g.keyPlugin[""]
	}
	if kp != nil {
		in := make([]byte, 0, 512+len(ext.LastUser)+len(ext.System))
		in = append(in, `{"meta":`...)
		in = append(in, g.metaJSON(c)...)
		in = append(in, `,"key":`...)
		in = strconv.AppendQuote(in, string(key))
		in = append(in, `,"last_user":`...)
		in = strconv.AppendQuote(in, ext.LastUser)
		in = append(in, `,"system":`...)
		in = strconv.AppendQuote(in, ext.System)
		// The request's metadata (OpenAI: string pairs) lets a plugin key by what the caller
		// declares, e.g. a template id, without the whole body crossing the ABI.
		if md, ok := c.req.Field("metadata"); ok && len(md) > 0 && md[0] == '{' && len(md) <= maxMetadata {
			in = append(in, `,"metadata":`...)
			in = append(in, md...)
		}
		in = append(in, '}')
		out, err := g.callPlugin(c, kp, "cache_key", in)
		if err != nil {
			g.logPluginError(c, err)
			return false, pluginError(err)
		}
		var ko cacheKeyOut
		if err := json.Unmarshal(out, &ko); err != nil {
			return false, openai.Errorf(502, "plugin_error", "plugin "+kp.Name()+" hook cache_key returned invalid JSON: "+err.Error())
		}
		if ko.Skip {
			w.Header().Set(cache.HeaderStatus, cache.Bypass.String())
			c.cacheNote = "BYPASS"
			return false, nil
		}
		if ko.Key != "" {
			key = cache.KeyFromPlugin(ko.Key, parts)
		}
		if ko.Buckets > 0 && c.r.Header.Get(cache.HeaderBuckets) == "" {
			ctl.Buckets = cc.Policy().BoundBuckets(ko.Buckets)
		}
	}
	res := cc.Lookup(c.r.Context(), key, ctl)
	c.cacheNote = res.Status.String()
	if res.Status != cache.Bypass {
		g.tel.RecordCache(res.Status == cache.Hit)
	}
	if res.Status != cache.Hit {
		c.cacheKey, c.cacheCtl, c.cacheBucket, c.cache = key, ctl, res.Bucket, cc
		res.SetHeaders(w.Header())
		c.collect = c.stream && ctl.Store
		return false, nil
	}
	var body []byte
	var chunks [][]byte
	if c.stream {
		chunks, err = res.Entry.AsChunks(c.req.IncludeUsage)
	} else if res.Entry.Stream() {
		body, err = res.Entry.AsCompletion()
	} else {
		body = res.Entry.Body
	}
	if err != nil {
		c.cacheNote = "MISS"
		return false, nil // e.g. a stored stream of a text completion: serve upstream instead
	}
	c.cacheHit, c.status = true, 200
	c.provider, c.model = "cache", res.Entry.Model
	u := res.Entry.Usage
	c.usage = &openai.Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
	h := w.Header()
	res.SetHeaders(h)
	h.Set("X-Sluice-Provider", "cache")
	g.limitHeaders(w, c)
	if c.stream {
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		w.WriteHeader(200)
		c.ttft = time.Since(c.start)
		if err := cache.WriteSSE(c.r.Context(), w, chunks, g.cfg.Cache.ReplayPace.D()); err != nil {
			c.status, c.errMsg = 499, "client went away during cache replay"
		}
		return true, nil
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(200)
	_, _ = w.Write(body)
	return true, nil
}

func (g *Gateway) cacheShared(c *call) bool {
	if rc, ok := g.cfg.Routers[c.router]; ok && rc.Cache != nil {
		return rc.Cache.SharedAcross
	}
	return g.cfg.Cache.SharedAcross
}

// cacheStore keeps a complete, successful answer: a body, or a stream's chunks.
func (g *Gateway) cacheStore(c *call, body []byte, chunks [][]byte) {
	if c.cache == nil || !c.cacheCtl.Store {
		return
	}
	e := &cache.Entry{Created: time.Now(), Model: c.model, ContentType: "application/json", Body: body, Chunks: chunks}
	if c.usage != nil {
		e.Usage = cache.Usage{PromptTokens: c.usage.PromptTokens, CompletionTokens: c.usage.CompletionTokens, TotalTokens: c.usage.TotalTokens}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := c.cache.Store(ctx, c.cacheKey, c.cacheBucket, e, c.cacheCtl); err != nil {
		g.log.Debug("response not cached", "request_id", c.id, "reason", err)
	}
}

// streamRecorder copies the chunks of a stream that may be cached.
func (c *call) record(chunk []byte) {
	if c.collect {
		c.chunks = append(c.chunks, append([]byte(nil), chunk...))
	}
}
