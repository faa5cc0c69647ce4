package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/sluice-gw/sluice/host/plugin"
	"github.com/sluice-gw/sluice/host/telemetry"
	"github.com/sluice-gw/sluice/sdk/abi"
)

// on_log runs after each response, off the request path: the accounting stage queues a record
// per plugin and returns; each plugin's own worker calls the hook. A full queue drops the
// record (counted in sluice_plugin_log_dropped_total) rather than make a request wait, and
// Close drains what is queued.

const (
	logQueueLen  = 1024
	logDrainWait = 5 * time.Second
	logTimeout   = 10 * time.Second // the plugin's own deadline applies too
)

// logJob is one on_log call: everything it needs, copied out of the call.
type logJob struct {
	meta  *plugin.Meta
	state []byte
	in    plugin.LogInput
}

// logQueue is one plugin's bounded queue and its worker.
type logQueue struct {
	p      *plugin.Plugin
	g      *Gateway
	mu     sync.RWMutex // held for reading by senders; Close takes it to close jobs
	closed bool
	jobs   chan logJob
	done   chan struct{}
}

func (g *Gateway) newLogQueue(p *plugin.Plugin) *logQueue {
	q := &logQueue{p: p, g: g, jobs: make(chan logJob, logQueueLen), done: make(chan struct{})}
	go q.run()
	return q
}

func (q *logQueue) run() {
	defer close(q.done)
	for j := range q.jobs {
		if !q.p.Has(abi.HookOnLog) {
			continue // reloaded into a version without on_log
		}
		ctx, cancel := context.WithTimeout(context.Background(), logTimeout)
		start := time.Now()
		err := q.p.OnLog(ctx, j.meta, j.state, &j.in)
		cancel()
		var pe *plugin.Error
		trap := err != nil && asPluginError(err, &pe) && pe.Trap
		q.g.tel.RecordPlugin(telemetry.PluginRecord{Plugin: q.p.Name(), Hook: abi.HookOnLog, Duration: time.Since(start), Err: err != nil, Trap: trap})
		if err != nil {
			q.g.log.Warn("plugin on_log failed", "request_id", j.meta.RequestID, "plugin", q.p.Name(), "err", err)
		}
	}
}

// push queues j without waiting; false when the queue is full or closed.
func (q *logQueue) push(j logJob) bool {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return false
	}
	select {
	case q.jobs <- j:
		return true
	default:
		return false
	}
}

// close stops taking records and waits (bounded) for the queued ones to be delivered.
func (q *logQueue) close(wait time.Duration) {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.jobs)
	}
	q.mu.Unlock()
	select {
	case <-q.done:
	case <-time.After(wait):
	}
}

// drainLogs closes every on_log queue, delivering what was queued.
func (g *Gateway) drainLogs() {
	for _, q := range g.logQueues {
		q.close(logDrainWait)
	}
}

// queueLogs is the accounting stage after the access log: it hands the request's record to
// each on_log plugin's queue.
func (g *Gateway) queueLogs(c *call) {
	if len(g.logQueues) == 0 || c.req == nil {
		return
	}
	in := g.logInput(c)
	m := g.meta(c)
	for _, q := range g.logQueues {
		if !q.push(logJob{meta: m, state: c.stateOf(q.p), in: in}) {
			g.tel.RecordPluginLogDropped(q.p.Name())
		}
	}
}

// logInput is what on_log reports about the call.
func (g *Gateway) logInput(c *call) plugin.LogInput {
	in := plugin.LogInput{
		Status: c.status, Outcome: logOutcome(c), Provider: c.provider, Model: c.model, Target: c.target,
		Attempts: c.attempts, CostUSD: g.costUSD(c), LatencyMs: since(c.start), Error: c.errMsg, Cache: c.cacheNote,
	}
	if c.ttft > 0 {
		in.TTFTMs = float64(c.ttft.Microseconds()) / 1000
	}
	if u := c.usage; u != nil {
		in.Usage = &plugin.LogUsage{Prompt: u.PromptTokens, Completion: u.CompletionTokens, Cached: u.CachedTokens,
			CacheWrite: u.CacheCreationTokens}
	}
	return in
}

// logOutcome names what became of the request.
func logOutcome(c *call) string {
	switch {
	case c.served != "":
		return "plugin"
	case c.cacheHit:
		return "cache_hit"
	case c.status == 499:
		return "canceled"
	case c.rejected:
		return "rejected"
	case c.status >= 400 || c.status == 0:
		return "error"
	}
	return "ok"
}
