package scorecard

import (
	"testing"
	"time"

	"github.com/tex-cx/tex/teams"
)

var closed = ts("2027-06-01T00:00:00Z") // every repeat window of 2026 is closed

// TestMetricsHandComputed pins every metric of a small week, computed by
// hand in the comments.
func TestMetricsHandComputed(t *testing.T) {
	a := NewAggregator(testOrg())
	apply(t, a,
		// det-001: c1 (A, handle 300+60+40=400), repeated by c4 within 7 days.
		contact("c1", "A", "det-001", "2026-11-16T10:00:00Z", func(r *Resolved) { r.HoldSeconds, r.WrapSeconds = 60, 40 }),
		survey("c1", 5, 10),
		// c2 (B, 500+0+100=600), transferred, same_agent.
		contact("c2", "B", "det-001", "2026-11-17T10:00:00Z", func(r *Resolved) {
			r.TalkSeconds, r.WrapSeconds, r.Transferred, r.Continuity = 500, 100, true, ContinuitySameAgent
		}),
		survey("c2", 3, 7),
		// c3 (C, 200): not resolved, a CLE contact served in overflow, same_team.
		contact("c3", "C", "det-001", "2026-11-18T10:00:00Z", func(r *Resolved) {
			r.TalkSeconds, r.Resolved, r.HomeTeam, r.Market, r.Continuity = 200, ptr(false), false, "CLE", ContinuitySameTeam
		}),
		survey("c3", -1, 3),
		// c4 (A again, 800), same_agent.
		contact("c4", "A", "det-001", "2026-11-20T10:00:00Z", func(r *Resolved) {
			r.TalkSeconds, r.Continuity = 800, ContinuitySameAgent
		}),
		// det-002: c5 (D, 300), other_team.
		contact("c5", "D", "det-002", "2026-11-19T10:00:00Z", func(r *Resolved) { r.Continuity = ContinuityOtherTeam }),
		survey("c5", 4, -1),
		// cle-001 serves a DET customer: DET's home-team share drops.
		contact("c6", "E", "cle-001", "2026-11-21T10:00:00Z", func(r *Resolved) { r.Team, r.HomeTeam = "CHA-CLE", false }),
	)
	rep := mustQuery(t, a, "CHA-DET", "2026-W47", closed)

	wantTeam := Metrics{
		Contacts:   5,
		AHTSeconds: ptr(460.0), AHTSecondsN: 5, // (400+600+200+800+300)/5
		TransferRate: ptr(0.2), TransferRateN: 5,
		FCR: ptr(0.6), FCRN: 5, // c2, c4, c5
		RepeatRate: ptr(0.2), RepeatRateN: 5, // c1
		CSAT: ptr(2.0 / 3), CSATN: 3, // 5, 3, 4
		NPS: ptr(0.0), NPSN: 3, // 10, 7, 3: one promoter, one detractor
		ContinuityRate: ptr(0.5), ContinuityRateN: 4, // c2, c4 of c2, c3, c4, c5
		HomeTeamShare: ptr(0.8), HomeTeamShareN: 5, // DET contacts c1 c2 c4 c5 c6, c6 by CHA-CLE
	}
	if d := diff(wantTeam, rep.Team.Metrics); d != "" {
		t.Errorf("team metrics (-want +got):\n%s", d)
	}
	want001 := Metrics{
		Contacts:   4,
		AHTSeconds: ptr(500.0), AHTSecondsN: 4,
		TransferRate: ptr(0.25), TransferRateN: 4,
		FCR: ptr(0.5), FCRN: 4, // c2, c4; c1 repeated, c3 not resolved
		RepeatRate: ptr(0.25), RepeatRateN: 4,
		CSAT: ptr(0.5), CSATN: 2,
		NPS: ptr(0.0), NPSN: 3,
		ContinuityRate: ptr(2.0 / 3), ContinuityRateN: 3,
		HomeTeamShare: ptr(0.75), HomeTeamShareN: 4, // an agent's share: its contacts that were home-team contacts
	}
	if d := diff(want001, agentRow(t, rep, "det-001").Metrics); d != "" {
		t.Errorf("det-001 (-want +got):\n%s", d)
	}
	want002 := Metrics{
		Contacts:   1,
		AHTSeconds: ptr(300.0), AHTSecondsN: 1,
		TransferRate: ptr(0.0), TransferRateN: 1,
		FCR: ptr(1.0), FCRN: 1,
		RepeatRate: ptr(0.0), RepeatRateN: 1,
		CSAT: ptr(1.0), CSATN: 1,
		NPS: nil, NPSN: 0, // no sample is null, never 0
		ContinuityRate: ptr(0.0), ContinuityRateN: 1,
		HomeTeamShare: ptr(1.0), HomeTeamShareN: 1,
	}
	if d := diff(want002, agentRow(t, rep, "det-002").Metrics); d != "" {
		t.Errorf("det-002 (-want +got):\n%s", d)
	}
	lead := agentRow(t, rep, "det-lead")
	if lead.Contacts != 0 || lead.AHTSeconds != nil || lead.IndividualScore != nil || lead.BlendedScore != nil || lead.TeamScore == nil {
		t.Errorf("lead without contacts: %+v", lead)
	}

	// Team score with the default config, metric by metric:
	// AHT 460 in [900→420]: 440/480; transfer 0.2 at the floor: 0;
	// FCR 0.6 in [0.5→0.85]: 0.1/0.35; repeat 0.2 in [0.3→0.1]: 0.5;
	// CSAT 2/3 in [0.6→0.9]; NPS 0 at the floor: 0; continuity 0.5 in
	// [0.3→0.8]: 0.4; home 0.8 in [0.7→0.95]: 0.4. Weights .5 1 2 1 2 1 1 .5.
	wantScore := (0.5*(440.0/480*100) + 1*0 + 2*(0.1/0.35*100) + 1*50 + 2*((2.0/3-0.6)/0.3*100) + 1*0 + 1*40 + 0.5*40) / 9
	if d := diff(&wantScore, rep.Team.Score); d != "" {
		t.Errorf("team score (-want +got):\n%s", d)
	}
	if rep.FormulaVersion != "tex-scorecard/1" || rep.From != "2026-11-16" || rep.To != "2026-11-22" {
		t.Errorf("header: %s %s %s", rep.FormulaVersion, rep.From, rep.To)
	}
	// Ranked by blended score: det-002 (perfect on its one contact) first,
	// the lead (no contacts, no score) last.
	if got := []string{rep.Agents[0].Agent, rep.Agents[1].Agent, rep.Agents[2].Agent}; got[0] != "det-002" || got[2] != "det-lead" {
		t.Errorf("ranking: %v", got)
	}
}

