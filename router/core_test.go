package router

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tex-cx/tex/teams"
)

func TestIdentify(t *testing.T) {
	tests := []struct {
		name       string
		req        RouteRequest
		wantMarket string
		wantBy     string
	}{
		{"customer id", RouteRequest{CustomerID: "acct-77", ANI: "+13135550142"}, "CLE", MatchedCustomerID},
		{"ani of a known customer", RouteRequest{ANI: "(313) 555-0142"}, "DET", MatchedANI},
		{"unknown customer id falls to ani", RouteRequest{CustomerID: "acct-x", ANI: "216.555.0177"}, "CLE", MatchedANI},
		{"market named in the request", RouteRequest{Market: "CLE", ANI: "+13135550999"}, "CLE", MatchedMarket},
		{"area code", RouteRequest{ANI: "216-555-0100"}, "CLE", MatchedAreaCode},
		{"default", RouteRequest{ANI: "+14155550100"}, "DET", MatchedDefault},
		{"nothing at all", RouteRequest{}, "DET", MatchedDefault},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCore(t, smallOrg(2))
			tc.req.ContactID = "c-" + string(rune('a'+i))
			tc.req.Channel = "voice"
			r := mustRoute(t, c, 0, tc.req)
			if r.Market != tc.wantMarket || r.MatchedBy != tc.wantBy {
				t.Fatalf("got market %s by %s, want %s by %s", r.Market, r.MatchedBy, tc.wantMarket, tc.wantBy)
			}
		})
	}
}

func TestRouteRefusesBadRequests(t *testing.T) {
	noDefault := smallOrg(1)
	noDefault.DefaultMarket = ""
	tests := []struct {
		name string
		org  bool
		req  RouteRequest
	}{
		{"no contact id", false, RouteRequest{Channel: "voice"}},
		{"no channel", false, RouteRequest{ContactID: "c1"}},
		{"unknown channel", false, RouteRequest{ContactID: "c1", Channel: "fax"}},
		{"priority out of range", false, RouteRequest{ContactID: "c1", Channel: "voice", Priority: 101}},
		{"negative priority", false, RouteRequest{ContactID: "c1", Channel: "voice", Priority: -1}},
		{"unknown skill", false, RouteRequest{ContactID: "c1", Channel: "voice", Skills: []string{"juggling"}}},
		{"unknown language", false, RouteRequest{ContactID: "c1", Channel: "voice", Language: "fr"}},
		{"bad ani", false, RouteRequest{ContactID: "c1", Channel: "voice", ANI: "call-me"}},
		{"unknown market", false, RouteRequest{ContactID: "c1", Channel: "voice", Market: "NYC"}},
		{"no default market", true, RouteRequest{ContactID: "c1", Channel: "voice"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			org := smallOrg(1)
			if tc.org {
				org = noDefault
			}
			c := newCore(t, org)
			_, err := c.Route(at(0), &tc.req)
			wantCode(t, err, ErrInvalidRequest)
			if len(c.contacts) != 0 || len(c.Events()) != 0 {
				t.Fatal("a refused request changed state")
			}
		})
	}
}

