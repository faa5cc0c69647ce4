// Package openai owns the OpenAI wire format as the gateway sees it: the error object every
// client receives, a single-pass scan of a request body for the fields the pipeline needs
// (model, stream, limits, a token estimate), in-place edits of those fields without
// re-encoding the body, and usage extraction from responses and stream chunks.
package openai
