package server

import (
	"bytes"
	"context"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/tex-cx/tex/server/natstest"
)

// TestNoGoroutineLeak starts a server, drives a contact through it, and
// shuts it down, then a second one that is killed, then a third that is
// refused at start: afterwards the goroutines are back to what they were
// (the writer, acker, storer, publisher, refuser, scorecard, embedded NATS
// and its JetStream).
func TestNoGoroutineLeak(t *testing.T) {
	sampleOrg(t) // loaded before the baseline
	// An external NATS, whose streams (and their goroutines) a first tex
	// makes before the baseline.
	ns := natstest.Run(t)
	external := func(prefix string) (*Server, error) {
		cfg := testConfig(t, "", nil)
		cfg.NATSListen, cfg.NATSURL, cfg.Prefix = "", ns.ClientURL(), prefix
		return Start(context.Background(), cfg)
	}
	if s, err := external("tex"); err != nil {
		t.Fatal(err)
	} else {
		s.Kill()
	}
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
	// A start that fails half-way (its prefix's streams belong to another
	// tex) leaves nothing running either.
	for _, prefix := range []string{"tex", "other"} {
		s, err := external(prefix)
		if (err == nil) != (prefix == "tex") {
			t.Fatalf("start under prefix %s: %v", prefix, err)
		}
		if err == nil {
			s.Kill()
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
