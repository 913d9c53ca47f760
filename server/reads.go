package server

import (
	"encoding/json"
	"math"
	"time"

	"github.com/tex-cx/tex/router"
	"github.com/tex-cx/tex/teams"
)

func agentRow(v *router.AgentView) *teams.AgentStateRow {
	r := &teams.AgentStateRow{AgentID: v.AgentID, Team: v.Team, State: v.State, Since: v.Since,
		Reason: v.Reason, ActiveContacts: v.Contacts, ContactsToday: v.HandledToday, CountedOn: v.HandledOn}
	if len(v.Contacts) > 0 {
		r.CurrentContact = v.Contacts[0]
	}
	return r
}

// finished reports whether a contact is done: its row leaves the store.
func finished(v *router.ContactView) bool {
	return v.State == router.ContactCompleted || v.State == router.ContactAbandoned
}

// contactRow is a change view as the store keeps it; at is when its EWT
// line was computed.
func contactRow(v *router.ContactView, at time.Time) *teams.ContactRow {
	r := &teams.ContactRow{ContactID: v.ContactID, Market: v.Market, Team: v.Team, State: v.State, Agent: v.Agent,
		Channel: v.Channel, Priority: v.Priority, ArrivedAt: v.ArrivedAt, Callback: v.Callback}
	if v.Waiting {
		r.Order = v.Order
	}
	if v.HasEWT {
		r.EWTLine = &teams.EWTLine{First: v.EWTFirst, Step: v.EWTStep, At: at}
	}
	return r
}

// ewtAt is the EWT of a contact at pos, aged by the time since its line
// was computed, or nil when nobody could serve it.
func ewtAt(c *teams.ContactRow, pos int, now time.Time) *float64 {
	if c.EWTLine == nil {
		return nil
	}
	v := max(c.EWTLine.EWT(pos)-max(now.Sub(c.EWTLine.At).Seconds(), 0), 0)
	v = math.Round(v*10) / 10
	return &v
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
	org := s.org.Load()
	if _, ok := org.Team(team); !ok {
		return nil, unknownTeam(org, team)
	}
	now := s.cfg.Now().UTC()
	rep := AgentsReply{Team: team, At: now, Agents: []AgentStatus{}}
	for _, a := range snap.AgentsByTeam(team) {
		st := AgentStatus{AgentID: a.ID, Name: a.Name, Role: string(a.Role), State: router.AgentOffline, ActiveContacts: []string{}}
		if r, ok := snap.AgentState(a.ID); ok {
			since := r.Since
			secs := roundSecs(now.Sub(since))
			st.State, st.Since, st.SecondsInState, st.Reason = r.State, &since, &secs, r.Reason
			st.ContactsToday, st.CurrentContact = r.Today(now), r.CurrentContact
			if r.ActiveContacts != nil {
				st.ActiveContacts = r.ActiveContacts
			}
		}
		rep.Agents = append(rep.Agents, st)
	}
	return rep, nil
}

func (s *Server) readQueue(team string) (any, error) {
	org := s.org.Load()
	if _, ok := org.Team(team); !ok {
		return nil, unknownTeam(org, team)
	}
	now := s.cfg.Now().UTC()
	rep := QueueReply{Team: team, At: now, Contacts: []QueueContact{}}
	for i, c := range s.store.Queue(team) {
		q := QueueContact{Position: i + 1, ContactID: c.ContactID, State: c.State, Market: c.Market,
			Channel: c.Channel, Priority: c.Priority, Callback: c.Callback, ArrivedAt: c.ArrivedAt,
			WaitSeconds: roundSecs(now.Sub(c.ArrivedAt)), EWTSeconds: ewtAt(c, i+1, now)}
		rep.Contacts = append(rep.Contacts, q)
	}
	return rep, nil
}

// readContact reads a live contact from the store. A finished one has left
// the store (it holds live state only) but the core keeps it until
// retention: ok is false, and contactCommand asks the core.
func (s *Server) readContact(id string) (rep ContactReply, ok bool) {
	snap := s.store.Snapshot()
	c, ok := snap.Contact(id)
	if !ok {
		return rep, false
	}
	rep = ContactReply{ContactID: c.ContactID, State: c.State, Market: c.Market, Team: c.Team, Agent: c.Agent,
		Channel: c.Channel, Priority: c.Priority, Position: snap.Position(c), Callback: c.Callback, ArrivedAt: c.ArrivedAt}
	if rep.Position > 0 {
		rep.EWTSeconds = ewtAt(c, rep.Position, s.cfg.Now())
	}
	return rep, true
}

// contactCommand reads a contact from the core, for the contacts the
// store no longer holds.
func contactCommand(id string) *command {
	return &command{op: opRead, read: func(core *router.Core) (any, error) {
		v, ok := core.Contact(id)
		if !ok {
			return nil, unknownContact(id)
		}
		return ContactReply{ContactID: v.ContactID, State: v.State, Market: v.Market, Team: v.Team, Agent: v.Agent,
			Channel: v.Channel, Priority: v.Priority, Position: v.Position, Callback: v.Callback,
			ArrivedAt: v.ArrivedAt, EWTSeconds: v.EWTSeconds}, nil
	}}
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

func unknownTeam(org *teams.Org, team string) *router.Error {
	return &router.Error{Code: codeUnknownTeam, Message: "team " + jsonQuote(team) + " is not in the org (its teams: " + org.KnownTeams() + ")"}
}

func unknownContact(id string) *router.Error {
	return &router.Error{Code: router.CodeUnknownContact, Message: "contact " + jsonQuote(id) + " is unknown: never routed, or forgotten after retention"}
}

func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
