package teams

// ScorecardConfig is the org's `scorecard:` section.
type ScorecardConfig struct{}
