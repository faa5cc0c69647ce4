// Package fakeprovider runs fake LLM providers on real sockets for the project's tests.
//
// Each fake is a real HTTP server on 127.0.0.1 that speaks one provider's wire format:
//
//   - NewOpenAI: /v1/chat/completions (JSON and SSE), /v1/completions, /v1/embeddings,
//     /v1/models, the Responses API (POST /v1/responses as JSON or its SSE event sequence,
//     GET and DELETE /v1/responses/{id}, /input_items, /cancel, with store semantics and
//     previous_response_id; WithoutResponses turns it off), and a catch-all that echoes any
//     other path (passthrough endpoints).
//   - NewAnthropic: /v1/messages, validated against the Messages API schema (prompt-cache
//     breakpoints answered as a cache would, writes first and reads after; thinking blocks
//     accepted back only with the signature this server issued for that text), and
//     /v1/messages/count_tokens, validated alike and answered {"input_tokens": words}.
//   - NewGemini: /v1beta/models/{model}:generateContent and :streamGenerateContent, and
//     :countTokens (contents, or a generateContentRequest naming its model), answered
//     {"totalTokens": words}.
//   - NewBedrock: /model/{id}/converse and /model/{id}/converse-stream (AWS event stream),
//     and, for Claude models, /model/{id}/invoke and /model/{id}/invoke-with-response-stream
//     with Anthropic's Messages body (anthropic_version "bedrock-2023-05-31") and Anthropic's
//     events base64-wrapped in chunk events; the SigV4 Authorization header checked and,
//     given credentials, fully verified.
//
// Every server records what it received (method, path, query, headers, body) in order,
// answers by default with a reply derived from the request (the last user text echoed back,
// deterministic ids, token counts equal to word counts), and can be scripted with Reply
// values: a FIFO queue (Enqueue) consulted first, then a function (Script), then the default.
// A Reply can carry a status (the error body is rendered in the provider's own error shape),
// headers such as Retry-After, verbatim bodies or stream chunks, delays, and a Fault:
// a connection reset, a hang until the client leaves, or a stream cut after N chunks.
//
// Requests a fake's validator rejects are still recorded, with Received.Invalid set to the
// message the client was sent, so a test can assert that a translator produced a valid body:
//
//	up := fakeprovider.NewAnthropic(t, fakeprovider.WithKey("sk-ant"))
//	// ... point the gateway at up.URL, send a request through it ...
//	got := up.Requests()
//	if len(got) != 1 || got[0].Invalid != "" {
//		t.Fatalf("upstream saw %+v", got)
//	}
//
// Faults are scripted per request:
//
//	up := fakeprovider.NewOpenAI(t)
//	up.Enqueue(fakeprovider.RetryAfter(2*time.Second), fakeprovider.Reply{Fault: fakeprovider.CutAfter(3)})
//
// The first request gets a 429 with Retry-After: 2, the second (a stream) three chunks and
// then a closed connection without the [DONE] line; later requests get the default reply.
//
// Start runs a server without a testing.TB (cmd/fakeupstream uses it); the caller closes it.
package fakeprovider
