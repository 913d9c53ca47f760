package scorecard

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Handler serves the scorecard over HTTP, for a desktop or a script:
//
//	GET /v1/scorecards/{team}?period=2026-W47   (or from=&to=; format=json|csv)
//	GET /v1/exports?period=2026-11&format=csv   (or from=&to=; format=csv|jsonl)
//
// The server mounts it at those paths and puts authentication in front.
// Failures are {"error": {"code", "message"}} with 400, 404 or 503.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/scorecards/{team}", s.httpScorecard)
	mux.HandleFunc("GET /v1/exports", s.httpExport)
	return mux
}

func httpError(w http.ResponseWriter, e ErrorReply) {
	status := http.StatusBadRequest
	switch e.Error.Code {
	case CodeUnknownTeam:
		status = http.StatusNotFound
	case CodeUnavailable:
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(e)
}

func (s *Service) httpScorecard(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format := q.Get("format")
	switch format {
	case "", "json":
		body, _ := json.Marshal(QueryRequest{Team: r.PathValue("team"), Period: q.Get("period"), From: q.Get("from"), To: q.Get("to")})
		res := s.queryReply(body, 0)
		if e, ok := res.(ErrorReply); ok {
			httpError(w, e)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(res)
	case FormatCSV:
		s.writeExport(w, r, FormatCSV, r.PathValue("team"))
	default:
		httpError(w, errorReply(CodeInvalidRequest, fmt.Sprintf("format %q: want json or csv", format)))
	}
}

func (s *Service) httpExport(w http.ResponseWriter, r *http.Request) {
	format := r.URL.Query().Get("format")
	if format == "" {
		format = FormatCSV
	}
	if format != FormatCSV && format != FormatJSONL {
		httpError(w, errorReply(CodeInvalidRequest, fmt.Sprintf("format %q: want csv or jsonl", format)))
		return
	}
	s.writeExport(w, r, format, "")
}

// writeExport streams every page of an export; the first page decides the
// status, so a bad request still gets a JSON error.
func (s *Service) writeExport(w http.ResponseWriter, r *http.Request, format, team string) {
	q := r.URL.Query()
	req := ExportRequest{Period: q.Get("period"), From: q.Get("from"), To: q.Get("to"), Team: team, Limit: DefaultExportPage}
	var rw *RowWriter
	for {
		body, _ := json.Marshal(req)
		res := s.exportReply(body, 0)
		page, ok := res.(ExportPage)
		if !ok {
			if rw == nil {
				httpError(w, res.(ErrorReply))
			}
			return // mid-stream the status is sent; a cut body is all we can say
		}
		if rw == nil {
			if format == FormatCSV {
				w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			} else {
				w.Header().Set("Content-Type", "application/x-ndjson")
			}
			w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "tex-export-"+page.Period+"."+format))
			w.Header().Set("X-Tex-Formula-Version", FormulaVersion)
			rw, _ = NewRowWriter(w, format)
			asOf := page.AsOf
			req.AsOf = &asOf
		}
		if err := rw.Write(page.Rows); err != nil {
			return
		}
		if page.Done || len(page.Rows) == 0 {
			break
		}
		req.Offset = page.NextOffset
	}
	if err := rw.Flush(); err != nil && !errors.Is(err, http.ErrHandlerTimeout) {
		s.log.Debug().Err(err).Msg("scorecard export write")
	}
}
