package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/tex-cx/tex/server"
)

// QueueCmd lists a team's waiting contacts (<prefix>.query.queue).
type QueueCmd struct {
	ClientFlags `embed:""`

	Team   string `help:"Team id, such as CHA-DET." env:"TEX_TEAM" required:""`
	Format string `help:"Output format: ${enum}." default:"table" enum:"table,json"`
}

// Run asks and prints.
func (c *QueueCmd) Run(env *Env) error {
	nc, err := c.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	return askAndPrint(env, &c.ClientFlags, nc, server.QueryQueue, server.TeamQuery{Team: c.Team}, c.Format, printQueue)
}

func printQueue(w io.Writer, r *server.QueueReply) error {
	if len(r.Contacts) == 0 {
		_, err := fmt.Fprintf(w, "%s: nobody waiting\n", r.Team)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "POS\tCONTACT\tMARKET\tCHANNEL\tPRI\tKIND\tWAIT\tEWT")
	for _, c := range r.Contacts {
		kind := "line"
		if c.Callback {
			kind = "callback"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", c.Position, cut(c.ContactID, 20), cut(c.Market, 6),
			cut(c.Channel, 9), c.Priority, kind, durText(c.WaitSeconds), ewtText(c.EWTSeconds))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%s: %d waiting\n", r.Team, len(r.Contacts))
	return err
}
