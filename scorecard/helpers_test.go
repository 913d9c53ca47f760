package scorecard

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tex-cx/tex/server/natstest"
	"github.com/tex-cx/tex/teams"
)

// testOrg builds a two-team org: CHA-DET serves DET, CHA-CLE serves CLE.
func testOrg(mods ...func(*teams.Org)) *teams.Org {
	org := &teams.Org{
		Markets: []teams.Market{
			{ID: "DET", Name: "Detroit", HomeTeam: "CHA-DET"},
			{ID: "CLE", Name: "Cleveland", HomeTeam: "CHA-CLE"},
		},
		Teams: []teams.Team{
			{ID: "CHA-DET", Site: "Chattanooga"},
			{ID: "CHA-CLE", Site: "Chattanooga"},
		},
		Agents: []teams.Agent{
			{ID: "det-001", EmployeeID: "E1", Name: "Ana Ruiz", Team: "CHA-DET", Role: teams.RoleExpert},
			{ID: "det-002", Name: "Bo Chen", Team: "CHA-DET", Role: teams.RoleExpert},
			{ID: "det-lead", Name: "Cy Lead", Team: "CHA-DET", Role: teams.RoleLead},
			{ID: "cle-001", Name: "Di Park", Team: "CHA-CLE", Role: teams.RoleExpert},
		},
		Routing:   teams.DefaultRouting(),
		Scorecard: teams.DefaultScorecard(),
	}
	for _, m := range mods {
		m(org)
	}
	return org
}

// onlyMetric scores a single metric, so a test can compute scores by hand.
func onlyMetric(key string, floor, target float64) func(*teams.Org) {
	return func(o *teams.Org) {
		for _, spec := range teams.ScorecardMetricSpecs {
			o.Scorecard.Metrics.Target(spec.Key).Weight = 0
		}
		*o.Scorecard.Metrics.Target(key) = teams.MetricTarget{Floor: floor, Target: target, Weight: 1}
	}
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr[T any](v T) *T { return &v }

// contact builds a resolved record: a resolved, home-team, first contact of
// 5 minutes talk, ended 10 minutes after it arrived, wrapped 1 minute later.
func contact(id, customer, agent, arrived string, mods ...func(*Resolved)) Resolved {
	a := ts(arrived)
	r := Resolved{ContactID: id, CustomerID: customer, Market: "DET", Team: "CHA-DET", Agent: agent,
		Channel: "voice", ArrivedAt: a, AnsweredAt: a, EndedAt: a.Add(10 * time.Minute),
		WrappedAt: a.Add(11 * time.Minute), TalkSeconds: 300, Resolved: ptr(true), HomeTeam: true,
		Continuity: ContinuityFirstContact}
	for _, m := range mods {
		m(&r)
	}
	return r
}

func survey(id string, csat, nps int) Survey {
	s := Survey{ContactID: id}
	if csat >= 0 {
		s.CSAT = ptr(csat)
	}
	if nps >= 0 {
		s.NPS = ptr(nps)
	}
	return s
}

// apply applies events (Resolved or Survey) and fails the test on error.
func apply(t testing.TB, a *Aggregator, events ...any) {
	t.Helper()
	for _, e := range events {
		var err error
		switch e := e.(type) {
		case Resolved:
			_, err = a.ApplyResolved(e)
		case Survey:
			_, err = a.ApplySurvey(e)
		default:
			err = fmt.Errorf("unknown event %T", e)
		}
		if err != nil {
			t.Fatalf("apply %+v: %v", e, err)
		}
	}
}

func mustPeriod(t testing.TB, s string) Period {
	t.Helper()
	p, err := ParsePeriod(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustQuery(t testing.TB, a *Aggregator, team, period string, now time.Time) *Report {
	t.Helper()
	rep, err := a.Query(team, mustPeriod(t, period), now)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func agentRow(t testing.TB, rep *Report, id string) AgentRow {
	t.Helper()
	for _, r := range rep.Agents {
		if r.Agent == id {
			return r
		}
	}
	t.Fatalf("no row for agent %s", id)
	return AgentRow{}
}

var approx = cmpopts.EquateApprox(0, 1e-5)

func diff(want, got any) string { return cmp.Diff(want, got, approx) }

var checkFor = natstest.Eventually
