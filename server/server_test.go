package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tex-cx/tex/router"
	"github.com/tex-cx/tex/scorecard"
	"github.com/tex-cx/tex/server/natstest"
)

func route(t testing.TB, nc *nats.Conn, id, customer string) router.RouteReply {
	t.Helper()
	var rep router.RouteReply
	body := map[string]any{"contact_id": id, "channel": "voice", "market": "DET"}
	if customer != "" {
		body["customer_id"] = customer
	}
	reqInto(t, nc, "tex.route", body, &rep)
	return rep
}

// serve takes a contact from acceptance to wrap-up.
func serve(t testing.TB, nc *nats.Conn, contact, agent string) {
	t.Helper()
	event(t, nc, map[string]any{"contact_id": contact, "type": "accepted", "agent_id": agent})
	event(t, nc, map[string]any{"contact_id": contact, "type": "ended", "hold_seconds": 5})
	event(t, nc, map[string]any{"contact_id": contact, "type": "wrapped_up", "resolved": true, "disposition": "billing"})
}

func TestLifecycleResolvedOnStream(t *testing.T) {
	s := startServer(t, "")
	nc := connect(t, s)
	setState(t, nc, "det-016", "available")
	rep := route(t, nc, "c-1", "acct-100001")
	if rep.Status != router.StatusAssigned || rep.Agent != "det-016" {
		t.Fatalf("route: %+v", rep)
	}
	serve(t, nc, "c-1", "det-016")

	js := natstest.JetStream(t, nc)
	ctx := context.Background()
	stream, err := js.Stream(ctx, scorecard.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		msg, err := stream.GetLastMsgForSubject(ctx, "tex.events.resolved.DET")
		if err != nil {
			return err
		}
		var rc router.ResolvedContact
		if err := json.Unmarshal(msg.Data, &rc); err != nil {
			return err
		}
		if rc.ContactID != "c-1" || rc.Agent != "det-016" || rc.Resolved == nil || !*rc.Resolved {
			return fmt.Errorf("resolved event: %+v", rc)
		}
		return nil
	})
	// The read store follows: the agent is back and has one contact today.
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		var ar AgentsReply
		reqInto(t, nc, "tex."+QueryAgents, TeamQuery{Team: "CHA-DET"}, &ar)
		for _, a := range ar.Agents {
			if a.AgentID == "det-016" && a.State == router.AgentAvailable && a.ContactsToday == 1 {
				return nil
			}
		}
		return errors.New("det-016 not available with 1 contact today")
	})
	// The finished contact has left the read store, which holds live
	// state; a read of it falls back to the core, over NATS and HTTP.
	if _, ok := s.Store().Contact("c-1"); ok {
		t.Error("the finished contact is still in the read store")
	}
	var c ContactReply
	reqInto(t, nc, "tex."+QueryContact, ContactQuery{ContactID: "c-1"}, &c)
	status, body := httpDo(t, s, "GET", "/v1/contacts/c-1", nil)
	if c.State != router.ContactCompleted || c.Agent != "det-016" || status != 200 || !bytes.Equal(bytes.TrimSpace(body), mustJSON(t, c)) {
		t.Errorf("finished contact: NATS %+v, HTTP %d %s", c, status, body)
	}
}

func TestQueueAndAgentPull(t *testing.T) {
	s := startServer(t, "")
	nc := connect(t, s)
	assigned, err := nc.SubscribeSync("tex.events.assigned.DET")
	if err != nil {
		t.Fatal(err)
	}
	rep := route(t, nc, "c-2", "")
	if rep.Status != router.StatusQueued || rep.Position != 1 {
		t.Fatalf("route: %+v", rep)
	}
	var q QueueReply
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		reqInto(t, nc, "tex."+QueryQueue, TeamQuery{Team: "CHA-DET"}, &q)
		if len(q.Contacts) != 1 || q.Contacts[0].ContactID != "c-2" || q.Contacts[0].Position != 1 {
			return fmt.Errorf("queue: %+v", q.Contacts)
		}
		return nil
	})
	setState(t, nc, "det-017", "available")
	msg, err := assigned.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var a router.Assignment
	if err := json.Unmarshal(msg.Data, &a); err != nil {
		t.Fatal(err)
	}
	if a.ContactID != "c-2" || a.Agent != "det-017" || a.Kind != "line" {
		t.Fatalf("assignment: %+v", a)
	}
}

