package teams

import (
	"fmt"
	"math"
)

// StepKind names one step of a market's fallback chain.
type StepKind string

// The fallback steps of DESIGN.md, in their natural order. Each step widens
// the set of agents a waiting contact may go to.
const (
	// StepKnownAgent: the agent who served this customer last, when on the home team.
	StepKnownAgent StepKind = "known_agent"
	// StepServedBefore: home-team agents who served this customer before.
	StepServedBefore StepKind = "served_before"
	// StepHomeTeam: the whole home team.
	StepHomeTeam StepKind = "home_team"
	// StepSisterTeams: the market's fallback teams, in order.
	StepSisterTeams StepKind = "sister_teams"
	// StepAnyTeam: any team with an agent who can serve the contact.
	StepAnyTeam StepKind = "any_team"
)

// StepKinds lists the valid step kinds in their natural order.
var StepKinds = []StepKind{StepKnownAgent, StepServedBefore, StepHomeTeam, StepSisterTeams, StepAnyTeam}

// Valid reports whether k is a known step kind.
func (k StepKind) Valid() bool {
	for _, v := range StepKinds {
		if v == k {
			return true
		}
	}
	return false
}

// ChainStep is one step of a fallback chain. The step opens when the budgets
// of all earlier steps have run out (a step with no logged-in agent who could
// serve the contact is skipped at once, so its budget is not spent). A zero
// budget means the next step opens at the same moment.
type ChainStep struct {
	Step          StepKind `yaml:"step" json:"step"`
	BudgetSeconds float64  `yaml:"budget_seconds" json:"budget_seconds"`
}

// Weights are the scorer weights. Each component lies in [0,1], so the
// weights say how much each one counts.
type Weights struct {
	Continuity float64 `yaml:"continuity" json:"continuity"`
	Skill      float64 `yaml:"skill" json:"skill"`
	Fairness   float64 `yaml:"fairness" json:"fairness"`
}

