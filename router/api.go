package router

import (
	"encoding/json"
	"time"
)

// RouteRequest asks where a contact goes (PROTOCOL.md RouteRequest).
type RouteRequest struct {
	ContactID  string   `json:"contact_id"`
	Channel    string   `json:"channel"`
	CustomerID string   `json:"customer_id,omitempty"`
	ANI        string   `json:"ani,omitempty"`
	Market     string   `json:"market,omitempty"`
	Skills     []string `json:"skills,omitempty"`
	Language   string   `json:"language,omitempty"`
	Priority   int      `json:"priority,omitempty"`
}

// Route statuses. A repeated request answers with the contact's current
// status in the same shape.
const (
	StatusAssigned  = "assigned"  // an agent holds an offer for it, or is on it
	StatusQueued    = "queued"    // waiting in its team's queue, on the line or as a callback
	StatusCompleted = "completed" // the agent's part is over (wrapped up, or transferred and wrapped up)
	StatusAbandoned = "abandoned" // the caller left before an agent took the contact
)

// How the contact was identified.
const (
	MatchedCustomerID = "customer_id"
	MatchedANI        = "ani"
	MatchedMarket     = "market"
	MatchedAreaCode   = "ani_area_code"
	MatchedDefault    = "default"
)

// RouteReply answers a RouteRequest (PROTOCOL.md RouteReply).
type RouteReply struct {
	ContactID      string    `json:"contact_id"`
	Status         string    `json:"status"`
	State          string    `json:"state"`
	Market         string    `json:"market"`
	Team           string    `json:"team"`
	Agent          string    `json:"agent,omitempty"`
	Endpoint       string    `json:"endpoint,omitempty"`
	OfferExpiresAt time.Time `json:"offer_expires_at,omitzero"`
	Position       int       `json:"position,omitempty"`
	// EWTSeconds is nil when nobody who could serve the contact is logged in.
	EWTSeconds      *float64 `json:"ewt_seconds"`
	CallbackOffered bool     `json:"callback_offered"`
	Callback        bool     `json:"callback"`
	MatchedBy       string   `json:"matched_by"`
	// Step is the fallback step the contact is at (assigned: the step that matched).
	Step string `json:"step"`
}

// MarshalJSON writes the queue fields (position, ewt_seconds,
// callback_offered, callback) only for queued contacts, and ewt_seconds as
// null there when it is unknown, so the reply has the shape of PROTOCOL.md.
func (r RouteReply) MarshalJSON() ([]byte, error) {
	type base struct {
		ContactID      string    `json:"contact_id"`
		Status         string    `json:"status"`
		State          string    `json:"state"`
		Market         string    `json:"market"`
		Team           string    `json:"team"`
		Agent          string    `json:"agent,omitempty"`
		Endpoint       string    `json:"endpoint,omitempty"`
		OfferExpiresAt time.Time `json:"offer_expires_at,omitzero"`
		MatchedBy      string    `json:"matched_by"`
		Step           string    `json:"step,omitempty"`
	}
	b := base{r.ContactID, r.Status, r.State, r.Market, r.Team, r.Agent, r.Endpoint, r.OfferExpiresAt, r.MatchedBy, r.Step}
	if r.Status != StatusQueued {
		return json.Marshal(b)
	}
	return json.Marshal(struct {
		base
		Position        int      `json:"position"`
		EWTSeconds      *float64 `json:"ewt_seconds"`
		CallbackOffered bool     `json:"callback_offered"`
		Callback        bool     `json:"callback"`
	}{b, r.Position, r.EWTSeconds, r.CallbackOffered, r.Callback})
}

// Agent states. Agents set the first three; the engine sets the rest.
const (
	AgentAvailable     = "available"
	AgentAway          = "away"
	AgentOffline       = "offline"
	AgentReserved      = "reserved"
	AgentBusy          = "busy"
	AgentWrapUp        = "wrap_up"
	AgentNotResponding = "not_responding"
)

