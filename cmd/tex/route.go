package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/tex-cx/tex/router"
	"github.com/tex-cx/tex/server"
)

// RouteCmd sends a RouteRequest (<prefix>.route) and prints the reply.
type RouteCmd struct {
	ClientFlags `embed:""`

	JSON       string   `name:"json" help:"The whole RouteRequest as JSON; flags given too override its fields."`
	ContactID  string   `name:"contact-id" help:"Contact id (required, here or in --json)."`
	Channel    string   `help:"Channel: voice or messaging (default voice)."`
	CustomerID string   `name:"customer-id" help:"Customer (account) id."`
	ANI        string   `name:"ani" help:"Calling number."`
	Market     string   `help:"Market code, when the platform knows it."`
	Skills     []string `help:"Required skills, comma-separated."`
	Language   string   `help:"Language the customer speaks."`
	Priority   int      `help:"Priority 0-100; higher is served first." default:"-1"`
	Format     string   `help:"Output format: ${enum}." default:"table" enum:"table,json"`
}

// Run sends the request.
func (c *RouteCmd) Run(env *Env) error {
	var req router.RouteRequest
	if c.JSON != "" {
		r, err := router.DecodeRouteRequest([]byte(c.JSON))
		if err != nil {
			return usageError("--json: %v", err)
		}
		req = *r
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&req.ContactID, c.ContactID)
	set(&req.Channel, c.Channel)
	set(&req.CustomerID, c.CustomerID)
	set(&req.ANI, c.ANI)
	set(&req.Market, c.Market)
	set(&req.Language, c.Language)
	if len(c.Skills) > 0 {
		req.Skills = c.Skills
	}
	if c.Priority >= 0 {
		req.Priority = c.Priority
	}
	if req.Channel == "" {
		req.Channel = "voice"
	}
	if req.ContactID == "" {
		return usageError("give --contact-id (or contact_id in --json)")
	}
	nc, err := c.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	return askAndPrint(env, &c.ClientFlags, nc, server.SubjectRoute, &req, c.Format, printRouteReply)
}

func printRouteReply(w io.Writer, r *router.RouteReply) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("contact", r.ContactID)
	row("status", r.Status+" ("+r.State+")")
	row("market", r.Market+" (matched by "+r.MatchedBy+")")
	row("team", r.Team)
	row("step", r.Step)
	if r.Agent != "" {
		row("agent", r.Agent)
		row("endpoint", r.Endpoint)
		if !r.OfferExpiresAt.IsZero() {
			row("offer expires", r.OfferExpiresAt.Format(time.RFC3339))
		}
	}
	if r.Status == router.StatusQueued {
		row("position", fmt.Sprint(r.Position))
		row("ewt", ewtText(r.EWTSeconds))
		row("callback", fmt.Sprintf("offered %v, taken %v", r.CallbackOffered, r.Callback))
	}
	return tw.Flush()
}

func ewtText(v *float64) string {
	if v == nil {
		return "-"
	}
	return durText(*v)
}

// durText prints seconds as 42s, 3m05s, 2h10m, 3d04h or 12d: at most six
// characters below 1,000 days, short enough for a column.
func durText(s float64) string {
	d := time.Duration(s) * time.Second
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	case d < 10*24*time.Hour:
		return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
	}
	return fmt.Sprintf("%dd", int(d.Hours())/24)
}

// printJSON indents the server's reply as it came, field order kept.
// askAndPrint sends a request to the server and prints the answer: the
// server's JSON, indented, or decoded into T and shown by table.
func askAndPrint[T any](env *Env, f *ClientFlags, nc *nats.Conn, subject string, req any, format string, table func(io.Writer, *T) error) error {
	var rep json.RawMessage
	if err := f.request(nc, subject, req, &rep); err != nil {
		return err
	}
	if format == "json" {
		return printJSON(env.Stdout, rep)
	}
	var r T
	if err := json.Unmarshal(rep, &r); err != nil {
		return err
	}
	return table(env.Stdout, &r)
}

func printJSON(w io.Writer, raw json.RawMessage) error {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return err
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

// cut shortens s to n runes, marking the cut, so that a column keeps its width.
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "."
}

// joinCut joins a list for a table cell.
func joinCut(list []string, n int) string { return cut(strings.Join(list, ","), n) }
