// Package balance owns target selection for sluice routers.
//
// It keeps the live state of every upstream target (PeakEWMA latency,
// in-flight count, passive health over a sliding window, ejection with
// half-open recovery, 429 cooling, optional active probes), orders a router's
// targets with a strategy (latency, weighted, round_robin, least_busy,
// priority, cost, or a route plugin), and hands the gateway a Plan for one
// request: an ordered sequence of attempts with failover, backoff and a retry
// budget.
//
// The package performs no I/O. The gateway sends each attempt itself and
// reports its Outcome back to the Plan; that report is the only input the
// health, latency and budget machinery learns from (besides probes, which the
// gateway implements as a Prober and this package schedules).
//
// Target state is shared through a Registry: routers built with the same
// Registry and the same health/latency tuning share the state of a
// provider/model pair, so failures learned by one router steer the others.
//
// Choices worth knowing:
//   - Failover to a target the request has not tried goes at once; only a
//     repeat of a tried target waits (full jitter). A different upstream is
//     an independent failure domain, so waiting would only add latency; the
//     retry budget, not the backoff, is what protects upstreams in an outage.
//   - A 4xx counts as a healthy answer (the request was at fault); a 429
//     counts as neither, it cools the target for its Retry-After instead.
//   - The PeakEWMA estimate decays toward zero while a target gets no
//     samples, so a target that was slow once is retried now and then and
//     can show it recovered.
//   - Panic mode: when no candidate is healthy every candidate is planned,
//     and a success there closes that target's circuit at once.
package balance
