package scorecard

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/tex-cx/tex/teams"
)

// ErrUnknownTeam is returned for a query about a team the org does not have.
var ErrUnknownTeam = errors.New("unknown team")

// FormulaVersion is printed in every scorecard output (teams.ScorecardFormulaVersion).
const FormulaVersion = teams.ScorecardFormulaVersion

// Metrics are the figures of one agent or team over a period, in the field
// names of PROTOCOL.md. Shares and rates are fractions 0-1, NPS is in points
// -100..100, AHT in seconds, and a figure with no sample is null. Each
// sampled figure has its sample size next to it as <metric>_n.
type Metrics struct {
	Contacts        int      `json:"contacts"`
	AHTSeconds      *float64 `json:"aht_seconds"`
	AHTSecondsN     int      `json:"aht_seconds_n"`
	TransferRate    *float64 `json:"transfer_rate"`
	TransferRateN   int      `json:"transfer_rate_n"`
	FCR             *float64 `json:"fcr"`
	FCRN            int      `json:"fcr_n"`
	FCRProvisional  bool     `json:"fcr_provisional"`
	RepeatRate      *float64 `json:"repeat_rate"`
	RepeatRateN     int      `json:"repeat_rate_n"`
	CSAT            *float64 `json:"csat"`
	CSATN           int      `json:"csat_n"`
	NPS             *float64 `json:"nps"`
	NPSN            int      `json:"nps_n"`
	ContinuityRate  *float64 `json:"continuity_rate"`
	ContinuityRateN int      `json:"continuity_rate_n"`
	HomeTeamShare   *float64 `json:"home_team_share"`
	HomeTeamShareN  int      `json:"home_team_share_n"`
}

// AgentRow is one agent's line of a scorecard, in PROTOCOL.md's order.
type AgentRow struct {
	Agent string `json:"agent"`
	Name  string `json:"name"`
	Team  string `json:"team"`
	Role  string `json:"role"`
	Metrics
	IndividualScore *float64 `json:"individual_score"`
	TeamScore       *float64 `json:"team_score"`
	BlendedScore    *float64 `json:"blended_score"`
}

// TeamRow is the team's line: the same metrics over the team's contacts
// (home-team share over its markets' contacts), and its score.
type TeamRow struct {
	Team string `json:"team"`
	Name string `json:"name,omitempty"`
	Site string `json:"site"`
	Metrics
	Score *float64 `json:"score"`
}

// Report is a team's scorecard for a period: the JSON of `tex scorecard`.
type Report struct {
	FormulaVersion string `json:"formula_version"`
	Period         string `json:"period"`
	From           string `json:"from"` // first day, included
	To             string `json:"to"`   // last day, included
	// AsOf is the "now" the report was computed at: FCR of a contact whose
	// repeat window is still open at AsOf is provisional.
	AsOf time.Time `json:"as_of"`
	// SmallSample is the sample size below which a figure is marked small.
	SmallSample int        `json:"small_sample"`
	Team        TeamRow    `json:"team"`
	Agents      []AgentRow `json:"agents"`
}

// metric indexes, in the order of teams.ScorecardMetricSpecs.
const (
	mAHT = iota
	mTransfer
	mFCR
	mRepeat
	mCSAT
	mNPS
	mContinuity
	mHome
	numMetrics
)

// acc accumulates one agent's or team's contacts.
type acc struct {
	contacts        int
	handle          float64
	transfers       int
	fcrN, fcrOK     int
	repeats         int
	provisional     bool
	csatN, csatTop  int
	npsN, pro, det  int
	contN, contSame int
	homeN, homeYes  int
}

// value is one metric's raw figure and sample size.
type value struct {
	v  float64
	n  int
	ok bool
}

func ratio(num, den int) value {
	if den == 0 {
		return value{}
	}
	return value{v: float64(num) / float64(den), n: den, ok: true}
}

