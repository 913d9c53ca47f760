package router

import (
	"hash/fnv"
	"math"

	"github.com/tex-cx/tex/teams"
)

// The candidate pipeline, after Nomad's scheduler: filters decide whether an
// agent is eligible at all (each with a reason constant), scorers give each
// eligible agent named components in [0,1].

type filterStage struct {
	// static stages depend only on the agent and the contact, never on live
	// state: they decide whether a logged-in agent "could serve" the contact,
	// which is what makes a fallback step viable.
	static bool
	check  func(c *Core, ct *contact, a *agent) SkipReason
}

// filters is the eligibility chain, assembled here and only here.
var filters = []filterStage{
	// Role first: coaches, leads and resource managers usually take nothing,
	// and it is the cheapest test.
	{static: true, check: func(c *Core, ct *contact, a *agent) SkipReason {
		if !a.takes {
			return SkipRole
		}
		return ""
	}},
	// Channel: an agent with no capacity on the channel can never take it.
	{static: true, check: func(c *Core, ct *contact, a *agent) SkipReason {
		if a.capacity[ct.channel] == 0 {
			return SkipChannel
		}
		return ""
	}},
	// Language before skills: a bit test, and a hard requirement.
	{static: true, check: func(c *Core, ct *contact, a *agent) SkipReason {
		if a.langs&(1<<ct.lang) == 0 {
			return SkipLanguage
		}
		return ""
	}},
	// Skills: every requested skill at or above its minimum proficiency.
	{static: true, check: func(c *Core, ct *contact, a *agent) SkipReason {
		for i, s := range ct.skills[:ct.nSkills] {
			if a.skills[s] < ct.minProf[i] {
				return SkipSkill
			}
		}
		return ""
	}},
	// State: only an available agent who is not on the way out takes work.
	{check: func(c *Core, ct *contact, a *agent) SkipReason {
		switch {
		case a.presence == presOffline:
			return SkipOffline
		case a.presence == presAway:
			return SkipAway
		case a.notResponding:
			return SkipNotResponding
		case a.hasPending:
			return SkipLoggingOut
		case a.wrapping > 0 && a.active == 0 && a.offers == 0:
			return SkipWrapUp
		}
		return ""
	}},
	// Capacity: offered + active + wrapping on the channel below capacity; a
	// voice call takes the whole agent, and an agent with any contact takes no call.
	{check: func(c *Core, ct *contact, a *agent) SkipReason {
		if !c.hasRoom(a, ct.channel) {
			return SkipCapacity
		}
		return ""
	}},
	// Missed: do not offer a contact again to an agent who just let it go,
	// for a cool-off, unless the agent has shown since that they respond
	// (accepted something, or set available).
	{check: func(c *Core, ct *contact, a *agent) SkipReason {
		if a.misses == 0 {
			return ""
		}
		for _, m := range ct.missedBy {
			if m.agent == a.idx && m.until > c.now {
				return SkipMissed
			}
		}
		return ""
	}},
}

func (c *Core) hasRoom(a *agent, ch uint8) bool {
	if a.used[ch] >= a.capacity[ch] {
		return false
	}
	if c.voice >= 0 {
		if int(ch) == c.voice {
			return a.offers+a.active+a.wrapping == 0
		}
		if a.used[c.voice] > 0 {
			return false
		}
	}
	return true
}

// couldServe runs the static filters: a logged-in agent who passes them
// makes a fallback step viable.
func (c *Core) couldServe(ct *contact, a *agent) bool {
	if a.presence == presOffline {
		return false
	}
	for i := range filters {
		if filters[i].static && filters[i].check(c, ct, a) != "" {
			return false
		}
	}
	return true
}

// eligible runs the whole filter chain.
func (c *Core) eligible(ct *contact, a *agent) SkipReason {
	for i := range filters {
		if r := filters[i].check(c, ct, a); r != "" {
			return r
		}
	}
	return ""
}

// components are one agent's named score components for one contact.
type components struct {
	continuity float64 // affinity before the load cap
	skill      float64
	fairness   float64
	load       float64 // share of the team's recent work
	capped     bool    // continuity withheld by the load cap
	score      float64
	idle       ts
}

