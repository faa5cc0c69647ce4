// Package gateway owns the client-facing HTTP surface: the routes, the ordered pipeline one
// request goes through, and the OpenAI-shaped errors clients see. Each stage is built
// elsewhere and handed in; this package only orders and connects them.
//
// The request half (serveAPI) runs, in order: read and check the body, auth (identify),
// request policies (on_request; one may answer the request itself, which ends the request
// half there, see serveAnswer), resolve the router, authorize the caller for its targets,
// plan the targets (balance), rate-limit admission (a reservation), the cache lookup (a hit
// answers here), then dispatch: the plan's attempts, each one sent, its outcome reported to
// the router, and on success relayed. Output policies (on_response) run inside the relay,
// before the answer is written, since they may rewrite or refuse it; stream policies
// (on_stream) see a stream's chunks batch by batch as they arrive, before the client does.
//
// The response half (respond) is the same for every path: a relayed body or stream, a native
// answer, a cache replay, an error, a passthrough. The answer is completed (a dialect's writer
// converts a bridged body) and flushed, so the client has it; then the accounting stages run
// in this order: cache store, settlement of the reservation, metrics and the request span,
// the access log line, then the on_log records handed to each plugin's own queue (see
// accounting in respond.go): on_log runs off the request path.
package gateway
