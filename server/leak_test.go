package server

import (
	"bytes"
	"context"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"
)

// TestNoGoroutineLeak starts a server, drives a contact through it, and
// shuts it down, then a second one that is killed: afterwards the
// goroutines are back to what they were (the writer, acker, storer,
// publisher, refuser, scorecard, embedded NATS and its JetStream).
func TestNoGoroutineLeak(t *testing.T) {
	sampleOrg(t) // loaded before the baseline
	before := runtime.NumGoroutine()
	for _, kill := range []bool{false, true} {
		s, err := Start(context.Background(), testConfig(t, t.TempDir(), nil))
		if err != nil {
			t.Fatal(err)
		}
		nc := connect(t, s)
		setState(t, nc, "det-016", "available")
		serve(t, nc, "c-leak", route(t, nc, "c-leak", "").Agent)
		nc.Close()
		if kill {
			s.Kill()
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := s.Shutdown(ctx); err != nil {
				t.Error(err)
			}
			cancel()
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		var buf bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
		t.Errorf("%d goroutines after two servers stopped, %d before:\n%s", n, before, buf.String())
	}
}