func (c *acc) values() [numMetrics]value {
	var v [numMetrics]value
	if c.contacts > 0 {
		v[mAHT] = value{v: c.handle / float64(c.contacts), n: c.contacts, ok: true}
	}
	v[mTransfer] = ratio(c.transfers, c.contacts)
	v[mFCR] = ratio(c.fcrOK, c.fcrN)
	v[mRepeat] = ratio(c.repeats, c.fcrN)
	v[mCSAT] = ratio(c.csatTop, c.csatN)
	if c.npsN > 0 {
		v[mNPS] = value{v: 100 * float64(c.pro-c.det) / float64(c.npsN), n: c.npsN, ok: true}
	}
	v[mContinuity] = ratio(c.contSame, c.contN)
	v[mHome] = ratio(c.homeYes, c.homeN)
	return v
}

// addLocked counts contact s into c. now decides whether the repeat window
// is still open.
func (a *Aggregator) addLocked(c *acc, s *slot, now int64) {
	c.contacts++
	c.handle += s.talk + s.hold + s.wrap
	if s.transferred {
		c.transfers++
	}
	if s.customer != noSym {
		// FCR and repeats need a customer to look for a repeat of.
		c.fcrN++
		deadline := s.ended + a.window
		if s.nextAfter <= deadline {
			c.repeats++
		} else if s.resolved == 1 {
			c.fcrOK++
		}
		if now <= deadline {
			c.provisional = true
		}
	}
	if s.csat >= 0 {
		c.csatN++
		if s.csat >= 4 {
			c.csatTop++
		}
	}
	if s.nps >= 0 {
		c.npsN++
		switch {
		case s.nps >= 9:
			c.pro++
		case s.nps <= 6:
			c.det++
		}
	}
	if s.continuity != contUnknown && s.continuity != contFirst {
		c.contN++
		if s.continuity == contSameAgent {
			c.contSame++
		}
	}
	c.homeN++
	if s.home {
		c.homeYes++
	}
}

// Query computes team's scorecard over period p as of now.
func (a *Aggregator) Query(team string, p Period, now time.Time) (*Report, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	t, ok := a.org.Team(team)
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownTeam, team)
	}
	return a.queryLocked(t, p, now), nil
}

func (a *Aggregator) queryLocked(t *teams.Team, p Period, now time.Time) *Report {
	nowNS := now.UnixNano()
	first, last := dayOf(p.From.UnixNano()), dayOf(p.To.UnixNano())
	agents := a.teamAgents[t.ID]
	accs := make([]acc, len(agents))
	bySym := make(map[int32]int, len(agents))
	for k, ag := range agents {
		if sym, ok := a.syms[ag.ID]; ok {
			bySym[sym] = k
		}
	}
	teamSym, teamKnown := a.syms[t.ID]

	// One pass over the team's contacts feeds the team and its agents.
	var team acc
	if teamKnown {
		for d := first; d < last; d++ {
			for _, i := range a.buckets[bucketKey(bucketTeam, teamSym, d)] {
				s := &a.slots[i]
				a.addLocked(&team, s, nowNS)
				if k, ok := bySym[s.agent]; ok {
					a.addLocked(&accs[k], s, nowNS)
				}
			}
		}
	}
	// An agent's contacts for other teams (before a move, say) are theirs too.
	for sym, k := range bySym {
		for d := first; d < last; d++ {
			for _, i := range a.buckets[bucketKey(bucketAgent, sym, d)] {
				s := &a.slots[i]
				if !teamKnown || s.team != teamSym {
					a.addLocked(&accs[k], s, nowNS)
				}
			}
		}
	}
	// A team's home-team share is the part of its markets' contacts that
	// it served, whoever served them.
	var home acc
	for _, m := range a.homeMarkets[t.ID] {
		sym, ok := a.syms[m]
		if !ok {
			continue
		}
		for d := first; d < last; d++ {
			for _, i := range a.buckets[bucketKey(bucketMarket, sym, d)] {
				home.homeN++
				if a.slots[i].home {
					home.homeYes++
				}
			}
		}
	}
	team.homeN, team.homeYes = home.homeN, home.homeYes

	teamVals := team.values()
	teamScore := a.score(&teamVals, nil)
	rep := &Report{
		FormulaVersion: FormulaVersion,
		Period:         p.Label,
		From:           p.From.Format(time.DateOnly),
		To:             p.LastDay().Format(time.DateOnly),
		AsOf:           now.UTC(),
		SmallSample:    a.cfg.SmallSample,
		Team: TeamRow{Team: t.ID, Name: t.Name, Site: t.Site,
			Metrics: metrics(&team, &teamVals), Score: optional(teamScore)},
		Agents: make([]AgentRow, len(agents)),
	}
	for k, ag := range agents {
		vals := accs[k].values()
		row := AgentRow{Agent: ag.ID, Name: ag.Name, Team: ag.Team, Role: string(ag.Role),
			Metrics: metrics(&accs[k], &vals), TeamScore: optional(teamScore)}
		if accs[k].contacts > 0 {
			// An agent with no contacts has nothing of their own to score:
			// a score made only of the team's values would mislead.
			ind := a.score(&vals, &teamVals)
			row.IndividualScore = optional(ind)
			row.BlendedScore = optional(a.blend(teamScore, ind))
		}
		rep.Agents[k] = row
	}
	slices.SortStableFunc(rep.Agents, func(x, y AgentRow) int {
		switch {
		case x.BlendedScore == nil && y.BlendedScore == nil:
		case x.BlendedScore == nil:
			return 1
		case y.BlendedScore == nil:
			return -1
		default:
			if c := cmp.Compare(*y.BlendedScore, *x.BlendedScore); c != 0 {
				return c
			}
		}
		return cmp.Compare(x.Agent, y.Agent)
	})
	return rep
}