// RoutingConfig is the org's `routing:` section. Every field has a documented
// default (DefaultRouting); a field left out of the file keeps its default.
type RoutingConfig struct {
	Weights Weights `yaml:"weights" json:"weights"`
	// Chain is the org's default fallback chain; markets may override it.
	Chain []ChainStep `yaml:"chain" json:"chain"`
	// ContactRoles are the roles that take contacts.
	ContactRoles []Role `yaml:"contact_roles" json:"contact_roles"`
	// MinProficiency is the lowest proficiency that counts as having a
	// requested skill; SkillMinimums overrides it per skill.
	MinProficiency int            `yaml:"min_proficiency" json:"min_proficiency"`
	SkillMinimums  map[string]int `yaml:"skill_minimums" json:"skill_minimums,omitempty"`
	// DefaultLanguage is the language of a contact that names none.
	DefaultLanguage string `yaml:"default_language" json:"default_language"`

	// OfferTTLSeconds is how long a reserved agent has to accept an offer.
	OfferTTLSeconds float64 `yaml:"offer_ttl_seconds" json:"offer_ttl_seconds"`
	// MaxMisses is how many offers in a row an agent may reject or let
	// expire before being set not_responding.
	MaxMisses int `yaml:"max_misses" json:"max_misses"`
	// WrapUpSeconds is how long wrap-up lasts before its timer ends it.
	WrapUpSeconds float64 `yaml:"wrap_up_seconds" json:"wrap_up_seconds"`
	// ActiveLeaseSeconds is the longest a contact may stay accepted without
	// an `ended` event; then the engine ends it, so no agent stays stuck
	// busy when a platform loses an event.
	ActiveLeaseSeconds float64 `yaml:"active_lease_seconds" json:"active_lease_seconds"`

	// ContinuityHalfLifeSeconds is the half-life of customer-agent affinity.
	ContinuityHalfLifeSeconds float64 `yaml:"continuity_half_life_seconds" json:"continuity_half_life_seconds"`
	// ContinuityMemorySeconds is how long the engine remembers who served a customer.
	ContinuityMemorySeconds float64 `yaml:"continuity_memory_seconds" json:"continuity_memory_seconds"`
	// ResolvedAffinity scales affinity when the last contact was resolved;
	// an unresolved last contact keeps full affinity (the customer is likely
	// calling back about the same thing).
	ResolvedAffinity float64 `yaml:"resolved_affinity" json:"resolved_affinity"`
	// KnownAgentMinAffinity is the affinity the last agent must still have
	// to count as the customer's known agent (the known_agent step and its
	// callbacks). Below it the customer is remembered, but only as served
	// before: a relationship from weeks ago is not worth a hold or a callback.
	KnownAgentMinAffinity float64 `yaml:"known_agent_min_affinity" json:"known_agent_min_affinity"`
	// KnownAgentWindowSeconds: the last agent counts as the known agent only
	// when they served the customer this recently. The default is the
	// scorecard's repeat-contact window (7 days): a customer calling again
	// within it is a repeat contact, most likely about the same thing, and
	// worth a hold or a callback from the same agent; after it, continuity
	// is a preference in the score, not a reservation.
	KnownAgentWindowSeconds float64 `yaml:"known_agent_window_seconds" json:"known_agent_window_seconds"`
	// ContinuityLoadCap is the share of its team's recent work above which
	// an agent gets no continuity bonus.
	ContinuityLoadCap float64 `yaml:"continuity_load_cap" json:"continuity_load_cap"`
	// LoadHalfLifeSeconds is the half-life of the recent-work counts the load cap uses.
	LoadHalfLifeSeconds float64 `yaml:"load_half_life_seconds" json:"load_half_life_seconds"`
	// FairnessFullIdleSeconds is the idle time at which the fairness component reaches 1.
	FairnessFullIdleSeconds float64 `yaml:"fairness_full_idle_seconds" json:"fairness_full_idle_seconds"`

	// CallbackThresholdSeconds: a queued contact whose EWT exceeds this is offered a callback.
	CallbackThresholdSeconds float64 `yaml:"callback_threshold_seconds" json:"callback_threshold_seconds"`
	// CallbackForKnownAgent offers a callback to a returning customer who
	// queues because the agent who served them last is busy, whatever the
	// EWT, when that agent is expected free within KnownAgentCallbackSeconds:
	// the callback is reserved for that agent, so continuity does not cost
	// the customer time on hold.
	CallbackForKnownAgent bool `yaml:"callback_for_known_agent" json:"callback_for_known_agent"`
	// CallbackDeadlineSeconds: a callback is reserved for the known agent
	// (or the home team) this long, then goes down the chain.
	CallbackDeadlineSeconds float64 `yaml:"callback_deadline_seconds" json:"callback_deadline_seconds"`
	// KnownAgentHoldSeconds: a returning caller whose known agent is busy
	// is held on the line for that agent (for at most the known_agent
	// step's budget) only when the agent is expected to be free within
	// this many seconds: what is left of their current contact (from the
	// team's recent handle times, or the wrap-up timer), plus a handle
	// time for every contact already waiting for them.
	KnownAgentHoldSeconds float64 `yaml:"known_agent_hold_seconds" json:"known_agent_hold_seconds"`
	// KnownAgentCallbackSeconds: a callback reserved for the known agent
	// (CallbackForKnownAgent) is offered only when the agent is expected to
	// be free within this many seconds. A returning caller whose known
	// agent is further away than this, and than KnownAgentHoldSeconds,
	// goes to the rest of the chain at once.
	KnownAgentCallbackSeconds float64 `yaml:"known_agent_callback_seconds" json:"known_agent_callback_seconds"`
	// CallbackYieldSeconds: a free agent serves callers waiting on the line
	// before callbacks that have waited less than this, since a callback's
	// customer is not holding. 0 serves callbacks in queue order.
	CallbackYieldSeconds float64 `yaml:"callback_yield_seconds" json:"callback_yield_seconds"`
	// EWTSampleSize is how many recent handle times per team feed the EWT.
	EWTSampleSize int `yaml:"ewt_sample_size" json:"ewt_sample_size"`
	// DefaultHandleSeconds is the handle time the EWT assumes before a team
	// has history, and for the samples it lacks until it has ten.
	DefaultHandleSeconds float64 `yaml:"default_handle_seconds" json:"default_handle_seconds"`
	// ContactRetentionSeconds is how long a finished contact stays in
	// memory, so that a retried route request still gets its answer.
	ContactRetentionSeconds float64 `yaml:"contact_retention_seconds" json:"contact_retention_seconds"`
	// MaxRetainedContacts bounds the finished contacts kept for
	// ContactRetentionSeconds: past it the oldest go early, so memory stays
	// bounded at any contact rate. 0: no bound.
	MaxRetainedContacts int `yaml:"max_retained_contacts" json:"max_retained_contacts"`
}

