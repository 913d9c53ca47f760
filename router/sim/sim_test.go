package sim

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/tex-cx/tex/router"
	"github.com/tex-cx/tex/teams"
)

// The long simulations check the formulas to tighter tolerances over
// hundreds of simulated days: go test ./router/sim -sim.long -run Erlang -v
var long = flag.Bool("sim.long", false, "run the long simulations (minutes) with tighter tolerances")

func scenario(t testing.TB, src string) *Scenario {
	t.Helper()
	s, err := ParseScenario([]byte(src), filepath.Join("testdata", "inline.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func run(t testing.TB, s *Scenario) *Result {
	t.Helper()
	res, err := Run(s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Offered != res.Answered+res.Abandoned {
		t.Fatalf("offered %d != answered %d + abandoned %d", res.Offered, res.Answered, res.Abandoned)
	}
	return res
}

func mmc(agents int, days float64, patience string) string {
	return fmt.Sprintf(`
generate: {markets: 1, agents_per_team: %d, customers_per_market: 50000}
seed: 7
duration_seconds: %v
warmup_seconds: 7200
policy: longest_idle
arrivals: [{market: M01, per_hour: 200}]
handle_seconds: {dist: exponential, mean: 180}
%s
`, agents, days*86400, patience)
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.4f, want %.4f ± %v", what, got, want, tol)
	} else {
		t.Logf("%s = %.4f, want %.4f ± %v", what, got, want, tol)
	}
}

// TestSimulatorMatchesErlangC: M/M/c on the real core (longest_idle, no
// abandonment) against the published Erlang C figures for 10 Erlangs.
func TestSimulatorMatchesErlangC(t *testing.T) {
	type tc struct {
		agents              int
		pWait, sl, asa      float64
		days, tol, asaShare float64
	}
	// CI: 30 simulated days at 83% and 71% load, where ±0.02 is about
	// three standard errors. Long: all four staffings over 400 days.
	cases := []tc{{12, 0.4494, 0.6402, 40.4, 30, 0.02, 0.15}, {14, 0.1741, 0.8884, 7.8, 30, 0.02, 0.2}}
	if raceEnabled {
		cases = cases[:1]
	}
	if *long {
		cases = []tc{
			{11, 0.6821, 0.3896, 122.8, 400, 0.02, 0.1},
			{12, 0.4494, 0.6402, 40.4, 400, 0.01, 0.05},
			{13, 0.2853, 0.7956, 17.1, 400, 0.01, 0.05},
			{14, 0.1741, 0.8884, 7.8, 400, 0.01, 0.05},
		}
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("agents=%d", c.agents), func(t *testing.T) {
			res := run(t, scenario(t, mmc(c.agents, c.days, "")))
			want, err := Solve(Queue{RatePerHour: 200, AHTSeconds: 180, Agents: c.agents, TargetSeconds: 20})
			if err != nil {
				t.Fatal(err)
			}
			near(t, "p_wait", res.PWait, c.pWait, c.tol)
			near(t, "service_level", res.ServiceLevel, c.sl, c.tol)
			near(t, "asa_seconds", res.ASASeconds, c.asa, c.asaShare*c.asa)
			near(t, "occupancy", res.Occupancy, want.Occupancy, 0.01)
			if res.Abandoned != 0 || res.Callbacks != 0 || res.HomeTeamShare != 1 {
				t.Errorf("M/M/c run has abandons, callbacks or other teams: %+v", res.Figures)
			}
		})
	}
}

// TestSimulatorMatchesErlangA: with exponential patience the system is
// M/M/c+M; the simulator's abandonment, service level and ASA must match
// Palm's exact solution.
func TestSimulatorMatchesErlangA(t *testing.T) {
	days, tol := 30.0, 0.02
	if raceEnabled {
		days = 15
		tol = 0.03
	}
	if *long {
		days, tol = 400, 0.01
	}
	for _, agents := range []int{10, 12} {
		t.Run(fmt.Sprintf("agents=%d", agents), func(t *testing.T) {
			res := run(t, scenario(t, mmc(agents, days, "patience_seconds: {dist: exponential, mean: 120}")))
			f, err := Solve(Queue{RatePerHour: 200, AHTSeconds: 180, Agents: agents, TargetSeconds: 20, PatienceSeconds: 120})
			if err != nil {
				t.Fatal(err)
			}
			// Everyone who abandons waited, so among the answered the share
			// who waited is (P(wait) - P(abandon)) / (1 - P(abandon)).
			near(t, "p_wait (answered)", res.PWait, (f.PWait-f.PAbandon)/(1-f.PAbandon), tol)
			near(t, "abandon_rate", res.AbandonRate, f.PAbandon, tol)
			near(t, "service_level", res.ServiceLevel, f.ServiceLevel, tol)
			near(t, "asa_seconds", res.ASASeconds, f.ASASeconds, max(2, 0.15*f.ASASeconds))
			near(t, "occupancy", res.Occupancy, f.Occupancy, tol)
		})
	}
}

func carrier(t testing.TB, policy router.Policy, days float64, callbacks float64) *Scenario {
	t.Helper()
	s, err := LoadScenario(filepath.Join("..", "..", "testdata", "scenarios", "carrier.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s.Policy = policy
	// A smaller customer base builds faster; 20,000 per market still
	// leaves most fresh callers new.
	s.Generate.CustomersPerMarket = 20000
	s.DurationSeconds = days * 86400
	s.WarmupSeconds = 3600
	s.CallbackAcceptShare = callbacks
	return s
}

func resultJSON(t *testing.T, r *Result) []byte {
	t.Helper()
	r.Run = RunStats{}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDeterminism: one seed, one output, byte for byte (apart from run).
func TestDeterminism(t *testing.T) {
	days := 0.5
	if raceEnabled {
		days = 0.2
	}
	a := resultJSON(t, run(t, carrier(t, router.PolicyTex, days, 0.8)))
	b := resultJSON(t, run(t, carrier(t, router.PolicyTex, days, 0.8)))
	if !bytes.Equal(a, b) {
		t.Fatalf("two runs with one seed differ:\n%s\n%s", a, b)
	}
	s := carrier(t, router.PolicyTex, days, 0.8)
	s.Seed++
	if c := resultJSON(t, run(t, s)); bytes.Equal(a, c) {
		t.Fatal("another seed gave the same output")
	}
}

// TestCarrierPolicies runs the carrier scenario briefly under the three
// policies and checks what each policy must and must not do.
func TestCarrierPolicies(t *testing.T) {
	days := 1.0
	if raceEnabled {
		days = 0.3
	}
	res := map[router.Policy]*Result{}
	for _, p := range []router.Policy{router.PolicyTex, router.PolicyLongestIdle, router.PolicyPooled} {
		res[p] = run(t, carrier(t, p, days, 0.8))
		if len(res[p].PerMarket) != 10 {
			t.Fatalf("%s: %d markets in per_market, want 10", p, len(res[p].PerMarket))
		}
	}
	tex, li, pooled := res[router.PolicyTex], res[router.PolicyLongestIdle], res[router.PolicyPooled]
	// Common random numbers: every policy sees the same callers.
	if tex.Offered != li.Offered || li.Offered != pooled.Offered {
		t.Errorf("offered differs by policy: %d %d %d", tex.Offered, li.Offered, pooled.Offered)
	}
	if li.HomeTeamShare != 1 || li.Callbacks != 0 {
		t.Errorf("longest_idle left the home team or took callbacks: %+v", li.Figures)
	}
	if pooled.Callbacks != 0 || pooled.HomeTeamShare > 0.3 {
		t.Errorf("pooled: %+v", pooled.Figures)
	}
	if tex.Callbacks == 0 || tex.CallbackWaitSeconds.P90 <= 0 {
		t.Errorf("tex offered no callbacks: %+v", tex.Figures)
	}
	if !(tex.AgentContinuity > 1.5*li.AgentContinuity && tex.HomeTeamShare > pooled.HomeTeamShare) {
		t.Errorf("tex continuity %v (longest_idle %v), home share %v (pooled %v)",
			tex.AgentContinuity, li.AgentContinuity, tex.HomeTeamShare, pooled.HomeTeamShare)
	}
	if !(pooled.ServiceLevel > li.ServiceLevel) {
		t.Errorf("pooling 120 agents should beat 10 teams of 12: %v vs %v", pooled.ServiceLevel, li.ServiceLevel)
	}
	for id, m := range tex.PerMarket {
		if m.Offered != m.Answered+m.Abandoned || m.Occupancy <= 0 || m.Occupancy > 1 {
			t.Errorf("market %s: %+v", id, m)
		}
	}
}

// TestOrgDirectory runs a scenario over the sample org with a routing
// override: arrivals by market, customers the org file does not know.
func TestOrgDirectory(t *testing.T) {
	s, err := LoadScenario(filepath.Join("..", "..", "testdata", "scenarios", "sample-org.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s.WarmupSeconds, s.DurationSeconds = 3600, 86400/2
	if raceEnabled {
		s.DurationSeconds = 86400 / 6
	}
	var chain []teams.ChainStep
	s.Tune = func(rc *teams.RoutingConfig) { chain = rc.Chain }
	res := run(t, s)
	if len(chain) == 0 || chain[0].BudgetSeconds != 60 {
		t.Fatalf("routing override not applied: chain %+v", chain)
	}
	if res.Offered == 0 || res.Answered == 0 || len(res.PerMarket) != 3 {
		t.Fatalf("sample org run: %+v", res)
	}
}

func TestProgress(t *testing.T) {
	var calls int
	s := scenario(t, mmc(12, 2, ""))
	if _, err := Run(s, Options{Progress: func(Progress) { calls++ }, ProgressEvery: 1}); err != nil {
		t.Fatal(err)
	}
	if calls == 0 {
		t.Fatal("no progress reported")
	}
}

// TestRepeatShare: repeat_share is the share of callers who called in the
// last 7 days, even when the customer base is small enough that drawing
// "new" callers from all of it would keep hitting recent ones.
func TestRepeatShare(t *testing.T) {
	res := run(t, scenario(t, `
generate: {markets: 1, agents_per_team: 12, customers_per_market: 20000}
seed: 3
duration_seconds: 259200
warmup_seconds: 86400
policy: longest_idle
arrivals: [{market: M01, per_hour: 200, repeat_share: 0.3}]
handle_seconds: {dist: exponential, mean: 180}
`))
	// Repeat contacts count callers served in the window; a few repeat
	// draws land on callers who were not served (none abandon here).
	near(t, "repeat contacts / answered", float64(res.RepeatContacts)/float64(res.Answered), 0.3, 0.02)
}