func TestRepeatWindow(t *testing.T) {
	first := "2026-11-16T10:00:00Z" // ends 10:10:00; window to 2026-11-23T10:10:00 inclusive
	tests := []struct {
		name       string
		repeatAt   string
		wantRepeat bool
	}{
		{"exactly at the window's end counts", "2026-11-23T10:10:00Z", true},
		{"a nanosecond later does not", "2026-11-23T10:10:00.000000001Z", false},
		{"at the moment the first one ended does not", "2026-11-16T10:10:00Z", false},
		{"a nanosecond after the end counts", "2026-11-16T10:10:00.000000001Z", true},
		{"during the first contact does not", "2026-11-16T10:05:00Z", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAggregator(testOrg())
			apply(t, a, contact("c1", "A", "det-001", first), contact("c2", "A", "det-002", tc.repeatAt))
			rep := mustQuery(t, a, "CHA-DET", "2026-11-16", closed)
			row := agentRow(t, rep, "det-001")
			wantFCR, wantRepeat := 1.0, 0.0
			if tc.wantRepeat {
				wantFCR, wantRepeat = 0, 1
			}
			if d := diff([]any{&wantFCR, &wantRepeat, 1}, []any{row.FCR, row.RepeatRate, row.FCRN}); d != "" {
				t.Errorf("fcr, repeat rate, fcr_n (-want +got):\n%s", d)
			}
		})
	}
}