func TestContinuity(t *testing.T) {
	s := startServer(t, "")
	nc := connect(t, s)
	setState(t, nc, "det-016", "available")
	first := route(t, nc, "c-a", "acct-100001")
	serve(t, nc, "c-a", first.Agent)
	// Another agent, idle longer, is free too: fairness alone would pick them.
	for _, id := range []string{"det-017", "det-018"} {
		setState(t, nc, id, "available")
	}
	again := route(t, nc, "c-b", "acct-100001")
	if again.Agent != first.Agent {
		t.Fatalf("returning customer went to %s, want %s (%+v)", again.Agent, first.Agent, again)
	}
	if again.Step != "known_agent" {
		t.Errorf("step %q, want known_agent", again.Step)
	}
}

func TestIdempotentRetry(t *testing.T) {
	s := startServer(t, "")
	nc := connect(t, s)
	setState(t, nc, "det-016", "available")
	body := map[string]any{"contact_id": "c-r", "channel": "voice", "market": "DET"}
	one := req(t, nc, "tex.route", body)
	two := req(t, nc, "tex.route", body)
	if !bytes.Equal(one, two) {
		t.Fatalf("retry differs:\n%s\n%s", one, two)
	}
	_, three := httpDo(t, s, "POST", "/v1/route", mustJSON(t, body))
	if !bytes.Equal(one, three) {
		t.Fatalf("HTTP retry differs:\n%s\n%s", one, three)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestErrors sends every kind of bad request over NATS and HTTP: the same
// body, the right code and status, and no change of state.
func TestErrors(t *testing.T) {
	s := startServer(t, "")
	nc := connect(t, s)
	setState(t, nc, "det-016", "available")
	route(t, nc, "c-e", "")
	// Reads come from the store, which follows the replies closely but
	// not in lockstep.
	checkFor(t, 5*time.Second, time.Millisecond, func() error {
		if r, ok := s.Store().Snapshot().AgentState("det-016"); !ok || r.State != router.AgentReserved {
			return errors.New("store behind")
		}
		return nil
	})
	before := agentsOf(t, nc, "CHA-DET")

	big := `{"contact_id":"c-big","channel":"voice","pad":"` + strings.Repeat("x", router.MaxBodyBytes) + `"}`
	tests := []struct {
		name, subj, path, body string
		code                   string
		status                 int
	}{
		{"bad json", "tex.route", "/v1/route", `{"contact_id":`, router.CodeInvalidRequest, 400},
		{"wrong type", "tex.route", "/v1/route", `{"contact_id":"c-x","channel":"voice","priority":"high"}`, router.CodeInvalidRequest, 400},
		{"missing channel", "tex.route", "/v1/route", `{"contact_id":"c-x"}`, router.CodeInvalidRequest, 400},
		{"oversized", "tex.route", "/v1/route", big, router.CodeInvalidRequest, 400},
		{"empty body", "tex.route", "/v1/route", ``, router.CodeInvalidRequest, 400},
		{"unknown state", "tex.agent.state", "/v1/agents/det-016/state", `{"agent_id":"det-016","state":"sleeping"}`, router.CodeInvalidRequest, 400},
		{"unknown agent", "tex.agent.state", "/v1/agents/nobody/state", `{"agent_id":"nobody","state":"away"}`, router.CodeUnknownAgent, 404},
		{"unknown contact", "tex.contact.event", "/v1/contacts/nope/events", `{"contact_id":"nope","type":"abandoned"}`, router.CodeUnknownContact, 404},
		{"invalid transition", "tex.contact.event", "/v1/contacts/c-e/events", `{"contact_id":"c-e","type":"wrapped_up"}`, router.CodeInvalidTransition, 409},
		{"available while reserved", "tex.agent.state", "/v1/agents/det-016/state", `{"agent_id":"det-016","state":"available"}`, router.CodeInvalidTransition, 409},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			viaNATS := req(t, nc, tc.subj, []byte(tc.body))
			status, viaHTTP := httpDo(t, s, "POST", tc.path, []byte(tc.body))
			var e errorBody
			if err := json.Unmarshal(viaNATS, &e); err != nil || e.Error == nil {
				t.Fatalf("NATS reply %s is not an error", viaNATS)
			}
			if e.Error.Code != tc.code || e.Error.Message == "" {
				t.Errorf("code %q (%q), want %q", e.Error.Code, e.Error.Message, tc.code)
			}
			if status != tc.status {
				t.Errorf("HTTP status %d, want %d", status, tc.status)
			}
			if tc.name != "oversized" && !bytes.Equal(viaNATS, viaHTTP) {
				t.Errorf("NATS and HTTP differ:\n%s\n%s", viaNATS, viaHTTP)
			}
		})
	}
	t.Run("path id disagrees", func(t *testing.T) {
		status, body := httpDo(t, s, "POST", "/v1/agents/det-016/state", []byte(`{"agent_id":"det-017","state":"away"}`))
		if status != 400 || !bytes.Contains(body, []byte(router.CodeInvalidRequest)) {
			t.Errorf("%d %s", status, body)
		}
	})
	t.Run("no such endpoint", func(t *testing.T) {
		for _, tc := range []struct {
			method, path string
			status       int
			allow        string
		}{
			{"GET", "/v1/queues/CHA-DET", 404, ""},
			{"POST", "/v1/contacts/c-e", 405, "GET, HEAD"},
			{"GET", "/v1/route", 405, "POST"},
			{"DELETE", "/v1/exports", 405, "GET, HEAD"},
		} {
			r, err := http.NewRequest(tc.method, "http://"+s.HTTPAddr()+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var e errorBody
			if err := json.Unmarshal(body, &e); err != nil || e.Error == nil || e.Error.Code != router.CodeInvalidRequest ||
				!strings.Contains(e.Error.Message, tc.path) {
				t.Errorf("%s %s: body %s, want an invalid_request error naming the path", tc.method, tc.path, body)
			}
			if res.StatusCode != tc.status || res.Header.Get("Allow") != tc.allow ||
				res.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%s %s: %d Allow %q %s, want %d Allow %q application/json", tc.method, tc.path,
					res.StatusCode, res.Header.Get("Allow"), res.Header.Get("Content-Type"), tc.status, tc.allow)
			}
		}
	})
	if diff := cmp.Diff(before, agentsOf(t, nc, "CHA-DET")); diff != "" {
		t.Errorf("bad requests changed state (-want +got):\n%s", diff)
	}
	t.Run("unavailable", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.w.stop(ctx) // the writer is gone, the handlers are not
		body := `{"agent_id":"det-017","state":"away"}`
		viaNATS := req(t, nc, "tex.agent.state", []byte(body))
		status, viaHTTP := httpDo(t, s, "POST", "/v1/agents/det-017/state", []byte(body))
		if status != 503 || !bytes.Equal(viaNATS, viaHTTP) || !bytes.Contains(viaNATS, []byte(router.CodeUnavailable)) {
			t.Errorf("%d\n%s\n%s", status, viaNATS, viaHTTP)
		}
	})
}

