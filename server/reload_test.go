package server

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/tex-cx/tex/router"
	"github.com/tex-cx/tex/scorecard"
	"github.com/tex-cx/tex/server/natstest"
	"github.com/tex-cx/tex/teams"
)

// TestReload: the weekly org change applied while serving. An agent hired
// and a setting tuned take effect at once, with the routing state as it
// was; a change of the layout is refused with what changed, and the
// server goes on with the org it had. A crash after the reload and a
// start on the new org come back to the same state.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	s, nc, clock, ids, want := startWithQueue(t, dir, "r", 3)
	now := clock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// A layout change is refused, and nothing changes.
	moved := *sampleOrg(t)
	moved.Markets = slices.Clone(moved.Markets)
	moved.Markets[0].FallbackTeams = nil
	moved.Teams = append(slices.Clone(moved.Teams), teams.Team{ID: "CHA-NEW", Site: "Chattanooga"})
	err := s.Reload(ctx, &moved)
	if err == nil || !strings.Contains(err.Error(), "market DET, with contacts live: fallback teams [], were [CHA-CLE]") {
		t.Fatalf("a reload that drops a market's fallback team: %v, want a refusal naming it", err)
	}
	if status, body := httpDo(t, s, "GET", "/v1/teams/CHA-NEW/queue", nil); status != 404 {
		t.Errorf("after the refused reload, its new team answers %d %s", status, body)
	}
	if diff := cmp.Diff(want, snapshotState(t, nc, ids)); diff != "" {
		t.Fatalf("a refused reload changed the state (-before +after):\n%s", diff)
	}

	// Agents, settings and a new team carry over.
	hired := hiredOrg(t)
	hired.Teams = append(slices.Clone(hired.Teams), teams.Team{ID: "CHA-NEW", Name: "New", Site: "Chattanooga"})
	hired.Routing.OfferTTLSeconds += 40
	hired.Teams = slices.Clone(hired.Teams)
	for i := range hired.Teams {
		if hired.Teams[i].ID == "CHA-DET" {
			hired.Teams[i].Site = "Chattanooga, 2nd floor"
		}
	}
	if err := s.Reload(ctx, hired); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if !slices.ContainsFunc(s.Store().AgentsByTeam("CHA-DET"), func(a *teams.AgentRow) bool { return a.ID == "det-hire" }) {
			return fmt.Errorf("the read store has no det-hire yet")
		}
		return nil
	})
	got := snapshotState(t, nc, ids)
	agents := got["agents CHA-DET"].([]AgentStatus)
	i := slices.IndexFunc(agents, func(a AgentStatus) bool { return a.AgentID == "det-hire" })
	if i < 0 || agents[i].State != router.AgentOffline || agents[i].Name != "New Hire" {
		t.Fatalf("the new agent is missing or not logged out: %+v", agents)
	}
	got["agents CHA-DET"] = slices.Delete(agents, i, i+1)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("state after the reload (-before +after):\n%s", diff)
	}
	if status, body := httpDo(t, s, "GET", "/v1/teams/CHA-NEW/queue", nil); status != 200 {
		t.Errorf("after the reload, the new team answers %d %s", status, body)
	}
	// The new agent works at once, and takes a waiting contact under the
	// new offer time (a retried route tells the offer's expiry).
	setState(t, nc, "det-hire", "available")
	var rep router.RouteReply
	reqInto(t, nc, "tex.route", router.RouteRequest{ContactID: "r-1", Channel: "voice"}, &rep)
	if rep.Agent != "det-hire" || !rep.OfferExpiresAt.Equal(now.Add(time.Duration(hired.Routing.OfferTTLSeconds)*time.Second)) {
		t.Errorf("r-1 after the reload: %+v, want an offer to det-hire of %vs", rep, hired.Routing.OfferTTLSeconds)
	}
	route(t, nc, "r-new", "")
	// The scorecard reads the new roster and site.
	var sc scorecard.Report
	reqInto(t, nc, "tex.scorecard.query", scorecard.QueryRequest{Team: "CHA-DET", Period: "2026-11"}, &sc)
	if sc.Team.Site != "Chattanooga, 2nd floor" || !slices.ContainsFunc(sc.Agents, func(a scorecard.AgentRow) bool { return a.Agent == "det-hire" }) {
		t.Errorf("the scorecard after the reload: site %q, agents %d", sc.Team.Site, len(sc.Agents))
	}

	if status, body := httpDo(t, s, "GET", "/metrics", nil); status != 200 ||
		!strings.Contains(string(body), `tex_org_reloads_total{result="applied"} 1`) ||
		!strings.Contains(string(body), `tex_org_reloads_total{result="refused"} 1`) {
		t.Errorf("metrics after one reload refused and one applied:\n%s", body)
	}

	// A crash, and a start on the new org: the same state.
	ids = append(ids, "r-new")
	want = settledState(t, s, nc, ids)
	s.Kill()
	if err := s.Reload(ctx, hired); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Errorf("a reload after the stop: %v, want a refusal", err)
	}
	cfg := testConfig(t, dir, clock)
	cfg.Org = hired
	s2 := startConfig(t, cfg)
	// From the snapshot the reload saved: only the commands after it replay.
	if s2.w.snapSeq < uint64(len(ids)) || s2.Replayed() > 3 {
		t.Errorf("the start restored the snapshot at %d and replayed %d entries; want the reload's snapshot", s2.w.snapSeq, s2.Replayed())
	}
	if diff := cmp.Diff(want, snapshotState(t, connect(t, s2), ids)); diff != "" {
		t.Errorf("state after a crash and a start on the reloaded org (-before +after):\n%s", diff)
	}
}