// TestRepeatByAnotherAgent: the agent of the first contact loses FCR; the
// agent who took the repeat keeps theirs.
func TestRepeatByAnotherAgent(t *testing.T) {
	a := NewAggregator(testOrg())
	apply(t, a,
		contact("c1", "A", "det-001", "2026-11-16T10:00:00Z"),
		contact("c2", "A", "det-002", "2026-11-18T10:00:00Z", func(r *Resolved) { r.Continuity = ContinuitySameTeam }),
	)
	rep := mustQuery(t, a, "CHA-DET", "2026-W47", closed)
	for _, tc := range []struct {
		agent              string
		wantFCR, wantRepet float64
	}{{"det-001", 0, 1}, {"det-002", 1, 0}} {
		row := agentRow(t, rep, tc.agent)
		if d := diff([]*float64{&tc.wantFCR, &tc.wantRepet}, []*float64{row.FCR, row.RepeatRate}); d != "" {
			t.Errorf("%s fcr, repeat (-want +got):\n%s", tc.agent, d)
		}
	}
	// The repeat of a contact in the previous period still costs it FCR.
	prev := NewAggregator(testOrg())
	apply(t, prev,
		contact("c1", "A", "det-001", "2026-11-22T23:00:00Z"), // W47, ends 23:10
		contact("c2", "A", "det-002", "2026-11-24T09:00:00Z"), // W48
	)
	if got := agentRow(t, mustQuery(t, prev, "CHA-DET", "2026-W47", closed), "det-001").FCR; got == nil || *got != 0 {
		t.Errorf("W47 FCR of det-001 = %v, want 0", got)
	}
}

func TestDuplicatesAndSurveyBeforeContact(t *testing.T) {
	want := func(t *testing.T, a *Aggregator) {
		t.Helper()
		row := agentRow(t, mustQuery(t, a, "CHA-DET", "2026-W47", closed), "det-001")
		got := []any{row.Contacts, row.CSAT, row.CSATN, row.NPS, row.NPSN}
		if d := diff([]any{1, ptr(1.0), 1, ptr(100.0), 1}, got); d != "" {
			t.Errorf("(-want +got):\n%s", d)
		}
	}
	c := contact("c1", "A", "det-001", "2026-11-16T10:00:00Z")
	s := survey("c1", 5, 9)
	t.Run("survey first", func(t *testing.T) {
		a := NewAggregator(testOrg())
		apply(t, a, s)
		if rep := mustQuery(t, a, "CHA-DET", "2026-W47", closed); rep.Team.CSATN != 0 {
			t.Errorf("a survey without its contact counts nowhere yet, got csat_n %d", rep.Team.CSATN)
		}
		apply(t, a, c)
		want(t, a)
	})
	t.Run("everything twice", func(t *testing.T) {
		a := NewAggregator(testOrg())
		apply(t, a, c, s, c, s, s, c)
		want(t, a)
		if st := a.Stats(); st.Contacts != 1 || st.Surveys != 1 || st.Duplicates != 4 {
			t.Errorf("stats %+v", st)
		}
	})
}

// TestLastRecordWins: a timer wrap-up (resolved null) and its correction
// give the same state in either order; a later wrapped_at wins over both.
func TestLastRecordWins(t *testing.T) {
	timer := contact("c1", "A", "det-001", "2026-11-16T10:00:00Z", func(r *Resolved) { r.Resolved = nil })
	fixed := timer
	fixed.Resolved = ptr(true)
	later := timer
	later.Resolved = ptr(false)
	later.WrappedAt = later.WrappedAt.Add(time.Hour)
	fcr := func(events ...any) *float64 {
		a := NewAggregator(testOrg())
		apply(t, a, events...)
		return mustQuery(t, a, "CHA-DET", "2026-W47", closed).Team.FCR
	}
	if d := diff(ptr(0.0), fcr(timer)); d != "" {
		t.Errorf("null counts as not resolved (-want +got):\n%s", d)
	}
	for _, order := range [][]any{{timer, fixed}, {fixed, timer}} {
		if d := diff(ptr(1.0), fcr(order...)); d != "" {
			t.Errorf("correction (-want +got):\n%s", d)
		}
	}
	for _, order := range [][]any{{timer, fixed, later}, {later, fixed, timer}, {fixed, later, timer}} {
		if d := diff(ptr(0.0), fcr(order...)); d != "" {
			t.Errorf("later wrapped_at (-want +got):\n%s", d)
		}
	}
	// A correction that moves the contact to another agent and day moves it
	// out of the old buckets.
	moved := fixed
	moved.Agent, moved.EndedAt, moved.WrappedAt = "det-002", ts("2026-11-23T10:00:00Z"), ts("2026-11-23T10:01:00Z")
	for _, order := range [][]any{{fixed, moved}, {moved, fixed}} {
		a := NewAggregator(testOrg())
		apply(t, a, order...)
		w47, w48 := mustQuery(t, a, "CHA-DET", "2026-W47", closed), mustQuery(t, a, "CHA-DET", "2026-W48", closed)
		if w47.Team.Contacts != 0 || w48.Team.Contacts != 1 || agentRow(t, w48, "det-002").Contacts != 1 {
			t.Errorf("moved contact: W47 %d, W48 %d", w47.Team.Contacts, w48.Team.Contacts)
		}
	}
}

