package server

import (
	"os"
	"runtime/debug"
	"strconv"
)

// ServeGCPercent is the collector's GOGC for tex serve when the
// environment sets none. The live heap of a server is mostly retained
// contacts and continuity memory, which change slowly, while every
// command allocates short-lived buffers; at Go's default (100) the
// collector's mark phases, which take a quarter of the CPU while they
// run, came every half second at 10,000 commands a second, and p99
// latency was 20-25% higher than at 400 (benchmarks/README.md). The price
// is a heap that may grow to five times the live data instead of two.
const ServeGCPercent = 400

// TuneGC applies ServeGCPercent unless GOGC is set. It returns the
// setting in force, as GOGC spells it, and a func that puts back the one
// it replaced.
func TuneGC() (setting string, undo func()) {
	if v := os.Getenv("GOGC"); v != "" {
		return v, func() {}
	}
	prev := debug.SetGCPercent(ServeGCPercent)
	return strconv.Itoa(ServeGCPercent), func() { debug.SetGCPercent(prev) }
}
