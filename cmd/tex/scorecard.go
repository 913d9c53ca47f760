package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/tex-cx/tex/scorecard"
)

// ScorecardCmd prints a team's scorecard, asked of the running server over
// NATS (<prefix>.scorecard.query).
type ScorecardCmd struct {
	ClientFlags `embed:""`

	Team   string `help:"Team id, such as CHA-DET." env:"TEX_TEAM" required:""`
	Period string `help:"ISO week (2026-W47), month (2026-11) or day (2026-11-23), UTC. Default: the current ISO week."`
	From   string `help:"First day of a range, UTC (2026-11-01); with --to."`
	To     string `help:"Last day of a range, UTC, included; with --from."`
	Format string `help:"Output format: ${enum}." default:"table" enum:"table,json,csv"`
}

// Run asks for the scorecard and prints it.
func (c *ScorecardCmd) Run(env *Env) error {
	p, err := periodFlags(c.Period, c.From, c.To, time.Now(), false)
	if err != nil {
		return err
	}
	nc, err := c.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	if c.Format == "csv" {
		// The CSV of a scorecard is the HR export of the team: one shape
		// for every CSV tex writes.
		_, err := exportPages(nc, &c.ClientFlags, periodRequest(p, c.From != ""), c.Team, 0, env.Stdout, "csv", nil)
		return err
	}
	pr := periodRequest(p, c.From != "")
	req := scorecard.QueryRequest{Team: c.Team, Period: pr[0], From: pr[1], To: pr[2]}
	var rep scorecard.Report
	if err := c.request(nc, scorecard.QuerySuffix, req, &rep); err != nil {
		return err
	}
	if c.Format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(&rep)
	}
	return printScorecard(env.Stdout, &rep)
}

// periodFlags checks --period, --from and --to before anything goes to the
// server, and names the flag at fault.
func periodFlags(period, from, to string, now time.Time, required bool) (scorecard.Period, error) {
	switch {
	case period != "" && (from != "" || to != ""):
		return scorecard.Period{}, usageError("give --period, or --from and --to, not both")
	case period != "":
		p, err := scorecard.ParsePeriod(period)
		if err != nil {
			return p, usageError("--period %q: %v", period, trimSentinel(err, scorecard.ErrBadPeriod))
		}
		return p, nil
	case from != "" || to != "":
		if from == "" || to == "" {
			return scorecard.Period{}, usageError("--from and --to go together (UTC dates, both included)")
		}
		if _, err := scorecard.ParseDate(from); err != nil {
			return scorecard.Period{}, usageError("--from %q: %v", from, trimSentinel(err, scorecard.ErrBadPeriod))
		}
		if _, err := scorecard.ParseDate(to); err != nil {
			return scorecard.Period{}, usageError("--to %q: %v", to, trimSentinel(err, scorecard.ErrBadPeriod))
		}
		p, err := scorecard.ParseRange(from, to)
		if err != nil {
			return p, usageError("--from %s --to %s: %v", from, to, trimSentinel(err, scorecard.ErrBadPeriod))
		}
		return p, nil
	case required:
		return scorecard.Period{}, usageError("give --period (2026-W47, 2026-11, 2026-11-23), or --from and --to")
	}
	return scorecard.WeekOf(now), nil
}

// periodRequest gives the period fields of a request: period, from, to.
func periodRequest(p scorecard.Period, isRange bool) [3]string {
	if isRange {
		return [3]string{"", p.From.Format(time.DateOnly), p.LastDay().Format(time.DateOnly)}
	}
	return [3]string{p.Label, "", ""}
}

func usageError(format string, args ...any) error {
	return exitError{code: 2, msg: fmt.Sprintf(format, args...)}
}

// trimSentinel drops the sentinel's own words from a wrapped error, which
// repeat what the flag name already says.
func trimSentinel(err, sentinel error) string {
	return strings.TrimPrefix(err.Error(), sentinel.Error()+": ")
}

// request sends req to <prefix>.<suffix> and decodes the reply into out,
// turning an {"error": ...} reply into an error that says what to do.
func (f *ClientFlags) request(nc *nats.Conn, suffix string, req, out any) error {
	data, err := json.Marshal(req)
	if err != nil {
		return err
	}
	subj := f.subject(suffix)
	msg, err := nc.Request(subj, data, f.Timeout)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return fmt.Errorf("nothing answers on %s at %s; is `tex serve` running there with --prefix %s?", subj, f.NATS, f.Prefix)
	case errors.Is(err, nats.ErrTimeout):
		return fmt.Errorf("no answer on %s within %s (raise --timeout for a large export)", subj, f.Timeout)
	case err != nil:
		return fmt.Errorf("%s: %w", subj, err)
	}
	var e scorecard.ErrorReply
	if json.Unmarshal(msg.Data, &e) == nil && e.Error.Code != "" {
		return exitError{code: 1, msg: fmt.Sprintf("%s: %s", e.Error.Code, e.Error.Message)}
	}
	if err := json.Unmarshal(msg.Data, out); err != nil {
		return fmt.Errorf("%s: unreadable reply: %w", subj, err)
	}
	return nil
}

