package envelope

// Envelopes of the v1 additions (sdk/ABI.md, section 5.2): on_stream and on_log, and the
// request_state every later hook of a request gets.

// requestState writes "request_state" when the plugin kept one for the request.
func (w *writer) requestState(state []byte) {
	if len(state) == 0 {
		return
	}
	w.Key("request_state")
	w.json(state)
}

// OnStream appends the on_stream hook's input:
// {"meta":META,"request_state":..,"state":<JSON|null>,"chunks":[...],"done":bool}.
func OnStream(buf []byte, m *Meta, requestState, state []byte, chunks [][]byte, done bool) []byte {
	w := newWriter(buf)
	w.ObjectStart()
	w.Key("meta")
	w.meta(m)
	w.requestState(requestState)
	w.Key("state")
	if len(state) == 0 {
		w.Null()
	} else {
		w.json(state)
	}
	w.Key("chunks")
	w.ArrayStart()
	for _, c := range chunks {
		w.json(c)
	}
	w.ArrayEnd()
	w.Key("done")
	w.Bool(done)
	w.ObjectEnd()
	return w.Bytes()
}

// Usage is the token usage on_log reports.
type Usage struct {
	Prompt, Completion, Cached, CacheWrite, Reasoning int64
}

// Log is what on_log reports about one finished request.
type Log struct {
	Status    int
	Outcome   string // ok, error, rejected, cache_hit, canceled, plugin
	Provider  string
	Model     string
	Target    string
	Attempts  int
	Usage     *Usage // nil when unknown
	CostUSD   float64
	LatencyMs float64
	TTFTMs    float64 // 0 when not streamed
	Error     string
	Cache     string
}

// OnLog appends the on_log hook's input.
func OnLog(buf []byte, m *Meta, requestState []byte, l *Log) []byte {
	w := newWriter(buf)
	w.ObjectStart()
	w.Key("meta")
	w.meta(m)
	w.requestState(requestState)
	w.Key("status")
	w.Int(int64(l.Status))
	w.Key("outcome")
	w.String(l.Outcome)
	w.Key("provider")
	w.String(l.Provider)
	w.Key("model")
	w.String(l.Model)
	w.Key("target")
	w.String(l.Target)
	w.Key("attempts")
	w.Int(int64(l.Attempts))
	w.Key("usage")
	if u := l.Usage; u != nil {
		w.ObjectStart()
		w.Key("prompt_tokens")
		w.Int(u.Prompt)
		w.Key("completion_tokens")
		w.Int(u.Completion)
		w.Key("cached_tokens")
		w.Int(u.Cached)
		w.Key("cache_write_tokens")
		w.Int(u.CacheWrite)
		w.Key("reasoning_tokens")
		w.Int(u.Reasoning)
		w.ObjectEnd()
	} else {
		w.Null()
	}
	w.Key("cost_usd")
	w.Float(l.CostUSD)
	w.Key("latency_ms")
	w.Float(l.LatencyMs)
	w.Key("ttft_ms")
	w.Float(l.TTFTMs)
	w.Key("error")
	w.String(l.Error)
	w.Key("cache")
	w.String(l.Cache)
	w.ObjectEnd()
	return w.Bytes()
}
