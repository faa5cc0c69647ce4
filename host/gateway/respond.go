package gateway

import (
	"net/http"
)

// finishStage is one stage of the response half: it reads what the attempts left in the call
// and changes nothing the client sees.
type finishStage struct {
	name string
	run  func(g *Gateway, c *call)
}

// accounting is the response half after the answer is written and flushed, in order. Each
// stage reads what the ones before it settled: settlement prices the usage the metrics and the
// access line then report (costMicros).
var accounting = [...]finishStage{
	{"cache_store", (*Gateway).storeAnswer},
	{"settle", (*Gateway).settle},
	{"metrics", (*Gateway).finishTelemetry},
	{"access_log", (*Gateway).logAccess},
	{"plugin_log", (*Gateway).queueLogs},
}

// respond is the response half of every path (a relayed body or stream, a native answer, a
// cache replay, an error, a passthrough): the answer is completed and flushed first, so that
// the client has it before any accounting runs, then the accounting stages run on this
// goroutine before the handler returns. The output policies ran before the answer was
// written (they may change or refuse it); the attempt's outcome was reported to the router
// as it came. A caller's next request on the same connection is read only once the handler
// returns, so it sees its reservation settled and its answer cached.
func (g *Gateway) respond(w http.ResponseWriter, c *call) {
	if c.answered {
		if d := c.dialect; d != nil && d.end != nil {
			d.end() // a bridged answer is converted and written by the dialect's writer
		}
		if g.stageHook != nil {
			g.stageHook("flush")
		}
		flushAnswer(w)
	}
	g.account(c)
}

// flushAnswer sends what the answer wrote. An answer of unknown length (a passthrough body,
// an error a dialect converted) is left to the server, which frames it with its length when
// the handler returns: flushing it now would turn it into a chunked one.
func flushAnswer(w http.ResponseWriter) {
	h := w.Header()
	if h.Get("Content-Length") != "" || h.Get("Content-Type") == "text/event-stream" {
		if f, ok := w.(http.Flusher); ok {
			f.Flush() // the gateway's own writers all flush; no controller to allocate
			return
		}
		_ = http.NewResponseController(w).Flush()
	}
}

// account runs the accounting stages in their order.
func (g *Gateway) account(c *call) {
	for i := range accounting {
		if g.stageHook != nil {
			g.stageHook(accounting[i].name)
		}
		accounting[i].run(g, c)
	}
}

// keepAnswer marks a complete, successful answer for the cache store stage: a body, or (nil)
// a stream's collected chunks. Nothing is stored while the client waits.
func (c *call) keepAnswer(body []byte) {
	c.keep, c.keepBody = true, body
}

// storeAnswer is the cache store stage: it keeps the answer keepAnswer marked.
func (g *Gateway) storeAnswer(c *call) {
	switch {
	case !c.keep:
	case c.keepBody != nil:
		g.cacheStore(c, c.keepBody, nil)
	default:
		g.cacheStore(c, nil, c.chunks)
	}
}
