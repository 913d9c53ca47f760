package teams

import (
	"fmt"
	"slices"
	"strings"
)

// Role is an agent's job on a Team-of-Experts team.
type Role string

// The roles of PROTOCOL.md. Which of them take contacts is routing config.
const (
	RoleExpert          Role = "expert"
	RoleTechSpecialist  Role = "tech_specialist"
	RoleCoach           Role = "coach"
	RoleResolution      Role = "resolution"
	RoleResourceManager Role = "resource_manager"
	RoleLead            Role = "lead"
)

// Roles lists every valid role, in the order reports show them.
var Roles = []Role{RoleExpert, RoleTechSpecialist, RoleResolution, RoleCoach, RoleResourceManager, RoleLead}

// Valid reports whether r is one of the roles of PROTOCOL.md.
func (r Role) Valid() bool {
	for _, v := range Roles {
		if v == r {
			return true
		}
	}
	return false
}

// Well-known channels. Others are allowed when some agent has capacity for them.
const (
	ChannelVoice     = "voice"
	ChannelMessaging = "messaging"
)

// Pos is where an entity was declared, so that validation errors can point at it.
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
}

// Market is a geographic market owned by one dedicated home team.
type Market struct {
	ID            string         `yaml:"id" json:"id"`
	Name          string         `yaml:"name" json:"name"`
	HomeTeam      string         `yaml:"home_team" json:"home_team"`
	FallbackTeams []string       `yaml:"fallback_teams" json:"fallback_teams,omitempty"`
	AreaCodes     []string       `yaml:"area_codes" json:"area_codes,omitempty"`
	Routing       *MarketRouting `yaml:"routing" json:"routing,omitempty"`
	Pos           Pos            `yaml:"-" json:"-"`
}

// Team is one dedicated team of experts at one site.
type Team struct {
	ID   string `yaml:"id" json:"id"`
	Name string `yaml:"name" json:"name,omitempty"`
	Site string `yaml:"site" json:"site"`
	Pos  Pos    `yaml:"-" json:"-"`
}

// Agent is one person on a team. Skills are proficiencies 1-5. Channels map a
// channel name to the number of contacts the agent can hold on it at once.
type Agent struct {
	ID         string         `yaml:"id" json:"id"`
	EmployeeID string         `yaml:"employee_id" json:"employee_id,omitempty"`
	Name       string         `yaml:"name" json:"name"`
	Team       string         `yaml:"team" json:"team"`
	Role       Role           `yaml:"role" json:"role"`
	Skills     map[string]int `yaml:"skills" json:"skills,omitempty"`
	Languages  []string       `yaml:"languages" json:"languages,omitempty"`
	Channels   map[string]int `yaml:"channels" json:"channels,omitempty"`
	Endpoint   string         `yaml:"endpoint" json:"endpoint,omitempty"`
	Pos        Pos            `yaml:"-" json:"-"`
}

// HREmployeeID is the id HR exports use: employee_id, or the agent id when none is given.
func (a *Agent) HREmployeeID() string {
	if a.EmployeeID != "" {
		return a.EmployeeID
	}
	return a.ID
}

// Org is a whole loaded organisation: the directory the router and the
// scorecard work from. It is read-only once loaded.
type Org struct {
	DefaultMarket string          `yaml:"default_market" json:"default_market,omitempty"`
	Markets       []Market        `yaml:"markets" json:"markets"`
	Teams         []Team          `yaml:"teams" json:"teams"`
	Agents        []Agent         `yaml:"agents" json:"agents"`
	Routing       RoutingConfig   `yaml:"routing" json:"routing"`
	Scorecard     ScorecardConfig `yaml:"scorecard" json:"scorecard"`

	// Customers maps customer ids and phone numbers to markets. It is nil
	// when the org has no customers.csv.
	Customers *Customers `yaml:"-" json:"-"`
}

// Market returns the market with the given id.
func (o *Org) Market(id string) (*Market, bool) {
	for i := range o.Markets {
		if o.Markets[i].ID == id {
			return &o.Markets[i], true
		}
	}
	return nil, false
}

// Team returns the team with the given id.
func (o *Org) Team(id string) (*Team, bool) {
	for i := range o.Teams {
		if o.Teams[i].ID == id {
			return &o.Teams[i], true
		}
	}
	return nil, false
}

// KnownTeams lists the org's team ids, sorted, for an error about an
// unknown one: "CHA-CLE, CHA-DET, KNX-PHL", or the first dozen and how
// many more.
func (o *Org) KnownTeams() string {
	const most = 12
	ids := make([]string, 0, len(o.Teams))
	for i := range o.Teams {
		ids = append(ids, o.Teams[i].ID)
	}
	slices.Sort(ids)
	if len(ids) > most {
		return strings.Join(ids[:most], ", ") + fmt.Sprintf(" and %d more", len(ids)-most)
	}
	return strings.Join(ids, ", ")
}

// Agent returns the agent with the given id.
func (o *Org) Agent(id string) (*Agent, bool) {
	for i := range o.Agents {
		if o.Agents[i].ID == id {
			return &o.Agents[i], true
		}
	}
	return nil, false
}
