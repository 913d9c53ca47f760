package scorecard

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Error codes of PROTOCOL.md "Ack and errors", plus unknown_team.
const (
	CodeInvalidRequest = "invalid_request"
	CodeUnknownTeam    = "unknown_team"
	CodeUnavailable    = "unavailable"
)

// ErrorBody is the body of a failure: {"error": {"code", "message"}}.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ErrorReply is the reply for every failure, on NATS and HTTP alike.
type ErrorReply struct {
	Error ErrorBody `json:"error"`
}

func errorReply(code, msg string) ErrorReply {
	return ErrorReply{Error: ErrorBody{Code: code, Message: msg}}
}

// QueryRequest asks for a team's scorecard on <prefix>.scorecard.query:
// either period (2026-W47, 2026-11, 2026-11-23) or from and to (UTC dates,
// both included). With neither, the current ISO week.
type QueryRequest struct {
	Team   string `json:"team"`
	Period string `json:"period,omitempty"`
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
}

// ExportRequest asks for one page of an HR export on
// <prefix>.scorecard.export. Team, when set, keeps only that team. AsOf,
// when set, is the "now" of the report: a client sends back the as_of of
// its first page so that every page judges provisional FCR alike.
type ExportRequest struct {
	Period string     `json:"period,omitempty"`
	From   string     `json:"from,omitempty"`
	To     string     `json:"to,omitempty"`
	Team   string     `json:"team,omitempty"`
	Offset int        `json:"offset"`
	Limit  int        `json:"limit"`
	AsOf   *time.Time `json:"as_of,omitempty"`
}

// ExportPage is one page of an export. The next page starts at
// NextOffset; Done is true on the last page.
type ExportPage struct {
	FormulaVersion string      `json:"formula_version"`
	Period         string      `json:"period"`
	AsOf           time.Time   `json:"as_of"`
	Total          int         `json:"total"`
	Offset         int         `json:"offset"`
	NextOffset     int         `json:"next_offset"`
	Done           bool        `json:"done"`
	Rows           []ExportRow `json:"rows"`
}

// ResolvePeriod picks the period of a request: period, or from and to, or
// by default the ISO week that holds now. The error names the bad field.
func ResolvePeriod(period, from, to string, now time.Time) (Period, error) {
	switch {
	case period != "" && (from != "" || to != ""):
		return Period{}, fmt.Errorf("%w: give period, or from and to, not both", ErrBadPeriod)
	case period != "":
		p, err := ParsePeriod(period)
		if err != nil {
			return Period{}, fmt.Errorf("period: %w", err)
		}
		return p, nil
	case from != "" || to != "":
		if from == "" || to == "" {
			return Period{}, fmt.Errorf("%w: from and to go together", ErrBadPeriod)
		}
		return ParseRange(from, to)
	}
	return WeekOf(now), nil
}

func (s *Service) notReady() (ErrorReply, bool) {
	if s.ready.Load() {
		return ErrorReply{}, false
	}
	return errorReply(CodeUnavailable, fmt.Sprintf("the scorecard is still reading the event stream (at sequence %d); try again shortly",
		s.agg.Load().LastSeq())), true
}

// queryReply answers a QueryRequest with a Report or an ErrorReply.
func (s *Service) queryReply(data []byte, _ int) any {
	var req QueryRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return errorReply(CodeInvalidRequest, "scorecard query: "+err.Error())
	}
	if req.Team == "" {
		return errorReply(CodeInvalidRequest, "scorecard query: team is missing")
	}
	if e, bad := s.notReady(); bad {
		return e
	}
	now := s.o.now()
	p, err := ResolvePeriod(req.Period, req.From, req.To, now)
	if err != nil {
		return errorReply(CodeInvalidRequest, "scorecard query: "+err.Error())
	}
	rep, err := s.agg.Load().Query(req.Team, p, now)
	if errors.Is(err, ErrUnknownTeam) {
		return errorReply(CodeUnknownTeam, fmt.Sprintf("scorecard query: the org has no team %q (its teams: %s)", req.Team, s.org.Load().KnownTeams()))
	}
	if err != nil {
		return errorReply(CodeUnavailable, err.Error())
	}
	return rep
}

// exportReply answers an ExportRequest with an ExportPage or an
// ErrorReply. maxPayload bounds the encoded reply: a page that would not
// fit in one NATS message is cut, and the client asks for the rest.
func (s *Service) exportReply(data []byte, maxPayload int) any {
	var req ExportRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return errorReply(CodeInvalidRequest, "scorecard export: "+err.Error())
	}
	if req.Offset < 0 || req.Limit < 0 {
		return errorReply(CodeInvalidRequest, "scorecard export: offset and limit must be >= 0")
	}
	if e, bad := s.notReady(); bad {
		return e
	}
	now := s.o.now()
	if req.AsOf != nil {
		now = *req.AsOf
	}
	p, err := ResolvePeriod(req.Period, req.From, req.To, now)
	if err != nil {
		return errorReply(CodeInvalidRequest, "scorecard export: "+err.Error())
	}
	limit := req.Limit
	if limit == 0 {
		limit = DefaultExportPage
	}
	limit = min(limit, MaxExportPage)
	for {
		rows, total, err := s.agg.Load().Export(p, now, req.Team, req.Offset, limit)
		if errors.Is(err, ErrUnknownTeam) {
			return errorReply(CodeUnknownTeam, fmt.Sprintf("scorecard export: the org has no team %q (its teams: %s)", req.Team, s.org.Load().KnownTeams()))
		}
		if err != nil {
			return errorReply(CodeUnavailable, err.Error())
		}
		page := ExportPage{FormulaVersion: FormulaVersion, Period: p.Label, AsOf: now.UTC(), Total: total,
			Offset: req.Offset, Rows: rows}
		page.NextOffset = min(req.Offset+len(rows), total)
		page.Done = page.NextOffset >= total
		if maxPayload <= 0 || len(rows) <= 1 {
			return page
		}
		if b, err := json.Marshal(page); err == nil && len(b) <= maxPayload {
			return page
		}
		limit = len(rows) / 2
	}
}