// score runs the scorers. Each component lies in [0,1]; the score is their
// weighted sum.
func (c *Core) score(ct *contact, a *agent) components {
	var k components
	c.scoreInto(ct, a, &k)
	return k
}

// scoreInto is score without the copy, for the per-agent hot loop.
func (c *Core) scoreInto(ct *contact, a *agent, k *components) {
	*k = components{}
	// Continuity: the engine's own memory of this customer and agent.
	if c.weights.Continuity > 0 {
		k.continuity = c.affinity(&ct.hist, a.idx)
	}
	// Load cap: continuity may not push one expert past a set share of the
	// team's recent work. Only computed when there is continuity to cap.
	if k.continuity > 0 {
		k.load = c.loadShare(a)
		k.capped = k.load > c.cfg.ContinuityLoadCap
	}
	// Skill: mean proficiency on the requested skills.
	if ct.nSkills > 0 {
		sum := 0
		for _, s := range ct.skills[:ct.nSkills] {
			sum += int(a.skills[s])
		}
		k.skill = float64(sum) / float64(5*int(ct.nSkills))
	}
	// Fairness: idle time since the last contact, saturating.
	k.idle = max(c.now-a.lastFreeAt, 0)
	k.fairness = min(1, toSeconds(k.idle)/c.cfg.FairnessFullIdleSeconds)
	cont := k.continuity
	if k.capped {
		cont = 0
	}
	k.score = c.weights.Continuity*cont + c.weights.Skill*k.skill + c.weights.Fairness*k.fairness
}

// minTeamLoad is the recent team work below which the load cap does not
// apply: a share of a handful of contacts says nothing.
const minTeamLoad = 10

// loadShare is the agent's share of its team's recent (decayed) assignments.
func (c *Core) loadShare(a *agent) float64 {
	t := c.teams[a.team]
	tl := decayed(t.load, t.loadAt, c.now, c.loadTau)
	if tl < minTeamLoad {
		return 0
	}
	return decayed(a.load, a.loadAt, c.now, c.loadTau) / tl
}

func decayed(v float64, at, now ts, tau float64) float64 {
	if v == 0 || now <= at {
		return v
	}
	return v * math.Exp(-toSeconds(now-at)/tau)
}

// countWork adds one assignment to the agent's and the team's recent load.
func (c *Core) countWork(a *agent) {
	t := c.teams[a.team]
	a.load = decayed(a.load, a.loadAt, c.now, c.loadTau) + 1
	a.loadAt = c.now
	t.load = decayed(t.load, t.loadAt, c.now, c.loadTau) + 1
	t.loadAt = c.now
}

// tieBreak orders agents with equal scores and equal idle time, seeded by
// the contact id so that a replay makes the same choice but no agent is
// always first.
func tieBreak(seed uint64, agent int32) uint64 {
	x := seed ^ (uint64(agent)+1)*0x9E3779B97F4A7C15
	x ^= x >> 31
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 29
	return x
}

func contactSeed(id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(id))
	return h.Sum64()
}

// better reports whether candidate x beats y: higher score, then longer
// idle, then the seeded tie-break.
func better(x, y *components, xt, yt uint64) bool {
	if x.score != y.score {
		return x.score > y.score
	}
	if x.idle != y.idle {
		return x.idle > y.idle
	}
	return xt > yt
}

// stepScan is the running state of one search for an agent.
type stepScan struct {
	k        components // scratch for the agent being scored
	seed     uint64
	best     *agent
	bestK    components
	bestT    uint64
	top      []Candidate // explain only: best candidates seen
	topAgent []*agent
	skipped  []SkipCount
}

// scanAgent considers one agent for the contact. It returns whether the
// agent could serve it (for step viability; only worked out when needViable)
// and whether it is eligible now.
func (c *Core) scanAgent(ct *contact, a *agent, s *stepScan, tr *StepTrace, needViable bool) (viable, ok bool) {
	if tr != nil {
		tr.Considered++
	} else if !a.ready {
		// An agent who is not ready fails the state or the capacity stage.
		// With nobody asking which, the filter chain is not run.
		return needViable && a.presence != presOffline && c.couldServe(ct, a), false
	}
	reason := c.eligible(ct, a)
	if reason != "" {
		if tr != nil {
			tr.Skipped = addSkip(tr.Skipped, reason)
			s.skipped = addSkip(s.skipped, reason)
		}
		return needViable && a.presence != presOffline && c.couldServe(ct, a), false
	}
	k := &s.k
	c.scoreInto(ct, a, k)
	t := tieBreak(s.seed, a.idx)
	if s.best == nil || better(k, &s.bestK, t, s.bestT) {
		s.best, s.bestK, s.bestT = a, *k, t
	}
	if tr != nil {
		tr.Eligible++
		c.keepTop(s, a, k)
	}
	return true, true
}

