package scorecard

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrBadEvent is returned for an event the scorecard cannot count: bad
// JSON, a wrong type, a missing required field or a value out of range. The
// consumer logs it and moves on; it is never retried.
var ErrBadEvent = errors.New("bad scorecard event")

// Continuity values of ResolvedContact (PROTOCOL.md).
const (
	ContinuitySameAgent    = "same_agent"
	ContinuitySameTeam     = "same_team"
	ContinuityOtherTeam    = "other_team"
	ContinuityFirstContact = "first_contact"
)

// Resolved is the scorecard's view of a ResolvedContact (PROTOCOL.md): the
// record of one contact once it is wrapped up. The scorecard owns this type
// so that it depends on the wire contract, not on the router's structures;
// other systems (a CRM) may publish the same shape.
type Resolved struct {
	ContactID   string    `json:"contact_id"`
	CustomerID  string    `json:"customer_id"`
	Market      string    `json:"market"`
	Team        string    `json:"team"`
	Agent       string    `json:"agent"`
	Channel     string    `json:"channel"`
	ArrivedAt   time.Time `json:"arrived_at,omitzero"`
	AnsweredAt  time.Time `json:"answered_at,omitzero"`
	EndedAt     time.Time `json:"ended_at,omitzero"`
	WrappedAt   time.Time `json:"wrapped_at,omitzero"`
	WaitSeconds float64   `json:"wait_seconds"`
	TalkSeconds float64   `json:"talk_seconds"`
	HoldSeconds float64   `json:"hold_seconds"`
	WrapSeconds float64   `json:"wrap_seconds"`
	Transferred bool      `json:"transferred"`
	// Resolved is null when the wrap-up timer ended before the agent said.
	Resolved    *bool  `json:"resolved"`
	Disposition string `json:"disposition"`
	HomeTeam    bool   `json:"home_team"`
	Continuity  string `json:"continuity"`
	Callback    bool   `json:"callback"`
}

// Survey is a survey answer for one contact (PROTOCOL.md). CSAT is 1-5 and
// NPS 0-10; a missing one means no answer, never 0. AnsweredAt is an
// optional extension: when a contact gets two different answers, the later
// one wins (docs/scorecard.md).
type Survey struct {
	ContactID  string    `json:"contact_id"`
	CSAT       *int      `json:"csat"`
	NPS        *int      `json:"nps"`
	AnsweredAt time.Time `json:"answered_at,omitzero"`
}

func badEvent(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadEvent, fmt.Sprintf(format, args...))
}

// DecodeResolved decodes and checks a ResolvedContact. Unknown fields are
// ignored; wrong types, a missing contact_id or ended_at, negative
// durations, an unknown continuity and an arrival after the end are
// errors. A missing arrived_at defaults to answered_at, then ended_at.
func DecodeResolved(data []byte) (Resolved, error) {
	var r Resolved
	if err := json.Unmarshal(data, &r); err != nil {
		return Resolved{}, badEvent("resolved contact: %v", err)
	}
	if err := r.normalize(); err != nil {
		return Resolved{}, err
	}
	return r, nil
}

// normalize checks r and puts its times in UTC.
func (r *Resolved) normalize() error {
	if r.ContactID == "" {
		return badEvent("resolved contact: contact_id is missing")
	}
	if r.EndedAt.IsZero() {
		return badEvent("resolved contact %s: ended_at is missing", r.ContactID)
	}
	if r.Agent == "" && r.Team == "" {
		return badEvent("resolved contact %s: names neither agent nor team", r.ContactID)
	}
	for _, d := range []struct {
		name string
		v    float64
	}{{"wait_seconds", r.WaitSeconds}, {"talk_seconds", r.TalkSeconds}, {"hold_seconds", r.HoldSeconds}, {"wrap_seconds", r.WrapSeconds}} {
		if d.v < 0 || math.IsNaN(d.v) || math.IsInf(d.v, 0) {
			return badEvent("resolved contact %s: %s must be a number >= 0, got %v", r.ContactID, d.name, d.v)
		}
	}
	switch r.Continuity {
	case "", ContinuitySameAgent, ContinuitySameTeam, ContinuityOtherTeam, ContinuityFirstContact:
	default:
		return badEvent("resolved contact %s: unknown continuity %q (want same_agent, same_team, other_team or first_contact)", r.ContactID, r.Continuity)
	}
	r.ArrivedAt, r.AnsweredAt, r.EndedAt, r.WrappedAt = utc(r.ArrivedAt), utc(r.AnsweredAt), utc(r.EndedAt), utc(r.WrappedAt)
	if r.ArrivedAt.IsZero() {
		r.ArrivedAt = r.AnsweredAt
		if r.ArrivedAt.IsZero() {
			r.ArrivedAt = r.EndedAt
		}
	}
	if r.ArrivedAt.After(r.EndedAt) {
		return badEvent("resolved contact %s: arrived_at %s is after ended_at %s", r.ContactID,
			r.ArrivedAt.Format(time.RFC3339), r.EndedAt.Format(time.RFC3339))
	}
	// Keep the times inside what UnixNano can hold, which the aggregates use.
	for _, t := range []time.Time{r.ArrivedAt, r.EndedAt, r.WrappedAt} {
		if !t.IsZero() && (t.Year() < 1900 || t.Year() > 2200) {
			return badEvent("resolved contact %s: time %s is out of range", r.ContactID, t.Format(time.RFC3339))
		}
	}
	return nil
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// DecodeSurvey decodes and checks a Survey. A csat outside 1-5 or an nps
// outside 0-10 rejects the whole survey: an answer that cannot be right
// casts doubt on the other one too.
func DecodeSurvey(data []byte) (Survey, error) {
	var s Survey
	if err := json.Unmarshal(data, &s); err != nil {
		return Survey{}, badEvent("survey: %v", err)
	}
	if err := s.normalize(); err != nil {
		return Survey{}, err
	}
	return s, nil
}

func (s *Survey) normalize() error {
	if s.ContactID == "" {
		return badEvent("survey: contact_id is missing")
	}
	if s.CSAT != nil && (*s.CSAT < 1 || *s.CSAT > 5) {
		return badEvent("survey %s: csat must be 1-5, got %d", s.ContactID, *s.CSAT)
	}
	if s.NPS != nil && (*s.NPS < 0 || *s.NPS > 10) {
		return badEvent("survey %s: nps must be 0-10, got %d", s.ContactID, *s.NPS)
	}
	s.AnsweredAt = utc(s.AnsweredAt)
	if !s.AnsweredAt.IsZero() && (s.AnsweredAt.Year() < 1900 || s.AnsweredAt.Year() > 2200) {
		return badEvent("survey %s: answered_at is out of range", s.ContactID)
	}
	return nil
}