func TestAssignAndLifecycle(t *testing.T) {
	c := newCore(t, smallOrg(2))
	mustState(t, c, 0, "det-001", AgentAvailable)
	r := mustRoute(t, c, 10, RouteRequest{ContactID: "c1", Channel: "voice", CustomerID: "acct-42"})
	exp := at(25)
	want := RouteReply{ContactID: "c1", Status: StatusAssigned, State: ContactOffered, Market: "DET", Team: "CHA-DET",
		Agent: "det-001", Endpoint: "sip:det-001@cha.example.net", OfferExpiresAt: exp, MatchedBy: MatchedCustomerID, Step: "home_team"}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Fatalf("reply (-want +got):\n%s", diff)
	}
	if a, _ := c.Agent("det-001"); a.State != AgentReserved {
		t.Fatalf("agent state %s, want reserved", a.State)
	}
	mustEvent(t, c, 12, ContactEvent{ContactID: "c1", Type: EventAccepted, AgentID: "det-001"})
	mustEvent(t, c, 312, ContactEvent{ContactID: "c1", Type: EventEnded, HoldSeconds: 35})
	if a, _ := c.Agent("det-001"); a.State != AgentWrapUp {
		t.Fatalf("agent state %s, want wrap_up", a.State)
	}
	c.Events()
	yes := true
	mustEvent(t, c, 352, ContactEvent{ContactID: "c1", Type: EventWrappedUp, Resolved: &yes, Disposition: "billing-adjustment"})
	var got *ResolvedContact
	for _, e := range c.Events() {
		if e.Kind == KindResolved {
			got = e.Resolved
		}
	}
	wantRC := &ResolvedContact{ContactID: "c1", CustomerID: "acct-42", Market: "DET", Team: "CHA-DET", Agent: "det-001",
		Channel: "voice", ArrivedAt: at(10), AnsweredAt: at(12), EndedAt: at(312), WrappedAt: at(352),
		WaitSeconds: 2, TalkSeconds: 265, HoldSeconds: 35, WrapSeconds: 40, Resolved: &yes,
		Disposition: "billing-adjustment", HomeTeam: true, Continuity: ContinuityFirstContact, FallbackStep: "home_team"}
	if diff := cmp.Diff(wantRC, got); diff != "" {
		t.Fatalf("resolved (-want +got):\n%s", diff)
	}
	if a, _ := c.Agent("det-001"); a.State != AgentAvailable || a.HandledToday != 1 {
		t.Fatalf("agent after wrap-up: %+v", a)
	}
	r = mustRoute(t, c, 400, RouteRequest{ContactID: "c1", Channel: "voice"})
	if r.Status != StatusCompleted {
		t.Fatalf("repeated route of a finished contact: %+v", r)
	}
}

func TestContinuityReachesKnownAgent(t *testing.T) {
	c := newCore(t, smallOrg(4))
	for _, a := range []string{"det-001", "det-002", "det-003", "det-004"} {
		mustState(t, c, 0, a, AgentAvailable)
	}
	r := mustRoute(t, c, 100, RouteRequest{ContactID: "c1", Channel: "voice", CustomerID: "acct-42"})
	first := r.Agent
	serve(t, c, 101, "c1", first, false)
	// The known agent has just worked, so fairness favours everyone else;
	// continuity must still win.
	r = mustRoute(t, c, 400, RouteRequest{ContactID: "c2", Channel: "voice", CustomerID: "acct-42"})
	if r.Agent != first || r.Step != "known_agent" {
		t.Fatalf("returning customer went to %s at step %s, want known agent %s", r.Agent, r.Step, first)
	}
	serve(t, c, 401, "c2", first, true)
	d, _ := c.Decisions("c2")
	if len(d) != 1 || d[0].Candidates[0].Agent != first || d[0].Candidates[0].Continuity <= 0 {
		t.Fatalf("decision does not explain continuity: %+v", d)
	}
}

func TestQueueAndAgentPull(t *testing.T) {
	c := newCore(t, smallOrg(1))
	mustState(t, c, 0, "det-001", AgentAvailable)
	mustRoute(t, c, 1, RouteRequest{ContactID: "c1", Channel: "voice"})
	mustEvent(t, c, 2, ContactEvent{ContactID: "c1", Type: EventAccepted})
	r2 := mustRoute(t, c, 3, RouteRequest{ContactID: "c2", Channel: "voice"})
	r3 := mustRoute(t, c, 4, RouteRequest{ContactID: "c3", Channel: "voice", Priority: 5})
	if r2.Status != StatusQueued || r2.Position != 1 || r2.EWTSeconds == nil {
		t.Fatalf("c2: %+v", r2)
	}
	if r3.Position != 1 {
		t.Fatalf("higher priority c3 should be first, got position %d", r3.Position)
	}
	if r, _ := c.Route(at(5), &RouteRequest{ContactID: "c2", Channel: "voice"}); r.Position != 2 {
		t.Fatalf("c2 after c3 arrived: position %d, want 2", r.Position)
	}
	c.Events()
	mustEvent(t, c, 60, ContactEvent{ContactID: "c1", Type: EventEnded})
	mustEvent(t, c, 70, ContactEvent{ContactID: "c1", Type: EventWrappedUp})
	var asg *Assignment
	for _, e := range c.Events() {
		if e.Kind == KindAssigned {
			asg = e.Assignment
		}
	}
	if asg == nil || asg.ContactID != "c3" || asg.Agent != "det-001" || asg.Kind != "line" || asg.WaitedSeconds != 66 {
		t.Fatalf("assignment after wrap-up: %+v", asg)
	}
}

