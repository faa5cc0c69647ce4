package main

import (
	"encoding/json"
	"fmt"
)

// The dialect scenarios measure the Responses API (POST /v1/responses) and the Messages API
// (POST /v1/messages) against chat completions, with the same ~1 KB reply:
//
//   - native: the upstream speaks the dialect (an OpenAI fake with native = ["responses"], an
//     Anthropic-format fake), so sluice passes the body through with the model rewritten and
//     relays the answer. DIRECT is the same request sent straight to the fake, so "added" is
//     what sluice adds, comparable with the core scenario's.
//   - bridged: the upstream serves chat completions only (a fake that answers 404 on
//     /v1/responses, native = []), so the request is converted to chat and the answer back.
//     DIRECT is the core chat request to the same fake: the upstream does the same work, and
//     "added" includes the bridge both ways.
//
// The native budgets compare with the chat scenario of the same load measured earlier in the
// same invocation (core, throughput, stream), so run those first:
//
//	sluicebench -no-process -scenarios core,throughput,stream,responses-native,responses-native-throughput,...
//
// Responses requests send store = false (as Codex CLI does): with store on, the fake keeps
// every response and sluice would add its own stored-response write.
func init() {
	body := []string{"-body-size", "1024"}
	streamed := []string{"-body-size", "1024", "-chunks", "20", "-chunk-delay", "1ms"}
	rate := func(o *Options) Load { return Load{Rate: o.Rate, Duration: o.Duration} }
	conns := func(o *Options) Load { return Load{Conns: o.Conns, Duration: o.Duration} }
	streamRate := func(o *Options) Load { return Load{Rate: o.StreamRate, Duration: o.Duration} }

	respNative := func(ups []string) string { return openAIProviderNative("up", ups[0], `["responses"]`) }
	respBridged := func(ups []string) string { return openAIProviderNative("up", ups[0], `[]`) }
	antNative := func(ups []string) string { return anthropicProvider("ant", ups[0]) }
	chatOnly := func(ups []string) string { return openAIProvider("up", ups[0]) }

	responses := func(stream bool) func(bool) Req {
		return func(through bool) Req { return responsesReq(through, "up/bench-model", stream) }
	}
	messages := func(stream bool) func(bool) Req {
		return func(through bool) Req { return messagesReq(through, "ant/bench-model", stream) }
	}
	// A bridged request's direct side is the chat request the upstream gets in its place.
	bridged := func(dialect func(bool) Req) func(bool) Req {
		return func(through bool) Req {
			if !through {
				return chatReq(false, "", dialect(true).Stream)
			}
			return dialect(true)
		}
	}

	register(&Scenario{
		Name: "responses-native", Area: AreaDialects,
		About:     "POST /v1/responses to an upstream that speaks it (native), ~1 KB reply, open loop at -rate",
		Upstreams: []Upstream{{Args: body}}, Config: respNative, Direct: 0, Request: responses(false), Load: rate,
		Budgets: func(o *Options, m *Measured) []Budget { return addedVs("core", m, 1.05) },
	})
	register(&Scenario{
		Name: "responses-native-throughput", Area: AreaDialects,
		About:     "POST /v1/responses, native, ~1 KB reply, closed loop with -conns connections",
		Upstreams: []Upstream{{Args: body}}, Config: respNative, Direct: 0, Request: responses(false), Load: conns,
		Budgets: func(o *Options, m *Measured) []Budget { return rpsVs("throughput", m, 0.95) },
	})
	register(&Scenario{
		Name: "responses-native-stream", Area: AreaDialects,
		About:     "streamed POST /v1/responses, native, 20 deltas 1 ms apart, open loop at -stream-rate",
		Upstreams: []Upstream{{Args: streamed}}, Config: respNative, Direct: 0, Request: responses(true), Load: streamRate,
		Budgets: func(o *Options, m *Measured) []Budget { return ttftVs("stream", m, 1.05) },
	})
	register(&Scenario{
		Name: "responses-bridged", Area: AreaDialects,
		About:     "POST /v1/responses to a chat-only upstream (bridged through chat), ~1 KB reply, open loop at -rate",
		Upstreams: []Upstream{{Args: append([]string{"-no-responses"}, body...)}}, Config: respBridged, Direct: 0,
		Request: bridged(responses(false)), Load: rate,
	})
	register(&Scenario{
		Name: "responses-bridged-stream", Area: AreaDialects,
		About:     "streamed POST /v1/responses, bridged through chat, 20 chunks 1 ms apart, open loop at -stream-rate",
		Upstreams: []Upstream{{Args: append([]string{"-no-responses"}, streamed...)}}, Config: respBridged, Direct: 0,
		Request: bridged(responses(true)), Load: streamRate,
	})
	register(&Scenario{
		Name: "messages-native", Area: AreaDialects,
		About:     "POST /v1/messages to an Anthropic-format upstream (native), ~1 KB reply, open loop at -rate",
		Upstreams: []Upstream{{Args: append([]string{"-format", "anthropic"}, body...)}}, Config: antNative, Direct: 0,
		Request: messages(false), Load: rate,
		Budgets: func(o *Options, m *Measured) []Budget { return addedVs("core", m, 1) },
	})
	register(&Scenario{
		Name: "messages-native-throughput", Area: AreaDialects,
		About:     "POST /v1/messages, native, ~1 KB reply, closed loop with -conns connections",
		Upstreams: []Upstream{{Args: append([]string{"-format", "anthropic"}, body...)}}, Config: antNative, Direct: 0,
		Request: messages(false), Load: conns,
		Budgets: func(o *Options, m *Measured) []Budget { return rpsVs("throughput", m, 1) },
	})
	register(&Scenario{
		Name: "messages-native-stream", Area: AreaDialects,
		About:     "streamed POST /v1/messages, native, 20 deltas 1 ms apart, open loop at -stream-rate",
		Upstreams: []Upstream{{Args: append([]string{"-format", "anthropic"}, streamed...)}}, Config: antNative, Direct: 0,
		Request: messages(true), Load: streamRate,
		Budgets: func(o *Options, m *Measured) []Budget { return ttftVs("stream", m, 1) },
	})
	register(&Scenario{
		Name: "messages-bridged", Area: AreaDialects,
		About:     "POST /v1/messages to an OpenAI-compatible upstream (bridged through chat), ~1 KB reply, open loop at -rate",
		Upstreams: []Upstream{{Args: body}}, Config: chatOnly, Direct: 0,
		Request: func(through bool) Req {
			if !through {
				return chatReq(false, "", false)
			}
			return messagesReq(true, "up/bench-model", false)
		},
		Load: rate,
	})
	register(&Scenario{
		Name: "messages-bridged-stream", Area: AreaDialects,
		About:     "streamed POST /v1/messages, bridged through chat, 20 chunks 1 ms apart, open loop at -stream-rate",
		Upstreams: []Upstream{{Args: streamed}}, Config: chatOnly, Direct: 0,
		Request: func(through bool) Req {
			if !through {
				return chatReq(false, "", true)
			}
			return messagesReq(true, "up/bench-model", true)
		},
		Load: streamRate,
	})
}

