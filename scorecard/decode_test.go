package scorecard

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParsePeriod(t *testing.T) {
	for _, tc := range []struct {
		in, label, from, to string // to is exclusive
	}{
		{"2026-W47", "2026-W47", "2026-11-16", "2026-11-23"},
		{"2026-w01", "2026-W01", "2025-12-29", "2026-01-05"},
		{"2026-W53", "2026-W53", "2026-12-28", "2027-01-04"},
		{"2027-W01", "2027-W01", "2027-01-04", "2027-01-11"},
		{"2026-11", "2026-11", "2026-11-01", "2026-12-01"},
		{"2026-12", "2026-12", "2026-12-01", "2027-01-01"},
		{"2024-02-29", "2024-02-29", "2024-02-29", "2024-03-01"},
	} {
		p, err := ParsePeriod(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		got := []string{p.Label, p.From.Format(time.DateOnly), p.To.Format(time.DateOnly)}
		if d := diff([]string{tc.label, tc.from, tc.to}, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.in, d)
		}
	}
	for _, bad := range []string{"", "2026", "2026-W54", "2027-W53", "2026-W00", "2026-13", "2026-00", "2026-02-30",
		"2026-W7", "26-11", "2026/11", "+026-11", "2026-1a", "9999-W01", "2026-11-23T00:00:00Z", "W47"} {
		if _, err := ParsePeriod(bad); !errors.Is(err, ErrBadPeriod) {
			t.Errorf("%q: err %v, want ErrBadPeriod", bad, err)
		}
	}
	if _, err := ParseRange("2026-11-30", "2026-11-01"); err == nil {
		t.Error("backward range accepted")
	}
	if _, err := ParseRange("1990-01-01", "2026-11-01"); err == nil {
		t.Error("36-year range accepted")
	}
	if p, err := ResolvePeriod("", "", "", ts("2026-11-22T23:59:59Z")); err != nil || p.Label != "2026-W47" {
		t.Errorf("default period %v %v", p.Label, err)
	}
	if _, err := ResolvePeriod("2026-11", "2026-11-01", "", time.Time{}); err == nil {
		t.Error("period with from accepted")
	}
}

