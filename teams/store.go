package teams

import (
	"errors"
	"fmt"
	"slices"
	"time"

	memdb "github.com/hashicorp/go-memdb"
)

// AgentRow is an agent's directory entry in the state store.
type AgentRow struct {
	Agent
	// SkillNames are the keys of Skills, sorted: memdb's string-slice index
	// needs a slice, and a map has none.
	SkillNames []string `json:"skill_names,omitempty"`
}

// AgentStateRow is the live state of one agent, as the router's shell
// copies it into the store in batches for readers.
type AgentStateRow struct {
	AgentID string `json:"agent_id"`
	Team    string `json:"team"`
	// State is one of the agent states of PROTOCOL.md (available, away,
	// offline, reserved, busy, wrap_up, not_responding).
	State          string    `json:"state"`
	Since          time.Time `json:"since"`
	Reason         string    `json:"reason,omitempty"`
	ActiveContacts []string  `json:"active_contacts,omitempty"`
	ContactsToday  int       `json:"contacts_today"`
	CurrentContact string    `json:"current_contact,omitempty"`
}

// ContactRow is one live contact. Position is its place in its team's queue,
// counting from 1, while it waits (on the line or as a callback), and 0
// otherwise.
type ContactRow struct {
	ContactID  string    `json:"contact_id"`
	Market     string    `json:"market"`
	Team       string    `json:"team"`
	State      string    `json:"state"`
	Agent      string    `json:"agent,omitempty"`
	Channel    string    `json:"channel"`
	Priority   int       `json:"priority"`
	Position   int       `json:"position,omitempty"`
	ArrivedAt  time.Time `json:"arrived_at"`
	EWTSeconds float64   `json:"ewt_seconds"`
	Callback   bool      `json:"callback"`
}

// ErrBadRow is returned for a live-state row that lacks a field the store indexes.
var ErrBadRow = errors.New("row lacks an indexed field")

// Store is the read view of the directory and of live state. The router's
// shell writes batches of live state into it; readers (the CLI, HTTP,
// metrics) get consistent snapshots and never block the writer.
//
// Rows in the store are shared and never changed: a write inserts copies.
// Readers must not modify the rows they get.
type Store struct {
	db *memdb.MemDB
}

// NewStore returns a store holding org's markets, teams and agents.
func NewStore(org *Org) (*Store, error) {
	db, err := memdb.NewMemDB(stateStoreSchema())
	if err != nil {
		return nil, fmt.Errorf("state store schema: %w", err)
	}
	// Build the rows before the transaction, so it holds no work but inserts.
	markets := make([]*Market, len(org.Markets))
	for i := range org.Markets {
		m := org.Markets[i]
		markets[i] = &m
	}
	teams := make([]*Team, len(org.Teams))
	for i := range org.Teams {
		t := org.Teams[i]
		teams[i] = &t
	}
	agents := make([]*AgentRow, len(org.Agents))
	for i := range org.Agents {
		agents[i] = &AgentRow{Agent: org.Agents[i], SkillNames: sortedKeys(org.Agents[i].Skills)}
	}
	txn := db.Txn(true)
	defer txn.Abort()
	if err := loadDirectoryTxn(txn, markets, teams, agents); err != nil {
		return nil, err
	}
	txn.Commit()
	return &Store{db: db}, nil
}

func loadDirectoryTxn(txn *memdb.Txn, markets []*Market, teams []*Team, agents []*AgentRow) error {
	for _, m := range markets {
		if err := txn.Insert(TableMarkets, m); err != nil {
			return fmt.Errorf("market %s: %w", m.ID, err)
		}
	}
	for _, t := range teams {
		if err := txn.Insert(TableTeams, t); err != nil {
			return fmt.Errorf("team %s: %w", t.ID, err)
		}
	}
	for _, a := range agents {
		if err := txn.Insert(TableAgents, a); err != nil {
			return fmt.Errorf("agent %s: %w", a.ID, err)
		}
	}
	return nil
}

// ApplyAgentStates upserts a batch of agent states in one transaction. The
// store keeps copies, so the caller may reuse rows.
func (s *Store) ApplyAgentStates(rows []*AgentStateRow) error {
	copies := make([]*AgentStateRow, len(rows))
	for i, r := range rows {
		if r.AgentID == "" || r.Team == "" || r.State == "" {
			return fmt.Errorf("%w: agent state %+v needs agent_id, team and state", ErrBadRow, *r)
		}
		c := *r
		c.ActiveContacts = slices.Clone(r.ActiveContacts)
		copies[i] = &c
	}
	txn := s.db.Txn(true)
	defer txn.Abort()
	if err := upsertAgentStatesTxn(txn, copies); err != nil {
		return err
	}
	txn.Commit()
	return nil
}

func upsertAgentStatesTxn(txn *memdb.Txn, rows []*AgentStateRow) error {
	for _, r := range rows {
		if err := txn.Insert(TableAgentStates, r); err != nil {
			return fmt.Errorf("agent state %s: %w", r.AgentID, err)
		}
	}
	return nil
}

// ApplyContacts upserts and deletes live contacts in one transaction.
// Deleting a contact the store does not hold is not an error, so that a
// batch can be applied twice. The store keeps copies of upserts.
func (s *Store) ApplyContacts(upserts []*ContactRow, deletes []string) error {
	copies := make([]*ContactRow, len(upserts))
	for i, r := range upserts {
		if r.ContactID == "" || r.Team == "" || r.State == "" {
			return fmt.Errorf("%w: contact %+v needs contact_id, team and state", ErrBadRow, *r)
		}
		c := *r
		copies[i] = &c
	}
	txn := s.db.Txn(true)
	defer txn.Abort()
	if err := applyContactsTxn(txn, copies, deletes); err != nil {
		return err
	}
	txn.Commit()
	return nil
}

