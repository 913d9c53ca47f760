package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/tex-cx/tex/router"
	"github.com/tex-cx/tex/router/sim"
)

// SimulateCmd runs a scenario on the real routing core in virtual time
// (SIMULATION.md).
type SimulateCmd struct {
	Scenario string  `help:"Scenario file (YAML or JSON)." required:"" type:"path"`
	Format   string  `help:"Output format: ${enum}." enum:"table,json" default:"table"`
	Seed     int64   `help:"Seed; overrides the scenario's when >= 0." default:"-1"`
	Policy   string  `help:"Policy; overrides the scenario's when set." enum:",tex,longest_idle,pooled" default:""`
	Duration float64 `help:"Virtual seconds to simulate; overrides duration_seconds when > 0." default:"0"`
	Accept   float64 `name:"callback-accept-share" help:"Share of callers offered a callback who take it; overrides callback_accept_share when >= 0." default:"-1"`
	Quiet    bool    `help:"No progress line on stderr."`
}

// Run loads the scenario, runs it and prints the figures.
func (c *SimulateCmd) Run(env *Env) error {
	s, err := sim.LoadScenario(c.Scenario)
	if err != nil {
		return err
	}
	if c.Seed >= 0 {
		s.Seed = uint64(c.Seed)
	}
	if c.Policy != "" {
		s.Policy = router.Policy(c.Policy)
	}
	if c.Accept >= 0 {
		if c.Accept > 1 {
			return fmt.Errorf("--callback-accept-share %v must be between 0 and 1", c.Accept)
		}
		s.CallbackAcceptShare = c.Accept
	}
	if c.Duration > 0 {
		if c.Duration <= s.WarmupSeconds {
			return fmt.Errorf("--duration %v must be longer than the warm-up (%v s)", c.Duration, s.WarmupSeconds)
		}
		s.DurationSeconds = c.Duration
	}
	var opts sim.Options
	if !c.Quiet {
		opts.Progress = func(p sim.Progress) {
			fmt.Fprintf(env.Stderr, "simulate: day %.1f of %.1f (%.0f%%), %d contacts, %.0f s\n",
				p.VirtualSeconds/86400, p.DurationSeconds/86400, 100*p.VirtualSeconds/p.DurationSeconds,
				p.Contacts, p.Wall.Seconds())
		}
	}
	res, err := sim.Run(s, opts)
	if err != nil {
		return err
	}
	if c.Format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	return printSimTable(env.Stdout, res)
}

func printSimTable(w io.Writer, r *sim.Result) error {
	days := (r.DurationSeconds - r.WarmupSeconds) / 86400
	fmt.Fprintf(w, "%s: policy %s, seed %d, %.1f days counted after %s warm-up\n\n",
		r.Scenario, r.Policy, r.Seed, days, time.Duration(r.WarmupSeconds*float64(time.Second)))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "market\toffered\tanswered\tabandoned\tp_wait\tSL(%gs)\tASA s\toccupancy\thome team\tcontinuity\tcallbacks\tcb wait mean\tcb wait p90\tEWT error s\t\n", r.SLThresholdSeconds)
	row := func(name string, f *sim.Figures) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d (%s)\t%s\t%s\t%.1f\t%s\t%s\t%s\t%d (%s)\t%s\t%s\t%.1f\t\n",
			name, f.Offered, f.Answered, f.Abandoned, simPct(f.AbandonRate), simPct(f.PWait), simPct(f.ServiceLevel),
			f.ASASeconds, simPct(f.Occupancy), simPct(f.HomeTeamShare), simPct(f.AgentContinuity),
			f.Callbacks, simPct(f.CallbackShare), simDur(f.CallbackWaitSeconds.Mean), simDur(f.CallbackWaitSeconds.P90),
			f.EWTErrorSeconds)
	}
	ids := make([]string, 0, len(r.PerMarket))
	for id := range r.PerMarket {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		row(id, r.PerMarket[id])
	}
	if len(ids) > 1 {
		row("all", &r.Figures)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\ncontinuity: %d repeat contacts (customer served in the last 7 days)\nrun: %d contacts in %.2f s wall, %.0f contacts/s\n",
		r.RepeatContacts, r.Run.Contacts, r.Run.WallSeconds, r.Run.ContactsPerSecond)
	return err
}

func simPct(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) }

func simDur(sec float64) string {
	if sec == 0 {
		return "-"
	}
	return time.Duration(sec * float64(time.Second)).Round(time.Second).String()
}