func TestDecodeResolved(t *testing.T) {
	good := `{"contact_id": "c-1001", "customer_id": "acct-42", "market": "DET", "team": "CHA-DET", "agent": "det-001",
 "channel": "voice", "arrived_at": "2026-11-23T09:59:00Z", "answered_at": "2026-11-23T10:00:00Z", "ended_at": "2026-11-23T10:05:00Z",
 "wrapped_at": "2026-11-23T10:05:40Z", "wait_seconds": 12, "talk_seconds": 300, "hold_seconds": 35, "wrap_seconds": 40,
 "transferred": false, "resolved": true, "disposition": "billing-adjustment", "home_team": true,
 "continuity": "same_agent", "callback": false, "some_future_field": [1, 2]}`
	r, err := DecodeResolved([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if r.ContactID != "c-1001" || r.Resolved == nil || !*r.Resolved || r.HoldSeconds != 35 || r.Continuity != ContinuitySameAgent {
		t.Errorf("decoded %+v", r)
	}
	null, err := DecodeResolved([]byte(strings.Replace(good, `"resolved": true`, `"resolved": null`, 1)))
	if err != nil || null.Resolved != nil {
		t.Errorf("resolved null: %v %v", null.Resolved, err)
	}
	for name, in := range map[string]string{
		"not json":           `{"contact_id": `,
		"no contact_id":      `{"ended_at": "2026-11-23T10:05:00Z", "agent": "a"}`,
		"no ended_at":        `{"contact_id": "c", "agent": "a"}`,
		"no agent nor team":  `{"contact_id": "c", "ended_at": "2026-11-23T10:05:00Z"}`,
		"wrong type":         `{"contact_id": 7, "ended_at": "2026-11-23T10:05:00Z", "agent": "a"}`,
		"resolved as string": `{"contact_id": "c", "ended_at": "2026-11-23T10:05:00Z", "agent": "a", "resolved": "yes"}`,
		"bad time":           `{"contact_id": "c", "ended_at": "yesterday", "agent": "a"}`,
		"negative talk":      `{"contact_id": "c", "ended_at": "2026-11-23T10:05:00Z", "agent": "a", "talk_seconds": -1}`,
		"unknown continuity": `{"contact_id": "c", "ended_at": "2026-11-23T10:05:00Z", "agent": "a", "continuity": "psychic"}`,
		"arrived after end":  `{"contact_id": "c", "arrived_at": "2026-11-23T11:00:00Z", "ended_at": "2026-11-23T10:05:00Z", "agent": "a"}`,
		"year 9999":          `{"contact_id": "c", "ended_at": "9999-11-23T10:05:00Z", "agent": "a"}`,
	} {
		if _, err := DecodeResolved([]byte(in)); !errors.Is(err, ErrBadEvent) {
			t.Errorf("%s: err %v, want ErrBadEvent", name, err)
		}
	}
}

func TestDecodeSurvey(t *testing.T) {
	s, err := DecodeSurvey([]byte(`{"contact_id": "c-1001", "csat": 5}`))
	if err != nil || s.NPS != nil || *s.CSAT != 5 {
		t.Errorf("%+v %v", s, err)
	}
	for _, in := range []string{`{"csat": 5}`, `{"contact_id": "c", "csat": 0}`, `{"contact_id": "c", "nps": 11}`,
		`{"contact_id": "c", "csat": 4.5}`, `{"contact_id": "c", "nps": "9"}`, `[]`} {
		if _, err := DecodeSurvey([]byte(in)); !errors.Is(err, ErrBadEvent) {
			t.Errorf("%s: err %v, want ErrBadEvent", in, err)
		}
	}
}

// TestExportColumnsMatchJSON: the CSV header is the JSON field order, and
// null is an empty cell.
func TestExportColumnsMatchJSON(t *testing.T) {
	a := NewAggregator(testOrg())
	apply(t, a, contact("c1", "A", "det-001", "2026-11-16T10:00:00Z", func(r *Resolved) { r.Disposition = "a, \"quoted\"\nline" }))
	rows, total, err := a.Export(mustPeriod(t, "2026-W47"), closed, "", 0, 100)
	if err != nil || total != 4 || len(rows) != 4 {
		t.Fatalf("export: %d of %d, %v", len(rows), total, err)
	}
	// Order: team id, then agent id.
	var ids []string
	for _, r := range rows {
		ids = append(ids, r.Agent)
	}
	if d := diff([]string{"cle-001", "det-001", "det-002", "det-lead"}, ids); d != "" {
		t.Errorf("order (-want +got):\n%s", d)
	}
	b, _ := json.Marshal(rows[1])
	dec := json.NewDecoder(bytes.NewReader(b))
	var keys []string
	_, _ = dec.Token()
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var v json.RawMessage
		_ = dec.Decode(&v)
	}
	if d := diff(keys, ExportColumns()); d != "" {
		t.Errorf("CSV header vs JSON keys (-json +csv):\n%s", d)
	}
	var buf bytes.Buffer
	w, _ := NewRowWriter(&buf, FormatCSV)
	if err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(recs) != 5 {
		t.Fatalf("csv: %d records, %v", len(recs), err)
	}
	col := map[string]int{}
	for i, k := range recs[0] {
		col[k] = i
	}
	det001, lead := recs[2], recs[4]
	if det001[col["employee_id"]] != "E1" || det001[col["fcr"]] != "1" || det001[col["formula_version"]] != FormulaVersion ||
		lead[col["employee_id"]] != "det-lead" || lead[col["aht_seconds"]] != "" || lead[col["contacts"]] != "0" {
		t.Errorf("csv rows: %q / %q", det001, lead)
	}
	if strings.Contains(buf.String(), "acct") || strings.Contains(buf.String(), "quoted") {
		t.Error("export carries customer data")
	}
	// An empty export still has its header.
	buf.Reset()
	w, _ = NewRowWriter(&buf, FormatCSV)
	_ = w.Flush()
	if got := strings.TrimSpace(buf.String()); got != strings.Join(ExportColumns(), ",") {
		t.Errorf("empty export: %q", got)
	}
	// Pages.
	page, total, _ := a.Export(mustPeriod(t, "2026-W47"), closed, "", 3, 2)
	if total != 4 || len(page) != 1 || page[0].Agent != "det-lead" {
		t.Errorf("last page: %d rows of %d", len(page), total)
	}
	if _, _, err := a.Export(mustPeriod(t, "2026-W47"), closed, "NOPE", 0, 2); !errors.Is(err, ErrUnknownTeam) {
		t.Errorf("unknown team: %v", err)
	}
}