func applyContactsTxn(txn *memdb.Txn, upserts []*ContactRow, deletes []string) error {
	for _, r := range upserts {
		if err := txn.Insert(TableContacts, r); err != nil {
			return fmt.Errorf("contact %s: %w", r.ContactID, err)
		}
	}
	for _, id := range deletes {
		if _, err := txn.DeleteAll(TableContacts, IndexID, id); err != nil {
			return fmt.Errorf("delete contact %s: %w", id, err)
		}
	}
	return nil
}

// Snapshot is a consistent, read-only view of the store at one moment.
// Writes after it was taken do not show in it. It is cheap: it holds a
// pointer to an immutable tree.
type Snapshot struct {
	txn *memdb.Txn
}

// Snapshot returns a view of the store as it is now.
func (s *Store) Snapshot() *Snapshot { return &Snapshot{txn: s.db.Txn(false)} }

// The read helpers of Store each read from a fresh snapshot.

// AgentsByTeam returns the agents of a team, by id.
func (s *Store) AgentsByTeam(team string) []*AgentRow { return s.Snapshot().AgentsByTeam(team) }

// AgentStates returns the live states of a team's agents, by agent id.
func (s *Store) AgentStates(team string) []*AgentStateRow { return s.Snapshot().AgentStates(team) }

// AgentStatesByState returns the agents of a team in one state, by agent id.
func (s *Store) AgentStatesByState(team, state string) []*AgentStateRow {
	return s.Snapshot().AgentStatesByState(team, state)
}

// Queue returns a team's waiting contacts, by position.
func (s *Store) Queue(team string) []*ContactRow { return s.Snapshot().Queue(team) }

// Contact returns a live contact.
func (s *Store) Contact(id string) (*ContactRow, bool) { return s.Snapshot().Contact(id) }

// get runs a query on an index. The table and index names are constants
// checked by the schema tests, so an error here is a bug in this package.
func get[T any](txn *memdb.Txn, table, index string, args ...any) []T {
	it, err := txn.Get(table, index, args...)
	if err != nil {
		panic(fmt.Sprintf("teams: query %s.%s: %v", table, index, err))
	}
	var out []T
	for obj := it.Next(); obj != nil; obj = it.Next() {
		out = append(out, obj.(T))
	}
	return out
}

func first[T any](txn *memdb.Txn, table, index string, args ...any) (T, bool) {
	var zero T
	obj, err := txn.First(table, index, args...)
	if err != nil {
		panic(fmt.Sprintf("teams: query %s.%s: %v", table, index, err))
	}
	if obj == nil {
		return zero, false
	}
	return obj.(T), true
}

// Markets returns every market, by id.
func (s *Snapshot) Markets() []*Market { return get[*Market](s.txn, TableMarkets, IndexID) }

// Teams returns every team, by id.
func (s *Snapshot) Teams() []*Team { return get[*Team](s.txn, TableTeams, IndexID) }

// Agent returns one agent's directory entry.
func (s *Snapshot) Agent(id string) (*AgentRow, bool) {
	return first[*AgentRow](s.txn, TableAgents, IndexID, id)
}

// AgentsByTeam returns the agents of a team, by id.
func (s *Snapshot) AgentsByTeam(team string) []*AgentRow {
	return get[*AgentRow](s.txn, TableAgents, IndexTeam, team)
}

// AgentsBySkill returns the agents with a skill at any proficiency, by id.
func (s *Snapshot) AgentsBySkill(skill string) []*AgentRow {
	return get[*AgentRow](s.txn, TableAgents, IndexSkills, skill)
}

// AgentsByRole returns the agents with a role, by id.
func (s *Snapshot) AgentsByRole(role Role) []*AgentRow {
	return get[*AgentRow](s.txn, TableAgents, IndexRole, string(role))
}

// AgentState returns one agent's live state.
func (s *Snapshot) AgentState(agentID string) (*AgentStateRow, bool) {
	return first[*AgentStateRow](s.txn, TableAgentStates, IndexID, agentID)
}

// AgentStates returns the live states of a team's agents, by agent id.
func (s *Snapshot) AgentStates(team string) []*AgentStateRow {
	return get[*AgentStateRow](s.txn, TableAgentStates, IndexTeam, team)
}

// AgentStatesByState returns the agents of a team in one state, by agent id.
func (s *Snapshot) AgentStatesByState(team, state string) []*AgentStateRow {
	return get[*AgentStateRow](s.txn, TableAgentStates, IndexTeamState, team, state)
}

// Contact returns a live contact.
func (s *Snapshot) Contact(id string) (*ContactRow, bool) {
	return first[*ContactRow](s.txn, TableContacts, IndexID, id)
}

// Contacts returns a team's live contacts, by contact id.
func (s *Snapshot) Contacts(team string) []*ContactRow {
	return get[*ContactRow](s.txn, TableContacts, IndexTeam, team)
}

// Queue returns a team's waiting contacts (those with a position), by
// position, then contact id.
func (s *Snapshot) Queue(team string) []*ContactRow {
	var q []*ContactRow
	for _, c := range s.Contacts(team) {
		if c.Position > 0 {
			q = append(q, c)
		}
	}
	slices.SortStableFunc(q, func(a, b *ContactRow) int { return a.Position - b.Position })
	return q
}
