package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/tex-cx/tex/scorecard"
	"github.com/tex-cx/tex/server/natstest"
	"github.com/tex-cx/tex/teams"
)

// scorecardOrg is one team of three agents serving DET.
func scorecardOrg() *teams.Org {
	return &teams.Org{
		Markets: []teams.Market{{ID: "DET", HomeTeam: "CHA-DET"}},
		Teams:   []teams.Team{{ID: "CHA-DET", Site: "Chattanooga"}},
		Agents: []teams.Agent{
			{ID: "det-001", EmployeeID: "E10442", Name: "Ana Ruiz", Team: "CHA-DET", Role: teams.RoleExpert},
			{ID: "det-002", Name: "José Müller-Lüdenscheidt", Team: "CHA-DET", Role: teams.RoleExpert},
			{ID: "det-lead", Name: "Lee, \"The Lead\"", Team: "CHA-DET", Role: teams.RoleLead},
		},
		Routing:   teams.DefaultRouting(),
		Scorecard: teams.DefaultScorecard(),
	}
}

// startScorecard runs an embedded JetStream server and a scorecard Service
// on it, and returns the server's URL and a JetStream client.
func startScorecard(t *testing.T, now time.Time) (string, jetstream.JetStream, *scorecard.Service) {
	t.Helper()
	srv := natstest.Run(t)
	nc := natstest.Connect(t, srv.ClientURL())
	js := natstest.JetStream(t, nc)
	log := zerolog.Nop()
	svc := scorecard.New(scorecardOrg(), &log, scorecard.WithClock(func() time.Time { return now }))
	if err := svc.Start(context.Background(), nc, "tex"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)
	return srv.ClientURL(), js, svc
}

func resolvedJSON(id, customer, agent, arrived string, resolved bool, csat int) (string, string) {
	a, _ := time.Parse(time.RFC3339, arrived)
	r := fmt.Sprintf(`{"contact_id":%q,"customer_id":%q,"market":"DET","team":"CHA-DET","agent":%q,"channel":"voice",`+
		`"arrived_at":%q,"ended_at":%q,"wrapped_at":%q,"talk_seconds":300,"hold_seconds":0,"wrap_seconds":60,`+
		`"transferred":false,"resolved":%v,"home_team":true,"continuity":"first_contact"}`,
		id, customer, agent, a.Format(time.RFC3339), a.Add(5*time.Minute).Format(time.RFC3339),
		a.Add(6*time.Minute).Format(time.RFC3339), resolved)
	return r, fmt.Sprintf(`{"contact_id":%q,"csat":%d}`, id, csat)
}