// score is the weighted mean of the metric scores. With team set, each
// metric is first shrunk toward the team's value: (n*x + k*t) / (n + k).
// A metric with neither a value nor a team value to stand in is left out.
func (a *Aggregator) score(vals, team *[numMetrics]value) value {
	sum, wsum := 0.0, 0.0
	for m, spec := range teams.ScorecardMetricSpecs {
		tgt := a.cfg.Metrics.Target(spec.Key)
		if tgt.Weight == 0 {
			continue
		}
		v := vals[m]
		if team != nil {
			v = shrink(v, team[m], a.cfg.PriorWeight)
		}
		if !v.ok {
			continue
		}
		sum += tgt.Weight * MetricScore(v.v, tgt.Floor, tgt.Target)
		wsum += tgt.Weight
	}
	if wsum == 0 {
		return value{}
	}
	return value{v: sum / wsum, ok: true}
}

func shrink(v, team value, k float64) value {
	if !team.ok || k == 0 {
		return v
	}
	if !v.ok {
		return value{v: team.v, ok: true}
	}
	n := float64(v.n)
	return value{v: (n*v.v + k*team.v) / (n + k), n: v.n, ok: true}
}

// MetricScore maps x to 0-100: floor scores 0, target 100, linear between,
// clamped outside. A target below the floor inverts it (lower is better).
func MetricScore(x, floor, target float64) float64 {
	f := (x - floor) / (target - floor)
	return 100 * math.Max(0, math.Min(1, f))
}

// blend is team_weight*team + (1-team_weight)*individual; without a team
// score the individual one stands alone.
func (a *Aggregator) blend(team, ind value) value {
	if !ind.ok {
		return value{}
	}
	if !team.ok {
		return ind
	}
	w := a.cfg.TeamWeight
	return value{v: w*team.v + (1-w)*ind.v, ok: true}
}

func metrics(c *acc, v *[numMetrics]value) Metrics {
	return Metrics{
		Contacts:   c.contacts,
		AHTSeconds: optional(v[mAHT]), AHTSecondsN: v[mAHT].n,
		TransferRate: optional(v[mTransfer]), TransferRateN: v[mTransfer].n,
		FCR: optional(v[mFCR]), FCRN: v[mFCR].n, FCRProvisional: c.provisional,
		RepeatRate: optional(v[mRepeat]), RepeatRateN: v[mRepeat].n,
		CSAT: optional(v[mCSAT]), CSATN: v[mCSAT].n,
		NPS: optional(v[mNPS]), NPSN: v[mNPS].n,
		ContinuityRate: optional(v[mContinuity]), ContinuityRateN: v[mContinuity].n,
		HomeTeamShare: optional(v[mHome]), HomeTeamShareN: v[mHome].n,
	}
}

// optional rounds to 6 decimals (so exports carry no float noise) or gives
// null for a figure with no sample.
func optional(v value) *float64 {
	if !v.ok {
		return nil
	}
	r := math.Round(v.v*1e6) / 1e6
	return &r
}