// ratio is a budget on value/ref: at most limit when atMostLimit, else at least limit.
func ratio(name string, value, ref, limit float64, atMostLimit bool) Budget {
	if ref <= 0 {
		return Budget{Name: name + " (reference not positive)", Limit: limit, Unit: "x", Op: "<=", Skipped: true}
	}
	if atMostLimit {
		return atMost(name, value/ref, limit, "x")
	}
	return atLeast(name, value/ref, limit, "x")
}

// reference is the chat scenario measured earlier in this invocation, or a skipped budget
// saying it was not.
func reference(name string) (*Measured, []Budget) {
	ref := measured[name]
	if ref == nil || ref.Through == nil || ref.Direct == nil {
		return nil, []Budget{{Name: fmt.Sprintf("vs %s (run %s first, with sluice)", name, name), Unit: "x", Op: "<=", Skipped: true}}
	}
	return ref, nil
}

// addedVs: added p50 and p99 at most limit times those of the chat scenario ref.
func addedVs(refName string, m *Measured, limit float64) []Budget {
	ref, skip := reference(refName)
	if ref == nil {
		return skip
	}
	return []Budget{
		ratio(fmt.Sprintf("added p50 / %s's (%s vs %s ms)", refName, signedMS(m.AddedP50), signedMS(ref.AddedP50)), m.AddedP50, ref.AddedP50, limit, true),
		ratio(fmt.Sprintf("added p99 / %s's (%s vs %s ms)", refName, signedMS(m.AddedP99), signedMS(ref.AddedP99)), m.AddedP99, ref.AddedP99, limit, true),
	}
}

