package teams

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
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
	// ContactsToday counts the contacts the agent finished on CountedOn, a
	// UTC day (midnight). Readers show 0 once that day is over: an agent
	// who has done nothing since midnight has no new row.
	ContactsToday  int       `json:"contacts_today"`
	CountedOn      time.Time `json:"counted_on"`
	CurrentContact string    `json:"current_contact,omitempty"`
}

// Today is ContactsToday as of now.
func (r *AgentStateRow) Today(now time.Time) int {
	if !r.CountedOn.Equal(now.UTC().Truncate(24 * time.Hour)) {
		return 0
	}
	return r.ContactsToday
}

// ContactRow is one live contact, from arrival until it is finished.
// A waiting contact (queued on the line, or a callback) holds no position:
// it moves each time a contact ahead of it leaves, so Queue derives
// positions when read, and a route writes one row, not the whole queue.
type ContactRow struct {
	ContactID string    `json:"contact_id"`
	Market    string    `json:"market"`
	Team      string    `json:"team"`
	State     string    `json:"state"`
	Agent     string    `json:"agent,omitempty"`
	Channel   string    `json:"channel"`
	Priority  int       `json:"priority"`
	ArrivedAt time.Time `json:"arrived_at"`
	Callback  bool      `json:"callback"`
	// Order places a waiting contact among those of equal priority: lower
	// first.
	Order int64 `json:"order,omitempty"`
	// EWTLine, when set, is the contact's expected wait by position:
	// position k waits First + (k-1)*Step seconds. The shell refreshes
	// it now and then, since waits drift as agents work.
	EWTLine *EWTLine `json:"ewt_line,omitempty"`
}

// EWTLine is an expected wait as a function of queue position.
type EWTLine struct {
	First float64   `json:"first"`
	Step  float64   `json:"step"`
	At    time.Time `json:"at"` // when it was computed
}

// EWT is the expected wait, in seconds, at position pos (from 1).
func (l *EWTLine) EWT(pos int) float64 { return l.First + float64(max(pos, 1)-1)*l.Step }

// Waiting reports whether the contact waits in its team's queue. The states
// are PROTOCOL.md's.
func (r *ContactRow) Waiting() bool { return r.State == stateQueued || r.State == stateCallback }

const (
	stateQueued   = "queued"
	stateCallback = "callback"
)

// queueCmp orders a team's waiting contacts: priority first, then order.
func queueCmp(a, b *ContactRow) int {
	if a.Priority != b.Priority {
		return b.Priority - a.Priority
	}
	return cmp.Or(cmp.Compare(a.Order, b.Order), strings.Compare(a.ContactID, b.ContactID))
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
	s := &Store{db: db}
	if err := s.ReplaceDirectory(org); err != nil {
		return nil, err
	}
	return s, nil
}

