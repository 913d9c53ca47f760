package teams

import (
	"fmt"
	"math"
)

// ScorecardFormulaVersion names the scorecard formula: how metrics are
// attributed, mapped to 0-100, shrunk and blended (docs/scorecard.md). Every
// scorecard output prints it, so an export can be traced to the rules that
// made it. Change it whenever a change to the scorecard would change a number.
const ScorecardFormulaVersion = "tex-scorecard/1"

// MetricTarget maps one metric to a 0-100 score: Floor scores 0, Target
// scores 100, linearly in between, clamped outside. For a metric where lower
// is better (AHT, transfer rate, repeat rate) the floor is the higher value;
// the direction belongs to the metric, and Validate checks the pair agrees.
type MetricTarget struct {
	Floor  float64 `yaml:"floor" json:"floor"`
	Target float64 `yaml:"target" json:"target"`
	// Weight is the metric's weight in the weighted mean; 0 leaves it out.
	Weight float64 `yaml:"weight" json:"weight"`
}

// ScorecardMetrics holds the scoring of each metric. Contacts handled is
// reported but not scored: volume depends on routing, not on the agent.
type ScorecardMetrics struct {
	AHTSeconds     MetricTarget `yaml:"aht_seconds" json:"aht_seconds"`
	TransferRate   MetricTarget `yaml:"transfer_rate" json:"transfer_rate"`
	FCR            MetricTarget `yaml:"fcr" json:"fcr"`
	RepeatRate     MetricTarget `yaml:"repeat_rate" json:"repeat_rate"`
	CSAT           MetricTarget `yaml:"csat" json:"csat"`
	NPS            MetricTarget `yaml:"nps" json:"nps"`
	ContinuityRate MetricTarget `yaml:"continuity_rate" json:"continuity_rate"`
	HomeTeamShare  MetricTarget `yaml:"home_team_share" json:"home_team_share"`
}

// ScorecardConfig is the org's `scorecard:` section. Every field has a
// documented default (DefaultScorecard); a field left out of the file keeps
// its default.
type ScorecardConfig struct {
	Metrics ScorecardMetrics `yaml:"metrics" json:"metrics"`
	// TeamWeight is w_team in blended = w_team*team + (1-w_team)*individual.
	TeamWeight float64 `yaml:"team_weight" json:"team_weight"`
	// FCRWindowDays: a contact is a first-contact resolution when the same
	// customer does not come back within this many days after it ended.
	FCRWindowDays int `yaml:"fcr_window_days" json:"fcr_window_days"`
	// PriorWeight is how many pseudo-observations of the team's value an
	// agent's metric is averaged with before scoring (a Bayesian average),
	// so that 3 surveys do not make a star. 0 turns shrinkage off.
	PriorWeight float64 `yaml:"prior_weight" json:"prior_weight"`
	// SmallSample: a metric with fewer samples than this (but at least one)
	// is marked as a small sample in reports.
	SmallSample int `yaml:"small_sample" json:"small_sample"`
}

// MetricSpec describes one scored metric: its config key, whether lower
// values are better, and the range its floor and target must lie in.
type MetricSpec struct {
	Key           string
	LowerIsBetter bool
	Min, Max      float64
}

// ScorecardMetricSpecs lists the scored metrics in report order.
var ScorecardMetricSpecs = []MetricSpec{
	{Key: "aht_seconds", LowerIsBetter: true, Min: 0, Max: math.Inf(1)},
	{Key: "transfer_rate", LowerIsBetter: true, Min: 0, Max: 1},
	{Key: "fcr", Min: 0, Max: 1},
	{Key: "repeat_rate", LowerIsBetter: true, Min: 0, Max: 1},
	{Key: "csat", Min: 0, Max: 1},
	{Key: "nps", Min: -100, Max: 100},
	{Key: "continuity_rate", Min: 0, Max: 1},
	{Key: "home_team_share", Min: 0, Max: 1},
}

