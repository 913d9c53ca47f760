package server

import (
	"encoding/json"
	"math"
	"time"

	"github.com/tex-cx/tex/router"
	"github.com/tex-cx/tex/teams"
)

// unknownEWT stands for "no EWT" in the store's ContactRow, whose field is
// a plain number; reads turn it back into null.
const unknownEWT = -1

func agentRow(v *router.AgentView) *teams.AgentStateRow {
	r := &teams.AgentStateRow{AgentID: v.AgentID, Team: v.Team, State: v.State, Since: v.Since,
		Reason: v.Reason, ActiveContacts: v.Contacts, ContactsToday: v.HandledToday}
	if len(v.Contacts) > 0 {
		r.CurrentContact = v.Contacts[0]
	}
	return r
}

func contactRow(v *router.ContactView) *teams.ContactRow {
	r := &teams.ContactRow{ContactID: v.ContactID, Market: v.Market, Team: v.Team, State: v.State, Agent: v.Agent,
		Channel: v.Channel, Priority: v.Priority, Position: v.Position, ArrivedAt: v.ArrivedAt,
		EWTSeconds: unknownEWT, Callback: v.Callback}
	if v.EWTSeconds != nil {
		r.EWTSeconds = *v.EWTSeconds
	}
	return r
}

// Read requests on NATS (<prefix>.query.*), one shape for each read.
type (
	// TeamQuery asks for a team's agents or queue.
	TeamQuery struct {
		Team string `json:"team"`
	}
	// ContactQuery asks for a contact or its decisions.
	ContactQuery struct {
		ContactID string `json:"contact_id"`
	}
)

// Query subjects, after the prefix.
const (
	QueryAgents    = "query.agents"
	QueryQueue     = "query.queue"
	QueryContact   = "query.contact"
	QueryDecisions = "query.decisions"
)

// AgentsReply is a team's agents with their live state (docs/serve.md).
type AgentsReply struct {
	Team   string        `json:"team"`
	At     time.Time     `json:"at"`
	Agents []AgentStatus `json:"agents"`
}

// AgentStatus is one agent of AgentsReply. Since is when the agent entered
// the state; agents that never set a state are offline since the start.
type AgentStatus struct {
	AgentID        string     `json:"agent_id"`
	Name           string     `json:"name"`
	Role           string     `json:"role"`
	State          string     `json:"state"`
	Since          *time.Time `json:"since"`
	SecondsInState *float64   `json:"seconds_in_state"`
	Reason         string     `json:"reason,omitempty"`
	ContactsToday  int        `json:"contacts_today"`
	CurrentContact string     `json:"current_contact,omitempty"`
	ActiveContacts []string   `json:"active_contacts"`
}

// QueueReply is a team's waiting contacts, in queue order.
type QueueReply struct {
	Team     string         `json:"team"`
	At       time.Time      `json:"at"`
	Contacts []QueueContact `json:"contacts"`
}

// QueueContact is one waiting contact of QueueReply.
type QueueContact struct {
	Position    int       `json:"position"`
	ContactID   string    `json:"contact_id"`
	State       string    `json:"state"` // queued (on the line) or callback
	Market      string    `json:"market"`
	Channel     string    `json:"channel"`
	Priority    int       `json:"priority"`
	Callback    bool      `json:"callback"`
	ArrivedAt   time.Time `json:"arrived_at"`
	WaitSeconds float64   `json:"wait_seconds"`
	EWTSeconds  *float64  `json:"ewt_seconds"`
}

// ContactReply is a live contact.
type ContactReply struct {
	ContactID  string    `json:"contact_id"`
	State      string    `json:"state"`
	Market     string    `json:"market"`
	Team       string    `json:"team"`
	Agent      string    `json:"agent,omitempty"`
	Channel    string    `json:"channel"`
	Priority   int       `json:"priority"`
	Position   int       `json:"position,omitempty"`
	Callback   bool      `json:"callback"`
	ArrivedAt  time.Time `json:"arrived_at"`
	EWTSeconds *float64  `json:"ewt_seconds,omitempty"`
}

