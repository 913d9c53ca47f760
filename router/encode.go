package router

import (
	"errors"
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

// jsonWriter appends an object's fields. Each key carries what goes before
// it (`{` or `,`) and its colon. The first value json.Marshal would refuse
// (NaN, ±Inf, a time past year 9999) is kept as err, and done returns it.
type jsonWriter struct {
	b   []byte
	err error
}

func (w *jsonWriter) raw(s string) { w.b = append(w.b, s...) }

func (w *jsonWriter) str(key, s string) { w.b = appendString(append(w.b, key...), s) }

// optStr is a string field with omitempty.
func (w *jsonWriter) optStr(key, s string) {
	if s != "" {
		w.str(key, s)
	}
}

func (w *jsonWriter) int(key string, n int) {
	w.b = strconv.AppendInt(append(w.b, key...), int64(n), 10)
}

func (w *jsonWriter) bool(key string, v bool) { w.b = strconv.AppendBool(append(w.b, key...), v) }

func (w *jsonWriter) float(key string, f float64) {
	var err error
	w.b, err = appendFloat(append(w.b, key...), f)
	w.keep(err)
}

// floatPtr writes null for nil.
func (w *jsonWriter) floatPtr(key string, f *float64) {
	if f == nil {
		w.raw(key)
		w.raw("null")
		return
	}
	w.float(key, *f)
}

func (w *jsonWriter) time(key string, t time.Time) {
	var err error
	w.b, err = t.AppendText(append(append(w.b, key...), '"'))
	w.b = append(w.b, '"')
	w.keep(err)
}

func (w *jsonWriter) keep(err error) {
	if w.err == nil {
		w.err = err
	}
}

// list writes `key[` then n elements by elem, comma-separated, then `]`.
func (w *jsonWriter) list(key string, n int, elem func(i int)) {
	w.raw(key)
	w.raw("[")
	for i := range n {
		if i > 0 {
			w.raw(",")
		}
		elem(i)
	}
	w.raw("]")
}

// done closes the object.
func (w *jsonWriter) done() ([]byte, error) { return append(w.b, '}'), w.err }

// AppendJSON appends the decision as JSON.
func (d *Decision) AppendJSON(b []byte) ([]byte, error) {
	w := jsonWriter{b: b}
	w.str(`{"contact_id":`, d.ContactID)
	w.time(`,"at":`, d.At)
	w.str(`,"trigger":`, d.Trigger)
	w.str(`,"market":`, d.Market)
	w.str(`,"matched_by":`, d.MatchedBy)
	w.str(`,"team":`, d.Team)
	w.str(`,"outcome":`, d.Outcome)
	w.optStr(`,"agent":`, d.Agent)
	w.optStr(`,"step":`, d.Step)
	if len(d.Steps) > 0 {
		w.list(`,"steps":`, len(d.Steps), func(i int) { d.Steps[i].appendJSON(&w) })
	}
	if len(d.Candidates) > 0 {
		w.list(`,"candidates":`, len(d.Candidates), func(i int) { d.Candidates[i].appendJSON(&w) })
	}
	if len(d.Skipped) > 0 {
		appendSkips(&w, `,"skipped":`, d.Skipped)
	}
	if d.Position != 0 {
		w.int(`,"position":`, d.Position)
	}
	if d.EWTSeconds != nil {
		w.float(`,"ewt_seconds":`, *d.EWTSeconds)
	}
	if d.Callback {
		w.raw(`,"callback":true`)
	}
	if k := d.KnownAgent; k != nil {
		w.str(`,"known_agent":{"agent":`, k.Agent)
		w.floatPtr(`,"expected_wait_seconds":`, k.ExpectedWaitSeconds)
		w.str(`,"choice":`, k.Choice)
		w.raw("}")
	}
	if d.Considered != 0 {
		w.int(`,"contacts_considered":`, d.Considered)
	}
	w.optStr(`,"policy":`, d.Policy)
	if v := d.Weights; v != nil {
		w.float(`,"weights":{"continuity":`, v.Continuity)
		w.float(`,"skill":`, v.Skill)
		w.float(`,"fairness":`, v.Fairness)
		w.raw("}")
	}
	return w.done()
}

func (s *StepTrace) appendJSON(w *jsonWriter) {
	w.str(`{"step":`, s.Step)
	if len(s.Teams) > 0 {
		w.list(`,"teams":`, len(s.Teams), func(i int) { w.b = appendString(w.b, s.Teams[i]) })
	}
	w.bool(`,"open":`, s.Open)
	w.bool(`,"viable":`, s.Viable)
	w.int(`,"considered":`, s.Considered)
	w.int(`,"eligible":`, s.Eligible)
	if len(s.Skipped) > 0 {
		appendSkips(w, `,"skipped":`, s.Skipped)
	}
	w.raw("}")
}

func appendSkips(w *jsonWriter, key string, skips []SkipCount) {
	w.list(key, len(skips), func(i int) {
		w.str(`{"reason":`, string(skips[i].Reason))
		w.int(`,"count":`, skips[i].Count)
		w.raw("}")
	})
}

func (c *Candidate) appendJSON(w *jsonWriter) {
	w.str(`{"agent":`, c.Agent)
	w.str(`,"team":`, c.Team)
	w.float(`,"score":`, c.Score)
	w.float(`,"continuity":`, c.Continuity)
	w.float(`,"skill":`, c.Skill)
	w.float(`,"fairness":`, c.Fairness)
	w.float(`,"load":`, c.Load)
	w.bool(`,"load_capped":`, c.LoadCapped)
	w.float(`,"idle_seconds":`, c.IdleSecs)
	w.bool(`,"chosen":`, c.Chosen)
	w.raw("}")
}

// AppendJSON appends the reply as JSON, in the shape its MarshalJSON gives.
func (r *RouteReply) AppendJSON(b []byte) ([]byte, error) {
	w := jsonWriter{b: b}
	w.str(`{"contact_id":`, r.ContactID)
	w.str(`,"status":`, r.Status)
	w.str(`,"state":`, r.State)
	w.str(`,"market":`, r.Market)
	w.str(`,"team":`, r.Team)
	w.optStr(`,"agent":`, r.Agent)
	w.optStr(`,"endpoint":`, r.Endpoint)
	if !r.OfferExpiresAt.IsZero() {
		w.time(`,"offer_expires_at":`, r.OfferExpiresAt)
	}
	w.str(`,"matched_by":`, r.MatchedBy)
	w.optStr(`,"step":`, r.Step)
	if r.Status == StatusQueued {
		w.int(`,"position":`, r.Position)
		w.floatPtr(`,"ewt_seconds":`, r.EWTSeconds)
		w.bool(`,"callback_offered":`, r.CallbackOffered)
		w.bool(`,"callback":`, r.Callback)
	}
	return w.done()
}

// AppendJSON appends the change as JSON.
func (c *ContactStateChange) AppendJSON(b []byte) ([]byte, error) {
	w := jsonWriter{b: b}
	w.str(`{"contact_id":`, c.ContactID)
	w.str(`,"market":`, c.Market)
	w.str(`,"team":`, c.Team)
	w.str(`,"state":`, c.State)
	w.optStr(`,"prev":`, c.Prev)
	w.optStr(`,"agent":`, c.Agent)
	w.optStr(`,"reason":`, c.Reason)
	w.time(`,"at":`, c.At)
	return w.done()
}

// AppendJSON appends the change as JSON.
func (c *AgentStateChange) AppendJSON(b []byte) ([]byte, error) {
	w := jsonWriter{b: b}
	w.str(`{"agent_id":`, c.AgentID)
	w.str(`,"team":`, c.Team)
	w.str(`,"state":`, c.State)
	w.str(`,"prev":`, c.Prev)
	w.optStr(`,"reason":`, c.Reason)
	w.time(`,"at":`, c.At)
	return w.done()
}

// AppendJSON appends the reply as JSON.
func (r *ContactEventReply) AppendJSON(b []byte) ([]byte, error) {
	w := jsonWriter{b: b}
	w.bool(`{"ok":`, r.OK)
	w.str(`,"contact_id":`, r.ContactID)
	w.str(`,"state":`, r.State)
	return w.done()
}

// AppendJSON appends the reply as JSON.
func (r *AgentStateReply) AppendJSON(b []byte) ([]byte, error) {
	w := jsonWriter{b: b}
	w.bool(`{"ok":`, r.OK)
	w.str(`,"agent_id":`, r.AgentID)
	w.str(`,"state":`, r.State)
	w.optStr(`,"pending":`, r.Pending)
	w.bool(`,"changed":`, r.Changed)
	return w.done()
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
