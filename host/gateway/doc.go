// Package gateway owns the client-facing HTTP surface: the routes, the ordered pipeline one
// request goes through (parse, auth, policy, rate limit, cache, balance, provider attempts,
// response policy, settlement, log), and the OpenAI-shaped errors clients see. Each stage is
// built elsewhere and handed in; this package only orders and connects them.
package gateway