// The table: one line per agent, ranked by blended score, the team first.
// Rates are whole percents, so that the table fits 80 columns.
type tableCol struct {
	head  string
	width int
}

var scorecardCols = []tableCol{
	{"#", 3}, {"AGENT", 13}, {"N", 5}, {"AHT", 6}, {"XFR%", 4}, {"FCR%", 5}, {"REP%", 4},
	{"CSAT", 4}, {"NPS", 5}, {"CON%", 4}, {"HOM%", 4}, {"IND", 5}, {"BLEND", 5},
}

func printScorecard(w io.Writer, rep *scorecard.Report) error {
	small := rep.SmallSample
	mark := func(s string, n int) string {
		if n > 0 && n < small {
			return s + "~"
		}
		return s
	}
	pct := func(v *float64, n int) string {
		if v == nil {
			return "-"
		}
		return mark(fmt.Sprintf("%.0f", 100**v), n)
	}
	fcrCell := func(m *scorecard.Metrics) string {
		if m.FCR == nil {
			return "-"
		}
		s := fmt.Sprintf("%.0f", 100**m.FCR)
		if m.FCRProvisional {
			s += "*"
		}
		return mark(s, m.FCRN)
	}
	num := func(v *float64, n int) string {
		if v == nil {
			return "-"
		}
		return mark(fmt.Sprintf("%.0f", *v), n)
	}
	aht := func(v *float64, n int) string {
		if v == nil {
			return "-"
		}
		s := int(math.Round(*v))
		return mark(fmt.Sprintf("%d:%02d", s/60, s%60), n)
	}
	score := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprintf("%.1f", *v)
	}
	cells := func(rank, name string, m *scorecard.Metrics, ind, blend *float64) []string {
		return []string{rank, name, fmt.Sprint(m.Contacts), aht(m.AHTSeconds, m.AHTSecondsN),
			pct(m.TransferRate, m.TransferRateN), fcrCell(m), pct(m.RepeatRate, m.RepeatRateN), pct(m.CSAT, m.CSATN),
			num(m.NPS, m.NPSN), pct(m.ContinuityRate, m.ContinuityRateN), pct(m.HomeTeamShare, m.HomeTeamShareN),
			score(ind), score(blend)}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s", rep.Team.Team)
	if rep.Team.Site != "" {
		fmt.Fprintf(&b, " (%s)", rep.Team.Site)
	}
	fmt.Fprintf(&b, "  %s  %s..%s  %s\n", rep.Period, rep.From, rep.To, rep.FormulaVersion)
	head := make([]string, len(scorecardCols))
	for i, c := range scorecardCols {
		head[i] = c.head
	}
	writeRow(&b, head)
	writeRow(&b, cells("", "team", &rep.Team.Metrics, rep.Team.Score, nil))
	for i := range rep.Agents {
		a := &rep.Agents[i]
		name := a.Name
		if name == "" {
			name = a.Agent
		}
		rank := "-"
		if a.BlendedScore != nil {
			rank = fmt.Sprint(i + 1)
		}
		writeRow(&b, cells(rank, name, &a.Metrics, a.IndividualScore, a.BlendedScore))
	}
	fmt.Fprintf(&b, "AHT m:ss; rates, CSAT (4-5 of 5) in %%; NPS in points; IND individual, BLEND\n")
	fmt.Fprintf(&b, "blended score 0-100; * FCR provisional; ~ fewer than %d samples; - none\n", small)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeRow writes cells in their columns: text left, figures right, cut to
// fit (by runes, for names like José).
func writeRow(b *strings.Builder, cells []string) {
	var line strings.Builder
	for i, c := range scorecardCols {
		s := cells[i]
		if n := utf8.RuneCountInString(s); n > c.width {
			r := []rune(s)
			s = string(r[:c.width-1]) + "."
		}
		pad := strings.Repeat(" ", c.width-utf8.RuneCountInString(s))
		if i > 0 {
			line.WriteByte(' ')
		}
		if c.head == "AGENT" {
			line.WriteString(s + pad)
		} else {
			line.WriteString(pad + s)
		}
	}
	b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
}