func TestOfferExpiryAndNotResponding(t *testing.T) {
	c := newCore(t, smallOrg(1))
	mustState(t, c, 0, "det-001", AgentAvailable)
	mustRoute(t, c, 0, RouteRequest{ContactID: "c1", Channel: "voice"})
	// Three offers in a row expire: 15 s TTL, 15 s cool-off before the same
	// agent gets the contact again.
	c.Tick(at(15))
	if a, _ := c.Agent("det-001"); a.State != AgentAvailable || a.Misses != 1 {
		t.Fatalf("after one expiry: %+v", a)
	}
	c.Tick(at(30)) // cool-off over: offered again
	c.Tick(at(45)) // second miss
	c.Tick(at(60))
	c.Tick(at(75)) // third miss
	a, _ := c.Agent("det-001")
	if a.State != AgentNotResponding {
		t.Fatalf("after three misses: %+v", a)
	}
	v, _ := c.Contact("c1")
	if v.State != ContactQueued {
		t.Fatalf("contact after misses: %+v", v)
	}
	// Coming back clears it, and the waiting contact is offered at once.
	mustState(t, c, 80, "det-001", AgentAvailable)
	if v, _ := c.Contact("c1"); v.State != ContactOffered || v.Agent != "det-001" {
		t.Fatalf("contact after agent returned: %+v", v)
	}
}

// TestAnsweringLiftsCoolOff: a chat agent who let a contact's offer
// expire, then answers another contact, is offered the first again at
// once when it has room: answering ends the cool-off, and nothing else
// would come to look for it.
func TestAnsweringLiftsCoolOff(t *testing.T) {
	c := newCore(t, smallOrg(1))
	mustState(t, c, 0, "det-001", AgentAvailable)
	mustRoute(t, c, 0, RouteRequest{ContactID: "a", Channel: "messaging"})
	c.Tick(at(15)) // a's offer expires: a waits, det-001 in its cool-off
	mustRoute(t, c, 16, RouteRequest{ContactID: "b", Channel: "messaging"})
	if v, _ := c.Contact("b"); v.State != ContactOffered || v.Agent != "det-001" {
		t.Fatalf("b: %+v", v)
	}
	if v, _ := c.Contact("a"); v.State != ContactQueued {
		t.Fatalf("a during the cool-off: %+v", v)
	}
	mustEvent(t, c, 17, ContactEvent{ContactID: "b", Type: EventAccepted})
	if v, _ := c.Contact("a"); v.State != ContactOffered || v.Agent != "det-001" {
		t.Fatalf("a once det-001 answered b: %+v", v)
	}
}

// TestCallbackKeepsCoolOffRetry: a contact that asks for a callback while
// an agent's cool-off holds it back is offered to that agent when the
// cool-off ends, as it would have been had it kept waiting on the line.
func TestCallbackKeepsCoolOffRetry(t *testing.T) {
	c := newCore(t, smallOrg(1))
	mustState(t, c, 0, "det-001", AgentAvailable)
	mustRoute(t, c, 0, RouteRequest{ContactID: "a", Channel: "voice", ANI: "+13135550100"})
	c.Tick(at(15)) // expires; cool-off until 30
	mustEvent(t, c, 20, ContactEvent{ContactID: "a", Type: EventCallbackRequested})
	if v, _ := c.Contact("a"); v.State != ContactCallback {
		t.Fatalf("a after asking for a callback: %+v", v)
	}
	c.Tick(at(31))
	if v, _ := c.Contact("a"); v.State != ContactOffered || v.Agent != "det-001" {
		t.Fatalf("a after the cool-off: %+v", v)
	}
}

