package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/tex-cx/tex/router/sim"
)

// ErlangCmd is the planners' queueing calculator: Erlang C, or Erlang A
// when callers have a mean patience.
type ErlangCmd struct {
	RatePerHour     float64 `help:"Calls per hour (Poisson)." required:""`
	AHTSeconds      float64 `help:"Mean handle time in seconds (talk + hold + wrap)." name:"aht-seconds" required:""`
	Agents          int     `help:"Agents answering. Leave out with --service-level to find the fewest that reach it." default:"0"`
	TargetSeconds   float64 `help:"Service-level threshold in seconds." default:"20"`
	PatienceSeconds float64 `help:"Mean patience in seconds; > 0 uses Erlang A (callers abandon)." default:"0"`
	ServiceLevel    float64 `help:"Target service level (0-1): find the fewest agents that reach it." default:"0"`
	Format          string  `help:"Output format: ${enum}." enum:"table,json" default:"table"`
}

// Run computes the figures and prints them.
func (c *ErlangCmd) Run(env *Env) error {
	q := sim.Queue{RatePerHour: c.RatePerHour, AHTSeconds: c.AHTSeconds, Agents: c.Agents,
		PatienceSeconds: c.PatienceSeconds, TargetSeconds: c.TargetSeconds}
	var f sim.QueueFigures
	var err error
	switch {
	case c.ServiceLevel > 0 && c.Agents == 0:
		f, err = sim.AgentsFor(q, c.ServiceLevel)
	case c.ServiceLevel > 0:
		return exitError{code: 2, msg: "give --agents or --service-level, not both"}
	case c.Agents == 0:
		return exitError{code: 2, msg: "give --agents N, or --service-level S to find the agents needed"}
	default:
		f, err = sim.Solve(q)
	}
	if err != nil {
		return err
	}
	if c.Format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(f)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	model := "Erlang C (nobody abandons)"
	if f.Model == sim.ModelErlangA {
		model = fmt.Sprintf("Erlang A (mean patience %g s)", f.PatienceSeconds)
	}
	fmt.Fprintf(tw, "model\t%s\n", model)
	fmt.Fprintf(tw, "traffic\t%.3f Erlangs (%g calls/h x %g s)\n", f.TrafficErlangs, f.RatePerHour, f.AHTSeconds)
	fmt.Fprintf(tw, "agents\t%d\n", f.Agents)
	fmt.Fprintf(tw, "P(wait)\t%.4f\n", f.PWait)
	fmt.Fprintf(tw, "service level (%g s)\t%.4f\n", f.TargetSeconds, f.ServiceLevel)
	fmt.Fprintf(tw, "ASA\t%.1f s\n", f.ASASeconds)
	if f.Model == sim.ModelErlangA {
		fmt.Fprintf(tw, "P(abandon)\t%.4f\n", f.PAbandon)
	}
	fmt.Fprintf(tw, "occupancy\t%.4f\n", f.Occupancy)
	return tw.Flush()
}