func TestScorecardCLI(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC) // c3 (ended 11-18 09:05) has its window open
	url, js, svc := startScorecard(t, now)
	ctx := context.Background()
	pub := func(subj, data string) {
		if _, err := js.Publish(ctx, subj, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	// det-001: two resolved contacts, one repeated two days later by det-002.
	for _, c := range []struct {
		id, cust, agent, at string
		res                 bool
		csat                int
	}{
		{"c1", "A", "det-001", "2026-11-16T09:00:00Z", true, 5},
		{"c2", "B", "det-001", "2026-11-17T09:00:00Z", true, 4},
		{"c3", "A", "det-002", "2026-11-18T09:00:00Z", false, 2},
	} {
		r, s := resolvedJSON(c.id, c.cust, c.agent, c.at, c.res, c.csat)
		pub("tex.events.survey.DET", s) // the survey comes first
		pub("tex.events.resolved.DET", r)
		pub("tex.events.resolved.DET", r) // and the record twice
	}
	pub("tex.events.resolved.DET", `{"contact_id": 42}`) // bad: logged and passed over
	c4, _ := resolvedJSON("c4", "C", "det-001", "2026-11-23T09:00:00Z", true, 0)
	pub("tex.events.resolved.DET", c4) // W48
	natstest.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if st := svc.Aggregator().Stats(); st.Contacts != 4 || !svc.Ready() {
			return fmt.Errorf("stats %+v", st)
		}
		return nil
	})

	var out, errb bytes.Buffer
	code := run([]string{"scorecard", "--nats", url, "--team", "CHA-DET", "--period", "2026-W47", "--format", "json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var got struct {
		FormulaVersion string           `json:"formula_version"`
		Period         string           `json:"period"`
		Team           map[string]any   `json:"team"`
		Agents         []map[string]any `json:"agents"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if got.FormulaVersion != "tex-scorecard/1" || got.Period != "2026-W47" {
		t.Errorf("header %q %q", got.FormulaVersion, got.Period)
	}
	pick := func(m map[string]any, keys ...string) map[string]any {
		o := map[string]any{}
		for _, k := range keys {
			o[k] = m[k]
		}
		return o
	}
	keys := []string{"contacts", "aht_seconds", "fcr", "fcr_n", "fcr_provisional", "repeat_rate", "csat", "csat_n", "nps", "nps_n"}
	wantTeam := map[string]any{"contacts": 3.0, "aht_seconds": 360.0, "fcr": 1.0 / 3, "fcr_n": 3.0, "fcr_provisional": true,
		"repeat_rate": 1.0 / 3, "csat": 2.0 / 3, "csat_n": 3.0, "nps": nil, "nps_n": 0.0}
	if d := cmp.Diff(wantTeam, pick(got.Team, keys...), cmpopts.EquateApprox(0, 1e-6)); d != "" {
		t.Errorf("team (-want +got):\n%s", d)
	}
	if len(got.Agents) != 3 {
		t.Fatalf("%d agent rows", len(got.Agents))
	}
	// det-001 lost FCR on c1 to the repeat det-002 took.
	want001 := map[string]any{"agent": "det-001", "contacts": 2.0, "fcr": 0.5, "repeat_rate": 0.5, "csat": 1.0}
	if d := cmp.Diff(want001, pick(got.Agents[0], "agent", "contacts", "fcr", "repeat_rate", "csat")); d != "" {
		t.Errorf("first-ranked agent (-want +got):\n%s", d)
	}
	for _, k := range []string{"agent", "name", "team", "role", "contacts", "aht_seconds", "transfer_rate", "fcr", "fcr_provisional",
		"repeat_rate", "csat", "nps", "continuity_rate", "home_team_share", "individual_score", "team_score", "blended_score",
		"csat_n", "nps_n", "fcr_n"} {
		if _, ok := got.Agents[0][k]; !ok {
			t.Errorf("agent row has no %q", k)
		}
	}

	// The table fits 80 columns and marks provisional FCR and small samples.
	out.Reset()
	if code := run([]string{"scorecard", "--nats", url, "--team", "CHA-DET", "--period", "2026-W47"}, &out, &errb); code != 0 {
		t.Fatalf("table: exit %d: %s", code, errb.String())
	}
	for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		if n := utf8.RuneCountInString(line); n > 80 {
			t.Errorf("line of %d columns: %q", n, line)
		}
	}
	for _, want := range []string{"*", "~", "team", "Ana Ruiz", "tex-scorecard/1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table has no %q:\n%s", want, out.String())
		}
	}

	// HR export as CSV, through a file written atomically.
	file := filepath.Join(t.TempDir(), "w47.csv")
	errb.Reset()
	if code := run([]string{"export", "--nats", url, "--period", "2026-W47", "--out", file, "--page-size", "2"}, &out, &errb); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "tex export: 2/3 agents") {
		t.Errorf("no progress line: %q", errb.String())
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(scorecard.ExportColumns(), recs[0]); d != "" {
		t.Errorf("header (-want +got):\n%s", d)
	}
	col := map[string]int{}
	for i, k := range recs[0] {
		col[k] = i
	}
	var rows [][]string
	for _, r := range recs[1:] {
		rows = append(rows, []string{r[col["employee_id"]], r[col["name"]], r[col["site"]], r[col["period"]],
			r[col["contacts"]], r[col["nps"]], r[col["formula_version"]]})
	}
	wantRows := [][]string{
		{"E10442", "Ana Ruiz", "Chattanooga", "2026-W47", "2", "", "tex-scorecard/1"},
		{"det-002", "José Müller-Lüdenscheidt", "Chattanooga", "2026-W47", "1", "", "tex-scorecard/1"},
		{"det-lead", "Lee, \"The Lead\"", "Chattanooga", "2026-W47", "0", "", "tex-scorecard/1"},
	}
	if d := cmp.Diff(wantRows, rows); d != "" {
		t.Errorf("export rows (-want +got):\n%s", d)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".*.tmp")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}

	// JSON Lines for a range, to stdout.
	out.Reset()
	if code := run([]string{"export", "--nats", url, "--from", "2026-11-16", "--to", "2026-11-29", "--format", "jsonl"}, &out, &errb); code != 0 {
		t.Fatalf("jsonl: exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var first map[string]any
	if len(lines) != 3 || json.Unmarshal([]byte(lines[0]), &first) != nil || first["contacts"] != 3.0 ||
		first["period"] != "2026-11-16/2026-11-29" || first["nps"] != nil {
		t.Errorf("jsonl: %q", lines)
	}
}

func TestScorecardCLIErrors(t *testing.T) {
	url, _, _ := startScorecard(t, time.Now())
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"scorecard", "--team", "CHA-DET", "--period", "2026-W54"}, 2, `--period "2026-W54"`},
		{[]string{"scorecard", "--team", "CHA-DET", "--from", "2026-11-01"}, 2, "--from and --to"},
		{[]string{"scorecard", "--team", "CHA-DET", "--from", "2026-11-01", "--to", "2026-13-01"}, 2, `--to "2026-13-01"`},
		{[]string{"scorecard", "--team", "NOPE"}, 1, "unknown_team"},
		{[]string{"scorecard", "--team", "CHA-DET", "--prefix", "other"}, 1, "nothing answers on other.scorecard.query"},
		{[]string{"export", "--format", "csv"}, 2, "give --period"},
		{[]string{"export", "--period", "2026-11", "--out", "/nonexistent/dir/x.csv"}, 1, "--out /nonexistent/dir/x.csv"},
	} {
		var out, errb bytes.Buffer
		code := run(append(tc.args, "--nats", url), &out, &errb)
		if code != tc.code || !strings.Contains(errb.String(), tc.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errb.String(), tc.code, tc.msg)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"scorecard", "--team", "CHA-DET", "--nats", "nats://127.0.0.1:1"}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "--nats flag") {
		t.Errorf("unreachable server: exit %d, %q", code, errb.String())
	}
}