// agentsOf reads a team's agents, without the fields that move with the clock.
func agentsOf(t testing.TB, nc *nats.Conn, team string) []AgentStatus {
	t.Helper()
	var ar AgentsReply
	reqInto(t, nc, "tex."+QueryAgents, TeamQuery{Team: team}, &ar)
	for i := range ar.Agents {
		ar.Agents[i].SecondsInState = nil
	}
	return ar.Agents
}

func TestHTTPAndNATSAgree(t *testing.T) {
	// The clock stands still: an EWT ages between two reads, and one read
	// on each side of a tenth of a second would differ.
	now := time.Now()
	s := startServerClock(t, "", func() time.Time { return now })
	nc := connect(t, s)
	setState(t, nc, "det-016", "available")
	route(t, nc, "c-h1", "acct-100001")
	route(t, nc, "c-h2", "")
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if _, ok := s.Store().Contact("c-h2"); !ok {
			return errors.New("c-h2 not in the store yet")
		}
		return nil
	})
	// Clock fields differ between two reads; the rest must not.
	clean := func(b []byte) any {
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		var walk func(any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				for _, k := range []string{"at", "seconds_in_state", "wait_seconds"} {
					delete(v, k)
				}
				for _, x := range v {
					walk(x)
				}
			case []any:
				for _, x := range v {
					walk(x)
				}
			}
		}
		walk(v)
		return v
	}
	tests := []struct {
		name, subj string
		body       any
		path       string
	}{
		{"agents", "tex." + QueryAgents, TeamQuery{Team: "CHA-DET"}, "/v1/teams/CHA-DET/agents"},
		{"queue", "tex." + QueryQueue, TeamQuery{Team: "CHA-DET"}, "/v1/teams/CHA-DET/queue"},
		{"contact", "tex." + QueryContact, ContactQuery{ContactID: "c-h2"}, "/v1/contacts/c-h2"},
		{"decisions", "tex." + QueryDecisions, ContactQuery{ContactID: "c-h1"}, "/v1/contacts/c-h1/decisions"},
		{"unknown team", "tex." + QueryQueue, TeamQuery{Team: "NOPE"}, "/v1/teams/NOPE/queue"},
		{"unknown contact", "tex." + QueryDecisions, ContactQuery{ContactID: "nope"}, "/v1/contacts/nope/decisions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			viaNATS := req(t, nc, tc.subj, tc.body)
			status, viaHTTP := httpDo(t, s, "GET", tc.path, nil)
			if strings.HasPrefix(tc.name, "unknown") != (status == http.StatusNotFound) {
				t.Errorf("status %d: %s", status, viaHTTP)
			}
			if diff := cmp.Diff(clean(viaNATS), clean(viaHTTP)); diff != "" {
				t.Errorf("NATS and HTTP differ (-nats +http):\n%s", diff)
			}
		})
	}
	status, body := httpDo(t, s, "GET", "/healthz", nil)
	if status != 200 || !bytes.Contains(body, []byte(`"ok":true`)) || !bytes.Contains(body, []byte(`"lease":"held"`)) {
		t.Errorf("healthz: %d %s", status, body)
	}
	status, body = httpDo(t, s, "GET", "/metrics", nil)
	for _, want := range []string{`tex_route_decisions_total{outcome="assigned"`, `tex_queue_length{team="CHA-DET"} 1`,
		`tex_agents{state="reserved",team="CHA-DET"} 1`, "tex_route_latency_seconds_bucket", "tex_routing_lease_held 1"} {
		if status != 200 || !bytes.Contains(body, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// A queued decision counts under the furthest step open, as its reply says.
	if !bytes.Contains(body, []byte(`tex_route_decisions_total{outcome="queued",step="`)) ||
		bytes.Contains(body, []byte(`tex_route_decisions_total{outcome="queued",step=""`)) {
		t.Errorf("queued decisions without their step:\n%s", body)
	}
}

// snapshotState is what a restart must give back: every team's agents and
// queue, and the given contacts with their decisions.
func snapshotState(t testing.TB, nc *nats.Conn, contacts []string) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, team := range []string{"CHA-DET", "CHA-CLE", "KNX-PHL"} {
		out["agents "+team] = agentsOf(t, nc, team)
		var q QueueReply
		reqInto(t, nc, "tex."+QueryQueue, TeamQuery{Team: team}, &q)
		for i := range q.Contacts {
			q.Contacts[i].WaitSeconds = 0
		}
		out["queue "+team] = q.Contacts
	}
	for _, id := range contacts {
		var c ContactReply
		reqInto(t, nc, "tex."+QueryContact, ContactQuery{ContactID: id}, &c)
		out["contact "+id] = c
		var d DecisionsReply
		reqInto(t, nc, "tex."+QueryDecisions, ContactQuery{ContactID: id}, &d)
		out["decisions "+id] = d
	}
	return out
}

