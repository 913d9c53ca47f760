package router

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// appender is what the hand-written encoders have in common.
type appender interface {
	AppendJSON([]byte) ([]byte, error)
}

// sameAsMarshal fails unless v's AppendJSON writes what json.Marshal
// writes for it, or both fail.
func sameAsMarshal(t *testing.T, v appender) {
	t.Helper()
	want, werr := json.Marshal(v)
	got, gerr := v.AppendJSON([]byte("prefix"))
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("%T: json.Marshal error %v, AppendJSON error %v", v, werr, gerr)
	}
	if werr != nil {
		return
	}
	if string(got) != "prefix"+string(want) {
		t.Fatalf("%T:\n got %s\nwant prefix%s", v, got, want)
	}
}

// gen makes values whose encoding is easy to get wrong: strings with
// quotes, control characters, HTML characters, line separators and
// invalid UTF-8; floats at the format's edges; times in other zones;
// empty and nil slices and pointers.
type gen struct{ r *rand.Rand }

func (g gen) str() string {
	pieces := []string{"", "det-016", "CHA-DET", `"`, `\`, "<", ">", "&", "\n", "\t", "\r", "\b", "\f", "\x00",
		"\x1f", "\x7f", "é", "日本", "\u2028", "\u2029", "\xff", "\xe2\x80", "\U0001F600", "a b", "ok"}
	var s string
	for range g.r.IntN(4) {
		s += pieces[g.r.IntN(len(pieces))]
	}
	return s
}

func (g gen) float() float64 {
	special := []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 1.5e21, 123456789.125,
		1e-300, math.MaxFloat64, math.SmallestNonzeroFloat64, 0.1 + 0.2, 100.0 / 3}
	if g.r.IntN(3) == 0 {
		return special[g.r.IntN(len(special))] * float64(1-2*g.r.IntN(2))
	}
	return g.r.NormFloat64() * math.Pow(10, float64(g.r.IntN(40)-20))
}

func (g gen) floatPtr() *float64 {
	if g.r.IntN(3) == 0 {
		return nil
	}
	f := g.float()
	return &f
}

func (g gen) time() time.Time {
	if g.r.IntN(8) == 0 {
		return time.Time{}
	}
	t := time.Unix(g.r.Int64N(4e9), g.r.Int64N(1e9))
	switch g.r.IntN(3) {
	case 0:
		return t.UTC()
	case 1:
		return t.In(time.FixedZone("EST", -5*3600))
	}
	return t.In(time.FixedZone("", 5*3600+1800))
}

func (g gen) int() int {
	return []int{0, 1, 7, -3, 1 << 40}[g.r.IntN(5)]
}

func (g gen) skips() []SkipCount {
	if g.r.IntN(3) == 0 {
		return nil
	}
	s := make([]SkipCount, g.r.IntN(3))
	for i := range s {
		s[i] = SkipCount{Reason: SkipReason(g.str()), Count: g.int()}
	}
	return s
}

func (g gen) decision() *Decision {
	d := &Decision{ContactID: g.str(), At: g.time(), Trigger: g.str(), Market: g.str(), MatchedBy: g.str(), Team: g.str(),
		Outcome: g.str(), Agent: g.str(), Step: g.str(), Skipped: g.skips(), Position: g.int(), EWTSeconds: g.floatPtr(),
		Callback: g.r.IntN(2) == 0, Considered: g.int(), Policy: g.str()}
	for range g.r.IntN(4) {
		st := StepTrace{Step: g.str(), Open: g.r.IntN(2) == 0, Viable: g.r.IntN(2) == 0, Considered: g.int(), Eligible: g.int(), Skipped: g.skips()}
		for range g.r.IntN(3) {
			st.Teams = append(st.Teams, g.str())
		}
		d.Steps = append(d.Steps, st)
	}
	for range g.r.IntN(3) {
		d.Candidates = append(d.Candidates, Candidate{Agent: g.str(), Team: g.str(), Score: g.float(), Continuity: g.float(),
			Skill: g.float(), Fairness: g.float(), Load: g.float(), LoadCapped: g.r.IntN(2) == 0, IdleSecs: g.float(), Chosen: g.r.IntN(2) == 0})
	}
	if g.r.IntN(2) == 0 {
		d.KnownAgent = &KnownAgentTrace{Agent: g.str(), ExpectedWaitSeconds: g.floatPtr(), Choice: g.str()}
	}
	if g.r.IntN(2) == 0 {
		d.Weights = &WeightsView{Continuity: g.float(), Skill: g.float(), Fairness: g.float()}
	}
	if g.r.IntN(10) == 0 {
		d.Steps = []StepTrace{} // empty, not nil: omitted all the same
	}
	return d
}

func (g gen) values() []appender {
	status := []string{StatusQueued, "assigned", g.str()}[g.r.IntN(3)]
	return []appender{
		g.decision(),
		&RouteReply{ContactID: g.str(), Status: status, State: g.str(), Market: g.str(), Team: g.str(), Agent: g.str(),
			Endpoint: g.str(), OfferExpiresAt: g.time(), Position: g.int(), EWTSeconds: g.floatPtr(),
			CallbackOffered: g.r.IntN(2) == 0, Callback: g.r.IntN(2) == 0, MatchedBy: g.str(), Step: g.str()},
		&ContactStateChange{ContactID: g.str(), Market: g.str(), Team: g.str(), State: g.str(), Prev: g.str(),
			Agent: g.str(), Reason: g.str(), At: g.time()},
		&AgentStateChange{AgentID: g.str(), Team: g.str(), State: g.str(), Prev: g.str(), Reason: g.str(), At: g.time()},
		&ContactEventReply{OK: g.r.IntN(2) == 0, ContactID: g.str(), State: g.str()},
		&AgentStateReply{OK: g.r.IntN(2) == 0, AgentID: g.str(), State: g.str(), Pending: g.str(), Changed: g.r.IntN(2) == 0},
	}
}

func TestAppendJSONMatchesMarshal(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(1, 2))}
	for range 5000 {
		for _, v := range g.values() {
			sameAsMarshal(t, v)
		}
	}
	// Values json.Marshal refuses are refused too.
	nan := math.NaN()
	sameAsMarshal(t, &RouteReply{Status: StatusQueued, EWTSeconds: &nan})
	sameAsMarshal(t, &Decision{Weights: &WeightsView{Skill: math.Inf(1)}})
	sameAsMarshal(t, &ContactStateChange{At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})
}

// TestEventPayloadsAppend: the payloads of the frequent events are
// appenders through Event.Payload, as the server encodes them.
func TestEventPayloadsAppend(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(3, 4))}
	for range 500 {
		for _, e := range []Event{
			{Kind: KindDecision, Decision: g.decision()},
			{Kind: KindContactState, ContactState: ContactStateChange{ContactID: g.str(), At: g.time()}},
			{Kind: KindAgentState, AgentState: AgentStateChange{AgentID: g.str(), Reason: g.str(), At: g.time()}},
		} {
			a, ok := e.Payload().(appender)
			if !ok {
				t.Fatalf("kind %v: payload %T has no AppendJSON", e.Kind, e.Payload())
			}
			sameAsMarshal(t, a)
		}
	}
}

// FuzzAppendJSON checks the string and number writers on any input.
func FuzzAppendJSON(f *testing.F) {
	for _, s := range []string{"", "det-016", "<a&b>", "\u2028\xff\x00", `"\`} {
		f.Add(s, 0.0, int64(0))
	}
	f.Add("x", 1e21, int64(1e18))
	f.Add("y", -1e-7, int64(-1))
	f.Fuzz(func(t *testing.T, s string, x float64, nanos int64) {
		sameAsMarshal(t, &ContactStateChange{ContactID: s, Market: s, State: s, Reason: s, At: time.Unix(0, nanos)})
		sameAsMarshal(t, &RouteReply{ContactID: s, Status: StatusQueued, EWTSeconds: &x})
		sameAsMarshal(t, &Decision{ContactID: s, Candidates: []Candidate{{Agent: s, Score: x, Load: -x}}})
	})
}
