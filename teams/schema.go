package teams

import (
	memdb "github.com/hashicorp/go-memdb"
)

// Table names of the state store.
const (
	TableMarkets     = "markets"
	TableTeams       = "teams"
	TableAgents      = "agents"
	TableAgentStates = "agent_states"
	TableContacts    = "contacts"
)

// Index names of the state store.
const (
	IndexID        = "id"
	IndexTeam      = "team"
	IndexSkills    = "skills"
	IndexRole      = "role"
	IndexSite      = "site"
	IndexHomeTeam  = "home_team"
	IndexTeamState = "team_state"
)

// schemaFuncs are the table schemas, one function per table.
var schemaFuncs = []func() *memdb.TableSchema{
	marketsTableSchema,
	teamsTableSchema,
	agentsTableSchema,
	agentStatesTableSchema,
	contactsTableSchema,
}

// stateStoreSchema returns the schema of the state store.
func stateStoreSchema() *memdb.DBSchema {
	db := &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{}}
	for _, f := range schemaFuncs {
		t := f()
		db.Tables[t.Name] = t
	}
	return db
}

// marketsTableSchema holds *Market rows, loaded once from the org.
func marketsTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableMarkets,
		Indexes: map[string]*memdb.IndexSchema{
			// id: the market code a route reply and a team lead name.
			IndexID: {
				Name:    IndexID,
				Unique:  true,
				Indexer: &memdb.StringFieldIndex{Field: "ID"},
			},
			// home_team: "which markets does my team own", for a lead's view.
			IndexHomeTeam: {
				Name:    IndexHomeTeam,
				Indexer: &memdb.StringFieldIndex{Field: "HomeTeam"},
			},
		},
	}
}

// teamsTableSchema holds *Team rows, loaded once from the org.
func teamsTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableTeams,
		Indexes: map[string]*memdb.IndexSchema{
			// id: every CLI and HTTP read names a team.
			IndexID: {
				Name:    IndexID,
				Unique:  true,
				Indexer: &memdb.StringFieldIndex{Field: "ID"},
			},
			// site: the teams that sit together, the usual routing group.
			// Optional in the org file, hence AllowMissing.
			IndexSite: {
				Name:         IndexSite,
				AllowMissing: true,
				Indexer:      &memdb.StringFieldIndex{Field: "Site"},
			},
		},
	}
}

// agentsTableSchema holds *AgentRow rows: the directory entry of each agent.
func agentsTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableAgents,
		Indexes: map[string]*memdb.IndexSchema{
			// id: agent desktops and state changes name the agent.
			IndexID: {
				Name:    IndexID,
				Unique:  true,
				Indexer: &memdb.StringFieldIndex{Field: "ID"},
			},
			// team: a lead's roster, and the router's per-team candidate set.
			IndexTeam: {
				Name:    IndexTeam,
				Indexer: &memdb.StringFieldIndex{Field: "Team"},
			},
			// skills: "who on the floor knows retention", one entry per
			// skill the agent has at any proficiency. Agents with no skills
			// are allowed (a lead, a resource manager).
			IndexSkills: {
				Name:         IndexSkills,
				AllowMissing: true,
				Indexer:      &memdb.StringSliceFieldIndex{Field: "SkillNames"},
			},
			// role: coaches and leads are looked up apart from experts, in
			// reports and when routing config lets them take contacts.
			IndexRole: {
				Name:    IndexRole,
				Indexer: &memdb.StringFieldIndex{Field: "Role"},
			},
		},
	}
}

// agentStatesTableSchema holds *AgentStateRow rows: the live state the
// router's shell copies in batches, one row per agent that has one.
func agentStatesTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableAgentStates,
		Indexes: map[string]*memdb.IndexSchema{
			// id: one live state per agent; a batch upserts by agent id.
			IndexID: {
				Name:    IndexID,
				Unique:  true,
				Indexer: &memdb.StringFieldIndex{Field: "AgentID"},
			},
			// team: a lead's live board.
			IndexTeam: {
				Name:    IndexTeam,
				Indexer: &memdb.StringFieldIndex{Field: "Team"},
			},
			// team_state: "who is available on CHA-DET", the question a lead
			// and the metrics ask most, without scanning the team.
			IndexTeamState: {
				Name: IndexTeamState,
				Indexer: &memdb.CompoundIndex{Indexes: []memdb.Indexer{
					&memdb.StringFieldIndex{Field: "Team"},
					&memdb.StringFieldIndex{Field: "State"},
				}},
			},
		},
	}
}

// contactsTableSchema holds *ContactRow rows: live contacts, from arrival to
// wrap-up. Finished contacts are deleted; the event stream keeps history.
func contactsTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableContacts,
		Indexes: map[string]*memdb.IndexSchema{
			// id: the contact id of every request and event.
			IndexID: {
				Name:    IndexID,
				Unique:  true,
				Indexer: &memdb.StringFieldIndex{Field: "ContactID"},
			},
			// team_state: contacts of a team in one state (queued, offered...)
			// for queue views and counts, and by prefix all of a team's.
			// Every index costs on each write, and a route writes a row:
			// there is no separate team index.
			IndexTeamState: {
				Name: IndexTeamState,
				Indexer: &memdb.CompoundIndex{Indexes: []memdb.Indexer{
					&memdb.StringFieldIndex{Field: "Team"},
					&memdb.StringFieldIndex{Field: "State"},
				}},
			},
		},
	}
}
