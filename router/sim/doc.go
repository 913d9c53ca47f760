// Package sim is the planners' simulator and queueing calculator. It drives
// the real routing core (package router, the code `tex serve` runs) on
// virtual time with Poisson arrivals, random handle, wrap and patience
// times, repeat callers, abandonment and callbacks, and measures what
// planners ask about: service level, speed of answer, home-team share,
// agent continuity, callbacks and the accuracy of the EWT. It also holds the
// Erlang B, C and A formulas the simulator is checked against.
//
// It is not a second router: every routing decision, including the
// longest_idle and pooled baselines, is made by router.Core. The simulator
// only plays the callers and the agents, single-threaded and deterministic
// for a given seed. It never reads the wall clock except to report its own
// speed.
package sim
