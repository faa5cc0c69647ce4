package gateway

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-gw/sluice/host/cache"
	"github.com/sluice-gw/sluice/host/openai"
	"github.com/sluice-gw/sluice/host/plugin"
	"github.com/sluice-gw/sluice/host/provider"
	"github.com/sluice-gw/sluice/sdk/abi"
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
	// A client's own provider key is part of the namespace even when the cache is shared
	// across tenants: its answers were paid for by that client's account.
	ns += c.byokNamespace()
	model := c.router
	if model == "" {
		if ts := c.plan.Targets(); len(ts) > 0 {
			model = ts[0].Provider + "/" + ts[0].Model
		}
	}
	if c.az.filtered {
		// The caller may use only some of the router's targets: never serve it an answer one
		// of the others produced.
		model += "\x00" + strings.Join(c.az.allowed, ",")
	}
	parts := cache.KeyParts{Endpoint: c.endpoint, Model: model, Namespace: ns, Seed: ctl.Seed, Ignore: cc.Policy().Ignore}
	raw := c.req.Raw
	if d := c.dialect; d != nil {
		// Keyed by what the client sent: fields a native upstream reads but the chat form
		// lacks (cache_control, beta features) must tell answers apart.
		// A native entry replays only in the shape it was stored (a body or a stream), so the
		// two are kept apart; a chat-shaped entry would convert, but the dialect cannot tell
		// before the lookup which kind it will find.
		parts.Endpoint, raw = d.name, d.body.Raw
		if c.stream {
			parts.Endpoint += ".stream"
		}
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
		ckin := &plugin.CacheKeyInput{Key: string(key), LastUser: ext.LastUser, System: ext.System, RequestState: c.stateOf(kp)}
		// The request's metadata (OpenAI: string pairs) lets a plugin key by what the caller
		// declares, e.g. a template id, without the whole body crossing the ABI.
		if md, ok := c.req.Field("metadata"); ok && len(md) <= maxMetadata {
			ckin.Metadata = md
		}
		ctx, done := g.pluginSpan(c, kp, abi.HookCacheKey)
		ko, err := kp.CacheKey(ctx, g.meta(c), ckin)
		done(err)
		if err != nil {
			g.logPluginError(c, err)
			return false, pluginError(err)
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
	if res.Status == cache.Hit && c.dialect != nil && res.Entry.ContentType == nativeContentType(c.dialect.name) && c.stream != res.Entry.Stream() {
		res.Status = cache.Miss // kept apart by the key; only an entry stored before that rule gets here
		c.cacheNote = res.Status.String()
	}
	if res.Status != cache.Hit {
		c.cacheKey, c.cacheCtl, c.cacheBucket, c.cache = key, ctl, res.Bucket, cc
		res.SetHeaders(w.Header())
		c.collect = c.stream && ctl.Store
		c.collectMax = cc.Policy().MaxEntryBytes
		if c.collectMax <= 0 {
			c.collectMax = maxCollect
		}
		return false, nil
	}
	if d := c.dialect; d != nil && res.Entry.ContentType == nativeContentType(d.name) {
		return g.replayNative(w, c, res)
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
	c.provider, c.model = "cache", res.Entry.Model
	if g.checksResponses() {
		// A cached answer is checked again before it is sent: policies may have changed since
		// it was stored, or it was stored by a replica without them.
		var e *openai.Error
		if body, chunks, e = g.replayPolicies(c, res.Entry, body, chunks); e != nil {
			c.provider, c.model = "", ""
			return false, e
		}
	}
	if c.stream && len(g.streamGuards) > 0 {
		// A replayed stream is one batch for the stream policies.
		var e *openai.Error
		if chunks, e = g.guardBatch(c, make([][]byte, len(g.streamGuards)), chunks, true); e != nil {
			c.provider, c.model = "", ""
			return false, e
		}
	}
	c.cacheHit, c.status = true, 200
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
		if len(chunks) > 0 {
			c.noteFirstEvent(chunks[0])
		}
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
	if c.collectOver {
		g.log.Debug("response not cached", "request_id", c.id, "reason", "stream larger than the cache's max entry size")
		return
	}
	ct := "application/json"
	if c.dialect != nil && c.dialect.native {
		ct = nativeContentType(c.dialect.name)
	}
	e := &cache.Entry{Created: time.Now(), Model: c.model, ContentType: ct, Body: body, Chunks: chunks}
	if c.usage != nil {
		e.Usage = cache.Usage{PromptTokens: c.usage.PromptTokens, CompletionTokens: c.usage.CompletionTokens, TotalTokens: c.usage.TotalTokens}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := c.cache.Store(ctx, c.cacheKey, c.cacheBucket, e, c.cacheCtl); err != nil {
		g.log.Debug("response not cached", "request_id", c.id, "reason", err)
	}
}

// maxCollect bounds the chunks kept for a stream's cache entry when the cache sets no
// max_entry_size (the bound on a non-streamed upstream body).
const maxCollect = 64 << 20

// record copies a chunk of a stream that may be cached. The entry's size is checked as chunks
// arrive: once it passes the cache's max entry size the copies are dropped at once, instead of
// being held to the end of the stream only for Store to refuse them.
// nativeContentType marks a cache entry that holds a native answer in a dialect's own shape
// (a body, or a stream's events as SSE frames) rather than a chat completion.
func nativeContentType(dialect string) string { return "application/x-sluice-native-" + dialect }

// replayNative answers a dialect request from a native entry exactly as the upstream sent it.
// A stored stream answers only streams and a stored body only non-streamed requests: the other
// pairing is a miss, served upstream (the shapes do not convert without the bridge).
func (g *Gateway) replayNative(w http.ResponseWriter, c *call, res cache.Result) (bool, *openai.Error) {
	e := res.Entry
	c.dialect.native = true
	c.cacheHit, c.status = true, 200
	c.provider, c.model = "cache", e.Model
	u := e.Usage
	c.usage = &openai.Usage{PromptTokens: u.PromptTokens, CompletionTokens: u.CompletionTokens, TotalTokens: u.TotalTokens}
	h := w.Header()
	res.SetHeaders(h)
	h.Set("X-Sluice-Provider", "cache")
	g.limitHeaders(w, c)
	if !c.stream {
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(e.Body)))
		w.WriteHeader(200)
		_, _ = w.Write(e.Body)
		return true, nil
	}
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(200)
	c.ttft = time.Since(c.start)
	if len(e.Chunks) > 0 {
		c.noteFirstEvent(e.Chunks[0])
	}
	n := 0
	for _, f := range e.Chunks {
		n += len(f) + 2
	}
	buf := make([]byte, 0, n)
	for _, f := range e.Chunks {
		buf = append(append(buf, f...), '\n', '\n')
	}
	if _, err := w.Write(buf); err != nil {
		c.status, c.errMsg = 499, "client went away during cache replay"
		return true, nil
	}
	_ = http.NewResponseController(w).Flush()
	return true, nil
}

func (c *call) record(chunk []byte) {
	if !c.collect {
		return
	}
	// The same accounting as cache.Entry.Size.
	c.chunkBytes += 24 + len(chunk)
	if 96+len(c.model)+len("application/json")+c.chunkBytes > c.collectMax {
		c.collect, c.collectOver, c.chunks = false, true, nil
		return
	}
	c.chunks = append(c.chunks, append([]byte(nil), chunk...))
}

// replayPolicies runs on_response over a cache hit before it is sent: over the body, or for a
// streamed replay over the entry assembled into one answer (a rewrite is re-split into chunks).
func (g *Gateway) replayPolicies(c *call, e *cache.Entry, body []byte, chunks [][]byte) ([]byte, [][]byte, *openai.Error) {
	if !c.stream {
		nb, perr := g.responsePolicies(c, 200, body)
		return nb, nil, perr
	}
	whole, err := e.AsCompletion()
	if err != nil {
		return nil, nil, openai.Errorf(502, openai.CodePolicyUnsupported, "the cached answer could not be assembled for on_response policies: "+err.Error())
	}
	nb, perr := g.responsePolicies(c, 200, whole)
	if perr != nil {
		return nil, nil, perr
	}
	if bytes.Equal(nb, whole) {
		return nil, chunks, nil
	}
	out, err := (&cache.Entry{Model: e.Model, Body: nb, Usage: e.Usage}).AsChunks(c.req.IncludeUsage)
	if err != nil {
		return nil, nil, openai.Errorf(502, openai.CodePluginError, "an on_response policy rewrote the cached answer into something that is not a chat.completion: "+err.Error())
	}
	return nil, out, nil
}