// settledState is snapshotState once the read store has caught up with
// the replies: it holds the last of ids (the store is written after the
// reply, in order), and the EWT refreshes (every 20ms here) have run.
func settledState(t *testing.T, s *Server, nc *nats.Conn, ids []string) map[string]any {
	t.Helper()
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if _, ok := s.Store().Contact(ids[len(ids)-1]); !ok {
			return fmt.Errorf("the store does not hold %s yet", ids[len(ids)-1])
		}
		return nil
	})
	time.Sleep(100 * time.Millisecond)
	return snapshotState(t, nc, ids)
}

// TestRestart kills the server in the middle of traffic, starts a new one on
// the same data directory and compares the state.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	// The clock stands still, so that after the restart no offer has
	// expired: the state must be the same, not merely its future.
	now := time.Now()
	clock := func() time.Time { return now }
	s := startServerClock(t, dir, clock)
	nc := connect(t, s)
	var ids []string
	for i := 16; i <= 22; i++ {
		setState(t, nc, fmt.Sprintf("det-%03d", i), "available")
	}
	for i := range 12 {
		id := fmt.Sprintf("c-%02d", i)
		ids = append(ids, id)
		rep := route(t, nc, id, "")
		if rep.Status == router.StatusAssigned && i%3 == 0 {
			serve(t, nc, id, rep.Agent)
		} else if rep.Status == router.StatusAssigned && i%3 == 1 {
			event(t, nc, map[string]any{"contact_id": id, "type": "accepted", "agent_id": rep.Agent})
		}
	}
	setState(t, nc, "det-022", "away")
	for i := range 20 {
		id := fmt.Sprintf("p-%02d", i)
		ids = append(ids, id)
		var rep router.RouteReply
		reqInto(t, nc, "tex.route", map[string]any{"contact_id": id, "channel": "voice", "market": "PHL"}, &rep)
	}
	want := settledState(t, s, nc, ids)
	if q := want["queue CHA-DET"].([]QueueContact); len(q) == 0 || q[0].EWTSeconds == nil {
		t.Fatalf("setup: want a DET queue with EWTs to compare, got %+v", q)
	}

	// Traffic in flight while the server dies: retries of known contacts
	// and same-state commands, which go through the whole path (journal
	// included) but change nothing, so the state to compare stays put.
	var (
		wg       sync.WaitGroup
		answered atomic.Int64
	)
	stopTraffic := make(chan struct{})
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stopTraffic:
					return
				default:
				}
				subj, body := "tex.route", mustJSON(t, map[string]any{"contact_id": ids[(g+i)%len(ids)], "channel": "voice", "market": "DET"})
				if i%2 == 1 {
					subj, body = "tex.agent.state", []byte(`{"agent_id":"det-022","state":"away"}`)
				}
				if _, err := nc.Request(subj, body, 200*time.Millisecond); err != nil {
					return
				}
				answered.Add(1)
			}
		}()
	}
	checkFor(t, 5*time.Second, time.Millisecond, func() error {
		if answered.Load() < 50 {
			return errors.New("traffic not flowing yet")
		}
		return nil
	})
	s.Kill()
	close(stopTraffic)
	wg.Wait()
	nc.Close()

	s2 := startServerClock(t, dir, clock)
	nc2 := connect(t, s2)
	time.Sleep(100 * time.Millisecond)
	got := snapshotState(t, nc2, ids)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("state after restart (-before +after):\n%s", diff)
	}
	// And the restarted server goes on serving.
	setState(t, nc2, "det-023", "available")
}