// TestReloadUnderTraffic reloads back and forth while commands and reads
// of every kind run, for the race detector, and checks that every command
// got an answer and the reloads all carried over.
func TestReloadUnderTraffic(t *testing.T) {
	s := startServer(t, "")
	base := sampleOrg(t)
	tuned := *base
	tuned.Routing.Weights.Fairness += 0.2
	tuned.Scorecard.TeamWeight /= 2
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stop := make(chan struct{})
	done := make(chan error, 2)
	go func() { // commands
		nc := connect(t, s)
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if _, err := nc.Request("tex.route", fmt.Appendf(nil, `{"contact_id":"u-%d","channel":"voice","market":"DET"}`, i), 5*time.Second); err != nil {
				done <- err
				return
			}
		}
	}()
	go func() { // reads
		nc := connect(t, s)
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			for _, subj := range []string{"tex." + QueryAgents, "tex." + QueryQueue, "tex.scorecard.query"} {
				if _, err := nc.Request(subj, []byte(`{"team":"CHA-DET"}`), 5*time.Second); err != nil {
					done <- err
					return
				}
			}
			if status, body := httpDo(t, s, "GET", "/v1/exports?period=2026-11", nil); status != 200 {
				done <- fmt.Errorf("export: %d %s", status, body)
				return
			}
		}
	}()
	for i := range 10 {
		org := base
		if i%2 == 0 {
			org = &tuned
		}
		if err := s.Reload(ctx, org); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// TestRetentionBoundMetrics: finished contacts past max_retained_contacts
// are forgotten early; /metrics counts them and the log warns once.
func TestRetentionBoundMetrics(t *testing.T) {
	cfg := testConfig(t, t.TempDir(), nil)
	org := *cfg.Org
	org.Routing.MaxRetainedContacts = 2
	cfg.Org = &org
	var logs natstest.LogBuffer
	log := zerolog.New(&logs).Level(zerolog.WarnLevel)
	cfg.Log = &log
	s := startConfig(t, cfg)
	nc := connect(t, s)
	for i := range 5 {
		id := fmt.Sprint("m-", i)
		route(t, nc, id, "")
		event(t, nc, map[string]any{"contact_id": id, "type": "abandoned"})
	}
	_, body := httpDo(t, s, "GET", "/metrics", nil)
	if !strings.Contains(string(body), "\ntex_contacts_retained 2\n") || !strings.Contains(string(body), "\ntex_contacts_forgotten_early_total 3\n") {
		t.Errorf("metrics after 5 finished contacts, 2 kept:\n%s", body)
	}
	if n := strings.Count(logs.String(), "max_retained_contacts reached"); n != 1 {
		t.Errorf("%d warnings, want 1 (once a minute):\n%s", n, logs.String())
	}
	if status, b := httpDo(t, s, "POST", "/v1/contacts/m-0/events", []byte(`{"type":"abandoned"}`)); status != 404 ||
		!strings.Contains(string(b), "the latest 2 at most") {
		t.Errorf("an event for a contact forgotten early: %d %s", status, b)
	}

	// After a crash the count starts again: the cuts replay re-did are
	// not counted twice, and the first contact to finish counts, even as
	// the first command of the new process.
	route(t, nc, "m-5", "")
	nc.Close()
	s.Kill()
	s = startConfig(t, cfg)
	nc = connect(t, s)
	event(t, nc, map[string]any{"contact_id": "m-5", "type": "abandoned"})
	_, body = httpDo(t, s, "GET", "/metrics", nil)
	if !strings.Contains(string(body), "\ntex_contacts_retained 2\n") || !strings.Contains(string(body), "\ntex_contacts_forgotten_early_total 1\n") {
		t.Errorf("metrics after a restart and one more finished contact:\n%s", body)
	}
}
