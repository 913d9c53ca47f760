package router

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tex-cx/tex/teams"
)

// knownBusy builds the known-agent setting: acct-42 and acct-43 were served
// by det-001 (one 70 s contact each, the team's only handle times), and
// det-001 has been on contact "other" since t=100. det-002 is free from
// t=105. The default handle time, which stands in for the samples the team
// lacks, is the same 70 s. tune changes the routing config first.
func knownBusy(t *testing.T, tune func(*teams.RoutingConfig)) *Core {
	t.Helper()
	org := smallOrg(2)
	org.Routing.DefaultHandleSeconds = 70
	org.Customers.Add("acct-43", "DET", "+13135550143")
	if tune != nil {
		tune(&org.Routing)
	}
	c := newCore(t, org)
	mustState(t, c, 0, "det-001", AgentAvailable)
	mustRoute(t, c, 0, RouteRequest{ContactID: "old42", Channel: "voice", CustomerID: "acct-42"})
	serve(t, c, 0, "old42", "det-001", false)
	mustRoute(t, c, 80, RouteRequest{ContactID: "old43", Channel: "voice", CustomerID: "acct-43"})
	mustEvent(t, c, 80, ContactEvent{ContactID: "old43", Type: EventAccepted})
	mustEvent(t, c, 140, ContactEvent{ContactID: "old43", Type: EventEnded})
	mustEvent(t, c, 150, ContactEvent{ContactID: "old43", Type: EventWrappedUp})
	mustRoute(t, c, 150, RouteRequest{ContactID: "other", Channel: "voice"})
	mustEvent(t, c, 150, ContactEvent{ContactID: "other", Type: EventAccepted})
	mustState(t, c, 155, "det-002", AgentAvailable)
	return c
}

// TestKnownAgentChoice pins what a returning caller gets while the known
// agent is busy: a hold when the agent is about to free up, a callback
// reserved for them when they are further away, the team at once when
// they are too far or not coming back.
func TestKnownAgentChoice(t *testing.T) {
	wait := func(s float64) *float64 { return &s }
	tests := []struct {
		name  string
		tune  func(*teams.RoutingConfig)
		setup func(t *testing.T, c *Core) // after knownBusy; "back" arrives at 160
		// want: the reply to "back" and the choice in its decision record
		status, step, agent string
		cbOffered           bool
		trace               KnownAgentTrace
	}{
		{
			name: "busy, expected in 60 s: callback reserved for them",
			// "other" has lasted 10 s of the team's 70 s contacts.
			status: StatusQueued, step: "known_agent", cbOffered: true,
			trace: KnownAgentTrace{Agent: "det-001", ExpectedWaitSeconds: wait(60), Choice: KnownCallback},
		},
		{
			name: "wrapping up, 3 s left: hold on the line",
			setup: func(t *testing.T, c *Core) {
				mustEvent(t, c, 157, ContactEvent{ContactID: "other", Type: EventEnded}) // wrap-up timer: 60 s
				c.Tick(at(214))
			},
			status: StatusQueued, step: "known_agent",
			trace: KnownAgentTrace{Agent: "det-001", ExpectedWaitSeconds: wait(3), Choice: KnownHold},
		},
		{
			name:   "further than known_agent_callback_seconds: the team at once",
			tune:   func(rc *teams.RoutingConfig) { rc.KnownAgentCallbackSeconds = 30 },
			status: StatusAssigned, step: "home_team", agent: "det-002",
			trace: KnownAgentTrace{Agent: "det-001", ExpectedWaitSeconds: wait(60), Choice: KnownTeam},
		},
		{
			name:   "no known-agent callbacks: the team at once",
			tune:   func(rc *teams.RoutingConfig) { rc.CallbackForKnownAgent = false },
			status: StatusAssigned, step: "home_team", agent: "det-002",
			trace: KnownAgentTrace{Agent: "det-001", ExpectedWaitSeconds: wait(60), Choice: KnownTeam},
		},
		{
			name: "a callback already waits for them: one more handle time",
			tune: func(rc *teams.RoutingConfig) { rc.KnownAgentCallbackSeconds = 100 },
			setup: func(t *testing.T, c *Core) {
				mustState(t, c, 156, "det-002", AgentAway)
				mustRoute(t, c, 156, RouteRequest{ContactID: "back43", Channel: "voice", CustomerID: "acct-43", ANI: "+13135550143"})
				mustEvent(t, c, 156, ContactEvent{ContactID: "back43", Type: EventCallbackRequested})
				mustState(t, c, 157, "det-002", AgentAvailable)
			},
			status: StatusAssigned, step: "home_team", agent: "det-002",
			trace: KnownAgentTrace{Agent: "det-001", ExpectedWaitSeconds: wait(60 + 70), Choice: KnownTeam},
		},
		{
			name: "on the way out: not coming, the team at once",
			setup: func(t *testing.T, c *Core) {
				mustState(t, c, 158, "det-001", AgentAway)
			},
			status: StatusAssigned, step: "home_team", agent: "det-002",
			trace: KnownAgentTrace{Agent: "det-001", Choice: KnownTeam},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := knownBusy(t, tc.tune)
			if tc.setup != nil {
				tc.setup(t, c)
			}
			now := max(160, toSeconds(c.now-toTS(t0)))
			r := mustRoute(t, c, now, RouteRequest{ContactID: "back", Channel: "voice", CustomerID: "acct-42"})
			if r.Status != tc.status || r.Step != tc.step || r.Agent != tc.agent || r.CallbackOffered != tc.cbOffered {
				t.Fatalf("reply: %s at %s to %q, callback offered %v; want %s at %s to %q, %v",
					r.Status, r.Step, r.Agent, r.CallbackOffered, tc.status, tc.step, tc.agent, tc.cbOffered)
			}
			d, _ := c.Decisions("back")
			if len(d) == 0 || d[0].KnownAgent == nil {
				t.Fatalf("no known-agent choice in the decision: %+v", d)
			}
			if diff := cmp.Diff(tc.trace, *d[0].KnownAgent); diff != "" {
				t.Fatalf("known-agent choice (-want +got):\n%s", diff)
			}
		})
	}
}