// ReplaceDirectory replaces the markets, teams and agents with org's, in
// one transaction: an org reloaded while serving. Live rows stay.
func (s *Store) ReplaceDirectory(org *Org) error {
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
	return s.update(func(txn *memdb.Txn) error {
		for _, table := range []string{TableMarkets, TableTeams, TableAgents} {
			if _, err := txn.DeleteAll(table, IndexID); err != nil {
				return fmt.Errorf("clear %s: %w", table, err)
			}
		}
		return loadDirectoryTxn(txn, markets, teams, agents)
	})
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
func (s *Store) ApplyAgentStates(rows []*AgentStateRow) error { return s.Apply(rows, nil, nil) }

// Apply upserts agent states and contacts and deletes contacts, all in one
// transaction: go-memdb's fixed cost is per transaction, and readers see
// the batch whole. Deleting a contact the store does not hold is not an
// error, so that a batch can be applied twice. The store keeps copies.
func (s *Store) Apply(agents []*AgentStateRow, contacts []*ContactRow, deletes []string) error {
	agents, err := copyAgentStates(agents)
	if err != nil {
		return err
	}
	if contacts, err = copyContacts(contacts); err != nil {
		return err
	}
	return s.update(func(txn *memdb.Txn) error {
		if err := upsertAgentStatesTxn(txn, agents); err != nil {
			return err
		}
		return applyContactsTxn(txn, contacts, deletes)
	})
}

// update runs fn in one write transaction, committed when fn succeeds.
func (s *Store) update(fn func(*memdb.Txn) error) error {
	txn := s.db.Txn(true)
	defer txn.Abort()
	if err := fn(txn); err != nil {
		return err
	}
	txn.Commit()
	return nil
}

func copyAgentStates(rows []*AgentStateRow) ([]*AgentStateRow, error) {
	copies := make([]*AgentStateRow, len(rows))
	for i, r := range rows {
		if r.AgentID == "" || r.Team == "" || r.State == "" {
			return nil, fmt.Errorf("%w: agent state %+v needs agent_id, team and state", ErrBadRow, *r)
		}
		c := *r
		c.ActiveContacts = slices.Clone(r.ActiveContacts)
		copies[i] = &c
	}
	return copies, nil
}

func upsertAgentStatesTxn(txn *memdb.Txn, rows []*AgentStateRow) error {
	for _, r := range rows {
		if err := txn.Insert(TableAgentStates, r); err != nil {
			return fmt.Errorf("agent state %s: %w", r.AgentID, err)
		}
	}
	return nil
}

// ApplyContacts upserts and deletes live contacts in one transaction (see
// Apply).
func (s *Store) ApplyContacts(upserts []*ContactRow, deletes []string) error {
	return s.Apply(nil, upserts, deletes)
}

func copyContacts(rows []*ContactRow) ([]*ContactRow, error) {
	copies := make([]*ContactRow, len(rows))
	for i, r := range rows {
		if r.ContactID == "" || r.Team == "" || r.State == "" {
			return nil, fmt.Errorf("%w: contact %+v needs contact_id, team and state", ErrBadRow, *r)
		}
		c := *r
		if r.EWTLine != nil {
			l := *r.EWTLine
			c.EWTLine = &l
		}
		copies[i] = &c
	}
	return copies, nil
}

// ReplaceLive replaces every agent state and contact with the rows given,
// in one transaction: after the shell rebuilt its core, rows the new core
// does not hold (a command the journal refused) must not linger.
func (s *Store) ReplaceLive(agents []*AgentStateRow, contacts []*ContactRow) error {
	agents, err := copyAgentStates(agents)
	if err != nil {
		return err
	}
	if contacts, err = copyContacts(contacts); err != nil {
		return err
	}
	return s.update(func(txn *memdb.Txn) error {
		if _, err := txn.DeleteAll(TableAgentStates, IndexID); err != nil {
			return fmt.Errorf("clear agent states: %w", err)
		}
		if _, err := txn.DeleteAll(TableContacts, IndexID); err != nil {
			return fmt.Errorf("clear contacts: %w", err)
		}
		if err := upsertAgentStatesTxn(txn, agents); err != nil {
			return err
		}
		return applyContactsTxn(txn, contacts, nil)
	})
}

func applyContactsTxn(txn *memdb.Txn, upserts []*ContactRow, deletes []string) error {
	for _, r := range upserts {
		if err := txn.Insert(TableContacts, r); err != nil {
			return fmt.Errorf("contact %s: %w", r.ContactID, err)
		}
	}
	for _, id := range deletes {
		// Delete looks the row up by its id alone; DeleteAll would open an
		// iterator for the one row. A contact that never reached the store
		// (routed and finished within one write) is not there.
		err := txn.Delete(TableContacts, &ContactRow{ContactID: id})
		if err != nil && !errors.Is(err, memdb.ErrNotFound) {
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
	// The empty last argument makes the prefix the whole team name.
	out := get[*ContactRow](s.txn, TableContacts, IndexTeamState+"_prefix", team, "")
	slices.SortFunc(out, func(a, b *ContactRow) int { return strings.Compare(a.ContactID, b.ContactID) })
	return out
}

// Queue returns a team's waiting contacts in queue order: the contact at
// index i has position i+1.
func (s *Snapshot) Queue(team string) []*ContactRow {
	q := get[*ContactRow](s.txn, TableContacts, IndexTeamState, team, stateQueued)
	q = append(q, get[*ContactRow](s.txn, TableContacts, IndexTeamState, team, stateCallback)...)
	slices.SortFunc(q, queueCmp)
	return q
}

// Position is a contact's place in its team's queue, from 1, or 0 when it
// does not wait.
func (s *Snapshot) Position(c *ContactRow) int {
	if !c.Waiting() {
		return 0
	}
	pos := 1
	for _, state := range []string{stateQueued, stateCallback} {
		it, err := s.txn.Get(TableContacts, IndexTeamState, c.Team, state)
		if err != nil {
			return 0
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			if x := raw.(*ContactRow); queueCmp(x, c) < 0 {
				pos++
			}
		}
	}
	return pos
}