// TestEarlierCoolOffKeepsItsRetry: a contact missed by two agents in turn
// is offered again to the first when the first's cool-off ends, although
// the second miss came later and set its own.
func TestEarlierCoolOffKeepsItsRetry(t *testing.T) {
	org := smallOrg(1)
	// No step opens between the misses and the first cool-off's end, to
	// dispatch the contact by chance.
	org.Routing.Chain = []teams.ChainStep{{Step: teams.StepHomeTeam, BudgetSeconds: 15},
		{Step: teams.StepSisterTeams, BudgetSeconds: 600}, {Step: teams.StepAnyTeam}}
	c := newCore(t, org)
	mustState(t, c, 0, "cle-001", AgentAvailable)
	if r := mustRoute(t, c, 0, RouteRequest{ContactID: "a", Channel: "voice", Market: "DET"}); r.Agent != "cle-001" {
		t.Fatalf("route: %+v", r)
	}
	mustState(t, c, 10, "det-001", AgentAvailable)
	c.Tick(at(15)) // cle-001 lets it expire (cool-off until 30); det-001 gets it
	if v, _ := c.Contact("a"); v.Agent != "det-001" {
		t.Fatalf("a after the first miss: %+v", v)
	}
	mustEvent(t, c, 20, ContactEvent{ContactID: "a", Type: EventRejected}) // cool-off until 35
	c.Tick(at(31))
	if v, _ := c.Contact("a"); v.State != ContactOffered || v.Agent != "cle-001" {
		t.Fatalf("a once cle-001's cool-off ended: %+v", v)
	}
}

// TestForgottenIDRoutedAgain: a contact forgotten after retention and
// routed anew under its id in the same interval is a change of the new
// contact, not a deletion, so the read store keeps its row.
func TestForgottenIDRoutedAgain(t *testing.T) {
	org := smallOrg(1)
	org.Routing.ContactRetentionSeconds = 60
	c := newCoreWith(t, org, Options{TrackChanges: true})
	mustRoute(t, c, 0, RouteRequest{ContactID: "a", Channel: "voice"})
	mustEvent(t, c, 1, ContactEvent{ContactID: "a", Type: EventAbandoned})
	c.TakeChanges()
	mustRoute(t, c, 100, RouteRequest{ContactID: "a", Channel: "voice"}) // forgotten at 61
	ch := c.TakeChanges()
	if slices.Contains(ch.Gone, "a") || !slices.ContainsFunc(ch.Contacts, func(v ContactView) bool { return v.ContactID == "a" }) {
		t.Fatalf("changes after a forgotten id came back: gone %v, contacts %+v", ch.Gone, ch.Contacts)
	}
}

// TestRetentionBound: past max_retained_contacts the oldest finished
// contacts are forgotten before their retention ends, in the order they
// finished, and a restore into a lower bound forgets down to it.
func TestRetentionBound(t *testing.T) {
	org := smallOrg(1)
	org.Routing.MaxRetainedContacts = 3
	c := newCoreWith(t, org, Options{TrackChanges: true})
	for i := range 5 {
		id := fmt.Sprint("c", i)
		mustRoute(t, c, float64(i), RouteRequest{ContactID: id, Channel: "voice"})
		mustEvent(t, c, float64(i)+0.5, ContactEvent{ContactID: id, Type: EventAbandoned})
	}
	if held, cut := c.Retention(); held != 3 || cut != 2 {
		t.Fatalf("held %d, cut short %d; want 3 and 2", held, cut)
	}
	if gone := c.TakeChanges().Gone; !slices.Equal(gone, []string{"c0", "c1"}) {
		t.Fatalf("forgotten %v, want the two that finished first", gone)
	}
	for i := range 5 {
		_, err := c.HandleContactEvent(at(10), &ContactEvent{ContactID: fmt.Sprint("c", i), Type: EventAbandoned})
		if known := !errors.Is(err, ErrUnknownContact); known != (i >= 2) {
			t.Fatalf("c%d: %v", i, err)
		} else if !known && !strings.Contains(err.Error(), "the latest 3 at most") {
			t.Fatalf("the error does not name the bound: %v", err)
		}
	}
	// A contact still live is never forgotten for the bound.
	mustRoute(t, c, 20, RouteRequest{ContactID: "live", Channel: "voice"})
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	org.Routing.MaxRetainedContacts = 1
	r, err := Restore(org, Options{TrackChanges: true}, snap)
	if err != nil {
		t.Fatal(err)
	}
	if held, _ := r.Retention(); held != 1 {
		t.Fatalf("after a restore into a bound of 1: %d held", held)
	}
	if _, ok := r.Contact("c4"); !ok {
		t.Fatal("the latest finished contact was forgotten")
	}
	if v, ok := r.Contact("live"); !ok || v.State != ContactQueued {
		t.Fatalf("the live contact: %+v %v", v, ok)
	}
}

