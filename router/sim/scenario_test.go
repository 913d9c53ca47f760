package sim

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tex-cx/tex/router"
)

const minimal = `generate: {markets: 2, agents_per_team: 3}
duration_seconds: 3600
arrivals: [{market: M01, per_hour: 10}]
handle_seconds: {dist: fixed, value: 60}
`

func TestParseScenario(t *testing.T) {
	s, err := ParseScenario([]byte(minimal), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := &Scenario{File: "x.yaml", Generate: &Generate{Markets: 2, AgentsPerTeam: 3, CustomersPerMarket: DefaultCustomersPerMarket, CustomerIndex: true},
		Seed: DefaultSeed, DurationSeconds: 3600, SLThresholdSeconds: 20, Policy: router.PolicyTex,
		Arrivals: []Arrival{{Market: "M01", PerHour: 10}}, Handle: Dist{Kind: DistFixed, Value: 60},
		Wrap: Dist{Kind: DistFixed}, ResolvedShare: DefaultResolvedShare}
	opt := cmp.Comparer(func(a, b Scenario) bool {
		a.routing, b.routing = nil, nil
		a.Arrivals, b.Arrivals = stripLines(a.Arrivals), stripLines(b.Arrivals)
		a.orgLine, a.policyLine, a.ringLine, a.arrivalLine = 0, 0, 0, 0
		b.orgLine, b.policyLine, b.ringLine, b.arrivalLine = 0, 0, 0, 0
		return cmp.Equal(a.Generate, b.Generate) && cmp.Equal(a.Arrivals, b.Arrivals, cmp.AllowUnexported(Arrival{})) &&
			a.File == b.File && a.Seed == b.Seed && a.DurationSeconds == b.DurationSeconds &&
			a.SLThresholdSeconds == b.SLThresholdSeconds && a.Policy == b.Policy && a.Handle == b.Handle &&
			a.Wrap == b.Wrap && a.Patience == b.Patience && a.ResolvedShare == b.ResolvedShare
	})
	if diff := cmp.Diff(want, s, opt); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func stripLines(a []Arrival) []Arrival {
	out := append([]Arrival(nil), a...)
	for i := range out {
		out[i].line = 0
	}
	return out
}

// TestScenarioErrors: every problem names the file, the line and the field.
func TestScenarioErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"empty", "", []string{"s.yaml: the file is empty"}},
		{"syntax", "seed: [1,\n", []string{"s.yaml:2: syntax error"}},
		{"not a mapping", "- 1\n", []string{"s.yaml:1: the top level must be a mapping"}},
		{"missing fields", "seed: 1\n", []string{
			"s.yaml:1: org: name an org directory",
			"s.yaml:1: duration_seconds: is required",
			"s.yaml:1: handle_seconds: is required",
			"s.yaml:1: arrivals: is required"}},
		{"unknown field", minimal + "arival: 3\n", []string{"s.yaml:5: arival: unknown field"}},
		{"wrong type", strings.Replace(minimal, "3600", "an hour", 1), []string{"s.yaml:2: duration_seconds: cannot use"}},
		{"negative rate", strings.Replace(minimal, "per_hour: 10", "per_hour: -10", 1), []string{"s.yaml:3: arrivals[0].per_hour: must be > 0, got -10"}},
		{"share out of range", strings.Replace(minimal, "per_hour: 10", "per_hour: 10, repeat_share: 1.5", 1),
			[]string{"s.yaml:3: arrivals[0].repeat_share: must be <= 1, got 1.5"}},
		{"bad dist", strings.Replace(minimal, "dist: fixed, value: 60", "dist: gamma, mean: 60", 1),
			[]string{`s.yaml:4: handle_seconds.dist: unknown distribution "gamma"`}},
		{"lognormal without sd", strings.Replace(minimal, "dist: fixed, value: 60", "dist: lognormal, mean: 60", 1),
			[]string{"s.yaml:4: handle_seconds.sd: is required for a lognormal distribution"}},
		{"fixed with mean", strings.Replace(minimal, "value: 60", "value: 60, mean: 3", 1),
			[]string{"s.yaml:4: handle_seconds.mean: does not apply to a fixed distribution"}},
		{"zero handle", strings.Replace(minimal, "value: 60", "value: 0", 1), []string{"s.yaml:4: handle_seconds.value: must be > 0, got 0"}},
		{"bad policy", minimal + "policy: random\n", []string{`s.yaml:5: policy: unknown policy "random"`}},
		{"org and generate", "org: x\n" + minimal, []string{"s.yaml:2: generate: give either org or generate, not both"}},
		{"warmup too long", minimal + "warmup_seconds: 3600\n", []string{"s.yaml:5: warmup_seconds: must be shorter than duration_seconds"}},
		{"duplicate key", minimal + "seed: 1\nseed: 2\n", []string{"s.yaml:6: seed: appears twice (first on line 5)"}},
		{"generate fields", strings.Replace(minimal, "markets: 2, agents_per_team: 3", "markets: 0", 1), []string{
			"s.yaml:1: generate.markets: must be 1-798, got 0", "s.yaml:1: generate.agents_per_team: is required"}},
		{"json", `{"generate": {"markets": 1, "agents_per_team": 1}, "duration_seconds": 60,
	"seed": "x", "arrivals": [{"market": "M01", "per_hour": 1}], "handle_seconds": {"dist": "fixed", "value": 1}}`,
			[]string{"s.json:2: seed: cannot use string `x` as a whole number"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := "s.yaml"
			if tc.name == "json" {
				file = "s.json"
			}
			_, err := ParseScenario([]byte(tc.src), file)
			var se *ScenarioError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a *ScenarioError", err)
			}
			var got []string
			for _, p := range se.Problems {
				got = append(got, p.String())
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("problem %d:\n got %s\nwant %s...", i, got[i], w)
				}
			}
		})
	}
}

