package benchmarks

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tex-cx/tex/scorecard"
	"github.com/tex-cx/tex/server/natstest"
	"github.com/tex-cx/tex/teams"
)

// scorecardOrg is one market of 120,000 customers and its team of 47: 32
// experts, 8 tech specialists, 1 resolution expert, 4 coaches, 1 resource
// manager and 1 lead (DESIGN.md), plus a sister team.
func scorecardOrg() *teams.Org {
	org := &teams.Org{
		Markets: []teams.Market{{ID: "DET", HomeTeam: "CHA-DET"}, {ID: "CLE", HomeTeam: "CHA-CLE"}},
		Teams:   []teams.Team{{ID: "CHA-DET", Site: "Chattanooga"}, {ID: "CHA-CLE", Site: "Chattanooga"}},
		Routing: teams.DefaultRouting(), Scorecard: teams.DefaultScorecard(),
	}
	add := func(team string, role teams.Role, n int) {
		for range n {
			id := fmt.Sprintf("%s-%03d", team, len(org.Agents))
			org.Agents = append(org.Agents, teams.Agent{ID: id, Name: "Agent " + id, Team: team, Role: role})
		}
	}
	add("CHA-DET", teams.RoleExpert, 32)
	add("CHA-DET", teams.RoleTechSpecialist, 8)
	add("CHA-DET", teams.RoleResolution, 1)
	add("CHA-DET", teams.RoleCoach, 4)
	add("CHA-DET", teams.RoleResourceManager, 1)
	add("CHA-DET", teams.RoleLead, 1)
	add("CHA-CLE", teams.RoleExpert, 32)
	return org
}

// history makes a year (2026) of resolved contacts for the DET market:
// perYear contacts per customer on average, 95% of them served by the home
// team's 41 contact-taking agents, the rest by the sister team; a survey
// on one contact in five.
func history(customers int, perYear float64, seed uint64) ([]scorecard.Resolved, []scorecard.Survey) {
	r := rand.New(rand.NewPCG(seed, 1))
	org := scorecardOrg()
	var det, cle []string
	for _, a := range org.Agents {
		if org.Routing.TakesContacts(a.Role) {
			if a.Team == "CHA-DET" {
				det = append(det, a.ID)
			} else {
				cle = append(cle, a.ID)
			}
		}
	}
	n := int(float64(customers) * perYear)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	res := make([]scorecard.Resolved, 0, n)
	var surveys []scorecard.Survey
	conts := []string{scorecard.ContinuityFirstContact, scorecard.ContinuitySameAgent, scorecard.ContinuitySameTeam, scorecard.ContinuityOtherTeam}
	for i := range n {
		arrived := start.Add(time.Duration(float64(365*24*time.Hour) * float64(i) / float64(n)))
		team, agent, home := "CHA-DET", det[r.IntN(len(det))], true
		if r.IntN(20) == 0 {
			team, agent, home = "CHA-CLE", cle[r.IntN(len(cle))], false
		}
		talk := float64(120 + r.IntN(600))
		ended := arrived.Add(time.Duration(talk+float64(r.IntN(60))) * time.Second)
		resolved := r.IntN(10) < 8
		id := fmt.Sprintf("c-%07d", i)
		res = append(res, scorecard.Resolved{ContactID: id, CustomerID: fmt.Sprintf("acct-%06d", r.IntN(customers)),
			Market: "DET", Team: team, Agent: agent, Channel: "voice", ArrivedAt: arrived, AnsweredAt: arrived,
			EndedAt: ended, WrappedAt: ended.Add(40 * time.Second), TalkSeconds: talk, HoldSeconds: float64(r.IntN(60)),
			WrapSeconds: 40, Transferred: r.IntN(12) == 0, Resolved: &resolved, HomeTeam: home,
			Continuity: conts[r.IntN(len(conts))], Disposition: "billing-adjustment"})
		if r.IntN(5) == 0 {
			csat, nps := 1+r.IntN(5), r.IntN(11)
			surveys = append(surveys, scorecard.Survey{ContactID: id, CSAT: &csat, NPS: &nps})
		}
	}
	return res, surveys
}