// AgentStateRequest is an agent setting its own state (PROTOCOL.md AgentState).
type AgentStateRequest struct {
	AgentID string `json:"agent_id"`
	State   string `json:"state"`
	Reason  string `json:"reason,omitempty"`
}

// AgentStateReply acknowledges an AgentStateRequest. State is the state the
// agent is in now; Pending is the requested state when it waits for a live
// contact to end.
type AgentStateReply struct {
	OK      bool   `json:"ok"`
	AgentID string `json:"agent_id"`
	State   string `json:"state"`
	Pending string `json:"pending,omitempty"`
	Changed bool   `json:"changed"`
}

// Contact event types (PROTOCOL.md ContactEvent).
const (
	EventAccepted          = "accepted"
	EventRejected          = "rejected"
	EventEnded             = "ended"
	EventWrappedUp         = "wrapped_up"
	EventAbandoned         = "abandoned"
	EventCallbackRequested = "callback_requested"
	EventTransferred       = "transferred"
)

// ContactEvent reports what happened to a contact.
type ContactEvent struct {
	ContactID   string     `json:"contact_id"`
	Type        string     `json:"type"`
	AgentID     string     `json:"agent_id,omitempty"`
	At          *time.Time `json:"at,omitempty"`
	HoldSeconds float64    `json:"hold_seconds,omitempty"`
	Resolved    *bool      `json:"resolved,omitempty"`
	Disposition string     `json:"disposition,omitempty"`
	Number      string     `json:"number,omitempty"`
	To          string     `json:"to,omitempty"`
}

// ContactEventReply acknowledges a ContactEvent with the contact's state after it.
type ContactEventReply struct {
	OK        bool   `json:"ok"`
	ContactID string `json:"contact_id"`
	State     string `json:"state"`
}

// Contact states. Each contact is in exactly one; completed and abandoned are terminal.
const (
	ContactQueued    = "queued"    // on the line, waiting
	ContactCallback  = "callback"  // left the line, waiting for a callback
	ContactOffered   = "offered"   // an agent is reserved for it
	ContactActive    = "active"    // the agent accepted it
	ContactWrapUp    = "wrap_up"   // the conversation ended, the agent is wrapping up
	ContactCompleted = "completed" // terminal: wrapped up
	ContactAbandoned = "abandoned" // terminal: the customer left before an agent took it
)

// Assignment tells the platform that a contact that waited got an agent
// (PROTOCOL.md Assignment).
type Assignment struct {
	ContactID      string    `json:"contact_id"`
	Kind           string    `json:"kind"` // line | callback
	Market         string    `json:"market"`
	Team           string    `json:"team"`
	Agent          string    `json:"agent"`
	Endpoint       string    `json:"endpoint"`
	OfferExpiresAt time.Time `json:"offer_expires_at"`
	WaitedSeconds  float64   `json:"waited_seconds"`
	Number         string    `json:"number,omitempty"`
	Step           string    `json:"step"`
}

// Continuity classes of a ResolvedContact.
const (
	ContinuitySameAgent    = "same_agent"
	ContinuitySameTeam     = "same_team"
	ContinuityOtherTeam    = "other_team"
	ContinuityFirstContact = "first_contact"
)

