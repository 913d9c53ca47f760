package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/tex-cx/tex/teams"
)

// CheckConfigCmd validates an org directory and reports every problem at
// once. It exits 1 when there is any, so that CI can gate org changes.
type CheckConfigCmd struct {
	Org    string `help:"Org directory (org.yaml or org.json, optional customers.csv)." env:"TEX_ORG" default:"testdata/org"`
	Format string `help:"Output format: ${enum}." enum:"text,json" default:"text"`
}

// checkReport is the JSON output of check-config (docs/cli.md).
type checkReport struct {
	OK       bool            `json:"ok"`
	Org      string          `json:"org"`
	Problems []teams.Problem `json:"problems"`
	Summary  *orgSummary     `json:"summary"`
}

// orgSummary counts what a sound org holds.
type orgSummary struct {
	Markets      int            `json:"markets"`
	MarketIDs    []string       `json:"market_ids"`
	Teams        int            `json:"teams"`
	Sites        int            `json:"sites"`
	Agents       int            `json:"agents"`
	AgentsByRole map[string]int `json:"agents_by_role"`
	Customers    int            `json:"customers"`
	Phones       int            `json:"phones"`
}

// Run loads the org and prints the problems or a summary.
func (c *CheckConfigCmd) Run(env *Env) error {
	org, err := teams.Load(c.Org)
	rep := checkReport{OK: err == nil, Org: c.Org, Problems: []teams.Problem{}}
	if err != nil {
		var ce *teams.ConfigError
		if !errors.As(err, &ce) {
			return fmt.Errorf("check-config: %w", err)
		}
		rep.Problems = ce.Problems
	} else {
		rep.Summary = summarize(org)
	}
	if c.Format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else if err := printCheckText(env.Stdout, &rep); err != nil {
		return err
	}
	if !rep.OK {
		return exitError{code: 1}
	}
	return nil
}

func summarize(org *teams.Org) *orgSummary {
	s := &orgSummary{
		Markets:      len(org.Markets),
		Teams:        len(org.Teams),
		Agents:       len(org.Agents),
		AgentsByRole: map[string]int{},
		Customers:    org.Customers.Len(),
		Phones:       org.Customers.Phones(),
	}
	for _, m := range org.Markets {
		s.MarketIDs = append(s.MarketIDs, m.ID)
	}
	sites := map[string]bool{}
	for _, t := range org.Teams {
		if t.Site != "" {
			sites[t.Site] = true
		}
	}
	s.Sites = len(sites)
	for _, a := range org.Agents {
		s.AgentsByRole[string(a.Role)]++
	}
	return s
}

func printCheckText(w io.Writer, rep *checkReport) error {
	if !rep.OK {
		for _, p := range rep.Problems {
			fmt.Fprintln(w, p.String())
		}
		noun := "problems"
		if len(rep.Problems) == 1 {
			noun = "problem"
		}
		_, err := fmt.Fprintf(w, "%d %s in %s\n", len(rep.Problems), noun, rep.Org)
		return err
	}
	s := rep.Summary
	var roles []string
	for _, r := range teams.Roles {
		if n := s.AgentsByRole[string(r)]; n > 0 {
			roles = append(roles, fmt.Sprintf("%d %s", n, r))
		}
	}
	fmt.Fprintf(w, "%s: ok\n", rep.Org)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "markets\t%d (%s)\n", s.Markets, strings.Join(s.MarketIDs, ", "))
	fmt.Fprintf(tw, "teams\t%d at %d sites\n", s.Teams, s.Sites)
	fmt.Fprintf(tw, "agents\t%d (%s)\n", s.Agents, strings.Join(roles, ", "))
	fmt.Fprintf(tw, "customers\t%d with %d phones\n", s.Customers, s.Phones)
	return tw.Flush()
}
