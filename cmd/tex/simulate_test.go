package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tex-cx/tex/router/sim"
)

const smallScenario = `generate: {markets: 2, agents_per_team: 4, customers_per_market: 2000}
seed: 5
duration_seconds: 43200
warmup_seconds: 3600
arrivals: [{market: "*", per_hour: 60, repeat_share: 0.3}]
handle_seconds: {dist: exponential, mean: 180}
patience_seconds: {dist: exponential, mean: 120}
callback_accept_share: 0.5
`

func writeScenario(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func simulateJSON(t *testing.T, args ...string) (*sim.Result, []byte) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(append([]string{"simulate", "--format", "json", "--quiet"}, args...), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var res sim.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	return &res, out.Bytes()
}

func TestSimulateJSONDeterministic(t *testing.T) {
	path := writeScenario(t, smallScenario)
	a, _ := simulateJSON(t, "--scenario", path)
	b, _ := simulateJSON(t, "--scenario", path)
	if a.Offered == 0 || len(a.PerMarket) != 2 {
		t.Fatalf("result: %+v", a)
	}
	a.Run, b.Run = sim.RunStats{}, sim.RunStats{}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Fatalf("same seed, different output:\n%s\n%s", ja, jb)
	}
	c, _ := simulateJSON(t, "--scenario", path, "--seed", "6", "--policy", "longest_idle")
	if c.Seed != 6 || c.Policy != "longest_idle" || c.Callbacks != 0 {
		t.Fatalf("overrides not applied: %+v", c)
	}
	if a.Callbacks == 0 {
		t.Fatalf("the scenario's callback_accept_share took no callbacks: %+v", a)
	}
	if d, _ := simulateJSON(t, "--scenario", path, "--callback-accept-share", "0"); d.Callbacks != 0 {
		t.Fatalf("--callback-accept-share 0 still took %d callbacks", d.Callbacks)
	}
}

func TestSimulateTable(t *testing.T) {
	path := writeScenario(t, smallScenario)
	var out, errb bytes.Buffer
	if code := run([]string{"simulate", "--scenario", path, "--quiet"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, w := range []string{"policy tex, seed 5", "SL(20s)", "M01", "M02", "all", "contacts/s"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("table lacks %q:\n%s", w, out.String())
		}
	}
	if errb.Len() != 0 {
		t.Errorf("stderr with --quiet: %s", errb.String())
	}
}

func TestSimulateBadScenario(t *testing.T) {
	path := writeScenario(t, strings.Replace(smallScenario, "mean: 180", "mean: -180", 1))
	var out, errb bytes.Buffer
	if code := run([]string{"simulate", "--scenario", path}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if want := path + ":6: handle_seconds.mean: must be > 0, got -180"; !strings.Contains(errb.String(), want) {
		t.Fatalf("stderr %q lacks %q", errb.String(), want)
	}
}