func (c *Core) keepTop(s *stepScan, a *agent, k *components) {
	cand := Candidate{
		Agent: a.id, Team: c.teams[a.team].id, Score: round4(k.score), Continuity: round4(k.continuity),
		Skill: round4(k.skill), Fairness: round4(k.fairness), Load: round4(k.load), LoadCapped: k.capped,
		IdleSecs: roundSeconds(k.idle),
	}
	pos := len(s.top)
	for i := range s.top {
		if cand.Score > s.top[i].Score {
			pos = i
			break
		}
	}
	if pos >= maxCandidates {
		return
	}
	if s.top == nil {
		// Made on the first candidate: a queued contact's decision (most of
		// those a busy server keeps) has none.
		s.top = make([]Candidate, 0, maxCandidates+1)
	}
	s.top = append(s.top, Candidate{})
	copy(s.top[pos+1:], s.top[pos:])
	s.top[pos] = cand
	if len(s.top) > maxCandidates {
		s.top = s.top[:maxCandidates]
	}
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// stepTeams lists the teams a step reaches for a contact, for traces. The
// slices are shared, built once in New.
func (c *Core) stepTeams(ct *contact, kind teams.StepKind) []string {
	switch kind {
	case teams.StepKnownAgent, teams.StepServedBefore, teams.StepHomeTeam:
		return c.teams[ct.team].self
	case teams.StepSisterTeams:
		return c.markets[ct.market].sisterIDs
	}
	return nil
}

// scanStep looks for the best eligible agent in one fallback step. Sister
// teams are tried in their configured order: the first with an eligible
// agent wins.
func (c *Core) scanStep(ct *contact, st step, s *stepScan, tr *StepTrace) (viable bool) {
	visit := func(a *agent) {
		v, _ := c.scanAgent(ct, a, s, tr, !viable)
		viable = viable || v
	}
	switch st.kind {
	case teams.StepKnownAgent:
		if ct.known >= 0 {
			visit(c.agents[ct.known])
		}
	case teams.StepServedBefore:
		for _, ai := range ct.served {
			visit(c.agents[ai])
		}
	case teams.StepHomeTeam:
		t := c.teams[ct.team]
		for _, ai := range t.agents {
			visit(c.agents[ai])
		}
	case teams.StepSisterTeams:
		for _, ti := range c.markets[ct.market].fallback {
			for _, ai := range c.teams[ti].agents {
				visit(c.agents[ai])
			}
			if s.best != nil {
				break
			}
		}
	case teams.StepAnyTeam:
		// The widest step: skip teams with nobody ready, so a carrier-size
		// org does not cost a scan of every agent.
		viable = true
		for _, t := range c.teams {
			if t.ready == 0 {
				continue
			}
			for _, ai := range t.agents {
				c.scanAgent(ct, c.agents[ai], s, tr, false)
			}
		}
	}
	return viable
}

// inOpenStep reports whether agent a belongs to one of the contact's open
// fallback steps: the steps an agent must be in to take it.
func (c *Core) inOpenStep(ct *contact, a *agent) (teams.StepKind, bool) {
	for i := 0; i <= ct.step && i < len(ct.chain); i++ {
		k := ct.chain[i].kind
		switch k {
		case teams.StepKnownAgent:
			if ct.known == a.idx {
				return k, true
			}
		case teams.StepServedBefore:
			if containsI32(ct.served, a.idx) {
				return k, true
			}
		case teams.StepHomeTeam:
			if a.team == ct.team {
				return k, true
			}
		case teams.StepSisterTeams:
			if containsI32(c.markets[ct.market].fallback, a.team) {
				return k, true
			}
		case teams.StepAnyTeam:
			return k, true
		}
	}
	return "", false
}