// TestQueueReadsDerivePositions: positions and EWTs are read from the
// queue's order, so they move when a contact ahead leaves, without the
// others' rows being written; contacts_today ends at UTC midnight.
func TestQueueReadsDerivePositions(t *testing.T) {
	clock, advance := manualClock(time.Date(2026, 11, 23, 23, 50, 0, 0, time.UTC))
	s := startServerClock(t, "", clock)
	nc := connect(t, s)
	setState(t, nc, "det-016", "available")
	// One contact of 4 minutes, so the team has a handle time.
	event(t, nc, map[string]any{"contact_id": "c-0", "type": "accepted", "agent_id": route(t, nc, "c-0", "").Agent})
	advance(4 * time.Minute)
	event(t, nc, map[string]any{"contact_id": "c-0", "type": "ended"})
	event(t, nc, map[string]any{"contact_id": "c-0", "type": "wrapped_up", "resolved": true})
	first := route(t, nc, "c-1", "")
	event(t, nc, map[string]any{"contact_id": "c-1", "type": "accepted", "agent_id": first.Agent})
	for _, id := range []string{"c-2", "c-3", "c-4"} {
		if rep := route(t, nc, id, ""); rep.Status != router.StatusQueued {
			t.Fatalf("route %s: %+v", id, rep)
		}
	}
	event(t, nc, map[string]any{"contact_id": "c-2", "type": "abandoned"})
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		var q QueueReply
		reqInto(t, nc, "tex."+QueryQueue, TeamQuery{Team: "CHA-DET"}, &q)
		if len(q.Contacts) != 2 || q.Contacts[0].ContactID != "c-3" || q.Contacts[1].Position != 2 {
			return fmt.Errorf("queue: %+v", q.Contacts)
		}
		e1, e2 := q.Contacts[0].EWTSeconds, q.Contacts[1].EWTSeconds
		if e1 == nil || e2 == nil || *e2 <= *e1 {
			return fmt.Errorf("EWTs %v, %v: want both, the second longer", fmtEWT(e1), fmtEWT(e2))
		}
		var c ContactReply
		reqInto(t, nc, "tex."+QueryContact, ContactQuery{ContactID: "c-4"}, &c)
		if c.Position != 2 || c.EWTSeconds == nil || *c.EWTSeconds != *e2 {
			return fmt.Errorf("contact c-4: %+v, want position 2, EWT %v", c, *e2)
		}
		return nil
	})
	today := func() int {
		var ar AgentsReply
		reqInto(t, nc, "tex."+QueryAgents, TeamQuery{Team: "CHA-DET"}, &ar)
		for _, a := range ar.Agents {
			if a.AgentID == "det-016" {
				return a.ContactsToday
			}
		}
		return -1
	}
	if got := today(); got != 1 {
		t.Fatalf("contacts_today before midnight = %d, want 1", got)
	}
	advance(10 * time.Minute)
	if got := today(); got != 0 {
		t.Errorf("contacts_today after midnight = %d, want 0", got)
	}
}