// TestScenarioOrgErrors: problems found once the org is known still point
// at the scenario's lines.
func TestScenarioOrgErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"unknown market", strings.Replace(minimal, "market: M01", "market: M07", 1), `s.yaml:3: arrivals[0].market: "M07" is not a market of the org`},
		{"bad routing", minimal + "routing:\n  offer_ttl_seconds: -1\n", "s.yaml:6: routing: offer_ttl_seconds must be a finite number > 0"},
		{"routing type", minimal + "routing:\n  max_misses: many\n", "s.yaml:6: routing: cannot use"},
		{"ring too long", minimal + "ring_seconds: 20\n", "s.yaml:5: ring_seconds: must be shorter than the offer TTL"},
		{"missing org", "org: nowhere\n" + strings.Replace(minimal, "generate: {markets: 2, agents_per_team: 3}\n", "", 1), "org "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseScenario([]byte(tc.src), "s.yaml")
			if err != nil {
				t.Fatal(err)
			}
			_, err = Run(s, Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestScenarioFiles: every shipped scenario parses and builds.
func TestScenarioFiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "scenarios", "*.yaml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("scenarios: %v %v", files, err)
	}
	for _, f := range files {
		s, err := LoadScenario(f)
		if err != nil {
			t.Fatal(err)
		}
		if s.Generate != nil {
			s.Generate.CustomersPerMarket = 1000
		}
		s.WarmupSeconds, s.DurationSeconds = 0, 600
		if _, err := Run(s, Options{}); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
}

// FuzzParseScenario: the parser never panics, and what it accepts is
// consistent (seed corpus in testdata/fuzz/FuzzParseScenario).
func FuzzParseScenario(f *testing.F) {
	f.Add([]byte(minimal))
	if b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "scenarios", "carrier.yaml")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseScenario(data, "fuzz.yaml")
		if err != nil {
			var se *ScenarioError
			if !errors.As(err, &se) || len(se.Problems) == 0 {
				t.Fatalf("error %v is not a ScenarioError with problems", err)
			}
			return
		}
		if !(s.DurationSeconds > 0) || s.WarmupSeconds >= s.DurationSeconds || len(s.Arrivals) == 0 ||
			(s.Org == "") == (s.Generate == nil) || s.Handle.Expected() <= 0 {
			t.Fatalf("accepted an inconsistent scenario: %+v", s)
		}
		for _, a := range s.Arrivals {
			if !(a.PerHour > 0) || a.RepeatShare < 0 || a.RepeatShare > 1 {
				t.Fatalf("accepted arrival %+v", a)
			}
		}
	})
}
