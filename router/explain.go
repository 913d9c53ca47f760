package router

import "time"

// SkipReason says why an agent was not eligible for a contact. Every filter
// stage has one.
type SkipReason string

// Skip reasons, one per filter stage (the state stage has one per state).
const (
	SkipRole          SkipReason = "role"           // the agent's role does not take contacts
	SkipChannel       SkipReason = "channel"        // no capacity on the contact's channel at all
	SkipLanguage      SkipReason = "language"       // does not speak the contact's language
	SkipSkill         SkipReason = "skill"          // a required skill is missing or below the minimum
	SkipOffline       SkipReason = "offline"        // not logged in
	SkipAway          SkipReason = "away"           // logged in but away
	SkipNotResponding SkipReason = "not_responding" // missed too many offers in a row
	SkipWrapUp        SkipReason = "wrap_up"        // wrapping up the last contact
	SkipLoggingOut    SkipReason = "logging_out"    // asked to go away or offline after the current contact
	SkipCapacity      SkipReason = "capacity"       // the channel is full, or a voice call takes the whole agent
	SkipMissed        SkipReason = "missed_offer"   // already rejected or let this contact's offer expire
)

// Decision triggers: what made the core look for an agent.
const (
	TriggerRoute      = "route"       // the route request itself
	TriggerAgentFree  = "agent_free"  // an agent freed up and pulled the best waiting contact
	TriggerStepOpened = "step_opened" // a fallback step's budget ran out and the next one opened
	TriggerRequeue    = "requeue"     // an offer was rejected or expired
)

// Decision is the explanation of one routing decision: what `tex explain`
// prints. It is built only when Options.Explain is on.
type Decision struct {
	ContactID  string      `json:"contact_id"`
	At         time.Time   `json:"at"`
	Trigger    string      `json:"trigger"`
	Market     string      `json:"market"`
	MatchedBy  string      `json:"matched_by"`
	Team       string      `json:"team"`
	Outcome    string      `json:"outcome"` // assigned | queued
	Agent      string      `json:"agent,omitempty"`
	Step       string      `json:"step,omitempty"`
	Steps      []StepTrace `json:"steps,omitempty"`
	Candidates []Candidate `json:"candidates,omitempty"`
	Skipped    []SkipCount `json:"skipped,omitempty"`
	Position   int         `json:"position,omitempty"`
	EWTSeconds *float64    `json:"ewt_seconds,omitempty"`
	Callback   bool        `json:"callback,omitempty"`
	// KnownAgent is the known-agent choice made when the contact arrived
	// and its known agent could not take it: hold, callback or team.
	KnownAgent *KnownAgentTrace `json:"known_agent,omitempty"`
	Considered int              `json:"contacts_considered,omitempty"` // agent_free: waiting contacts looked at
	Policy     string           `json:"policy,omitempty"`
	Weights    *WeightsView     `json:"weights,omitempty"`
}

// WeightsView is the scorer weights a decision used.
type WeightsView struct {
	Continuity float64 `json:"continuity"`
	Skill      float64 `json:"skill"`
	Fairness   float64 `json:"fairness"`
}

// StepTrace is what one fallback step saw.
type StepTrace struct {
	Step       string      `json:"step"`
	Teams      []string    `json:"teams,omitempty"`
	Open       bool        `json:"open"`
	Viable     bool        `json:"viable"` // some logged-in agent could serve the contact
	Considered int         `json:"considered"`
	Eligible   int         `json:"eligible"`
	Skipped    []SkipCount `json:"skipped,omitempty"`
}

// Candidate is one eligible agent with its score components. Score is the
// weighted sum; Continuity is the affinity before the load cap.
type Candidate struct {
	Agent      string  `json:"agent"`
	Team       string  `json:"team"`
	Score      float64 `json:"score"`
	Continuity float64 `json:"continuity"`
	Skill      float64 `json:"skill"`
	Fairness   float64 `json:"fairness"`
	Load       float64 `json:"load"` // the agent's share of its team's recent work
	LoadCapped bool    `json:"load_capped"`
	IdleSecs   float64 `json:"idle_seconds"`
	Chosen     bool    `json:"chosen"`
}

// SkipCount is how many agents one reason skipped.
type SkipCount struct {
	Reason SkipReason `json:"reason"`
	Count  int        `json:"count"`
}

// maxCandidates bounds the candidates a decision keeps: the top ones by score.
const maxCandidates = 5

// maxDecisions bounds the decisions a contact keeps for explain.
const maxDecisions = 8

func addSkip(list []SkipCount, r SkipReason) []SkipCount {
	for i := range list {
		if list[i].Reason == r {
			list[i].Count++
			return list
		}
	}
	return append(list, SkipCount{Reason: r, Count: 1})
}