func TestSisterTeamAfterBudget(t *testing.T) {
	c := newCore(t, smallOrg(1))
	mustState(t, c, 0, "det-001", AgentAvailable)
	mustState(t, c, 0, "cle-001", AgentAvailable)
	mustRoute(t, c, 0, RouteRequest{ContactID: "busy", Channel: "voice", Market: "DET"})
	mustEvent(t, c, 1, ContactEvent{ContactID: "busy", Type: EventAccepted})
	r := mustRoute(t, c, 2, RouteRequest{ContactID: "c1", Channel: "voice", Market: "DET"})
	if r.Status != StatusQueued || r.Step != "home_team" {
		t.Fatalf("c1 should wait for the home team first: %+v", r)
	}
	// The home-team budget is 12 s by default.
	c.Tick(at(13.9))
	if v, _ := c.Contact("c1"); v.State != ContactQueued {
		t.Fatalf("sister team took it before the budget ran out: %+v", v)
	}
	c.Tick(at(14))
	v, _ := c.Contact("c1")
	if v.State != ContactOffered || v.Agent != "cle-001" || v.Step != "sister_teams" {
		t.Fatalf("after the home-team budget: %+v", v)
	}
}

// callbackWaiting leaves acct-42's callback "back" reserved for det-001,
// who is busy with "other", while det-002 is free.
func callbackWaiting(t *testing.T) *Core {
	t.Helper()
	c := newCore(t, smallOrg(2))
	mustState(t, c, 0, "det-001", AgentAvailable)
	mustRoute(t, c, 0, RouteRequest{ContactID: "old", Channel: "voice", CustomerID: "acct-42"})
	serve(t, c, 1, "old", "det-001", false)
	mustRoute(t, c, 100, RouteRequest{ContactID: "other", Channel: "voice"})
	mustEvent(t, c, 101, ContactEvent{ContactID: "other", Type: EventAccepted})
	r := mustRoute(t, c, 110, RouteRequest{ContactID: "back", Channel: "voice", CustomerID: "acct-42", ANI: "+13135550142"})
	if r.Status != StatusQueued {
		t.Fatalf("back: %+v", r)
	}
	mustEvent(t, c, 115, ContactEvent{ContactID: "back", Type: EventCallbackRequested})
	mustState(t, c, 120, "det-002", AgentAvailable)
	return c
}

func TestCallbackReservedForKnownAgent(t *testing.T) {
	c := callbackWaiting(t)
	// The callback is reserved for det-001, so det-002 does not take it.
	if v, _ := c.Contact("back"); v.State != ContactCallback || v.Step != "known_agent" {
		t.Fatalf("callback went elsewhere: %+v", v)
	}
	c.Events()
	mustEvent(t, c, 300, ContactEvent{ContactID: "other", Type: EventEnded})
	mustEvent(t, c, 301, ContactEvent{ContactID: "other", Type: EventWrappedUp})
	var asg *Assignment
	for _, e := range c.Events() {
		if e.Kind == KindAssigned {
			asg = e.Assignment
		}
	}
	want := &Assignment{ContactID: "back", Kind: "callback", Market: "DET", Team: "CHA-DET", Agent: "det-001",
		Endpoint: "sip:det-001@cha.example.net", OfferExpiresAt: at(316), WaitedSeconds: 191, Number: "+13135550142", Step: "known_agent"}
	if diff := cmp.Diff(want, asg); diff != "" {
		t.Fatalf("callback assignment (-want +got):\n%s", diff)
	}
}