func TestSurveyConflicts(t *testing.T) {
	early, late := survey("c1", 2, -1), survey("c1", 5, -1)
	early.AnsweredAt, late.AnsweredAt = ts("2026-11-17T00:00:00Z"), ts("2026-11-18T00:00:00Z")
	c := contact("c1", "A", "det-001", "2026-11-16T10:00:00Z")
	for _, order := range [][]any{{c, early, late}, {late, c, early}} {
		a := NewAggregator(testOrg())
		apply(t, a, order...)
		if d := diff(ptr(1.0), mustQuery(t, a, "CHA-DET", "2026-W47", closed).Team.CSAT); d != "" {
			t.Errorf("the later answer wins (-want +got):\n%s", d)
		}
	}
	// Out-of-range answers are refused, not counted.
	a := NewAggregator(testOrg())
	for _, s := range []Survey{survey("c1", 6, -1), survey("c1", 0, -1), survey("c1", -1, 11), {CSAT: ptr(5)}} {
		if _, err := a.ApplySurvey(s); err == nil {
			t.Errorf("survey %+v accepted", s)
		}
	}
}

// TestShrinkage: 1 perfect survey does not beat 40 good ones by much. Only
// CSAT is scored (floor 0.5, target 1), prior weight 10.
func TestShrinkage(t *testing.T) {
	a := NewAggregator(testOrg(onlyMetric("csat", 0.5, 1)))
	apply(t, a, contact("x1", "X", "det-001", "2026-11-16T08:00:00Z"), survey("x1", 5, -1))
	for i := range 40 {
		id := "y" + string(rune('A'+i/26)) + string(rune('a'+i%26))
		csat := 5
		if i < 10 {
			csat = 2
		}
		apply(t, a, contact(id, "Y"+id, "det-002", "2026-11-17T08:00:00Z"), survey(id, csat, -1))
	}
	rep := mustQuery(t, a, "CHA-DET", "2026-W47", closed)
	team := 31.0 / 41             // 1 + 30 top-2 of 41
	x := (1*1.0 + 10*team) / 11   // shrunk toward the team
	y := (40*0.75 + 10*team) / 50 // barely moved
	score := func(v float64) float64 { return (v - 0.5) / 0.5 * 100 }
	wantTeam := score(team)
	for _, tc := range []struct {
		agent string
		raw   float64
		ind   float64
	}{{"det-001", 1, score(x)}, {"det-002", 0.75, score(y)}} {
		row := agentRow(t, rep, tc.agent)
		blended := 0.5*wantTeam + 0.5*tc.ind
		if d := diff([]*float64{&tc.raw, &tc.ind, &wantTeam, &blended},
			[]*float64{row.CSAT, row.IndividualScore, row.TeamScore, row.BlendedScore}); d != "" {
			t.Errorf("%s csat, individual, team, blended (-want +got):\n%s", tc.agent, d)
		}
	}
	// Without a prior, the single survey is a perfect 100.
	b := NewAggregator(testOrg(onlyMetric("csat", 0.5, 1), func(o *teams.Org) { o.Scorecard.PriorWeight = 0 }))
	apply(t, b, contact("x1", "X", "det-001", "2026-11-16T08:00:00Z"), survey("x1", 5, -1))
	if d := diff(ptr(100.0), agentRow(t, mustQuery(t, b, "CHA-DET", "2026-W47", closed), "det-001").IndividualScore); d != "" {
		t.Errorf("no shrinkage (-want +got):\n%s", d)
	}
}

// TestShrinkToTeamWhenNoSample: an agent with contacts but no survey gets
// the team's CSAT in its score, not nothing.
func TestShrinkToTeamWhenNoSample(t *testing.T) {
	a := NewAggregator(testOrg(onlyMetric("csat", 0.5, 1)))
	apply(t, a,
		contact("c1", "A", "det-001", "2026-11-16T08:00:00Z"), survey("c1", 4, -1),
		contact("c2", "B", "det-002", "2026-11-16T09:00:00Z"),
	)
	row := agentRow(t, mustQuery(t, a, "CHA-DET", "2026-W47", closed), "det-002")
	if row.CSAT != nil || row.IndividualScore == nil || *row.IndividualScore != 100 {
		t.Errorf("csat %v, individual %v; want null and 100 (the team's)", row.CSAT, row.IndividualScore)
	}
}

