package router

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The payloads of every command (replies, decisions, state changes) have
// AppendJSON methods: encoding/json reflected over them took about 7 µs a
// command at 10,000 commands a second, most of it on the writer's path.
// Each writes exactly the bytes json.Marshal writes for the value
// (encode_test.go checks that over random values), so readers see no
// difference; json.Marshal stays the encoder everywhere else.

var errNotFinite = errors.New("json: unsupported value: NaN or ±Inf")

// AppendJSON appends the decision as JSON.
func (d *Decision) AppendJSON(b []byte) ([]byte, error) {
	var err error
	b = appendStringField(b, `{"contact_id":`, d.ContactID)
	if b, err = appendTimeField(b, `,"at":`, d.At); err != nil {
		return b, err
	}
	b = appendStringField(b, `,"trigger":`, d.Trigger)
	b = appendStringField(b, `,"market":`, d.Market)
	b = appendStringField(b, `,"matched_by":`, d.MatchedBy)
	b = appendStringField(b, `,"team":`, d.Team)
	b = appendStringField(b, `,"outcome":`, d.Outcome)
	if d.Agent != "" {
		b = appendStringField(b, `,"agent":`, d.Agent)
	}
	if d.Step != "" {
		b = appendStringField(b, `,"step":`, d.Step)
	}
	if len(d.Steps) > 0 {
		b = append(b, `,"steps":[`...)
		for i := range d.Steps {
			if i > 0 {
				b = append(b, ',')
			}
			b = d.Steps[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	if len(d.Candidates) > 0 {
		b = append(b, `,"candidates":[`...)
		for i := range d.Candidates {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = d.Candidates[i].appendJSON(b); err != nil {
				return b, err
			}
		}
		b = append(b, ']')
	}
	if len(d.Skipped) > 0 {
		b = appendSkips(append(b, `,"skipped":`...), d.Skipped)
	}
	if d.Position != 0 {
		b = appendIntField(b, `,"position":`, d.Position)
	}
	if d.EWTSeconds != nil {
		if b, err = appendFloatField(b, `,"ewt_seconds":`, *d.EWTSeconds); err != nil {
			return b, err
		}
	}
	if d.Callback {
		b = append(b, `,"callback":true`...)
	}
	if k := d.KnownAgent; k != nil {
		b = appendStringField(b, `,"known_agent":{"agent":`, k.Agent)
		if b, err = appendFloatPtrField(b, `,"expected_wait_seconds":`, k.ExpectedWaitSeconds); err != nil {
			return b, err
		}
		b = append(appendStringField(b, `,"choice":`, k.Choice), '}')
	}
	if d.Considered != 0 {
		b = appendIntField(b, `,"contacts_considered":`, d.Considered)
	}
	if d.Policy != "" {
		b = appendStringField(b, `,"policy":`, d.Policy)
	}
	if w := d.Weights; w != nil {
		if b, err = appendFloatField(b, `,"weights":{"continuity":`, w.Continuity); err != nil {
			return b, err
		}
		if b, err = appendFloatField(b, `,"skill":`, w.Skill); err != nil {
			return b, err
		}
		if b, err = appendFloatField(b, `,"fairness":`, w.Fairness); err != nil {
			return b, err
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

func (s *StepTrace) appendJSON(b []byte) []byte {
	b = appendStringField(b, `{"step":`, s.Step)
	if len(s.Teams) > 0 {
		b = append(b, `,"teams":[`...)
		for i, t := range s.Teams {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, t)
		}
		b = append(b, ']')
	}
	b = appendBoolField(b, `,"open":`, s.Open)
	b = appendBoolField(b, `,"viable":`, s.Viable)
	b = appendIntField(b, `,"considered":`, s.Considered)
	b = appendIntField(b, `,"eligible":`, s.Eligible)
	if len(s.Skipped) > 0 {
		b = appendSkips(append(b, `,"skipped":`...), s.Skipped)
	}
	return append(b, '}')
}

func appendSkips(b []byte, skips []SkipCount) []byte {
	b = append(b, '[')
	for i, s := range skips {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendStringField(b, `{"reason":`, string(s.Reason))
		b = append(appendIntField(b, `,"count":`, s.Count), '}')
	}
	return append(b, ']')
}

func (c *Candidate) appendJSON(b []byte) ([]byte, error) {
	b = appendStringField(b, `{"agent":`, c.Agent)
	b = appendStringField(b, `,"team":`, c.Team)
	for _, f := range [...]struct {
		key string
		v   float64
	}{{`,"score":`, c.Score}, {`,"continuity":`, c.Continuity}, {`,"skill":`, c.Skill}, {`,"fairness":`, c.Fairness}, {`,"load":`, c.Load}} {
		var err error
		if b, err = appendFloatField(b, f.key, f.v); err != nil {
			return b, err
		}
	}
	b = appendBoolField(b, `,"load_capped":`, c.LoadCapped)
	b, err := appendFloatField(b, `,"idle_seconds":`, c.IdleSecs)
	if err != nil {
		return b, err
	}
	b = appendBoolField(b, `,"chosen":`, c.Chosen)
	return append(b, '}'), nil
}

// AppendJSON appends the reply as JSON, in the shape its MarshalJSON gives.
func (r *RouteReply) AppendJSON(b []byte) ([]byte, error) {
	b = appendStringField(b, `{"contact_id":`, r.ContactID)
	b = appendStringField(b, `,"status":`, r.Status)
	b = appendStringField(b, `,"state":`, r.State)
	b = appendStringField(b, `,"market":`, r.Market)
	b = appendStringField(b, `,"team":`, r.Team)
	if r.Agent != "" {
		b = appendStringField(b, `,"agent":`, r.Agent)
	}
	if r.Endpoint != "" {
		b = appendStringField(b, `,"endpoint":`, r.Endpoint)
	}
	if !r.OfferExpiresAt.IsZero() {
		var err error
		if b, err = appendTimeField(b, `,"offer_expires_at":`, r.OfferExpiresAt); err != nil {
			return b, err
		}
	}
	b = appendStringField(b, `,"matched_by":`, r.MatchedBy)
	if r.Step != "" {
		b = appendStringField(b, `,"step":`, r.Step)
	}
	if r.Status == StatusQueued {
		b = appendIntField(b, `,"position":`, r.Position)
		var err error
		if b, err = appendFloatPtrField(b, `,"ewt_seconds":`, r.EWTSeconds); err != nil {
			return b, err
		}
		b = appendBoolField(b, `,"callback_offered":`, r.CallbackOffered)
		b = appendBoolField(b, `,"callback":`, r.Callback)
	}
	return append(b, '}'), nil
}

// AppendJSON appends the change as JSON.
func (c *ContactStateChange) AppendJSON(b []byte) ([]byte, error) {
	b = appendStringField(b, `{"contact_id":`, c.ContactID)
	b = appendStringField(b, `,"market":`, c.Market)
	b = appendStringField(b, `,"team":`, c.Team)
	b = appendStringField(b, `,"state":`, c.State)
	if c.Prev != "" {
		b = appendStringField(b, `,"prev":`, c.Prev)
	}
	if c.Agent != "" {
		b = appendStringField(b, `,"agent":`, c.Agent)
	}
	if c.Reason != "" {
		b = appendStringField(b, `,"reason":`, c.Reason)
	}
	b, err := appendTimeField(b, `,"at":`, c.At)
	return append(b, '}'), err
}

// AppendJSON appends the change as JSON.
func (c *AgentStateChange) AppendJSON(b []byte) ([]byte, error) {
	b = appendStringField(b, `{"agent_id":`, c.AgentID)
	b = appendStringField(b, `,"team":`, c.Team)
	b = appendStringField(b, `,"state":`, c.State)
	b = appendStringField(b, `,"prev":`, c.Prev)
	if c.Reason != "" {
		b = appendStringField(b, `,"reason":`, c.Reason)
	}
	b, err := appendTimeField(b, `,"at":`, c.At)
	return append(b, '}'), err
}

// AppendJSON appends the reply as JSON.
func (r *ContactEventReply) AppendJSON(b []byte) ([]byte, error) {
	b = appendBoolField(b, `{"ok":`, r.OK)
	b = appendStringField(b, `,"contact_id":`, r.ContactID)
	b = appendStringField(b, `,"state":`, r.State)
	return append(b, '}'), nil
}

// AppendJSON appends the reply as JSON.
func (r *AgentStateReply) AppendJSON(b []byte) ([]byte, error) {
	b = appendBoolField(b, `{"ok":`, r.OK)
	b = appendStringField(b, `,"agent_id":`, r.AgentID)
	b = appendStringField(b, `,"state":`, r.State)
	if r.Pending != "" {
		b = appendStringField(b, `,"pending":`, r.Pending)
	}
	b = appendBoolField(b, `,"changed":`, r.Changed)
	return append(b, '}'), nil
}

// Appends says whether the event's payload has an AppendJSON; for the
// others, json.Marshal(e.Payload()).
func (e *Event) Appends() bool {
	return e.Kind == KindDecision || e.Kind == KindContactState || e.Kind == KindAgentState
}

// AppendJSON appends the event's payload as JSON, if Appends.
func (e *Event) AppendJSON(b []byte) ([]byte, error) {
	switch e.Kind {
	case KindDecision:
		return e.Decision.AppendJSON(b)
	case KindContactState:
		return e.ContactState.AppendJSON(b)
	case KindAgentState:
		return e.AgentState.AppendJSON(b)
	}
	return b, fmt.Errorf("router: %s events have no AppendJSON", e.Kind)
}

func appendStringField(b []byte, key, s string) []byte {
	return appendString(append(b, key...), s)
}

func appendIntField(b []byte, key string, n int) []byte {
	return strconv.AppendInt(append(b, key...), int64(n), 10)
}

func appendBoolField(b []byte, key string, v bool) []byte {
	return strconv.AppendBool(append(b, key...), v)
}

func appendFloatField(b []byte, key string, f float64) ([]byte, error) {
	return appendFloat(append(b, key...), f)
}

func appendFloatPtrField(b []byte, key string, f *float64) ([]byte, error) {
	if f == nil {
		return append(append(b, key...), "null"...), nil
	}
	return appendFloatField(b, key, *f)
}

func appendTimeField(b []byte, key string, t time.Time) ([]byte, error) {
	b = append(append(b, key...), '"')
	b, err := t.AppendText(b)
	return append(b, '"'), err
}

// appendFloat writes f as encoding/json does: the shortest decimal that
// reads back as f, in exponent form only below 1e-6 or from 1e21, with
// the exponent's leading zero dropped.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, errNotFinite
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if n := len(b); format == 'e' && n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
		b[n-2] = b[n-1]
		b = b[:n-1]
	}
	return b, nil
}

const hexDigits = "0123456789abcdef"

// plainASCII marks the ASCII bytes a JSON string holds as they are.
var plainASCII = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = !strings.ContainsRune(`"\<>&`, rune(c))
	}
	return t
}()

// appendString writes s as a JSON string as encoding/json does: with <, >
// and & escaped for HTML, U+2028 and U+2029 escaped for JavaScript, and
// invalid UTF-8 replaced by U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	done := 0 // s[:done] is written
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plainASCII[c] {
				i++
				continue
			}
			b = append(b, s[done:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, `\b`...)
			case '\f':
				b = append(b, `\f`...)
			case '\n':
				b = append(b, `\n`...)
			case '\r':
				b = append(b, `\r`...)
			case '\t':
				b = append(b, `\t`...)
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			done = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(append(b, s[done:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(append(b, s[done:i]...), '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		done = i
	}
	return append(append(b, s[done:]...), '"')
}