func fmtEWT(v *float64) string {
	if v == nil {
		return "none"
	}
	return fmt.Sprint(*v)
}

// TestJournalRefuses: when the journal stream refuses an entry, the batch
// is answered unavailable and leaves no trace; once the stream takes
// entries again, the server goes on from what the journal holds.
func TestJournalRefuses(t *testing.T) {
	s := startServer(t, "")
	nc := connect(t, s)
	setState(t, nc, "det-016", "available")
	js := natstest.JetStream(t, nc)
	ctx := context.Background()
	stream, err := js.Stream(ctx, JournalStream)
	if err != nil {
		t.Fatal(err)
	}
	limit := func(max int64) {
		t.Helper()
		info, err := stream.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		cfg := info.Config
		cfg.MaxMsgs, cfg.Discard = max, jetstream.DiscardNew
		if max < 0 {
			cfg.Discard = jetstream.DiscardOld
		}
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	limit(int64(info.State.Msgs)) // full: the next entry is refused
	var e errorBody
	data := req(t, nc, "tex.route", mustJSON(t, map[string]any{"contact_id": "c-lost", "channel": "voice", "market": "DET"}))
	if err := json.Unmarshal(data, &e); err != nil || e.Error == nil || e.Error.Code != router.CodeUnavailable {
		t.Fatalf("route with a full journal: %s, want unavailable", data)
	}
	limit(-1)
	// The writer rebuilds from the journal: c-lost never happened, and
	// det-016 is free for the next contact.
	var rep router.RouteReply
	checkFor(t, 5*time.Second, 50*time.Millisecond, func() error {
		rep = router.RouteReply{}
		data := req(t, nc, "tex.route", mustJSON(t, map[string]any{"contact_id": "c-next", "channel": "voice", "market": "DET"}))
		if err := json.Unmarshal(data, &rep); err != nil || rep.Status == "" {
			return fmt.Errorf("route after the journal recovered: %s", data)
		}
		return nil
	})
	if rep.Status != router.StatusAssigned || rep.Agent != "det-016" {
		t.Errorf("route after the journal recovered: %+v, want det-016", rep)
	}
	var d errorBody
	data = req(t, nc, "tex."+QueryDecisions, mustJSON(t, ContactQuery{ContactID: "c-lost"}))
	if err := json.Unmarshal(data, &d); err != nil || d.Error == nil || d.Error.Code != router.CodeUnknownContact {
		t.Errorf("decisions of the refused contact: %s, want unknown_contact", data)
	}
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if _, ok := s.Store().Contact("c-lost"); ok {
			return errors.New("the refused contact is in the read store")
		}
		if _, ok := s.Store().Contact("c-next"); !ok {
			return errors.New("c-next is not in the read store")
		}
		return nil
	})
}