// rpsVs compares closed-loop capacity with the chat scenario ref: req/s through sluice per core
// sluice used, at least limit times ref's. The raw req/s are in the table, but on a shared
// machine they also move with what the fake upstream and the load generator take from the
// same cores (the Responses fake renders a larger object, more slowly, than the chat fake), so
// the budget is on sluice's own CPU per request.
func rpsVs(refName string, m *Measured, limit float64) []Budget {
	ref, skip := reference(refName)
	if ref == nil {
		return skip
	}
	mc, rc := cpuPerRequest(m), cpuPerRequest(ref)
	if mc <= 0 || rc <= 0 {
		return []Budget{{Name: "req/s per sluice core (no CPU figure)", Unit: "x", Op: ">=", Limit: limit, Skipped: true}}
	}
	return []Budget{ratio(fmt.Sprintf("req/s per sluice core / %s's (%.0f vs %.0f µs CPU per request; raw %.0f vs %.0f req/s)", refName, mc, rc, m.Through.RPS, ref.Through.RPS), 1/mc, 1/rc, limit, false)}
}

// ttftVs: added TTFT p50 and p99 at most limit times those of the chat stream scenario ref.
func ttftVs(refName string, m *Measured, limit float64) []Budget {
	ref, skip := reference(refName)
	if ref == nil {
		return skip
	}
	return []Budget{
		ratio(fmt.Sprintf("added TTFT p50 / %s's (%s vs %s ms)", refName, signedMS(m.AddedTTFTP50), signedMS(ref.AddedTTFTP50)), m.AddedTTFTP50, ref.AddedTTFTP50, limit, true),
		ratio(fmt.Sprintf("added TTFT p99 / %s's (%s vs %s ms)", refName, signedMS(m.AddedTTFTP99), signedMS(ref.AddedTTFTP99)), m.AddedTTFTP99, ref.AddedTTFTP99, limit, true),
	}
}

// openAIProviderNative is an OpenAI-compatible provider with its native list set.
func openAIProviderNative(name, addr, native string) string {
	return fmt.Sprintf("[providers.%s]\nkind = \"openai\"\nbase_url = \"http://%s/v1\"\napi_key = \"bench\"\nnative = %s\n\n", name, addr, native)
}

// anthropicProvider is an Anthropic provider at addr (it speaks the Messages API natively).
func anthropicProvider(name, addr string) string {
	return fmt.Sprintf("[providers.%s]\nkind = \"anthropic\"\nbase_url = \"http://%s\"\napi_key = \"bench\"\n\n", name, addr)
}

// responsesReq is the core request in the Responses API: the model is "bench-model" direct
// and model through sluice.
func responsesReq(through bool, model string, stream bool) Req {
	if !through {
		model = "bench-model"
	}
	body := map[string]any{
		"model":             model,
		"instructions":      "You are terse.",
		"input":             []map[string]string{{"type": "message", "role": "user", "content": "Summarise the benchmark in one paragraph, please."}},
		"max_output_tokens": 256,
		"store":             false,
	}
	if stream {
		body["stream"] = true
	}
	return Req{Path: "/v1/responses", Body: mustMarshal(body), Stream: stream, EndEvent: "response.completed"}
}

// messagesReq is the core request in the Messages API, with the headers an Anthropic client
// sends (the key is the fake's; sluice ignores it with auth off and uses the provider's).
func messagesReq(through bool, model string, stream bool) Req {
	if !through {
		model = "bench-model"
	}
	body := map[string]any{
		"model":      model,
		"system":     "You are terse.",
		"messages":   []map[string]string{{"role": "user", "content": "Summarise the benchmark in one paragraph, please."}},
		"max_tokens": 256,
	}
	if stream {
		body["stream"] = true
	}
	return Req{Path: "/v1/messages", Body: mustMarshal(body), Stream: stream, EndEvent: "message_stop",
		Header: map[string]string{"anthropic-version": "2023-06-01", "x-api-key": "bench"}}
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