// DecisionsReply is the decision records of a contact, oldest first.
type DecisionsReply struct {
	ContactID string             `json:"contact_id"`
	Decisions []*router.Decision `json:"decisions"`
}

func roundSecs(d time.Duration) float64 { return math.Round(d.Seconds()*10) / 10 }

func (s *Server) readAgents(team string) (any, error) {
	snap := s.store.Snapshot()
	if _, ok := s.org.Team(team); !ok {
		return nil, unknownTeam(team)
	}
	now := s.cfg.Now().UTC()
	rep := AgentsReply{Team: team, At: now, Agents: []AgentStatus{}}
	for _, a := range snap.AgentsByTeam(team) {
		st := AgentStatus{AgentID: a.ID, Name: a.Name, Role: string(a.Role), State: router.AgentOffline, ActiveContacts: []string{}}
		if r, ok := snap.AgentState(a.ID); ok {
			since := r.Since
			secs := roundSecs(now.Sub(since))
			st.State, st.Since, st.SecondsInState, st.Reason = r.State, &since, &secs, r.Reason
			st.ContactsToday, st.CurrentContact = r.ContactsToday, r.CurrentContact
			if r.ActiveContacts != nil {
				st.ActiveContacts = r.ActiveContacts
			}
		}
		rep.Agents = append(rep.Agents, st)
	}
	return rep, nil
}

func (s *Server) readQueue(team string) (any, error) {
	if _, ok := s.org.Team(team); !ok {
		return nil, unknownTeam(team)
	}
	now := s.cfg.Now().UTC()
	rep := QueueReply{Team: team, At: now, Contacts: []QueueContact{}}
	for _, c := range s.store.Queue(team) {
		q := QueueContact{Position: c.Position, ContactID: c.ContactID, State: c.State, Market: c.Market,
			Channel: c.Channel, Priority: c.Priority, Callback: c.Callback, ArrivedAt: c.ArrivedAt,
			WaitSeconds: roundSecs(now.Sub(c.ArrivedAt)), EWTSeconds: ewt(c.EWTSeconds)}
		rep.Contacts = append(rep.Contacts, q)
	}
	return rep, nil
}

func ewt(v float64) *float64 {
	if v == unknownEWT {
		return nil
	}
	return &v
}

func (s *Server) readContact(id string) (any, error) {
	c, ok := s.store.Contact(id)
	if !ok {
		return nil, unknownContact(id)
	}
	rep := ContactReply{ContactID: c.ContactID, State: c.State, Market: c.Market, Team: c.Team, Agent: c.Agent,
		Channel: c.Channel, Priority: c.Priority, Position: c.Position, Callback: c.Callback, ArrivedAt: c.ArrivedAt}
	if c.Position > 0 {
		rep.EWTSeconds = ewt(c.EWTSeconds)
	}
	return rep, nil
}

// decisionsCommand reads a contact's decisions from the core, which alone
// keeps them; the writer encodes the reply before the next command.
func decisionsCommand(id string) *command {
	return &command{op: opRead, read: func(core *router.Core) (any, error) {
		d, ok := core.Decisions(id)
		if !ok {
			return nil, unknownContact(id)
		}
		if d == nil {
			d = []*router.Decision{}
		}
		return DecisionsReply{ContactID: id, Decisions: d}, nil
	}}
}

func unknownTeam(team string) *router.Error {
	return &router.Error{Code: codeUnknownTeam, Message: "team " + jsonQuote(team) + " is not in the org"}
}

func unknownContact(id string) *router.Error {
	return &router.Error{Code: router.CodeUnknownContact, Message: "contact " + jsonQuote(id) + " is unknown: never routed, or forgotten after retention"}
}

func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
