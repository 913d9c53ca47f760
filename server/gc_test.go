package server

import (
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	t.Setenv("GOGC", "")
	before := debug.SetGCPercent(123)
	defer debug.SetGCPercent(before)
	setting, undo := TuneGC()
	if got := debug.SetGCPercent(ServeGCPercent); setting != "400" || got != ServeGCPercent {
		t.Errorf("TuneGC set %d and said %q, want 400", got, setting)
	}
	undo()
	if got := debug.SetGCPercent(123); got != 123 {
		t.Errorf("undo left %d, want 123", got)
	}
	// An operator's GOGC wins, and nothing is changed.
	t.Setenv("GOGC", "50")
	setting, undo = TuneGC()
	undo()
	if got := debug.SetGCPercent(123); setting != "50" || got != 123 {
		t.Errorf("with GOGC=50: said %q, left %d; want 50 and 123 untouched", setting, got)
	}
}
