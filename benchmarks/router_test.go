package benchmarks

import (
	"fmt"
	"testing"
	"time"

	"github.com/tex-cx/tex/router"
	"github.com/tex-cx/tex/teams"
)

// carrierOrg is a carrier-size org: one market per team, agents with a
// handful of skills, a fifth of them bilingual, chats for half of them.
func carrierOrg(nTeams, perTeam int) *teams.Org {
	org := &teams.Org{Routing: teams.DefaultRouting(), Customers: teams.NewCustomers()}
	skills := []string{"billing", "sales", "activation", "tech", "retention"}
	for t := range nTeams {
		team := fmt.Sprintf("T%03d", t)
		org.Teams = append(org.Teams, teams.Team{ID: team, Site: fmt.Sprintf("S%02d", t/10)})
		org.Markets = append(org.Markets, teams.Market{ID: fmt.Sprintf("M%03d", t), HomeTeam: team,
			FallbackTeams: []string{fmt.Sprintf("T%03d", (t+1)%nTeams)}})
		for i := range perTeam {
			a := teams.Agent{ID: fmt.Sprintf("%s-%02d", team, i), Team: team, Role: teams.RoleExpert,
				Skills: map[string]int{}, Languages: []string{"en"}, Channels: map[string]int{"voice": 1}}
			for k, s := range skills {
				a.Skills[s] = 1 + (i+k)%5
			}
			if i%5 == 0 {
				a.Languages = append(a.Languages, "es")
			}
			if i%2 == 0 {
				a.Channels["messaging"] = 3
			}
			org.Agents = append(org.Agents, a)
		}
	}
	org.DefaultMarket = org.Markets[0].ID
	return org
}

func availableCore(b *testing.B, org *teams.Org, opts router.Options) *router.Core {
	b.Helper()
	c, err := router.New(org, opts)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	for i := range org.Agents {
		if _, err := c.SetAgentState(now, &router.AgentStateRequest{AgentID: org.Agents[i].ID, State: router.AgentAvailable}); err != nil {
			b.Fatal(err)
		}
	}
	c.Events()
	return c
}

// BenchmarkRouteDecision measures one route decision in the core: identify,
// eligibility over the home team, scoring, and the reservation. Each offer
// is then abandoned so the agent is free again; that release is included.
func BenchmarkRouteDecision(b *testing.B) {
	for _, size := range []struct{ teams, perTeam int }{{375, 40}, {30, 47}} {
		for _, explain := range []bool{false, true} {
			name := fmt.Sprintf("agents=%d/teams=%d/explain=%v", size.teams*size.perTeam, size.teams, explain)
			b.Run(name, func(b *testing.B) {
				org := carrierOrg(size.teams, size.perTeam)
				c := availableCore(b, org, router.Options{Explain: explain})
				now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
				req := router.RouteRequest{Channel: "voice", Skills: []string{"billing"}}
				markets := make([]string, len(org.Markets))
				for i := range org.Markets {
					markets[i] = org.Markets[i].ID
				}
				ids := make([]string, 1<<16)
				for i := range ids {
					ids[i] = fmt.Sprintf("c-%d", i)
				}
				// Setup check: a decision assigns an agent of the market's home team.
				req.ContactID, req.Market = "check", markets[7]
				r, err := c.Route(now, &req)
				if err != nil || r.Status != router.StatusAssigned || r.Team != org.Markets[7].HomeTeam {
					b.Fatalf("setup: %+v %v", r, err)
				}
				abandon := router.ContactEvent{Type: router.EventAbandoned, ContactID: "check"}
				if _, err := c.HandleContactEvent(now, &abandon); err != nil {
					b.Fatal(err)
				}
				n := 0
				b.ResetTimer()
				for b.Loop() {
					// Ids come back after 65,536 decisions, long after the
					// one-hour retention (36,000 decisions) forgot them.
					req.ContactID = ids[n&(len(ids)-1)]
					req.Market = markets[n%len(markets)]
					// 100 ms apart: finished contacts leave memory after the
					// retention window, as in a long-running server.
					now = now.Add(100 * time.Millisecond)
					r, err := c.Route(now, &req)
					if err != nil || r.Status != router.StatusAssigned {
						b.Fatalf("decision %d: %+v %v", n, r, err)
					}
					abandon.ContactID = req.ContactID
					if _, err := c.HandleContactEvent(now, &abandon); err != nil {
						b.Fatal(err)
					}
					c.Events()
					n++
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/decision")
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "decisions/s")
			})
		}
	}
}

// BenchmarkContactLifecycle measures a whole contact in the core: route,
// accept, end, wrap-up, with returning customers so continuity memory is
// read and written.
func BenchmarkContactLifecycle(b *testing.B) {
	org := carrierOrg(375, 40)
	c := availableCore(b, org, router.Options{})
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	yes := true
	customers := make([]string, 50_000)
	for i := range customers {
		customers[i] = fmt.Sprintf("acct-%d", i)
	}
	n := 0
	one := func() {
		id := fmt.Sprintf("c-%d", n)
		r, err := c.Route(now, &router.RouteRequest{ContactID: id, Channel: "voice",
			Market: org.Markets[n%len(org.Markets)].ID, CustomerID: customers[n%len(customers)]})
		if err != nil || r.Status != router.StatusAssigned {
			b.Fatalf("contact %d: %+v %v", n, r, err)
		}
		for _, ev := range []router.ContactEvent{{Type: router.EventAccepted}, {Type: router.EventEnded}, {Type: router.EventWrappedUp, Resolved: &yes}} {
			ev.ContactID = id
			if _, err := c.HandleContactEvent(now, &ev); err != nil {
				b.Fatal(err)
			}
		}
		c.Events()
		now = now.Add(time.Millisecond)
		n++
	}
	one() // setup check
	b.ResetTimer()
	for b.Loop() {
		one()
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "contacts/s")
}

// BenchmarkRouteOnly times route decisions alone: each round reserves one
// agent per team until the whole org is reserved (so a team's 40 agents are
// scanned with 40 down to 1 still free), then, off the clock, releases them all.
func BenchmarkRouteOnly(b *testing.B) {
	org := carrierOrg(375, 40)
	c := availableCore(b, org, router.Options{})
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	total := len(org.Agents)
	ids := make([]string, total)
	for i := range ids {
		ids[i] = fmt.Sprintf("c-%d", i)
	}
	req := router.RouteRequest{Channel: "voice", Skills: []string{"billing"}}
	abandon := router.ContactEvent{Type: router.EventAbandoned}
	round := 0
	n := 0
	release := func() {
		for i := range ids {
			abandon.ContactID = ids[i]
			if _, err := c.HandleContactEvent(now, &abandon); err != nil {
				b.Fatal(err)
			}
		}
		c.Events()
		// A new round needs new ids: the old ones are retained for an hour.
		round++
		now = now.Add(2 * time.Hour)
		for i := range ids {
			ids[i] = fmt.Sprintf("c-%d-%d", round, i)
		}
	}
	i := 0
	b.ResetTimer()
	for b.Loop() {
		req.ContactID, req.Market = ids[i], org.Markets[i%len(org.Markets)].ID
		r, err := c.Route(now, &req)
		if err != nil || r.Status != router.StatusAssigned {
			b.Fatalf("decision %d: %+v %v", n, r, err)
		}
		c.Events()
		n++
		if i++; i == total {
			b.StopTimer()
			release()
			i = 0
			b.StartTimer()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/decision")
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "decisions/s")
}
