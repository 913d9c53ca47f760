package router

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tex-cx/tex/teams"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

// smallOrg: two markets with a team each (DET home CHA-DET, sister CHA-CLE;
// CLE home CHA-CLE, sister CHA-DET), n experts per team, plus a coach.
func smallOrg(n int) *teams.Org {
	org := &teams.Org{
		DefaultMarket: "DET",
		Routing:       teams.DefaultRouting(),
		Markets: []teams.Market{
			{ID: "DET", Name: "Detroit", HomeTeam: "CHA-DET", FallbackTeams: []string{"CHA-CLE"}, AreaCodes: []string{"313"}},
			{ID: "CLE", Name: "Cleveland", HomeTeam: "CHA-CLE", FallbackTeams: []string{"CHA-DET"}, AreaCodes: []string{"216"}},
		},
		Teams: []teams.Team{{ID: "CHA-DET", Site: "Chattanooga"}, {ID: "CHA-CLE", Site: "Chattanooga"}},
	}
	for _, tm := range []string{"det", "cle"} {
		team := "CHA-" + map[string]string{"det": "DET", "cle": "CLE"}[tm]
		for i := 1; i <= n; i++ {
			org.Agents = append(org.Agents, teams.Agent{
				ID: fmt.Sprintf("%s-%03d", tm, i), Name: fmt.Sprintf("Agent %s %d", tm, i), Team: team,
				Role: teams.RoleExpert, Skills: map[string]int{"billing": 3, "tech": 1 + i%5},
				Languages: []string{"en"}, Channels: map[string]int{"voice": 1, "messaging": 3},
				Endpoint: fmt.Sprintf("sip:%s-%03d@cha.example.net", tm, i),
			})
		}
		org.Agents = append(org.Agents, teams.Agent{
			ID: tm + "-coach", Name: "Coach " + tm, Team: team, Role: teams.RoleCoach,
			Skills: map[string]int{"billing": 5}, Languages: []string{"en", "es"}, Channels: map[string]int{"voice": 1},
		})
	}
	cust := teams.NewCustomers()
	cust.Add("acct-42", "DET", "+13135550142")
	cust.Add("acct-77", "CLE", "+12165550177")
	org.Customers = cust
	return org
}

func newCore(t testing.TB, org *teams.Org) *Core {
	t.Helper()
	return newCoreWith(t, org, Options{Explain: true})
}

func newCoreWith(t testing.TB, org *teams.Org, opts Options) *Core {
	t.Helper()
	c, err := New(org, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustRoute(t testing.TB, c *Core, sec float64, req RouteRequest) RouteReply {
	t.Helper()
	r, err := c.Route(at(sec), &req)
	if err != nil {
		t.Fatalf("route %s: %v", req.ContactID, err)
	}
	return r
}

func mustState(t testing.TB, c *Core, sec float64, agent, state string) AgentStateReply {
	t.Helper()
	r, err := c.SetAgentState(at(sec), &AgentStateRequest{AgentID: agent, State: state})
	if err != nil {
		t.Fatalf("agent %s %s: %v", agent, state, err)
	}
	return r
}

func mustEvent(t testing.TB, c *Core, sec float64, ev ContactEvent) ContactEventReply {
	t.Helper()
	r, err := c.HandleContactEvent(at(sec), &ev)
	if err != nil {
		t.Fatalf("event %s %s: %v", ev.Type, ev.ContactID, err)
	}
	return r
}

func wantCode(t testing.TB, err error, sentinel *Error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("got error %v, want code %s", err, sentinel.Code)
	}
}

// serve runs one contact through accept, end and wrap-up.
func serve(t testing.TB, c *Core, sec float64, id, agent string, resolved bool) {
	t.Helper()
	mustEvent(t, c, sec, ContactEvent{ContactID: id, Type: EventAccepted, AgentID: agent})
	mustEvent(t, c, sec+60, ContactEvent{ContactID: id, Type: EventEnded})
	mustEvent(t, c, sec+70, ContactEvent{ContactID: id, Type: EventWrappedUp, Resolved: &resolved})
}
