package scorecard

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzDecodeResolved: decoding never panics; what it accepts is sane,
// survives a round trip, and applies to an aggregator without error.
func FuzzDecodeResolved(f *testing.F) {
	f.Add([]byte(`{"contact_id":"c-1","customer_id":"a","market":"DET","team":"CHA-DET","agent":"det-001","arrived_at":"2026-11-23T10:00:00Z","ended_at":"2026-11-23T10:05:00Z","wrapped_at":"2026-11-23T10:06:00Z","talk_seconds":300,"resolved":true,"continuity":"same_agent"}`))
	f.Add([]byte(`{"contact_id":"c-2","agent":"x","ended_at":"2026-11-23T10:05:00+05:00","resolved":null}`))
	f.Add([]byte(`{"contact_id":"","ended_at":"2026-11-23T10:05:00Z"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeResolved(data)
		if err != nil {
			return
		}
		if r.ContactID == "" || r.EndedAt.IsZero() || r.ArrivedAt.After(r.EndedAt) || r.EndedAt.Location() != time.UTC {
			t.Fatalf("accepted %+v", r)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := DecodeResolved(b)
		if err != nil {
			t.Fatalf("round trip of %s: %v", b, err)
		}
		if !r2.EndedAt.Equal(r.EndedAt) || r2.ContactID != r.ContactID {
			t.Fatalf("round trip changed %+v to %+v", r, r2)
		}
		a := NewAggregator(testOrg())
		if _, err := a.ApplyResolved(r); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Query("CHA-DET", WeekOf(r.EndedAt), r.EndedAt); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzDecodeSurvey: decoding never panics; what it accepts is in range.
func FuzzDecodeSurvey(f *testing.F) {
	f.Add([]byte(`{"contact_id":"c-1","csat":5,"nps":9}`))
	f.Add([]byte(`{"contact_id":"c-1","nps":0,"answered_at":"2026-11-30T08:00:00Z"}`))
	f.Add([]byte(`{"contact_id":"c-1","csat":6}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeSurvey(data)
		if err != nil {
			return
		}
		if s.ContactID == "" || (s.CSAT != nil && (*s.CSAT < 1 || *s.CSAT > 5)) || (s.NPS != nil && (*s.NPS < 0 || *s.NPS > 10)) {
			t.Fatalf("accepted %+v", s)
		}
		a := NewAggregator(testOrg())
		if _, err := a.ApplySurvey(s); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzParsePeriod: a parsed period is whole UTC days, and its label parses
// back to the same period.
func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"2026-W47", "2026-W53", "2026-11", "2026-11-23", "2026-W00", "2026-13", "0000-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePeriod(s)
		if err != nil {
			return
		}
		if !p.From.Before(p.To) || p.From.Location() != time.UTC || p.From.Truncate(day) != p.From || p.To.Truncate(day) != p.To {
			t.Fatalf("%q: bad period %+v", s, p)
		}
		if n := p.Days(); n != 1 && n != 7 && (n < 28 || n > 31) {
			t.Fatalf("%q: %d days", s, n)
		}
		q, err := ParsePeriod(p.Label)
		if err != nil || q != p {
			t.Fatalf("%q: label %q parses to %+v, %v", s, p.Label, q, err)
		}
	})
}