// MarketRouting holds a market's overrides of the org routing defaults. A
// field left out keeps the org value.
type MarketRouting struct {
	Chain                    []ChainStep `yaml:"chain" json:"chain,omitempty"`
	CallbackThresholdSeconds *float64    `yaml:"callback_threshold_seconds" json:"callback_threshold_seconds,omitempty"`
	CallbackDeadlineSeconds  *float64    `yaml:"callback_deadline_seconds" json:"callback_deadline_seconds,omitempty"`
}

// DefaultRouting returns the documented defaults of the `routing:` section.
func DefaultRouting() RoutingConfig {
	return RoutingConfig{
		Weights: Weights{Continuity: 0.6, Skill: 0.2, Fairness: 0.2},
		Chain: []ChainStep{
			{Step: StepKnownAgent, BudgetSeconds: 5},
			{Step: StepServedBefore, BudgetSeconds: 0},
			{Step: StepHomeTeam, BudgetSeconds: 12},
			{Step: StepSisterTeams, BudgetSeconds: 30},
			{Step: StepAnyTeam, BudgetSeconds: 0},
		},
		ContactRoles:              []Role{RoleExpert, RoleTechSpecialist, RoleResolution},
		MinProficiency:            1,
		DefaultLanguage:           "en",
		OfferTTLSeconds:           15,
		MaxMisses:                 3,
		WrapUpSeconds:             60,
		ActiveLeaseSeconds:        4 * 3600,
		ContinuityHalfLifeSeconds: 7 * 24 * 3600,
		ContinuityMemorySeconds:   30 * 24 * 3600,
		ResolvedAffinity:          0.6,
		KnownAgentMinAffinity:     0,
		KnownAgentWindowSeconds:   7 * 24 * 3600,
		ContinuityLoadCap:         0.15,
		LoadHalfLifeSeconds:       3600,
		FairnessFullIdleSeconds:   600,
		CallbackThresholdSeconds:  60,
		CallbackDeadlineSeconds:   1800,
		CallbackForKnownAgent:     true,
		KnownAgentHoldSeconds:     5,
		KnownAgentCallbackSeconds: 360,
		CallbackYieldSeconds:      900,
		EWTSampleSize:             50,
		DefaultHandleSeconds:      300,
		ContactRetentionSeconds:   3600,
		MaxRetainedContacts:       50_000,
	}
}

// TakesContacts reports whether agents of role r take contacts under c.
func (c *RoutingConfig) TakesContacts(r Role) bool {
	for _, v := range c.ContactRoles {
		if v == r {
			return true
		}
	}
	return false
}

// MinimumFor is the lowest proficiency that counts for skill.
func (c *RoutingConfig) MinimumFor(skill string) int {
	if m, ok := c.SkillMinimums[skill]; ok {
		return m
	}
	return c.MinProficiency
}

