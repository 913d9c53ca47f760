package scorecard

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// ExportRow is one agent's line of an HR export: the agent row of a
// scorecard plus employee_id, site, period and formula_version. It carries
// no customer data.
type ExportRow struct {
	AgentRow
	EmployeeID     string `json:"employee_id"`
	Site           string `json:"site"`
	Period         string `json:"period"`
	FormulaVersion string `json:"formula_version"`
}

// column is one CSV column: its name (the JSON field name) and its cell.
type column struct {
	name string
	cell func(r *ExportRow) string
}

func fcell(v *float64) string {
	if v == nil {
		return "" // null is an empty cell, never 0
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}

func icell(v int) string  { return strconv.Itoa(v) }
func bcell(v bool) string { return strconv.FormatBool(v) }

// columns are the CSV columns, in the order of the JSON fields of
// ExportRow (a test keeps the two in step).
var columns = []column{
	{"agent", func(r *ExportRow) string { return r.Agent }},
	{"name", func(r *ExportRow) string { return r.Name }},
	{"team", func(r *ExportRow) string { return r.Team }},
	{"role", func(r *ExportRow) string { return r.Role }},
	{"contacts", func(r *ExportRow) string { return icell(r.Contacts) }},
	{"aht_seconds", func(r *ExportRow) string { return fcell(r.AHTSeconds) }},
	{"aht_seconds_n", func(r *ExportRow) string { return icell(r.AHTSecondsN) }},
	{"transfer_rate", func(r *ExportRow) string { return fcell(r.TransferRate) }},
	{"transfer_rate_n", func(r *ExportRow) string { return icell(r.TransferRateN) }},
	{"fcr", func(r *ExportRow) string { return fcell(r.FCR) }},
	{"fcr_n", func(r *ExportRow) string { return icell(r.FCRN) }},
	{"fcr_provisional", func(r *ExportRow) string { return bcell(r.FCRProvisional) }},
	{"repeat_rate", func(r *ExportRow) string { return fcell(r.RepeatRate) }},
	{"repeat_rate_n", func(r *ExportRow) string { return icell(r.RepeatRateN) }},
	{"csat", func(r *ExportRow) string { return fcell(r.CSAT) }},
	{"csat_n", func(r *ExportRow) string { return icell(r.CSATN) }},
	{"nps", func(r *ExportRow) string { return fcell(r.NPS) }},
	{"nps_n", func(r *ExportRow) string { return icell(r.NPSN) }},
	{"continuity_rate", func(r *ExportRow) string { return fcell(r.ContinuityRate) }},
	{"continuity_rate_n", func(r *ExportRow) string { return icell(r.ContinuityRateN) }},
	{"home_team_share", func(r *ExportRow) string { return fcell(r.HomeTeamShare) }},
	{"home_team_share_n", func(r *ExportRow) string { return icell(r.HomeTeamShareN) }},
	{"individual_score", func(r *ExportRow) string { return fcell(r.IndividualScore) }},
	{"team_score", func(r *ExportRow) string { return fcell(r.TeamScore) }},
	{"blended_score", func(r *ExportRow) string { return fcell(r.BlendedScore) }},
	{"employee_id", func(r *ExportRow) string { return r.EmployeeID }},
	{"site", func(r *ExportRow) string { return r.Site }},
	{"period", func(r *ExportRow) string { return r.Period }},
	{"formula_version", func(r *ExportRow) string { return r.FormulaVersion }},
}

// ExportColumns returns the CSV header of an export.
func ExportColumns() []string {
	names := make([]string, len(columns))
	for i, c := range columns {
		names[i] = c.name
	}
	return names
}

// Export formats.
const (
	FormatCSV   = "csv"
	FormatJSONL = "jsonl"
)

// RowWriter writes export rows as CSV (RFC 4180, with a header row even
// when there are no rows) or JSON Lines (null for no sample).
type RowWriter struct {
	format string
	csv    *csv.Writer
	buf    *bufio.Writer
	enc    *json.Encoder
	header bool
}

// NewRowWriter returns a writer of format FormatCSV or FormatJSONL.
func NewRowWriter(w io.Writer, format string) (*RowWriter, error) {
	rw := &RowWriter{format: format}
	switch format {
	case FormatCSV:
		rw.csv = csv.NewWriter(w)
	case FormatJSONL:
		rw.buf = bufio.NewWriter(w)
		rw.enc = json.NewEncoder(rw.buf)
		rw.enc.SetEscapeHTML(false)
	default:
		return nil, fmt.Errorf("unknown export format %q (want csv or jsonl)", format)
	}
	return rw, nil
}

func (rw *RowWriter) writeHeader() error {
	if rw.csv == nil || rw.header {
		return nil
	}
	rw.header = true
	return rw.csv.Write(ExportColumns())
}

// Write writes rows.
func (rw *RowWriter) Write(rows []ExportRow) error {
	if err := rw.writeHeader(); err != nil {
		return err
	}
	rec := make([]string, len(columns))
	for i := range rows {
		if rw.enc != nil {
			if err := rw.enc.Encode(&rows[i]); err != nil {
				return err
			}
			continue
		}
		for k, c := range columns {
			rec[k] = c.cell(&rows[i])
		}
		if err := rw.csv.Write(rec); err != nil {
			return err
		}
	}
	return nil
}

// Flush writes what is buffered (and the CSV header of an empty export).
func (rw *RowWriter) Flush() error {
	if err := rw.writeHeader(); err != nil {
		return err
	}
	if rw.csv != nil {
		rw.csv.Flush()
		return rw.csv.Error()
	}
	return rw.buf.Flush()
}

// ExportTotal is the number of rows an export of any period has: one per
// agent of the org.
func (a *Aggregator) ExportTotal() int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return len(a.exportOrder)
}

// Export returns rows [offset, offset+limit) of the export of period p, as
// of now, in the order team id, then agent id, and the total row count.
// team, when not empty, keeps only that team's agents.
func (a *Aggregator) Export(p Period, now time.Time, team string, offset, limit int) ([]ExportRow, int, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	order := a.exportOrder
	if team != "" {
		if _, ok := a.org.Team(team); !ok {
			return nil, 0, fmt.Errorf("%w %q", ErrUnknownTeam, team)
		}
		order = a.teamAgents[team]
	}
	total := len(order)
	offset = max(offset, 0)
	end := min(total, offset+max(limit, 0))
	if offset >= end {
		return []ExportRow{}, total, nil
	}
	rows := make([]ExportRow, 0, end-offset)
	var (
		rep    *Report
		byID   map[string]*AgentRow
		repFor string
	)
	for _, ag := range order[offset:end] {
		if rep == nil || repFor != ag.Team {
			t, ok := a.org.Team(ag.Team)
			if !ok {
				continue // the org loader refuses agents on unknown teams
			}
			rep, repFor = a.queryLocked(t, p, now), ag.Team
			byID = make(map[string]*AgentRow, len(rep.Agents))
			for k := range rep.Agents {
				byID[rep.Agents[k].Agent] = &rep.Agents[k]
			}
		}
		rows = append(rows, ExportRow{AgentRow: *byID[ag.ID], EmployeeID: ag.HREmployeeID(),
			Site: rep.Team.Site, Period: p.Label, FormulaVersion: FormulaVersion})
	}
	return rows, total, nil
}
