package server

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tex-cx/tex/router"
	"github.com/tex-cx/tex/server/natstest"
)

// TestRestartFromSnapshot: a start restores the latest snapshot and replays
// only the journal after it, and the state is the one before the stop or
// the crash. An org changed beyond its agents makes the snapshot
// unusable, and a full replay gives the same state again.
func TestRestartFromSnapshot(t *testing.T) {
	dir := t.TempDir()
	clock, advance := manualClock(time.Now().UTC().Truncate(time.Second))
	start := func(snapEvery time.Duration) *Server {
		cfg := testConfig(t, dir, clock)
		cfg.SnapshotEvery = snapEvery
		return startConfig(t, cfg)
	}
	routeSome := func(nc *nats.Conn, from, to int) []string {
		var ids []string
		for i := from; i < to; i++ {
			id := fmt.Sprintf("c-%02d", i)
			ids = append(ids, id)
			rep := route(t, nc, id, fmt.Sprintf("acct-10000%d", i%3))
			if rep.Status == router.StatusAssigned && i%2 == 0 {
				serve(t, nc, id, rep.Agent)
			} else if rep.Status == router.StatusAssigned {
				event(t, nc, map[string]any{"contact_id": id, "type": "accepted", "agent_id": rep.Agent})
			}
			advance(7 * time.Second)
		}
		return ids
	}
	stop := func(s *Server) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// A graceful stop saves a snapshot; the next start restores it and
	// replays nothing.
	s := start(-1)
	nc := connect(t, s)
	for i := 16; i <= 20; i++ {
		setState(t, nc, fmt.Sprintf("det-%03d", i), "available")
	}
	ids := routeSome(nc, 0, 8)
	want := settledState(t, s, nc, ids)
	stop(s)
	s = start(-1)
	if s.w.snapSeq == 0 || s.w.replayed != 0 {
		t.Fatalf("after a graceful stop: restored snapshot %d, then replayed %d entries", s.w.snapSeq, s.w.replayed)
	}
	taken := s.w.snapSeq
	nc = connect(t, s)
	if diff := cmp.Diff(want, snapshotState(t, nc, ids)); diff != "" {
		t.Fatalf("state restored from the snapshot (-before +after):\n%s", diff)
	}

	// A crash: the start restores that snapshot and replays what came after.
	ids = append(ids, routeSome(nc, 8, 12)...)
	setState(t, nc, "det-016", "away")
	want = settledState(t, s, nc, ids)
	s.Kill()
	s = start(-1)
	if s.w.snapSeq != taken || s.w.replayed == 0 {
		t.Fatalf("after a crash: restored snapshot %d (want %d), then replayed %d entries", s.w.snapSeq, taken, s.w.replayed)
	}
	nc = connect(t, s)
	if diff := cmp.Diff(want, settledState(t, s, nc, ids)); diff != "" {
		t.Fatalf("state after a crash, from the snapshot and the journal (-before +after):\n%s", diff)
	}

	// Snapshots are also taken while serving.
	s.Kill()
	s = start(20 * time.Millisecond)
	nc = connect(t, s)
	ids = append(ids, routeSome(nc, 12, 14)...)
	js := natstest.JetStream(t, nc)
	natstest.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		// A read that overlaps a save can wait for chunks the save
		// replaced: bound each attempt.
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		obj, err := js.ObjectStore(ctx, SnapshotBucket)
		if err != nil {
			return err
		}
		data, err := obj.GetBytes(ctx, DefaultGroup)
		if err != nil {
			return err
		}
		var saved savedSnapshot
		if err := json.Unmarshal(data, &saved); err != nil {
			return err
		}
		if saved.Seq <= taken {
			return fmt.Errorf("latest snapshot at %d", saved.Seq)
		}
		return nil
	})
	want = settledState(t, s, nc, ids)
	s.Kill()

	// An org whose layout changed: the snapshot does not carry over, and
	// the whole journal is replayed instead. The chain of DET, which has
	// contacts waiting, changes in the budget of its last step: a conflict
	// for the snapshot, though no step follows it for the budget to open.
	cfg := testConfig(t, dir, clock)
	org := *cfg.Org
	org.Routing.Chain = slices.Clone(org.Routing.Chain)
	org.Routing.Chain[len(org.Routing.Chain)-1].BudgetSeconds += 60
	cfg.Org, cfg.SnapshotEvery = &org, -1
	s = startConfig(t, cfg)
	if s.w.snapSeq != 0 || s.w.replayed <= int(taken) {
		t.Fatalf("with another org: restored snapshot %d, then replayed %d entries", s.w.snapSeq, s.w.replayed)
	}
	nc = connect(t, s)
	got := settledState(t, s, nc, ids)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("state after a full replay (-before +after):\n%s", diff)
	}
}