// TestKnownAgentHoldEnds: a held caller goes to the known agent when they
// free up within the hold, and to the team when they do not.
func TestKnownAgentHoldEnds(t *testing.T) {
	// "other" has lasted 66 s of the team's 70 s contacts: 4 s left.
	hold := func(t *testing.T) *Core {
		c := knownBusy(t, nil)
		r := mustRoute(t, c, 216, RouteRequest{ContactID: "back", Channel: "voice", CustomerID: "acct-42"})
		if r.Status != StatusQueued || r.Step != "known_agent" || r.CallbackOffered {
			t.Fatalf("back: %+v", r)
		}
		return c
	}
	t.Run("agent frees within the hold", func(t *testing.T) {
		c := hold(t)
		c.Tick(at(218))
		if v, _ := c.Contact("back"); v.State != ContactQueued {
			t.Fatalf("det-002 took the held caller: %+v", v)
		}
		mustEvent(t, c, 219, ContactEvent{ContactID: "other", Type: EventEnded})
		mustEvent(t, c, 219, ContactEvent{ContactID: "other", Type: EventWrappedUp})
		if v, _ := c.Contact("back"); v.State != ContactOffered || v.Agent != "det-001" || v.Step != "known_agent" {
			t.Fatalf("after the known agent freed up: %+v", v)
		}
	})
	t.Run("hold runs out", func(t *testing.T) {
		c := hold(t)
		c.Tick(at(221)) // the known_agent budget (5 s) ends
		if v, _ := c.Contact("back"); v.State != ContactOffered || v.Agent != "det-002" || v.Step != "home_team" {
			t.Fatalf("after the hold: %+v", v)
		}
	})
}

// TestKnownAgentCallbackReleased: a callback reserved for the known agent
// goes to the team at once when that agent stops taking work.
func TestKnownAgentCallbackReleased(t *testing.T) {
	c := knownBusy(t, nil)
	mustState(t, c, 156, "det-002", AgentAway)
	r := mustRoute(t, c, 160, RouteRequest{ContactID: "back", Channel: "voice", CustomerID: "acct-42", ANI: "+13135550142"})
	if !r.CallbackOffered {
		t.Fatalf("back: %+v", r)
	}
	mustEvent(t, c, 161, ContactEvent{ContactID: "back", Type: EventCallbackRequested})
	mustState(t, c, 170, "det-002", AgentAvailable)
	if v, _ := c.Contact("back"); v.State != ContactCallback || v.Step != "known_agent" {
		t.Fatalf("callback not reserved for the known agent: %+v", v)
	}
	// The known agent will go away after the current call: the callback
	// no longer waits for them.
	mustState(t, c, 200, "det-001", AgentAway)
	if v, _ := c.Contact("back"); v.State != ContactOffered || v.Agent != "det-002" || v.Step != "home_team" {
		t.Fatalf("callback after its agent asked for a break: %+v", v)
	}
}

