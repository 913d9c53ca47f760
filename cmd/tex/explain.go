package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/tex-cx/tex/router"
	"github.com/tex-cx/tex/server"
)

// ExplainCmd prints the decision records of a contact
// (<prefix>.query.decisions): why it went where it did.
type ExplainCmd struct {
	ClientFlags `embed:""`

	ContactID string `arg:"" name:"contact-id" help:"Contact id."`
	Format    string `help:"Output format: ${enum}." default:"table" enum:"table,json"`
}

// Run asks and prints.
func (c *ExplainCmd) Run(env *Env) error {
	nc, err := c.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	return askAndPrint(env, &c.ClientFlags, nc, server.QueryDecisions, server.ContactQuery{ContactID: c.ContactID}, c.Format, printExplain)
}

func printExplain(w io.Writer, r *server.DecisionsReply) error {
	if len(r.Decisions) == 0 {
		_, err := fmt.Fprintf(w, "%s: no decision recorded\n", r.ContactID)
		return err
	}
	for i, d := range r.Decisions {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if err := printDecision(w, i+1, len(r.Decisions), d); err != nil {
			return err
		}
	}
	return nil
}

func printDecision(w io.Writer, n, of int, d *router.Decision) error {
	fmt.Fprintf(w, "decision %d/%d  %s  %s  trigger %s\n", n, of, d.ContactID, d.At.Format(time.RFC3339), d.Trigger)
	fmt.Fprintf(w, "  market %s (matched by %s), team %s\n", d.Market, d.MatchedBy, d.Team)
	switch d.Outcome {
	case "assigned":
		fmt.Fprintf(w, "  outcome: assigned to %s at step %s\n", d.Agent, d.Step)
	default:
		out := fmt.Sprintf("  outcome: %s", d.Outcome)
		if d.Position > 0 {
			out += fmt.Sprintf(", position %d, EWT %s", d.Position, ewtText(d.EWTSeconds))
		}
		if d.Callback {
			out += ", callback offered"
		}
		fmt.Fprintln(w, out)
	}
	if k := d.KnownAgent; k != nil {
		fmt.Fprintf(w, "  known agent %s, %s: %s\n", k.Agent, knownWaitText(k.ExpectedWaitSeconds), knownChoiceText(k.Choice))
	}
	if d.Weights != nil {
		fmt.Fprintf(w, "  weights: continuity %.2f, skill %.2f, fairness %.2f\n", d.Weights.Continuity, d.Weights.Skill, d.Weights.Fairness)
	}
	if d.Considered > 0 {
		fmt.Fprintf(w, "  waiting contacts considered: %d\n", d.Considered)
	}
	if len(d.Steps) > 0 {
		fmt.Fprintln(w, "  steps:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "    STEP\tTEAMS\tOPEN\tVIABLE\tSEEN\tELIG\tSKIPPED")
		// Skip reasons wrap within what the other columns leave of 80,
		// rather than lose counts.
		type row struct{ step, teams, seen, elig string }
		rows := make([]row, len(d.Steps))
		widths := [4]int{len("STEP"), len("TEAMS"), len("SEEN"), len("ELIG")}
		for i, s := range d.Steps {
			r := row{cut(s.Step, 13), joinCut(s.Teams, 15), fmt.Sprint(s.Considered), fmt.Sprint(s.Eligible)}
			for k, cell := range [4]string{r.step, r.teams, r.seen, r.elig} {
				widths[k] = max(widths[k], utf8.RuneCountInString(cell))
			}
			rows[i] = r
		}
		fixed := 4 + widths[0] + widths[1] + len("OPEN") + len("VIABLE") + widths[2] + widths[3] + 6*2
		for i, s := range d.Steps {
			r := rows[i]
			skips := wrapList(skipParts(s.Skipped), max(80-fixed, 12))
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.step, r.teams, yesNo(s.Open), yesNo(s.Viable), r.seen, r.elig, skips[0])
			for _, more := range skips[1:] {
				fmt.Fprintf(tw, "    \t\t\t\t\t\t%s\n", more)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(d.Candidates) > 0 {
		fmt.Fprintln(w, "  candidates (top by score):")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "    \tAGENT\tSCORE\tCONT\tSKILL\tFAIR\tLOAD\tIDLE\t")
		for _, c := range d.Candidates {
			mark := " "
			if c.Chosen {
				mark = "*"
			}
			load := fmt.Sprintf("%.2f", c.Load)
			if c.LoadCapped {
				load += "!"
			}
			fmt.Fprintf(tw, "    %s\t%s\t%.3f\t%.2f\t%.2f\t%.2f\t%s\t%s\t\n", mark, cut(c.Agent, 12), c.Score, c.Continuity,
				c.Skill, c.Fairness, load, durText(c.IdleSecs))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w, "    * chosen; CONT continuity, FAIR fairness (idle), ! load cap applied")
	}
	if len(d.Skipped) > 0 {
		fmt.Fprintf(w, "  skipped: %s\n", skipText(d.Skipped))
	}
	return nil
}

func knownWaitText(secs *float64) string {
	if secs == nil {
		return "not coming back to work"
	}
	return "expected free in " + durText(*secs)
}

func knownChoiceText(choice string) string {
	switch choice {
	case router.KnownHold:
		return "hold on the line for them"
	case router.KnownCallback:
		return "callback reserved for them"
	case router.KnownTeam:
		return "to the team"
	}
	return choice
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func skipText(list []router.SkipCount) string { return strings.Join(skipParts(list), ", ") }

func skipParts(list []router.SkipCount) []string {
	parts := make([]string, len(list))
	for i, s := range list {
		parts[i] = fmt.Sprintf("%s %d", s.Reason, s.Count)
	}
	return parts
}

// wrapList joins parts with ", " into lines of at most width runes where
// the parts allow (a longer part is cut); there is always one line.
func wrapList(parts []string, width int) []string {
	lines := []string{""}
	for i, p := range parts {
		if i < len(parts)-1 {
			p += ","
		}
		p = cut(p, width)
		last := &lines[len(lines)-1]
		switch {
		case *last == "":
			*last = p
		case utf8.RuneCountInString(*last)+1+utf8.RuneCountInString(p) <= width:
			*last += " " + p
		default:
			lines = append(lines, p)
		}
	}
	return lines
}
