// Package provider owns the upstream side of a call: one Provider per configured endpoint with
// its tuned HTTP transport, credentials (bearer, x-api-key, api-key, x-goog-api-key, AWS SigV4),
// URL layout (OpenAI-compatible, Azure deployments, translator-chosen paths), and the optional
// translator that turns OpenAI requests into the provider's wire format and its responses and
// stream events (SSE or AWS event-stream) back into OpenAI shape.
package provider
