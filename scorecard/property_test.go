package scorecard

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// randomEvents makes a month of contacts over a few customers (so repeats
// are common), with timer wrap-ups and their corrections, moved
// corrections, surveys with and without times, and conflicting answers.
func randomEvents(r *rand.Rand, n int) []any {
	agents := []string{"det-001", "det-002", "det-lead", "cle-001", "gone-007"}
	base := ts("2026-11-01T00:00:00Z")
	var events []any
	for i := range n {
		id := fmt.Sprintf("c%d", i)
		arrived := base.Add(time.Duration(r.Int64N(int64(30 * 24 * time.Hour))))
		ag := agents[r.IntN(len(agents))]
		team := "CHA-DET"
		if ag == "cle-001" {
			team = "CHA-CLE"
		}
		c := contact(id, fmt.Sprintf("cust%d", r.IntN(n/3+1)), ag, arrived.Format(time.RFC3339Nano), func(x *Resolved) {
			x.Team = team
			x.TalkSeconds, x.HoldSeconds, x.WrapSeconds = float64(r.IntN(900)), float64(r.IntN(60)), float64(r.IntN(120))
			x.Transferred = r.IntN(5) == 0
			x.HomeTeam = r.IntN(4) != 0
			x.Market = []string{"DET", "CLE"}[r.IntN(2)]
			x.Continuity = []string{"", ContinuityFirstContact, ContinuitySameAgent, ContinuitySameTeam, ContinuityOtherTeam}[r.IntN(5)]
			if r.IntN(10) == 0 {
				x.CustomerID = ""
			}
		})
		switch r.IntN(4) {
		case 0: // timer first, then the agent's answer at the same wrapped_at
			timer := c
			timer.Resolved = nil
			c.Resolved = ptr(r.IntN(2) == 0)
			events = append(events, timer)
		case 1: // a correction that moves the contact to another agent and day
			moved := c
			moved.Agent = agents[r.IntN(len(agents))]
			moved.EndedAt = c.EndedAt.Add(time.Duration(r.IntN(3)) * 24 * time.Hour)
			moved.WrappedAt = moved.EndedAt.Add(time.Minute)
			events = append(events, moved)
		}
		events = append(events, c)
		if r.IntN(2) == 0 {
			s := survey(id, 1+r.IntN(5), r.IntN(11))
			if r.IntN(2) == 0 {
				s.CSAT = nil
			}
			if r.IntN(3) == 0 {
				s.AnsweredAt = arrived.Add(time.Duration(r.IntN(10)) * 24 * time.Hour)
			}
			events = append(events, s)
			if r.IntN(4) == 0 { // a conflicting second answer
				events = append(events, survey(id, 1+r.IntN(5), r.IntN(11)))
			}
		}
	}
	return events
}

type snapshotOfReports map[string]*Report

func reports(t testing.TB, a *Aggregator, now time.Time) snapshotOfReports {
	out := snapshotOfReports{}
	for _, team := range []string{"CHA-DET", "CHA-CLE"} {
		for _, p := range []string{"2026-11", "2026-W46", "2026-W48", "2026-12"} {
			out[team+" "+p] = mustQuery(t, a, team, p, now)
		}
	}
	return out
}

// TestOrderIndependence: shuffled and duplicated, the same events give the
// same scorecards.
func TestOrderIndependence(t *testing.T) {
	now := ts("2026-12-03T00:00:00Z") // some windows still open
	for seed := range uint64(30) {
		r := rand.New(rand.NewPCG(seed, 1))
		events := randomEvents(r, 60+r.IntN(100))
		ref := NewAggregator(testOrg())
		apply(t, ref, events...)
		want := reports(t, ref, now)
		for range 5 {
			shuffled := append([]any(nil), events...)
			for range r.IntN(len(events)) {
				shuffled = append(shuffled, events[r.IntN(len(events))])
			}
			r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
			a := NewAggregator(testOrg())
			apply(t, a, shuffled...)
			if d := cmp.Diff(want, reports(t, a, now), approx); d != "" {
				t.Fatalf("seed %d: (-want +got):\n%s", seed, d)
			}
		}
	}
}

// TestScoresInRange: every score lies in [0,100], whatever the events.
func TestScoresInRange(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 2))
		a := NewAggregator(testOrg())
		apply(t, a, randomEvents(r, 200)...)
		for name, rep := range reports(t, a, ts("2026-12-03T00:00:00Z")) {
			check := func(what string, v *float64) {
				if v != nil && (*v < 0 || *v > 100) {
					t.Errorf("seed %d %s %s = %v", seed, name, what, *v)
				}
			}
			check("team score", rep.Team.Score)
			for _, row := range rep.Agents {
				check(row.Agent+" individual", row.IndividualScore)
				check(row.Agent+" blended", row.BlendedScore)
			}
		}
	}
}

// TestSnapshotRoundTrip: a snapshot read into a new aggregator answers like
// the one it was taken from, and events after it apply the same way.
func TestSnapshotRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	events := randomEvents(r, 300)
	half := len(events) / 2
	now := ts("2026-12-03T00:00:00Z")

	ref := NewAggregator(testOrg())
	apply(t, ref, events...)

	a := NewAggregator(testOrg())
	apply(t, a, events[:half]...)
	a.markSeq(42)
	var buf bytes.Buffer
	created := ts("2026-01-01T00:00:00Z")
	seq, err := a.WriteSnapshot(&buf, created)
	if err != nil || seq != 42 {
		t.Fatalf("WriteSnapshot: seq %d, %v", seq, err)
	}
	b := NewAggregator(testOrg())
	hdr, err := b.ReadSnapshot(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if hdr.StreamSeq != 42 || !hdr.StreamCreated.Equal(created) || b.LastSeq() != 42 {
		t.Errorf("header %+v, last seq %d", hdr, b.LastSeq())
	}
	if d := cmp.Diff(reports(t, a, now), reports(t, b, now), approx); d != "" {
		t.Fatalf("restored (-want +got):\n%s", d)
	}
	// Replaying some events already in the snapshot changes nothing.
	apply(t, b, events[half/2:]...)
	if d := cmp.Diff(reports(t, ref, now), reports(t, b, now), approx); d != "" {
		t.Fatalf("restored then replayed (-want +got):\n%s", d)
	}
	if _, err := NewAggregator(testOrg()).ReadSnapshot(bytes.NewReader([]byte("not gzip"))); err == nil {
		t.Error("garbage snapshot accepted")
	}
}