// TestCallbackYield: a free agent takes a caller on the line before a
// callback that has waited less than callback_yield_seconds.
func TestCallbackYield(t *testing.T) {
	tests := []struct {
		name  string
		yield float64
		free  float64 // when det-001 frees up
		want  string
	}{
		{"yield off: queue order", 0, 200, "cb"},
		{"recent callback gives way to the line", 600, 200, "line"},
		{"callback waited out its yield", 600, 1000, "cb"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			org := smallOrg(1)
			org.Routing.CallbackYieldSeconds = tc.yield
			org.Routing.CallbackThresholdSeconds = 0
			c := newCore(t, org)
			mustState(t, c, 0, "det-001", AgentAvailable)
			mustRoute(t, c, 0, RouteRequest{ContactID: "busy", Channel: "voice"})
			mustEvent(t, c, 0, ContactEvent{ContactID: "busy", Type: EventAccepted})
			r := mustRoute(t, c, 10, RouteRequest{ContactID: "cb", Channel: "voice", ANI: "+13135550111"})
			if !r.CallbackOffered {
				t.Fatalf("cb: %+v", r)
			}
			mustEvent(t, c, 10, ContactEvent{ContactID: "cb", Type: EventCallbackRequested})
			mustRoute(t, c, tc.free-1, RouteRequest{ContactID: "line", Channel: "voice"})
			mustEvent(t, c, tc.free, ContactEvent{ContactID: "busy", Type: EventEnded})
			mustEvent(t, c, tc.free, ContactEvent{ContactID: "busy", Type: EventWrappedUp})
			a, _ := c.Agent("det-001")
			if len(a.Contacts) != 1 || a.Contacts[0] != tc.want {
				t.Fatalf("det-001 took %v, want %s", a.Contacts, tc.want)
			}
		})
	}
}

// TestEWTSkipsReservedCallbacks: a callback reserved for a known agent does
// not take the team's next free slot, so a caller behind it on the line
// gets the EWT of the head of the line.
func TestEWTSkipsReservedCallbacks(t *testing.T) {
	c := knownBusy(t, nil)
	mustRoute(t, c, 156, RouteRequest{ContactID: "busy2", Channel: "voice"})
	mustEvent(t, c, 156, ContactEvent{ContactID: "busy2", Type: EventAccepted})
	head := mustRoute(t, c, 160, RouteRequest{ContactID: "x0", Channel: "voice"})
	mustEvent(t, c, 160, ContactEvent{ContactID: "x0", Type: EventAbandoned})
	mustRoute(t, c, 160, RouteRequest{ContactID: "back", Channel: "voice", CustomerID: "acct-42", ANI: "+13135550142"})
	mustEvent(t, c, 160, ContactEvent{ContactID: "back", Type: EventCallbackRequested})
	r := mustRoute(t, c, 160, RouteRequest{ContactID: "x1", Channel: "voice"})
	if head.Position != 1 || r.Position != 2 || head.EWTSeconds == nil || r.EWTSeconds == nil {
		t.Fatalf("head %+v, behind the callback %+v", head, r)
	}
	if *r.EWTSeconds != *head.EWTSeconds {
		t.Fatalf("EWT behind a reserved callback %v, want the head's %v", *r.EWTSeconds, *head.EWTSeconds)
	}
	// Every read of the queue agrees: one contact's view, the team's
	// queue, and the read store's lines (first + (position-1) * step).
	mustRoute(t, c, 160, RouteRequest{ContactID: "x2", Channel: "voice"})
	queue, _ := c.Queue("CHA-DET")
	waiting := c.WaitingViews()
	if len(queue) != 3 || len(waiting) != 3 {
		t.Fatalf("queue %d contacts, waiting views %d; want 3", len(queue), len(waiting))
	}
	for i, q := range queue {
		one, _ := c.Contact(q.ContactID)
		w := waiting[i]
		if q.EWTSeconds == nil || one.EWTSeconds == nil || !w.HasEWT || w.ContactID != q.ContactID {
			t.Fatalf("%s: no EWT in queue %+v, contact %+v or line %+v", q.ContactID, q, one, w)
		}
		line := w.EWTFirst + float64(q.Position-1)*w.EWTStep
		if *q.EWTSeconds != *one.EWTSeconds || math.Abs(line-*one.EWTSeconds) > 0.05 { // views show tenths
			t.Errorf("%s at %d: queue EWT %v, contact EWT %v, line %v", q.ContactID, q.Position, *q.EWTSeconds, *one.EWTSeconds, line)
		}
	}
}

// TestKnownAgentWindow: the last agent is the known agent only within
// known_agent_window_seconds of the contact; after it the customer goes to
// the team without a hold or a callback.
func TestKnownAgentWindow(t *testing.T) {
	for _, tc := range []struct {
		window float64
		known  bool
	}{{window: 200, known: true}, {window: 100, known: false}} {
		c := knownBusy(t, func(rc *teams.RoutingConfig) { rc.KnownAgentWindowSeconds = tc.window })
		// acct-42 was served by det-001 at 0; det-001 is busy, det-002 free.
		r := mustRoute(t, c, 160, RouteRequest{ContactID: "back", Channel: "voice", CustomerID: "acct-42"})
		d, _ := c.Decisions("back")
		if tc.known {
			if r.Status != StatusQueued || !r.CallbackOffered || d[0].KnownAgent == nil {
				t.Fatalf("window %v: want a known-agent callback offer, got %+v, choice %+v", tc.window, r, d[0].KnownAgent)
			}
			continue
		}
		if r.Status != StatusAssigned || r.Agent != "det-002" || r.CallbackOffered || d[0].KnownAgent != nil {
			t.Fatalf("window %v: want det-002 at once and no known agent, got %+v, choice %+v", tc.window, r, d[0].KnownAgent)
		}
	}
}
