// Package server is the service shell around the routing core: it binds
// router.Core to NATS subjects and HTTP routes, owns real time (ticks),
// journals every accepted command to JetStream before it replies, publishes
// the core's events to the TEX_EVENTS stream, copies live state into the
// teams store for readers, and serves reads, metrics and the scorecard. A
// routing lease in JetStream keeps one writer per group when several tex
// share a NATS; the others wait as standbys.
//
// It is not the routing logic (router/) nor the read model (teams/): it
// holds no routing rule of its own. One goroutine, the writer, owns the
// core; everything else talks to it through a channel. docs/serve.md
// describes the subjects, endpoints, journal and restart.
package server