// ResolvedContact is the record published once a contact is wrapped up
// (PROTOCOL.md ResolvedContact). Resolved is nil when the wrap-up timer
// ended before the agent said.
type ResolvedContact struct {
	ContactID    string    `json:"contact_id"`
	CustomerID   string    `json:"customer_id"`
	Market       string    `json:"market"`
	Team         string    `json:"team"`
	Agent        string    `json:"agent"`
	Channel      string    `json:"channel"`
	ArrivedAt    time.Time `json:"arrived_at"`
	AnsweredAt   time.Time `json:"answered_at"`
	EndedAt      time.Time `json:"ended_at"`
	WrappedAt    time.Time `json:"wrapped_at"`
	WaitSeconds  float64   `json:"wait_seconds"`
	TalkSeconds  float64   `json:"talk_seconds"`
	HoldSeconds  float64   `json:"hold_seconds"`
	WrapSeconds  float64   `json:"wrap_seconds"`
	Transferred  bool      `json:"transferred"`
	TransferTo   string    `json:"transfer_to,omitempty"`
	Resolved     *bool     `json:"resolved"`
	Disposition  string    `json:"disposition"`
	HomeTeam     bool      `json:"home_team"`
	Continuity   string    `json:"continuity"`
	Callback     bool      `json:"callback"`
	Corrected    bool      `json:"corrected,omitempty"`
	FallbackStep string    `json:"fallback_step,omitempty"`
}

// AgentStateChange is published whenever an agent's effective state changes.
type AgentStateChange struct {
	AgentID string    `json:"agent_id"`
	Team    string    `json:"team"`
	State   string    `json:"state"`
	Prev    string    `json:"prev"`
	Reason  string    `json:"reason,omitempty"`
	At      time.Time `json:"at"`
}

// OfferMissed is published when an agent rejects an offer or lets it expire.
type OfferMissed struct {
	ContactID     string    `json:"contact_id"`
	AgentID       string    `json:"agent_id"`
	Team          string    `json:"team"`
	Market        string    `json:"market"`
	How           string    `json:"how"` // rejected | expired
	MissesInARow  int       `json:"misses_in_a_row"`
	NotResponding bool      `json:"not_responding"`
	At            time.Time `json:"at"`
}

// ContactStateChange is published on every contact lifecycle step, so that
// the stream holds the whole story of a contact.
type ContactStateChange struct {
	ContactID string    `json:"contact_id"`
	Market    string    `json:"market"`
	Team      string    `json:"team"`
	State     string    `json:"state"`
	Prev      string    `json:"prev,omitempty"`
	Agent     string    `json:"agent,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	At        time.Time `json:"at"`
}

// EventKind says which payload an Event carries and where the shell publishes it.
type EventKind uint8

// Event kinds, with the subject suffix the shell publishes each under.
const (
	KindDecision     EventKind = iota + 1 // events.decision.<market>
	KindAssigned                          // events.assigned.<market>
	KindResolved                          // events.resolved.<market>
	KindAgentState                        // events.agent.<team>
	KindOfferMissed                       // events.offer_missed.<team>
	KindContactState                      // events.contact.<market>
)

// String is the kind's subject token.
func (k EventKind) String() string {
	switch k {
	case KindDecision:
		return "decision"
	case KindAssigned:
		return "assigned"
	case KindResolved:
		return "resolved"
	case KindAgentState:
		return "agent"
	case KindOfferMissed:
		return "offer_missed"
	case KindContactState:
		return "contact"
	}
	return "unknown"
}

// Event is one thing the core reports. Exactly one payload is set, matching
// Kind. Key is the market (decision, assigned, resolved, contact) or the team
// (agent, offer_missed) for the subject.
type Event struct {
	Kind        EventKind
	Key         string
	Decision    *Decision
	Assignment  *Assignment
	Resolved    *ResolvedContact
	OfferMissed *OfferMissed
	// The frequent small payloads are values, so that emitting them does
	// not allocate on the hot path.
	AgentState   AgentStateChange
	ContactState ContactStateChange
}

// Payload returns the event's payload for encoding. It points into e.
func (e *Event) Payload() any {
	switch e.Kind {
	case KindDecision:
		return e.Decision
	case KindAssigned:
		return e.Assignment
	case KindResolved:
		return e.Resolved
	case KindAgentState:
		return &e.AgentState
	case KindOfferMissed:
		return e.OfferMissed
	case KindContactState:
		return &e.ContactState
	}
	return nil
}
