package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/tex-cx/tex/router"
	"github.com/tex-cx/tex/server"
	"github.com/tex-cx/tex/teams"
)

// AgentCmd groups what one can do for an agent.
type AgentCmd struct {
	State AgentStateCmd `cmd:"" help:"Set an agent's state: available, away or offline."`
}

// AgentStateCmd sends an AgentState (<prefix>.agent.state).
type AgentStateCmd struct {
	ClientFlags `embed:""`

	ID     string `arg:"" name:"id" help:"Agent id, such as det-004."`
	State  string `arg:"" name:"state" help:"available, away or offline." enum:"available,away,offline"`
	Reason string `help:"Why, for the team lead (\"lunch\")."`
	Format string `help:"Output format: ${enum}." default:"table" enum:"table,json"`
}

// Run sets the state.
func (c *AgentStateCmd) Run(env *Env) error {
	nc, err := c.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	var rep json.RawMessage
	req := router.AgentStateRequest{AgentID: c.ID, State: c.State, Reason: c.Reason}
	if err := c.request(nc, server.SubjectAgentState, &req, &rep); err != nil {
		return err
	}
	if c.Format == "json" {
		return printJSON(env.Stdout, rep)
	}
	var r router.AgentStateReply
	if err := json.Unmarshal(rep, &r); err != nil {
		return err
	}
	msg := fmt.Sprintf("%s is %s", r.AgentID, r.State)
	if r.Pending != "" {
		msg += fmt.Sprintf("; %s once the live contact ends", r.Pending)
	}
	if !r.Changed && r.Pending == "" {
		msg += " (unchanged)"
	}
	_, err = fmt.Fprintln(env.Stdout, msg)
	return err
}

// AgentsCmd lists a team's agents (<prefix>.query.agents).
type AgentsCmd struct {
	ClientFlags `embed:""`

	Team   string `help:"Team id, such as CHA-DET." env:"TEX_TEAM" required:""`
	Format string `help:"Output format: ${enum}." default:"table" enum:"table,json"`
}

// Run asks and prints.
func (c *AgentsCmd) Run(env *Env) error {
	nc, err := c.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	return askAndPrint(env, &c.ClientFlags, nc, server.QueryAgents, server.TeamQuery{Team: c.Team}, c.Format, printAgents)
}

// roleLabel is a role as the table shows it: the two long ones shortened
// the way a floor says them, the rest as they are.
func roleLabel(role string) string {
	switch teams.Role(role) {
	case teams.RoleTechSpecialist:
		return "tech spec"
	case teams.RoleResourceManager:
		return "res. mgr"
	}
	return role
}

// printAgents fits 80 columns: id 8, name 16, role 10, state 14, time 6,
// today 5, contact 9, with two-space gaps.
func printAgents(w io.Writer, r *server.AgentsReply) error {
	counts := map[string]int{}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tNAME\tROLE\tSTATE\tFOR\tTODAY\tCONTACT")
	for _, a := range r.Agents {
		counts[a.State]++
		since := "-"
		if a.SecondsInState != nil {
			since = durText(*a.SecondsInState)
		}
		state := a.State
		if a.State == router.AgentAway && a.Reason != "" {
			state = cut(a.State+":"+a.Reason, 14)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cut(a.AgentID, 8), cut(a.Name, 16), cut(roleLabel(a.Role), 10),
			cut(state, 14), cut(since, 6), cut(strconv.Itoa(a.ContactsToday), 5), joinCut(a.ActiveContacts, 9))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%s: %d agents; avail %d, busy %d, resv %d, wrap %d, away %d, off %d\n",
		r.Team, len(r.Agents), counts[router.AgentAvailable], counts[router.AgentBusy], counts[router.AgentReserved],
		counts[router.AgentWrapUp], counts[router.AgentAway], counts[router.AgentOffline])
	return err
}