// TestJournalTrimmed: a saved snapshot lets the journal behind it go,
// except the history --journal-keep asks for, and a start from the
// snapshot and what is left gives the same state.
func TestJournalTrimmed(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().UTC().Truncate(time.Second)
	clock := func() time.Time { return now }
	start := func(keep time.Duration) *Server {
		cfg := testConfig(t, dir, clock)
		cfg.SnapshotEvery, cfg.JournalKeep = -1, keep
		return startConfig(t, cfg)
	}
	journalState := func(s *Server) jetstream.StreamState {
		js := natstest.JetStream(t, connect(t, s))
		return streamState(t, js, JournalStream)
	}
	stop := func(s *Server) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	traffic := func(nc *nats.Conn, n int) {
		for range n {
			id := fmt.Sprintf("c-%02d", len(ids))
			ids = append(ids, id)
			route(t, nc, id, "")
		}
	}

	// An hour kept: the snapshot at the stop trims nothing.
	s := start(time.Hour)
	nc := connect(t, s)
	setState(t, nc, "det-016", "available")
	traffic(nc, 6)
	stop(s)
	s = start(time.Hour)
	before := journalState(s)
	if before.FirstSeq != 1 || s.w.replayed != 0 {
		t.Fatalf("an hour kept: journal from %d, %d entries replayed", before.FirstSeq, s.w.replayed)
	}
	stop(s)

	// Nothing kept: the stop trims up to its snapshot, and the start
	// replays nothing.
	s = start(time.Nanosecond)
	nc = connect(t, s)
	traffic(nc, 4)
	want := settledState(t, s, nc, ids)
	stop(s)
	s = start(time.Nanosecond)
	after := journalState(s)
	if after.Msgs != 0 || after.FirstSeq != s.w.snapSeq+1 || s.w.replayed != 0 {
		t.Fatalf("nothing kept: journal holds %d entries from %d; snapshot at %d, %d entries replayed",
			after.Msgs, after.FirstSeq, s.w.snapSeq, s.w.replayed)
	}
	nc = connect(t, s)
	if diff := cmp.Diff(want, snapshotState(t, nc, ids)); diff != "" {
		t.Fatalf("state from the snapshot (-before +after):\n%s", diff)
	}

	// A crash after more traffic: the snapshot and the entries after it,
	// which trimming kept, give the state back.
	traffic(nc, 3)
	want = settledState(t, s, nc, ids)
	s.Kill()
	s = start(time.Nanosecond)
	if s.w.replayed == 0 {
		t.Fatal("after a crash nothing was replayed")
	}
	nc = connect(t, s)
	if diff := cmp.Diff(want, snapshotState(t, nc, ids)); diff != "" {
		t.Fatalf("state from the snapshot and the journal (-before +after):\n%s", diff)
	}
}

// TestSnapshotCarriesOverOrgChanges: the weekly org change, an agent
// hired, the skills of an idle one edited and routing and scorecard
// settings tuned, does not cost a replay of the kept journal: the start
// restores the snapshot into the new org, replays nothing, and has the
// state it had, the new agent logged out.
func TestSnapshotCarriesOverOrgChanges(t *testing.T) {
	dir := t.TempDir()
	s, _, clock, ids, want := startWithQueue(t, dir, "h", 4)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	hired := hiredOrg(t)
	for i := range hired.Agents {
		if hired.Agents[i].ID == "det-030" {
			hired.Agents[i].Skills = map[string]int{"billing": 5}
		}
	}
	// Settings tuned in the same change: they apply from the restart on.
	hired.Routing.Weights.Fairness += 0.1
	hired.Routing.OfferTTLSeconds += 5
	hired.Scorecard.TeamWeight /= 2
	cfg := testConfig(t, dir, clock)
	cfg.Org = hired
	s2 := startConfig(t, cfg)
	if s2.Replayed() != 0 || s2.w.snapSeq == 0 {
		t.Fatalf("replayed %d entries (snapshot at %d): the snapshot did not carry over", s2.Replayed(), s2.w.snapSeq)
	}
	nc2 := connect(t, s2)
	got := snapshotState(t, nc2, ids)
	agents := got["agents CHA-DET"].([]AgentStatus)
	i := slices.IndexFunc(agents, func(a AgentStatus) bool { return a.AgentID == "det-hire" })
	if i < 0 || agents[i].State != router.AgentOffline {
		t.Fatalf("the new agent is missing or not logged out: %+v", agents)
	}
	got["agents CHA-DET"] = slices.Delete(agents, i, i+1)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("state after the org change (-before +after):\n%s", diff)
	}
	// The new agent works at once.
	setState(t, nc2, "det-hire", "available")
}
