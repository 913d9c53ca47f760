package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
)

// TestRandomRestarts drives random traffic through tex serve in rounds,
// with snapshots saved and the journal trimmed behind them as it goes,
// and ends each round with a crash or a graceful stop at a random moment.
// The state every restart shows is the state before it: whatever mix of
// snapshot, trimmed journal and journal tail it is rebuilt from.
func TestRandomRestarts(t *testing.T) {
	dir := t.TempDir()
	clock, advance := manualClock(time.Now().UTC().Truncate(time.Second))
	rng := rand.New(rand.NewPCG(7, 11))
	start := func() *Server {
		cfg := testConfig(t, dir, clock)
		// Snapshots now and then, or only at a graceful stop, so that a
		// crash leaves a journal tail to replay, long or short.
		cfg.SnapshotEvery, cfg.JournalKeep = []time.Duration{30 * time.Millisecond, -1}[rng.IntN(2)], time.Nanosecond
		return startConfig(t, cfg)
	}
	agents := []string{"det-016", "det-017", "det-018", "cle-016", "cle-017"}
	states := []string{"available", "available", "away", "offline"}
	types := []string{"accepted", "accepted", "rejected", "ended", "ended", "wrapped_up", "abandoned", "callback_requested"}
	var ids []string
	send := func(nc *nats.Conn, subj string, body map[string]any) {
		// Refusals (a wrong transition, say) are part of the traffic.
		if _, err := nc.Request(subj, mustJSON(t, body), 5*time.Second); err != nil {
			t.Fatalf("%s: %v", subj, err)
		}
	}
	s := start()
	for round := range 12 {
		nc := connect(t, s)
		for range 20 + rng.IntN(40) {
			advance(time.Duration(rng.IntN(8000)) * time.Millisecond)
			switch op := rng.IntN(10); {
			case op < 3 || len(ids) == 0:
				id := fmt.Sprintf("r%d-%d", round, len(ids))
				if len(ids) > 0 && rng.IntN(8) == 0 {
					id = ids[rng.IntN(len(ids))] // a retry
				} else {
					ids = append(ids, id)
				}
				market := []string{"DET", "DET", "CLE", "PHL"}[rng.IntN(4)]
				send(nc, "tex.route", map[string]any{"contact_id": id, "channel": "voice", "market": market,
					"customer_id": fmt.Sprintf("acct-10000%d", rng.IntN(5))})
			case op < 5:
				send(nc, "tex.agent.state", map[string]any{"agent_id": agents[rng.IntN(len(agents))], "state": states[rng.IntN(len(states))]})
			default:
				ev := map[string]any{"contact_id": ids[len(ids)-1-rng.IntN(min(len(ids), 10))], "type": types[rng.IntN(len(types))]}
				if ev["type"] == "wrapped_up" {
					ev["resolved"] = rng.IntN(2) == 0
				}
				send(nc, "tex.contact.event", ev)
			}
		}
		// A fresh contact last: once the store holds it, it holds all
		// that came before (the store is written in order).
		mark := fmt.Sprintf("mark-%d", round)
		ids = append(ids, mark)
		route(t, nc, mark, "")
		want := settledState(t, s, nc, ids)
		if rng.IntN(3) == 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := s.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			cancel()
		} else {
			s.Kill()
		}
		nc.Close()
		s = start()
		got := snapshotState(t, connect(t, s), ids)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("round %d: state after the restart (-before +after):\n%s", round, diff)
		}
	}
}
