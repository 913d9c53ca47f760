package teams

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeOrg writes an org directory from file contents and returns its path.
func writeOrg(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// problemsOf returns Load's problems as strings, with dir cut from file
// names so that expectations read "org.yaml:6: ...".
func problemsOf(t *testing.T, dir string) []string {
	t.Helper()
	org, err := Load(dir)
	if err == nil {
		if org == nil {
			t.Fatal("Load returned neither an org nor an error")
		}
		return nil
	}
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("Load error is %T, want *ConfigError: %v", err, err)
	}
	var out []string
	for _, p := range ce.Problems {
		out = append(out, strings.ReplaceAll(p.String(), dir+string(filepath.Separator), ""))
	}
	return out
}

// base is a sound org. Each entity sits on one line, so that the cases can
// say which line a problem is on at a glance.
const base = `markets:
  - {id: DET, home_team: T1, area_codes: ["313"]}
teams:
  - {id: T1, site: S}
agents:
  - {id: a1, team: T1, role: expert}
`

func TestLoadProblems(t *testing.T) {
	cases := []struct {
		name string
		org  string
		csv  string // customers.csv, when not empty
		want []string
	}{
		{name: "sound", org: base, want: nil},
		{
			name: "duplicate market",
			org: `markets:
  - {id: DET, home_team: T1}
  - {id: DET, home_team: T1}
teams:
  - {id: T1}
`,
			want: []string{"org.yaml:3: market DET: duplicate market id (first defined on line 2)"},
		},
		{
			name: "duplicate team and agent",
			org: base + `  - {id: a1, team: T1, role: expert}
teams:
  - {id: T1}
`,
			want: []string{
				"org.yaml:7: agent a1: duplicate agent id (first defined on line 6)",
				"org.yaml:8: key teams appears twice (first on line 3)",
			},
		},
		{
			name: "duplicate team",
			org: `markets:
  - {id: DET, home_team: T1}
teams:
  - {id: T1}
  - {id: T1}
`,
			want: []string{"org.yaml:5: team T1: duplicate team id (first defined on line 4)"},
		},
		{
			name: "duplicate employee id",
			org: base + `  - {id: a2, employee_id: E1, team: T1, role: expert}
  - {id: a3, employee_id: E1, team: T1, role: expert}
  - {id: a4, employee_id: a1, team: T1, role: expert}
`,
			want: []string{
				"org.yaml:8: agent a3: employee id E1 is also used by agent a2 (line 7)",
				"org.yaml:9: agent a4: employee id a1 is also used by agent a1 (line 6)",
			},
		},
		{
			name: "agent on unknown team or none",
			org: base + `  - {id: a2, team: T9, role: expert}
  - {id: a3, role: expert}
`,
			want: []string{
				"org.yaml:7: agent a2: team T9 is not a team",
				"org.yaml:8: agent a3: team is missing",
			},
		},
		{
			name: "market home and fallback teams",
			org: `markets:
  - {id: DET}
  - {id: PHL, home_team: T9}
  - {id: CLE, home_team: T1, fallback_teams: [T2, T1, T9, T2]}
teams:
  - {id: T1}
  - {id: T2}
`,
			want: []string{
				"org.yaml:2: market DET: home_team is missing: every market needs its dedicated team",
				"org.yaml:3: market PHL: home_team T9 is not a team",
				"org.yaml:4: market CLE: home team T1 is also listed as a fallback team",
				"org.yaml:4: market CLE: fallback team T9 is not a team",
				"org.yaml:4: market CLE: fallback team T2 is listed twice",
			},
		},
		{
			name: "market without id",
			org: `markets:
  - {home_team: T1}
teams:
  - {id: T1}
`,
			want: []string{"org.yaml:2: market: id is missing"},
		},
		{
			name: "default market unknown",
			org:  "default_market: XYZ\n" + base,
			want: []string{"org.yaml:1: default_market XYZ is not a market"},
		},
		{
			name: "bad and missing role",
			org: base + `  - {id: a2, team: T1, role: boss}
  - {id: a3, team: T1}
`,
			want: []string{
				`org.yaml:7: agent a2: role "boss" is not one of expert, tech_specialist, resolution, coach, resource_manager, lead`,
				"org.yaml:8: agent a3: role is missing (want one of expert, tech_specialist, resolution, coach, resource_manager, lead)",
			},
		},
		{
			name: "skill out of range points at the skill",
			org: base + `  - id: det-017
    team: T1
    role: expert
    skills:
      tech: 3
      billing: 7
      sales: 0
`,
			want: []string{
				"org.yaml:12: agent det-017: skill billing proficiency 7 is outside 1-5",
				"org.yaml:13: agent det-017: skill sales proficiency 0 is outside 1-5",
			},
		},
		{
			name: "channel capacity and languages",
			org: base + `  - {id: a2, team: T1, role: expert, channels: {voice: 1, messaging: 0}}
  - {id: a3, team: T1, role: expert, languages: [en, ""]}
`,
			want: []string{
				"org.yaml:7: agent a2: channel messaging capacity 0 is less than 1",
				"org.yaml:8: agent a3: languages has an empty entry",
			},
		},
		{
			name: "no default language leaves contact takers without languages",
			org:  base + "routing: {default_language: \"\"}\n",
			want: []string{
				"org.yaml:6: agent a1: role expert takes contacts but the agent has no languages",
				"org.yaml:7: routing: default_language must not be empty",
			},
		},
		{
			name: "area codes",
			org: `markets:
  - {id: DET, home_team: T1, area_codes: ["313", "31", "abc", "313"]}
  - {id: CLE, home_team: T1, area_codes: [216, "(313)"]}
teams:
  - {id: T1}
`,
			want: []string{
				`org.yaml:2: market DET: area code "31" is not 3 digits starting with 2-9`,
				`org.yaml:2: market DET: area code "abc" is not 3 digits starting with 2-9`,
				"org.yaml:2: market DET: area code 313 is listed twice",
				"org.yaml:3: market CLE: area code 313 is also claimed by market DET (line 2)",
			},
		},
		{
			name: "routing section",
			org: base + `routing:
  max_misses: 0
  chain: [{step: home_team}, {step: known_agent}]
  known_agent_hold_seconds: -1
  known_agent_callback_seconds: -5
  callback_yield_seconds: .nan
  known_agent_window_seconds: -7
  max_retained_contacts: -1
`,
			want: []string{
				"org.yaml:8: routing: max_misses must be >= 1, got 0",
				`org.yaml:9: routing: chain[1]: step "known_agent" must come before "home_team"`,
				"org.yaml:10: routing: known_agent_hold_seconds must be a finite number >= 0, got -1",
				"org.yaml:11: routing: known_agent_callback_seconds must be a finite number >= 0, got -5",
				"org.yaml:12: routing: callback_yield_seconds must be a finite number >= 0, got NaN",
				"org.yaml:13: routing: known_agent_window_seconds must be a finite number >= 0, got -7",
				"org.yaml:14: routing: max_retained_contacts must be >= 0 (0: no bound), got -1",
			},
		},
		{
			name: "market routing override",
			org: `markets:
  - id: DET
    home_team: T1
    routing:
      chain: [{step: bogus}]
      callback_threshold_seconds: -5
teams:
  - {id: T1}
`,
			want: []string{
				`org.yaml:5: market DET: routing.chain[0]: unknown step "bogus" (want one of known_agent, served_before, home_team, sister_teams, any_team)`,
				"org.yaml:6: market DET: routing.callback_threshold_seconds must be a finite number >= 0, got -5",
			},
		},
		{
			name: "wrong types, with their lines",
			org: `markets:
  - {id: DET, home_team: T1, fallback_teams: T2}
teams:
  - {id: T1}
agents:
  - id: a1
    team: T1
    role: expert
    skills: {billing: high}
routing:
  max_misses: [3]
`,
			want: []string{
				"org.yaml:2: market DET: cannot use string `T2` as a list of strings",
				"org.yaml:9: agent a1: cannot use string `high` as a whole number",
				"org.yaml:11: routing: cannot use a list as a whole number",
			},
		},
		{
			name: "syntax error",
			org: `markets:
  - {id: DET, home_team: T1}
teams:
  - id: T1
   site: S
`,
			want: []string{"org.yaml:5: syntax error: while parsing a block collection: did not find expected '-' indicator"},
		},
		{
			name: "shape errors",
			org: `markets: DET
teams:
  - T1
  - {id: T1}
agents: {}
`,
			want: []string{
				"org.yaml: no markets: an org needs at least one market and its home team",
				"org.yaml:1: markets must be a list",
				"org.yaml:3: each entry of teams must be a mapping (a team)",
				"org.yaml:5: agents must be a list",
			},
		},
		{name: "empty file", org: "# nothing yet\n", want: []string{"org.yaml: the file is empty"}},
		{name: "not a mapping", org: "- a\n- b\n", want: []string{"org.yaml:1: the top level must be a mapping (default_market, markets, teams, agents, routing, scorecard)"}},
		{
			name: "unknown fields are ignored",
			org:  "future_feature: {x: 1}\n" + strings.Replace(base, "site: S", "site: S, color: blue", 1),
			want: nil,
		},
		{
			name: "csv rows",
			org:  base,
			csv: `customer_id,market,phone
c1,DET,313-555-0101
c2,XYZ,313-555-0102
,DET,313-555-0103
c4,DET,555-0104
c5,DET
c6,DET,313 555 0101
c1,DET,+1 (313) 555-0107
c7,DET,"3135550108
c8,DET,3135550109
`,
			want: []string{
				"customers.csv:3: customer c2: market XYZ is not a market of the org",
				"customers.csv:4: customer_id is empty",
				`customers.csv:5: customer c4: phone number cannot be normalised to E.164: "555-0104" (want +<country><number>, or a 10-digit North American number)`,
				"customers.csv:6: the row has 2 columns, want 3 (customer_id,market,phone)",
				"customers.csv:7: customer c6: phone +13135550101 is also the phone of customer c1 (line 2)",
				`customers.csv:10: extraneous or missing " in quoted-field`,
			},
		},
		{
			name: "csv customer on two markets",
			org: `markets:
  - {id: DET, home_team: T1}
  - {id: CLE, home_team: T1}
teams:
  - {id: T1}
`,
			csv:  "customer_id,market,phone\nc1,DET,3135550101\nc2,CLE,2165550101\nc1,CLE,2165550102\n",
			want: []string{"customers.csv:4: customer c1: market CLE conflicts with market DET on line 2"},
		},
		{
			name: "csv header",
			org:  base,
			csv:  "id,market,phone\nc1,DET,3135550101\n",
			want: []string{`customers.csv:1: the header must be exactly customer_id,market,phone, got "id,market,phone"`},
		},
		{
			name: "csv empty",
			org:  base,
			csv:  "",
			want: []string{"customers.csv:1: the file is empty: want the header customer_id,market,phone"},
		},
		{
			name: "problems in both files are reported together",
			org:  base + "  - {id: a2, team: T9, role: expert}\n",
			csv:  "customer_id,market,phone\nc1,XYZ,3135550101\n",
			want: []string{
				"org.yaml:7: agent a2: team T9 is not a team",
				"customers.csv:2: customer c1: market XYZ is not a market of the org",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"org.yaml": tc.org}
			if tc.csv != "" || strings.HasPrefix(tc.name, "csv empty") {
				files[CustomersFile] = tc.csv
			}
			got := problemsOf(t, writeOrg(t, files))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadFiles(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{name: "org.yml", files: map[string]string{"org.yml": base}},
		{
			name: "org.json with tabs",
			files: map[string]string{"org.json": "{\n\t\"markets\": [{\"id\": \"DET\", \"home_team\": \"T1\"}],\n" +
				"\t\"teams\": [{\"id\": \"T1\"}],\n\t\"agents\": [{\"id\": \"a1\", \"team\": \"T9\", \"role\": \"expert\"}]\n}\n"},
			want: []string{"org.json:4: agent a1: team T9 is not a team"},
		},
		{name: "no org file", files: map[string]string{"README": "x"}, want: []string{"no org file: want one of org.yaml, org.yml, org.json"}},
		{name: "two org files", files: map[string]string{"org.yaml": base, "org.json": "{}"}, want: []string{"several org files (org.yaml, org.json): keep one"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeOrg(t, tc.files)
			got := problemsOf(t, dir)
			for i := range got {
				got[i] = strings.TrimPrefix(got[i], dir+": ")
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadMissingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nope")
	got := problemsOf(t, dir)
	want := []string{dir + ": cannot read the org directory: no such file or directory"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestLoadDefaults(t *testing.T) {
	dir := writeOrg(t, map[string]string{"org.yaml": `markets:
  - {id: DET, home_team: T1, area_codes: [" 313 ", "(248)", 586]}
teams:
  - {id: T1}
agents:
  - {id: a1, team: T1, role: expert}
  - {id: a2, team: T1, role: coach}
  - {id: a3, team: T1, role: tech_specialist, languages: [es], channels: {messaging: 3}}
routing:
  offer_ttl_seconds: 20
  default_language: fr
`})
	org, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	type agentView struct {
		ID        string
		Languages []string
		Channels  map[string]int
		Line      int
	}
	var got []agentView
	for _, a := range org.Agents {
		got = append(got, agentView{a.ID, a.Languages, a.Channels, a.Pos.Line})
	}
	want := []agentView{
		{"a1", []string{"fr"}, map[string]int{"voice": 1}, 6},
		{"a2", nil, nil, 7}, // coaches take no contacts by default: nothing to fill in
		{"a3", []string{"es"}, map[string]int{"messaging": 3}, 8},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("agents (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"313", "248", "586"}, org.Markets[0].AreaCodes); diff != "" {
		t.Errorf("area codes (-want +got):\n%s", diff)
	}
	wantRouting := DefaultRouting()
	wantRouting.OfferTTLSeconds = 20
	wantRouting.DefaultLanguage = "fr"
	if diff := cmp.Diff(wantRouting, org.Routing); diff != "" {
		t.Errorf("routing keeps its defaults (-want +got):\n%s", diff)
	}
	if want := (Pos{File: filepath.Join(dir, "org.yaml"), Line: 2}); org.Markets[0].Pos != want {
		t.Errorf("market pos = %+v, want %+v", org.Markets[0].Pos, want)
	}
	if org.Customers != nil {
		t.Errorf("customers without customers.csv = %v, want nil", org.Customers)
	}
}

// TestLoadBroken loads the broken orgs of testdata/broken, each of which
// holds the problems it must give in want.txt.
func TestLoadBroken(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "broken", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no broken orgs: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			_, err := Load(dir)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Load = %v, want a *ConfigError", err)
			}
			var got []string
			for _, p := range ce.Problems {
				got = append(got, p.String())
			}
			wantFile := filepath.Join(dir, "want.txt")
			if *update {
				if err := os.WriteFile(wantFile, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			data, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCSVProblemCap(t *testing.T) {
	var b strings.Builder
	b.WriteString(CustomersHeader + "\n")
	for range 250 {
		b.WriteString("c,XYZ,3135550101\n")
	}
	got := problemsOf(t, writeOrg(t, map[string]string{"org.yaml": base, CustomersFile: b.String()}))
	if len(got) != maxCSVProblems+1 {
		t.Fatalf("got %d problems, want %d", len(got), maxCSVProblems+1)
	}
	if want := "customers.csv:2: customer c: market XYZ is not a market of the org"; got[0] != want {
		t.Errorf("first problem = %q, want %q", got[0], want)
	}
	if want := "customers.csv: and 150 more problems in this file"; got[len(got)-1] != want {
		t.Errorf("last problem = %q, want %q", got[len(got)-1], want)
	}
}

func TestConfigErrorMessage(t *testing.T) {
	err := &ConfigError{Problems: []Problem{
		{File: "o/org.yaml", Line: 42, Entity: "agent det-017", Msg: "skill billing proficiency 7 is outside 1-5"},
		{File: "o/org.yaml", Msg: "no markets"},
	}}
	want := "org has 2 problems:\n\to/org.yaml:42: agent det-017: skill billing proficiency 7 is outside 1-5\n\to/org.yaml: no markets"
	if diff := cmp.Diff(want, err.Error()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestLoadScorecardProblems: the scorecard section is checked with its own
// Validate, and each problem points at its field. Only the start of the
// message is checked: its wording belongs to the scorecard.
func TestLoadScorecardProblems(t *testing.T) {
	got := problemsOf(t, writeOrg(t, map[string]string{"org.yaml": base + "scorecard:\n  fcr_window_days: 7\n  team_weight: 2\n"}))
	if len(got) != 1 || !strings.HasPrefix(got[0], "org.yaml:9: scorecard: team_weight") {
		t.Errorf("problems = %q, want one at org.yaml:9 about team_weight", got)
	}
}

func TestKnownTeams(t *testing.T) {
	org := &Org{Teams: []Team{{ID: "KNX-PHL"}, {ID: "CHA-DET"}, {ID: "CHA-CLE"}}}
	if got, want := org.KnownTeams(), "CHA-CLE, CHA-DET, KNX-PHL"; got != want {
		t.Errorf("KnownTeams = %q, want %q", got, want)
	}
	for i := range 20 {
		org.Teams = append(org.Teams, Team{ID: fmt.Sprintf("T%02d", i)})
	}
	if got, want := org.KnownTeams(), "CHA-CLE, CHA-DET, KNX-PHL, T00, T01, T02, T03, T04, T05, T06, T07, T08 and 11 more"; got != want {
		t.Errorf("KnownTeams = %q, want %q", got, want)
	}
}