func TestCallbackDeadlineOpensTeam(t *testing.T) {
	c := callbackWaiting(t)
	c.Tick(at(115 + 1799))
	if v, _ := c.Contact("back"); v.State != ContactCallback {
		t.Fatalf("before the deadline: %+v", v)
	}
	c.Tick(at(115 + 1800))
	if v, _ := c.Contact("back"); v.State != ContactOffered || v.Agent != "det-002" {
		t.Fatalf("after the deadline: %+v", v)
	}
}

func TestMessagingSlotsAndVoiceExclusive(t *testing.T) {
	c := newCore(t, smallOrg(1))
	mustState(t, c, 0, "det-001", AgentAvailable)
	for i, id := range []string{"m1", "m2", "m3"} {
		r := mustRoute(t, c, float64(i), RouteRequest{ContactID: id, Channel: "messaging", Market: "DET"})
		if r.Agent != "det-001" {
			t.Fatalf("%s: %+v", id, r)
		}
		mustEvent(t, c, float64(i), ContactEvent{ContactID: id, Type: EventAccepted})
	}
	if r := mustRoute(t, c, 5, RouteRequest{ContactID: "m4", Channel: "messaging", Market: "DET"}); r.Status != StatusQueued {
		t.Fatalf("fourth chat: %+v", r)
	}
	if r := mustRoute(t, c, 5, RouteRequest{ContactID: "v1", Channel: "voice", Market: "DET"}); r.Status != StatusQueued {
		t.Fatalf("a call to an agent with chats: %+v", r)
	}
	a, _ := c.Agent("det-001")
	if diff := cmp.Diff([]string{"m1", "m2", "m3"}, a.Contacts); diff != "" || a.State != AgentBusy {
		t.Fatalf("agent %+v %s", a, diff)
	}
}

func TestWrapTimerThenLateWrapUp(t *testing.T) {
	c := newCore(t, smallOrg(1))
	mustState(t, c, 0, "det-001", AgentAvailable)
	mustRoute(t, c, 0, RouteRequest{ContactID: "c1", Channel: "voice"})
	mustEvent(t, c, 1, ContactEvent{ContactID: "c1", Type: EventAccepted})
	mustEvent(t, c, 100, ContactEvent{ContactID: "c1", Type: EventEnded})
	c.Events()
	c.Tick(at(160))
	var recs []*ResolvedContact
	for _, e := range c.Events() {
		if e.Kind == KindResolved {
			recs = append(recs, e.Resolved)
		}
	}
	if len(recs) != 1 || recs[0].Resolved != nil || recs[0].WrapSeconds != 60 {
		t.Fatalf("timer record: %+v", recs)
	}
	no := false
	mustEvent(t, c, 200, ContactEvent{ContactID: "c1", Type: EventWrappedUp, Resolved: &no, Disposition: "follow-up"})
	for _, e := range c.Events() {
		if e.Kind == KindResolved {
			recs = append(recs, e.Resolved)
		}
	}
	if len(recs) != 2 || recs[1].Resolved == nil || *recs[1].Resolved || !recs[1].Corrected || recs[1].Disposition != "follow-up" {
		t.Fatalf("corrected record: %+v", recs[1])
	}
}

func TestAgentStateTransitions(t *testing.T) {
	c := newCore(t, smallOrg(1))
	_, err := c.SetAgentState(at(0), &AgentStateRequest{AgentID: "nobody", State: AgentAvailable})
	wantCode(t, err, ErrUnknownAgent)
	_, err = c.SetAgentState(at(0), &AgentStateRequest{AgentID: "det-001", State: AgentBusy})
	wantCode(t, err, ErrInvalidRequest)
	_, err = c.SetAgentState(at(0), &AgentStateRequest{AgentID: "det-001", State: "lunch"})
	wantCode(t, err, ErrInvalidRequest)
	if r := mustState(t, c, 0, "det-001", AgentOffline); r.Changed {
		t.Fatal("setting the current state changed something")
	}
	mustState(t, c, 0, "det-001", AgentAvailable)
	mustRoute(t, c, 1, RouteRequest{ContactID: "c1", Channel: "voice"})
	_, err = c.SetAgentState(at(2), &AgentStateRequest{AgentID: "det-001", State: AgentAvailable})
	wantCode(t, err, ErrInvalidTransition)
	r := mustState(t, c, 2, "det-001", AgentOffline)
	if r.State != AgentReserved || r.Pending != AgentOffline {
		t.Fatalf("offline during an offer: %+v", r)
	}
	mustEvent(t, c, 3, ContactEvent{ContactID: "c1", Type: EventAccepted})
	mustEvent(t, c, 30, ContactEvent{ContactID: "c1", Type: EventEnded})
	// Available during wrap-up ends it early.
	mustState(t, c, 35, "det-001", AgentAvailable)
	a, _ := c.Agent("det-001")
	if a.State != AgentAvailable || a.Pending != "" {
		t.Fatalf("after available in wrap-up: %+v", a)
	}
}

