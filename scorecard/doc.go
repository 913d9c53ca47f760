// Package scorecard computes the balanced scorecard of DESIGN.md: metrics per
// agent and per team over a day, an ISO week, a month or any range of days,
// mapped to 0-100 scores, shrunk toward the team for small samples, and
// blended with the team's score. It reads ResolvedContact and Survey events
// from the JetStream stream TEX_EVENTS through a durable consumer,
// aggregates them idempotently by contact_id (so duplicates, late and
// out-of-order events give the same result), snapshots its state to a
// JetStream object store, and answers queries and HR exports over NATS and
// HTTP.
//
// The computation (Aggregator) is pure: it never reads the wall clock, and
// "now" (which decides whether FCR is still provisional) is an argument.
// Service is the shell that binds it to NATS. The package is not the router
// and never publishes events of its own. The attribution rules are in
// docs/scorecard.md.
package scorecard