func TestPeriodBoundaries(t *testing.T) {
	a := NewAggregator(testOrg())
	end := func(id, ended string) Resolved {
		return contact(id, id, "det-001", "2026-01-01T00:00:00Z", func(r *Resolved) {
			r.EndedAt = ts(ended)
			r.ArrivedAt, r.AnsweredAt, r.WrappedAt = r.EndedAt.Add(-time.Minute), time.Time{}, time.Time{}
		})
	}
	apply(t, a,
		end("sun", "2026-11-22T23:59:59.999999999Z"),
		end("mon", "2026-11-23T00:00:00Z"),
		end("w53", "2027-01-03T23:59:59Z"), // Sunday of 2026-W53 (2026 has 53 ISO weeks)
		end("w01", "2027-01-04T00:00:00Z"), // Monday of 2027-W01
		end("dec", "2026-12-31T23:59:59Z"),
		end("offset", "2026-11-23T01:30:00+02:00"), // 2026-11-22T23:30Z: Sunday in UTC
	)
	for _, tc := range []struct {
		period string
		want   int
	}{
		{"2026-W47", 2}, {"2026-W48", 1}, {"2026-11-22", 2}, {"2026-11-23", 1},
		{"2026-W53", 2}, {"2027-W01", 1}, {"2026-12", 1}, {"2027-01", 2}, {"2026-11", 3},
	} {
		if got := mustQuery(t, a, "CHA-DET", tc.period, closed).Team.Contacts; got != tc.want {
			t.Errorf("%s: %d contacts, want %d", tc.period, got, tc.want)
		}
	}
	p, err := ParseRange("2026-11-22", "2026-11-23")
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := a.Query("CHA-DET", p, closed)
	if rep.Team.Contacts != 3 || rep.Period != "2026-11-22/2026-11-23" {
		t.Errorf("range: %d contacts, period %s", rep.Team.Contacts, rep.Period)
	}
}

func TestProvisionalFCR(t *testing.T) {
	a := NewAggregator(testOrg())
	apply(t, a, contact("c1", "A", "det-001", "2026-11-16T10:00:00Z")) // ends 10:10
	closes := ts("2026-11-23T10:10:00Z")
	for _, tc := range []struct {
		now  time.Time
		want bool
	}{{closes.Add(-time.Hour), true}, {closes, true}, {closes.Add(time.Nanosecond), false}} {
		rep := mustQuery(t, a, "CHA-DET", "2026-W47", tc.now)
		if rep.Team.FCRProvisional != tc.want || agentRow(t, rep, "det-001").FCRProvisional != tc.want {
			t.Errorf("now %s: provisional %v, want %v", tc.now, rep.Team.FCRProvisional, tc.want)
		}
	}
}

func TestMetricScore(t *testing.T) {
	for _, tc := range []struct {
		x, floor, target, want float64
	}{
		{0.5, 0.5, 1, 0}, {0.75, 0.5, 1, 50}, {1, 0.5, 1, 100}, {0.2, 0.5, 1, 0}, {2, 0.5, 1, 100},
		{420, 900, 420, 100}, {660, 900, 420, 50}, {1000, 900, 420, 0}, {100, 900, 420, 100}, // lower is better
	} {
		if got := MetricScore(tc.x, tc.floor, tc.target); got != tc.want {
			t.Errorf("MetricScore(%v, %v, %v) = %v, want %v", tc.x, tc.floor, tc.target, got, tc.want)
		}
	}
}

func TestUnknownTeamAndAgentWithoutTeam(t *testing.T) {
	a := NewAggregator(testOrg())
	if _, err := a.Query("NOPE", mustPeriod(t, "2026-W47"), closed); err == nil {
		t.Error("unknown team accepted")
	}
	// A CRM record without a team lands on the agent's team in the org.
	apply(t, a, contact("c1", "A", "det-002", "2026-11-16T10:00:00Z", func(r *Resolved) { r.Team = "" }))
	if got := mustQuery(t, a, "CHA-DET", "2026-W47", closed).Team.Contacts; got != 1 {
		t.Errorf("team contacts %d, want 1", got)
	}
}
