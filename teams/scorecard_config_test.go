package teams

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v4"
)

func TestDefaultScorecardIsValid(t *testing.T) {
	c := DefaultScorecard()
	if probs := c.Validate("scorecard"); len(probs) != 0 {
		t.Errorf("defaults have problems: %v", probs)
	}
	for _, spec := range ScorecardMetricSpecs {
		if c.Metrics.Target(spec.Key) == nil {
			t.Errorf("no target for %s", spec.Key)
		}
	}
}

// TestScorecardDecodeKeepsDefaults: the loader decodes the section over
// DefaultScorecard, so a field left out keeps its default.
func TestScorecardDecodeKeepsDefaults(t *testing.T) {
	c := DefaultScorecard()
	src := "team_weight: 0.3\nmetrics:\n  csat: {target: 0.95}\n"
	if err := yaml.Unmarshal([]byte(src), &c); err != nil {
		t.Fatal(err)
	}
	want := DefaultScorecard()
	want.TeamWeight = 0.3
	want.Metrics.CSAT.Target = 0.95
	if d := cmp.Diff(want, c); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestScorecardValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*ScorecardConfig)
		want []string
	}{
		{"aht the wrong way", func(c *ScorecardConfig) { c.Metrics.AHTSeconds.Target = 1000 },
			[]string{"scorecard: metrics.aht_seconds: lower is better, so target (1000) must be below floor (900)"}},
		{"csat the wrong way", func(c *ScorecardConfig) { c.Metrics.CSAT = MetricTarget{Floor: 0.9, Target: 0.9, Weight: 1} },
			[]string{"scorecard: metrics.csat: higher is better, so target (0.9) must be above floor (0.9)"}},
		{"fraction out of range", func(c *ScorecardConfig) { c.Metrics.FCR.Target = 85 },
			[]string{"scorecard: metrics.fcr.target must be in [0,1], got 85"}},
		{"every problem at once", func(c *ScorecardConfig) {
			c.TeamWeight, c.FCRWindowDays, c.PriorWeight, c.SmallSample = 1.5, 0, -1, -2
			c.Metrics.NPS.Weight = -1
		}, []string{
			"scorecard: metrics.nps.weight must be a finite number >= 0, got -1",
			"scorecard: team_weight must be in [0,1], got 1.5",
			"scorecard: fcr_window_days must be 1-366, got 0",
			"scorecard: prior_weight must be a finite number >= 0, got -1",
			"scorecard: small_sample must be >= 0, got -2",
		}},
		{"no weights", func(c *ScorecardConfig) {
			for _, s := range ScorecardMetricSpecs {
				c.Metrics.Target(s.Key).Weight = 0
			}
		}, []string{"scorecard: metrics: at least one metric needs a weight > 0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultScorecard()
			tc.mod(&c)
			if d := cmp.Diff(tc.want, c.Validate("scorecard")); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	if !strings.HasPrefix(ScorecardFormulaVersion, "tex-scorecard/") {
		t.Error(ScorecardFormulaVersion)
	}
}