// BenchmarkScorecardQuery: a team-month scorecard (47 agents) over a year
// of history of a 120,000-customer market. Target: <= 10 ms.
func BenchmarkScorecardQuery(b *testing.B) {
	for _, perYear := range []float64{1, 2, 4} {
		b.Run(fmt.Sprintf("customers=120k/contacts_per_customer_year=%g", perYear), func(b *testing.B) {
			res, surveys := history(120_000, perYear, 1)
			agg := scorecard.NewAggregator(scorecardOrg())
			for _, r := range res {
				if _, err := agg.ApplyResolved(r); err != nil {
					b.Fatal(err)
				}
			}
			for _, s := range surveys {
				if _, err := agg.ApplySurvey(s); err != nil {
					b.Fatal(err)
				}
			}
			p, _ := scorecard.ParsePeriod("2026-11")
			now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
			rep, err := agg.Query("CHA-DET", p, now)
			if err != nil {
				b.Fatal(err)
			}
			// The setup is right: a year applied, about a twelfth of it in
			// November, 47 agent rows, FCR still provisional at the month's end.
			if st := agg.Stats(); st.Contacts != len(res) || rep.Team.Contacts < len(res)/14 || len(rep.Agents) != 47 ||
				rep.Team.FCR == nil || !rep.Team.FCRProvisional || rep.Team.Score == nil {
				b.Fatalf("bad setup: stats %+v, team %+v, %d agents", st, rep.Team.Metrics, len(rep.Agents))
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := agg.Query("CHA-DET", p, now); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/query")
			b.ReportMetric(float64(rep.Team.Contacts), "contacts/month")
		})
	}
}

// BenchmarkScorecardIngest: a Service reads N resolved events from
// JetStream (embedded server, file storage) into its aggregates, from
// Start until it has applied the last one. Target: >= 50,000 events/s.
func BenchmarkScorecardIngest(b *testing.B) {
	for _, n := range []int{100_000} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			srv := natstest.Run(b)
			nc := natstest.Connect(b, srv.ClientURL())
			js := natstest.JetStream(b, nc)
			ctx := context.Background()
			if _, err := scorecard.EnsureEventStream(ctx, js, "tex"); err != nil {
				b.Fatal(err)
			}
			res, _ := history(120_000, float64(n)/120_000, 2)
			for _, r := range res {
				data, _ := json.Marshal(r)
				if _, err := js.PublishAsync(scorecard.ResolvedSubject("tex", r.Market), data); err != nil {
					b.Fatal(err)
				}
			}
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(time.Minute):
				b.Fatal("publish did not complete")
			}
			st, err := js.Stream(ctx, scorecard.StreamName)
			if err != nil {
				b.Fatal(err)
			}
			last := st.CachedInfo().State.LastSeq
			if st.CachedInfo().State.Msgs != uint64(n) {
				b.Fatalf("stream holds %d messages, want %d", st.CachedInfo().State.Msgs, n)
			}
			log := zerolog.Nop()
			events := 0
			i := 0
			for b.Loop() {
				i++
				// A new durable each time: no snapshot, so every run reads
				// the whole stream.
				svc := scorecard.New(scorecardOrg(), &log, scorecard.WithDurable(fmt.Sprintf("bench-%d", i)),
					scorecard.WithSnapshotInterval(0))
				if err := svc.Start(ctx, nc, "tex"); err != nil {
					b.Fatal(err)
				}
				for svc.Aggregator().LastSeq() < last {
					time.Sleep(time.Millisecond)
				}
				b.StopTimer()
				if got := svc.Aggregator().Stats().Contacts; got != n {
					b.Fatalf("applied %d contacts, want %d", got, n)
				}
				events += n
				svc.Stop() // writes a snapshot: not part of ingest
				b.StartTimer()
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