// Target returns the MetricTarget for a key of ScorecardMetricSpecs.
func (m *ScorecardMetrics) Target(key string) *MetricTarget {
	switch key {
	case "aht_seconds":
		return &m.AHTSeconds
	case "transfer_rate":
		return &m.TransferRate
	case "fcr":
		return &m.FCR
	case "repeat_rate":
		return &m.RepeatRate
	case "csat":
		return &m.CSAT
	case "nps":
		return &m.NPS
	case "continuity_rate":
		return &m.ContinuityRate
	case "home_team_share":
		return &m.HomeTeamShare
	}
	return nil
}

// DefaultScorecard returns the documented defaults of the `scorecard:`
// section (docs/scorecard.md). FCR and CSAT weigh most: they are what the
// Team-of-Experts model is for; AHT and home-team share weigh least, so
// that nobody is pushed to rush a customer off the line.
func DefaultScorecard() ScorecardConfig {
	return ScorecardConfig{
		Metrics: ScorecardMetrics{
			AHTSeconds:     MetricTarget{Floor: 900, Target: 420, Weight: 0.5},
			TransferRate:   MetricTarget{Floor: 0.20, Target: 0.05, Weight: 1},
			FCR:            MetricTarget{Floor: 0.50, Target: 0.85, Weight: 2},
			RepeatRate:     MetricTarget{Floor: 0.30, Target: 0.10, Weight: 1},
			CSAT:           MetricTarget{Floor: 0.60, Target: 0.90, Weight: 2},
			NPS:            MetricTarget{Floor: 0, Target: 60, Weight: 1},
			ContinuityRate: MetricTarget{Floor: 0.30, Target: 0.80, Weight: 1},
			HomeTeamShare:  MetricTarget{Floor: 0.70, Target: 0.95, Weight: 0.5},
		},
		TeamWeight:    0.5,
		FCRWindowDays: 7,
		PriorWeight:   10,
		SmallSample:   10,
	}
}

// Validate reports every problem with the scorecard section. where prefixes
// each message (for example "scorecard").
func (c *ScorecardConfig) Validate(where string) []string {
	var probs []string
	bad := func(format string, args ...any) {
		probs = append(probs, where+": "+fmt.Sprintf(format, args...))
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	weights := 0.0
	for _, spec := range ScorecardMetricSpecs {
		t := c.Metrics.Target(spec.Key)
		name := "metrics." + spec.Key
		ok := true
		for _, f := range []struct {
			field string
			v     float64
		}{{"floor", t.Floor}, {"target", t.Target}} {
			if !finite(f.v) || f.v < spec.Min || f.v > spec.Max {
				ok = false
				if math.IsInf(spec.Max, 1) {
					bad("%s.%s must be a finite number >= %v, got %v", name, f.field, spec.Min, f.v)
				} else {
					bad("%s.%s must be in [%v,%v], got %v", name, f.field, spec.Min, spec.Max, f.v)
				}
			}
		}
		if ok {
			switch {
			case spec.LowerIsBetter && !(t.Target < t.Floor):
				bad("%s: lower is better, so target (%v) must be below floor (%v)", name, t.Target, t.Floor)
			case !spec.LowerIsBetter && !(t.Target > t.Floor):
				bad("%s: higher is better, so target (%v) must be above floor (%v)", name, t.Target, t.Floor)
			}
		}
		if !finite(t.Weight) || t.Weight < 0 {
			bad("%s.weight must be a finite number >= 0, got %v", name, t.Weight)
		} else {
			weights += t.Weight
		}
	}
	if weights == 0 {
		bad("metrics: at least one metric needs a weight > 0")
	}
	if !finite(c.TeamWeight) || c.TeamWeight < 0 || c.TeamWeight > 1 {
		bad("team_weight must be in [0,1], got %v", c.TeamWeight)
	}
	if c.FCRWindowDays < 1 || c.FCRWindowDays > 366 {
		bad("fcr_window_days must be 1-366, got %d", c.FCRWindowDays)
	}
	if !finite(c.PriorWeight) || c.PriorWeight < 0 {
		bad("prior_weight must be a finite number >= 0, got %v", c.PriorWeight)
	}
	if c.SmallSample < 0 {
		bad("small_sample must be >= 0, got %d", c.SmallSample)
	}
	return probs
}