func TestContactEventErrors(t *testing.T) {
	c := newCore(t, smallOrg(1))
	mustState(t, c, 0, "det-001", AgentAvailable)
	mustRoute(t, c, 0, RouteRequest{ContactID: "c1", Channel: "voice"})
	tests := []struct {
		name string
		ev   ContactEvent
		want *Error
	}{
		{"unknown contact", ContactEvent{ContactID: "zz", Type: EventAccepted}, ErrUnknownContact},
		{"unknown type", ContactEvent{ContactID: "c1", Type: "hung_up"}, ErrInvalidRequest},
		{"no type", ContactEvent{ContactID: "c1"}, ErrInvalidRequest},
		{"unknown agent", ContactEvent{ContactID: "c1", Type: EventAccepted, AgentID: "ghost"}, ErrUnknownAgent},
		{"other agent accepts", ContactEvent{ContactID: "c1", Type: EventAccepted, AgentID: "cle-001"}, ErrInvalidTransition},
		{"end before accept", ContactEvent{ContactID: "c1", Type: EventEnded}, ErrInvalidTransition},
		{"wrap before end", ContactEvent{ContactID: "c1", Type: EventWrappedUp}, ErrInvalidTransition},
		{"callback while offered", ContactEvent{ContactID: "c1", Type: EventCallbackRequested, Number: "+13135550100"}, ErrInvalidTransition},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := c.Contact("c1")
			_, err := c.HandleContactEvent(at(1), &tc.ev)
			wantCode(t, err, tc.want)
			after, _ := c.Contact("c1")
			if diff := cmp.Diff(before, after, cmpopts.EquateApproxTime(time.Millisecond)); diff != "" {
				t.Fatalf("refused event changed the contact (-before +after):\n%s", diff)
			}
		})
	}
}

func TestRepeatedRouteIsIdempotent(t *testing.T) {
	c := newCore(t, smallOrg(1))
	r1 := mustRoute(t, c, 0, RouteRequest{ContactID: "c1", Channel: "voice"})
	c.Events()
	r2 := mustRoute(t, c, 1, RouteRequest{ContactID: "c1", Channel: "messaging", Priority: 50})
	if r1.Position != r2.Position || r2.Status != StatusQueued || len(c.Events()) != 0 {
		t.Fatalf("retry changed things: %+v vs %+v", r1, r2)
	}
}

func TestRoutingGroupOwnsItsTeamsOnly(t *testing.T) {
	c, err := New(smallOrg(1), Options{Teams: []string{"CHA-DET"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Route(at(0), &RouteRequest{ContactID: "c1", Channel: "voice", Market: "CLE"})
	wantCode(t, err, ErrUnavailable)
	_, err = c.SetAgentState(at(0), &AgentStateRequest{AgentID: "cle-001", State: AgentAvailable})
	wantCode(t, err, ErrUnavailable)
	// The sister team belongs to another group: this core never reserves its agents.
	r := mustRoute(t, c, 0, RouteRequest{ContactID: "c2", Channel: "voice", Market: "DET"})
	c.Tick(at(3600))
	if v, _ := c.Contact("c2"); r.Status != StatusQueued || v.State != ContactQueued {
		t.Fatalf("contact left the group: %+v", v)
	}
	if _, err := New(smallOrg(1), Options{Teams: []string{"NOPE"}}); err == nil {
		t.Fatal("unknown team in a routing group was accepted")
	}
}