// Validate reports every problem with the routing section. where prefixes
// each message (for example "routing" or "market DET routing").
func (c *RoutingConfig) Validate(where string) []string {
	var probs []string
	bad := func(format string, args ...any) {
		probs = append(probs, where+": "+fmt.Sprintf(format, args...))
	}
	nonNeg := func(name string, v float64) {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			bad("%s must be a finite number >= 0, got %v", name, v)
		}
	}
	nonNeg("weights.continuity", c.Weights.Continuity)
	nonNeg("weights.skill", c.Weights.Skill)
	nonNeg("weights.fairness", c.Weights.Fairness)
	probs = append(probs, ValidateChain(where+": chain", c.Chain)...)
	for _, r := range c.ContactRoles {
		if !r.Valid() {
			bad("contact_roles: unknown role %q (want one of expert, tech_specialist, coach, resolution, resource_manager, lead)", r)
		}
	}
	if c.MinProficiency < 1 || c.MinProficiency > 5 {
		bad("min_proficiency must be 1-5, got %d", c.MinProficiency)
	}
	for s, m := range c.SkillMinimums {
		if m < 1 || m > 5 {
			bad("skill_minimums.%s must be 1-5, got %d", s, m)
		}
	}
	if c.DefaultLanguage == "" {
		bad("default_language must not be empty")
	}
	positive := func(name string, v float64) {
		if !(v > 0) || math.IsInf(v, 0) {
			bad("%s must be a finite number > 0, got %v", name, v)
		}
	}
	positive("offer_ttl_seconds", c.OfferTTLSeconds)
	if c.MaxMisses < 1 {
		bad("max_misses must be >= 1, got %d", c.MaxMisses)
	}
	nonNeg("wrap_up_seconds", c.WrapUpSeconds)
	positive("active_lease_seconds", c.ActiveLeaseSeconds)
	positive("continuity_half_life_seconds", c.ContinuityHalfLifeSeconds)
	positive("continuity_memory_seconds", c.ContinuityMemorySeconds)
	if c.ResolvedAffinity < 0 || c.ResolvedAffinity > 1 || math.IsNaN(c.ResolvedAffinity) {
		bad("resolved_affinity must be in [0,1], got %v", c.ResolvedAffinity)
	}
	if c.KnownAgentMinAffinity < 0 || c.KnownAgentMinAffinity > 1 || math.IsNaN(c.KnownAgentMinAffinity) {
		bad("known_agent_min_affinity must be in [0,1], got %v", c.KnownAgentMinAffinity)
	}
	nonNeg("known_agent_window_seconds", c.KnownAgentWindowSeconds)
	if !(c.ContinuityLoadCap > 0 && c.ContinuityLoadCap <= 1) {
		bad("continuity_load_cap must be in (0,1], got %v", c.ContinuityLoadCap)
	}
	positive("load_half_life_seconds", c.LoadHalfLifeSeconds)
	positive("fairness_full_idle_seconds", c.FairnessFullIdleSeconds)
	nonNeg("callback_threshold_seconds", c.CallbackThresholdSeconds)
	nonNeg("callback_deadline_seconds", c.CallbackDeadlineSeconds)
	nonNeg("known_agent_hold_seconds", c.KnownAgentHoldSeconds)
	nonNeg("known_agent_callback_seconds", c.KnownAgentCallbackSeconds)
	nonNeg("callback_yield_seconds", c.CallbackYieldSeconds)
	if c.EWTSampleSize < 1 {
		bad("ewt_sample_size must be >= 1, got %d", c.EWTSampleSize)
	}
	positive("default_handle_seconds", c.DefaultHandleSeconds)
	nonNeg("contact_retention_seconds", c.ContactRetentionSeconds)
	if c.MaxRetainedContacts < 0 {
		bad("max_retained_contacts must be >= 0 (0: no bound), got %d", c.MaxRetainedContacts)
	}
	return probs
}

// ValidateChain reports every problem with a fallback chain: unknown or
// repeated steps, steps out of their natural order, bad budgets.
func ValidateChain(where string, chain []ChainStep) []string {
	var probs []string
	if len(chain) == 0 {
		return []string{where + ": must have at least one step"}
	}
	last := -1
	seen := map[StepKind]bool{}
	for i, s := range chain {
		if !s.Step.Valid() {
			probs = append(probs, fmt.Sprintf("%s[%d]: unknown step %q (want one of known_agent, served_before, home_team, sister_teams, any_team)", where, i, s.Step))
			continue
		}
		if seen[s.Step] {
			probs = append(probs, fmt.Sprintf("%s[%d]: step %q appears twice", where, i, s.Step))
		}
		seen[s.Step] = true
		idx := stepIndex(s.Step)
		if idx < last {
			probs = append(probs, fmt.Sprintf("%s[%d]: step %q must come before %q", where, i, s.Step, StepKinds[last]))
		}
		if idx > last {
			last = idx
		}
		if s.BudgetSeconds < 0 || math.IsNaN(s.BudgetSeconds) || math.IsInf(s.BudgetSeconds, 0) {
			probs = append(probs, fmt.Sprintf("%s[%d]: budget_seconds must be a finite number >= 0, got %v", where, i, s.BudgetSeconds))
		}
	}
	return probs
}

func stepIndex(k StepKind) int {
	for i, v := range StepKinds {
		if v == k {
			return i
		}
	}
	return -1
}

// ForMarket returns the routing of one market: the org defaults with the
// market's overrides applied.
func (c *RoutingConfig) ForMarket(m *Market) (chain []ChainStep, callbackThreshold, callbackDeadline float64) {
	chain, callbackThreshold, callbackDeadline = c.Chain, c.CallbackThresholdSeconds, c.CallbackDeadlineSeconds
	if m == nil || m.Routing == nil {
		return
	}
	if len(m.Routing.Chain) > 0 {
		chain = m.Routing.Chain
	}
	if m.Routing.CallbackThresholdSeconds != nil {
		callbackThreshold = *m.Routing.CallbackThresholdSeconds
	}
	if m.Routing.CallbackDeadlineSeconds != nil {
		callbackDeadline = *m.Routing.CallbackDeadlineSeconds
	}
	return
}
