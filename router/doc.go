// Package router is the routing core: a deterministic state machine that
// takes commands (route a contact, an agent's state change, a contact event,
// a tick) with an explicit time, and returns replies and events.
//
// It never reads the wall clock, starts goroutines or does I/O: the same
// commands at the same times give the same decisions, so the live server,
// the tests and the simulator all run this one core. Its hot state (agent
// availability, offers, queues, continuity memory) lives in plain structures;
// readers get copies through TakeChanges, never a lock on the core. A Core
// owns one routing group and has a single writer. Snapshot and Restore
// save and rebuild its whole state, also into an org whose agents or
// decide-time settings changed since (migrate.go).
package router
