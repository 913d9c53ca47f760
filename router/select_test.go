package router

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestFilterStages checks each eligibility stage on its own: one agent, one
// contact, one thing wrong at a time.
func TestFilterStages(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, c *Core)
		req   RouteRequest
		agent string
		want  SkipReason
	}{
		{"eligible", nil, RouteRequest{Channel: "voice"}, "det-001", ""},
		{"role", nil, RouteRequest{Channel: "voice"}, "det-coach", SkipRole},
		{"channel", nil, RouteRequest{Channel: "messaging"}, "det-coach2", SkipChannel},
		{"language", nil, RouteRequest{Channel: "voice", Language: "es"}, "det-001", SkipLanguage},
		{"skill below the minimum", nil, RouteRequest{Channel: "voice", Skills: []string{"tech"}}, "det-002", SkipSkill},
		{"offline", func(t *testing.T, c *Core) { mustState(t, c, 0, "det-001", AgentOffline) }, RouteRequest{Channel: "voice"}, "det-001", SkipOffline},
		{"away", func(t *testing.T, c *Core) { mustState(t, c, 0, "det-001", AgentAway) }, RouteRequest{Channel: "voice"}, "det-001", SkipAway},
		{"capacity: a call takes the whole agent", func(t *testing.T, c *Core) {
			mustRoute(t, c, 0, RouteRequest{ContactID: "m1", Channel: "messaging", Market: "DET"})
		}, RouteRequest{Channel: "voice"}, "det-001", SkipCapacity},
		{"logging out", func(t *testing.T, c *Core) {
			mustRoute(t, c, 0, RouteRequest{ContactID: "m1", Channel: "messaging", Market: "DET"})
			mustState(t, c, 0, "det-001", AgentOffline)
		}, RouteRequest{Channel: "messaging"}, "det-001", SkipLoggingOut},
		{"wrap-up", func(t *testing.T, c *Core) {
			mustRoute(t, c, 0, RouteRequest{ContactID: "v1", Channel: "voice", Market: "DET"})
			mustEvent(t, c, 0, ContactEvent{ContactID: "v1", Type: EventAccepted})
			mustEvent(t, c, 0, ContactEvent{ContactID: "v1", Type: EventEnded})
		}, RouteRequest{Channel: "voice"}, "det-001", SkipWrapUp},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			org := smallOrg(2)
			org.Agents[1].Skills["tech"] = 1
			org.Routing.SkillMinimums = map[string]int{"tech": 2}
			coach := org.Agents[2]
			coach.ID, coach.Role, coach.Channels = "det-coach2", "expert", map[string]int{"voice": 1}
			org.Agents = append(org.Agents, coach)
			c := newCore(t, org)
			for _, a := range []string{"det-001", "det-002", "det-coach", "det-coach2"} {
				mustState(t, c, 0, a, AgentAvailable)
			}
			if tc.setup != nil {
				tc.setup(t, c)
			}
			tc.req.ContactID, tc.req.Market = "probe", "DET"
			ct, err := c.newContact(&tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.eligible(ct, c.agents[c.agentIdx[tc.agent]]); got != tc.want {
				t.Fatalf("eligible = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestScorerComponents checks that every component lies in [0,1] and that
// each scorer moves the score the way its name says.
func TestScorerComponents(t *testing.T) {
	c := newCore(t, smallOrg(3))
	mustState(t, c, 0, "det-001", AgentAvailable)
	mustRoute(t, c, 10, RouteRequest{ContactID: "old", Channel: "voice", CustomerID: "acct-42"})
	serve(t, c, 10, "old", "det-001", false)
	mustState(t, c, 100, "det-002", AgentAvailable)
	mustState(t, c, 500, "det-003", AgentAvailable)
	ct, err := c.newContact(&RouteRequest{ContactID: "probe", Channel: "voice", CustomerID: "acct-42", Skills: []string{"tech"}})
	if err != nil {
		t.Fatal(err)
	}
	c.now = toTS(at(700))
	got := map[string]components{}
	for _, id := range []string{"det-001", "det-002", "det-003"} {
		k := c.score(ct, c.agents[c.agentIdx[id]])
		for _, v := range []float64{k.continuity, k.skill, k.fairness, k.load} {
			if v < 0 || v > 1 {
				t.Fatalf("%s: component out of [0,1]: %+v", id, k)
			}
		}
		got[id] = k
	}
	// det-001 served the customer (unresolved): full affinity; the others none.
	if got["det-001"].continuity < 0.99 || got["det-002"].continuity != 0 {
		t.Fatalf("continuity: %+v", got)
	}
	// tech proficiency is 1 + i%5: det-002 has 3, det-003 has 4.
	want := map[string]float64{"det-001": 2.0 / 5, "det-002": 3.0 / 5, "det-003": 4.0 / 5}
	for id, w := range want {
		if diff := cmp.Diff(w, got[id].skill, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
			t.Fatalf("%s skill (-want +got):\n%s", id, diff)
		}
	}
	// det-002 has been idle since t=100, det-003 since t=500: fairness orders them.
	if !(got["det-002"].fairness > got["det-003"].fairness) {
		t.Fatalf("fairness: %+v", got)
	}
}
