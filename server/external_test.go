package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tex-cx/tex/router"
	"github.com/tex-cx/tex/server/natstest"
)

// TestExternalNATS: with --nats, tex joins an existing NATS with JetStream
// and starts no broker of its own. Its journal, events and snapshots live
// in that deployment, so a tex killed and started again on it has the
// same state. A second tex under another prefix on the same account is
// refused at start with a reason: the streams' names are fixed.
func TestExternalNATS(t *testing.T) {
	ns := natstest.Run(t)
	now := time.Now()
	config := func(prefix string) Config {
		cfg := testConfig(t, "", func() time.Time { return now })
		cfg.DataDir, cfg.NATSListen, cfg.NATSURL, cfg.Prefix = "", "", ns.ClientURL(), prefix
		return cfg
	}
	s := startConfig(t, config("tex"))
	if s.EmbeddedNATS() != nil || s.NATSURL() != ns.ClientURL() {
		t.Fatalf("serving on %s with embedded %v, want %s and none", s.NATSURL(), s.EmbeddedNATS(), ns.ClientURL())
	}
	nc := connect(t, s)
	setState(t, nc, "det-016", "available")
	var ids []string
	for i := range 3 {
		id := fmt.Sprintf("x-%d", i)
		ids = append(ids, id)
		rep := route(t, nc, id, "")
		if want := map[bool]string{true: router.StatusAssigned, false: router.StatusQueued}[i == 0]; rep.Status != want {
			t.Fatalf("route %s: %s, want %s", id, rep.Status, want)
		}
	}
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if _, ok := s.Store().Contact(ids[len(ids)-1]); !ok {
			return errors.New("store behind")
		}
		return nil
	})
	want := snapshotState(t, nc, ids)

	s.Kill()
	if !ns.Running() {
		t.Fatal("killing tex stopped the NATS it had joined")
	}
	s2 := startConfig(t, config("tex"))
	if n := s2.Replayed(); n == 0 {
		t.Errorf("the restart replayed nothing from the external journal")
	}
	if diff := cmp.Diff(want, snapshotState(t, connect(t, s2), ids)); diff != "" {
		t.Errorf("state after restart on the external NATS (-before +after):\n%s", diff)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	other, err := Start(ctx, config("texstg"))
	if err == nil {
		_ = other.Shutdown(ctx)
		t.Fatal("a second tex under prefix texstg started on the same account")
	}
	if !strings.Contains(err.Error(), "texstg.") || !strings.Contains(err.Error(), "account") {
		t.Errorf("refusal does not say which subjects and what to do: %v", err)
	}
}
