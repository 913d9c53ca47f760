package scorecard

import (
	"cmp"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/tex-cx/tex/teams"
)

// Aggregator holds every contact and survey the scorecard has seen, keyed by
// contact_id, and answers queries over them. Applying the same set of events
// in any order, any number of times, gives the same state (docs/scorecard.md
// says which record wins). It is safe for concurrent use: one writer lock
// for Apply*, shared for queries and snapshots. It never reads the clock.
//
// Lock order: Aggregator.mu is the only lock; helpers named *Locked expect
// it held.
type Aggregator struct {
	org    *teams.Org
	cfg    teams.ScorecardConfig
	window int64 // FCR window in nanoseconds

	// teamAgents lists each team's agents by id, for queries and exports.
	teamAgents map[string][]*teams.Agent
	// exportOrder is every agent in export order: team id, then agent id.
	exportOrder []*teams.Agent
	// homeMarkets lists the markets each team is the home team of.
	homeMarkets map[string][]string

	mu    sync.RWMutex
	slots []slot
	byID  map[string]int32

	// syms interns agent, team and market ids, so that buckets and slots
	// hold small integers instead of strings.
	syms  map[string]int32
	names []string

	customers    map[string]int32
	customerIDs  []string
	custContacts [][]int32 // slots with a resolved record, per customer

	// buckets holds the slots of one (team|agent|market, UTC day), so that
	// a query walks only the days and entities it asks for.
	buckets map[uint64][]int32

	lastSeq uint64
	stats   Stats
}

// Stats counts what the aggregator has applied, for logs and health.
type Stats struct {
	Contacts   int `json:"contacts"`   // contacts with a resolved record
	Surveys    int `json:"surveys"`    // contacts with a survey answer
	Applied    int `json:"applied"`    // events that changed the state
	Duplicates int `json:"duplicates"` // events that changed nothing
	Rejected   int `json:"rejected"`   // events that could not be decoded
}

const (
	noTime = math.MinInt64 // a time that is absent
	never  = math.MaxInt64 // no later contact
	noSym  = int32(-1)
)

const (
	contUnknown uint8 = iota
	contFirst
	contSameAgent
	contSameTeam
	contOtherTeam
)

var continuityCodes = map[string]uint8{
	"":                     contUnknown,
	ContinuityFirstContact: contFirst,
	ContinuitySameAgent:    contSameAgent,
	ContinuitySameTeam:     contSameTeam,
	ContinuityOtherTeam:    contOtherTeam,
}

var continuityNames = [...]string{"", ContinuityFirstContact, ContinuitySameAgent, ContinuitySameTeam, ContinuityOtherTeam}

// slot is one contact_id: its winning resolved record (when one has come)
// and its survey answers (which may come first).
type slot struct {
	id string
	// has is true once a resolved record has been applied.
	has bool

	customer              int32 // noSym: no customer_id
	agent, team, market   int32 // noSym: absent
	arrived, ended, wrapd int64 // unix ns; wrapd may be noTime
	talk, hold, wrap      float64
	resolved              int8 // -1 null, 0 false, 1 true
	transferred, home     bool
	continuity            uint8

	// nextAfter is the earliest arrival of another contact of the same
	// customer after this one ended (never when there is none): the
	// contact is a repeat when it lies within the FCR window.
	nextAfter int64

	csat, nps     int8  // -1: no answer
	csatAt, npsAt int64 // noTime: answered at an unknown time
}

// NewAggregator returns an empty aggregator for org, scoring with
// org.Scorecard (which the org loader has validated).
func NewAggregator(org *teams.Org) *Aggregator {
	a := &Aggregator{
		byID:      map[string]int32{},
		syms:      map[string]int32{},
		customers: map[string]int32{},
		buckets:   map[uint64][]int32{},
	}
	a.setOrgLocked(org)
	return a
}

// SetOrg makes org the one queries and exports read from now on: its
// rosters, names, targets and weights. What was applied stays as it was.
func (a *Aggregator) SetOrg(org *teams.Org) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.setOrgLocked(org)
}

func (a *Aggregator) setOrgLocked(org *teams.Org) {
	a.org, a.cfg = org, org.Scorecard
	a.window = int64(org.Scorecard.FCRWindowDays) * int64(day)
	a.teamAgents, a.homeMarkets, a.exportOrder = map[string][]*teams.Agent{}, map[string][]string{}, nil
	for i := range org.Agents {
		ag := &org.Agents[i]
		a.teamAgents[ag.Team] = append(a.teamAgents[ag.Team], ag)
		a.exportOrder = append(a.exportOrder, ag)
	}
	for _, list := range a.teamAgents {
		slices.SortFunc(list, func(x, y *teams.Agent) int { return cmp.Compare(x.ID, y.ID) })
	}
	slices.SortFunc(a.exportOrder, func(x, y *teams.Agent) int {
		return cmp.Or(cmp.Compare(x.Team, y.Team), cmp.Compare(x.ID, y.ID))
	})
	for _, m := range org.Markets {
		a.homeMarkets[m.HomeTeam] = append(a.homeMarkets[m.HomeTeam], m.ID)
	}
}

// Config is the scorecard config the aggregator scores with.
func (a *Aggregator) Config() teams.ScorecardConfig {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.cfg
}

// Stats returns the counters.
func (a *Aggregator) Stats() Stats {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.stats
}

// LastSeq is the stream sequence of the last event applied through the
// consumer (0 before any).
func (a *Aggregator) LastSeq() uint64 {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.lastSeq
}

// ApplyResolved applies one resolved-contact record. It reports whether the
// state changed: false for a duplicate, or for a record that an already
// applied one supersedes.
func (a *Aggregator) ApplyResolved(r Resolved) (bool, error) {
	if err := r.normalize(); err != nil {
		return false, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.applyResolvedLocked(&r), nil
}

// ApplySurvey applies one survey answer. It reports whether the state changed.
func (a *Aggregator) ApplySurvey(s Survey) (bool, error) {
	if err := s.normalize(); err != nil {
		return false, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.applySurveyLocked(&s), nil
}

// applyEvent applies a raw event read from stream sequence seq. kind is
// "resolved" or "survey". A bad event is counted and returned, and seq
// still advances: a bad event is never retried.
func (a *Aggregator) applyEvent(seq uint64, kind string, data []byte) error {
	var (
		r   Resolved
		s   Survey
		err error
	)
	switch kind {
	case kindResolved:
		r, err = DecodeResolved(data)
	case kindSurvey:
		s, err = DecodeSurvey(data)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if seq > a.lastSeq {
		a.lastSeq = seq
	}
	if err != nil {
		a.stats.Rejected++
		return err
	}
	switch kind {
	case kindResolved:
		a.applyResolvedLocked(&r)
	case kindSurvey:
		a.applySurveyLocked(&s)
	}
	return nil
}

// markSeq records that the consumer has read seq, for events it skips.
func (a *Aggregator) markSeq(seq uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if seq > a.lastSeq {
		a.lastSeq = seq
	}
}

func (a *Aggregator) slotLocked(id string) int32 {
	if i, ok := a.byID[id]; ok {
		return i
	}
	i := int32(len(a.slots))
	a.slots = append(a.slots, slot{id: id, customer: noSym, agent: noSym, team: noSym, market: noSym,
		wrapd: noTime, resolved: -1, nextAfter: never, csat: -1, nps: -1, csatAt: noTime, npsAt: noTime})
	a.byID[id] = i
	return i
}

func (a *Aggregator) symLocked(s string) int32 {
	if s == "" {
		return noSym
	}
	if i, ok := a.syms[s]; ok {
		return i
	}
	i := int32(len(a.names))
	a.names = append(a.names, s)
	a.syms[s] = i
	return i
}

func (a *Aggregator) name(sym int32) string {
	if sym == noSym {
		return ""
	}
	return a.names[sym]
}

func (a *Aggregator) customerLocked(id string) int32 {
	if id == "" {
		return noSym
	}
	if i, ok := a.customers[id]; ok {
		return i
	}
	i := int32(len(a.customerIDs))
	a.customerIDs = append(a.customerIDs, id)
	a.custContacts = append(a.custContacts, nil)
	a.customers[id] = i
	return i
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return noTime
	}
	return t.UnixNano()
}

// record is the part of a resolved record the scorecard uses, in slot form.
type record struct {
	customer              int32
	agent, team, market   int32
	arrived, ended, wrapd int64
	talk, hold, wrap      float64
	resolved              int8
	transferred, home     bool
	continuity            uint8
}

func (s *slot) record() record {
	return record{s.customer, s.agent, s.team, s.market, s.arrived, s.ended, s.wrapd,
		s.talk, s.hold, s.wrap, s.resolved, s.transferred, s.home, s.continuity}
}

func (a *Aggregator) recordLocked(r *Resolved) record {
	team := r.Team
	if team == "" {
		// A CRM may leave the team out; the agent's team in the org is the
		// best guess, and it is fixed at apply time so a later org change
		// does not move history.
		if ag, ok := a.org.Agent(r.Agent); ok {
			team = ag.Team
		}
	}
	res := int8(-1)
	if r.Resolved != nil {
		res = 0
		if *r.Resolved {
			res = 1
		}
	}
	return record{
		customer: a.customerLocked(r.CustomerID),
		agent:    a.symLocked(r.Agent), team: a.symLocked(team), market: a.symLocked(r.Market),
		arrived: r.ArrivedAt.UnixNano(), ended: r.EndedAt.UnixNano(), wrapd: unixNano(r.WrappedAt),
		talk: r.TalkSeconds, hold: r.HoldSeconds, wrap: r.WrapSeconds,
		resolved: res, transferred: r.Transferred, home: r.HomeTeam,
		continuity: continuityCodes[r.Continuity],
	}
}

// supersedes reports whether record n wins over record o for the same
// contact_id. The later wrapped_at wins (a corrected record comes after the
// wrap-up timer's); at the same wrapped_at a known resolved wins over null;
// past that, a fixed order of the remaining fields decides, so that every
// arrival order picks the same record.
func (a *Aggregator) supersedes(n, o *record) bool {
	if c := cmp.Compare(n.wrapd, o.wrapd); c != 0 {
		return c > 0
	}
	if (n.resolved >= 0) != (o.resolved >= 0) {
		return n.resolved >= 0
	}
	b2i := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	c := cmp.Or(
		cmp.Compare(n.ended, o.ended),
		cmp.Compare(n.arrived, o.arrived),
		cmp.Compare(n.resolved, o.resolved),
		cmp.Compare(n.talk, o.talk),
		cmp.Compare(n.hold, o.hold),
		cmp.Compare(n.wrap, o.wrap),
		cmp.Compare(b2i(n.transferred), b2i(o.transferred)),
		cmp.Compare(b2i(n.home), b2i(o.home)),
		cmp.Compare(n.continuity, o.continuity),
		cmp.Compare(a.customerName(n.customer), a.customerName(o.customer)),
		cmp.Compare(a.name(n.agent), a.name(o.agent)),
		cmp.Compare(a.name(n.team), a.name(o.team)),
		cmp.Compare(a.name(n.market), a.name(o.market)),
	)
	return c > 0
}

func (a *Aggregator) customerName(c int32) string {
	if c == noSym {
		return ""
	}
	return a.customerIDs[c]
}

func (a *Aggregator) applyResolvedLocked(r *Resolved) bool {
	i := a.slotLocked(r.ContactID)
	s := &a.slots[i]
	n := a.recordLocked(r)
	if s.has {
		o := s.record()
		if !a.supersedes(&n, &o) {
			a.stats.Duplicates++
			return false
		}
		moved := n.customer != o.customer || n.arrived != o.arrived || n.ended != o.ended ||
			n.agent != o.agent || n.team != o.team || n.market != o.market
		if !moved {
			// Same place in every index: a corrected resolved flag, say.
			s.setRecord(&n)
			a.stats.Applied++
			return true
		}
		a.unindexLocked(i)
	} else {
		a.stats.Contacts++
	}
	s = &a.slots[i]
	s.setRecord(&n)
	s.has = true
	a.indexLocked(i)
	a.stats.Applied++
	return true
}

func (s *slot) setRecord(r *record) {
	s.customer, s.agent, s.team, s.market = r.customer, r.agent, r.team, r.market
	s.arrived, s.ended, s.wrapd = r.arrived, r.ended, r.wrapd
	s.talk, s.hold, s.wrap = r.talk, r.hold, r.wrap
	s.resolved, s.transferred, s.home, s.continuity = r.resolved, r.transferred, r.home, r.continuity
}

// Bucket keys: kind in the top bits, then the symbol, then the day.
const (
	bucketTeam   uint64 = 1
	bucketAgent  uint64 = 2
	bucketMarket uint64 = 3
	dayOffset           = 1 << 27
)

func bucketKey(kind uint64, sym int32, dayNum int64) uint64 {
	return kind<<60 | uint64(uint32(sym))<<28 | uint64(dayNum+dayOffset)
}

// dayOf is the UTC day number of a unix-ns time (floor division).
func dayOf(ns int64) int64 {
	d := ns / int64(day)
	if ns%int64(day) < 0 {
		d--
	}
	return d
}

func (a *Aggregator) keysLocked(s *slot) (keys [3]uint64, n int) {
	d := dayOf(s.ended)
	for _, k := range []struct {
		kind uint64
		sym  int32
	}{{bucketTeam, s.team}, {bucketAgent, s.agent}, {bucketMarket, s.market}} {
		if k.sym != noSym {
			keys[n] = bucketKey(k.kind, k.sym, d)
			n++
		}
	}
	return keys, n
}

func (a *Aggregator) indexLocked(i int32) {
	s := &a.slots[i]
	keys, n := a.keysLocked(s)
	for _, k := range keys[:n] {
		a.buckets[k] = append(a.buckets[k], i)
	}
	if s.customer == noSym {
		return
	}
	list := a.custContacts[s.customer]
	s.nextAfter = never
	for _, j := range list {
		o := &a.slots[j]
		if o.arrived > s.ended && o.arrived < s.nextAfter {
			s.nextAfter = o.arrived
		}
		if s.arrived > o.ended && s.arrived < o.nextAfter {
			o.nextAfter = s.arrived
		}
	}
	a.custContacts[s.customer] = append(list, i)
}

func (a *Aggregator) unindexLocked(i int32) {
	s := &a.slots[i]
	keys, n := a.keysLocked(s)
	for _, k := range keys[:n] {
		a.buckets[k] = removeIdx(a.buckets[k], i)
		if len(a.buckets[k]) == 0 {
			delete(a.buckets, k)
		}
	}
	if s.customer == noSym {
		return
	}
	a.custContacts[s.customer] = removeIdx(a.custContacts[s.customer], i)
	a.recomputeNextLocked(s.customer)
}

// recomputeNextLocked recomputes nextAfter for every contact of a customer,
// after one of them moved: sort the arrivals, then find for each contact
// the first arrival after its end.
func (a *Aggregator) recomputeNextLocked(c int32) {
	list := a.custContacts[c]
	arr := make([]int64, len(list))
	for k, j := range list {
		arr[k] = a.slots[j].arrived
	}
	slices.Sort(arr)
	for _, j := range list {
		s := &a.slots[j]
		// A contact's own arrival is never after its own end, so the
		// search cannot find itself.
		k := sort.Search(len(arr), func(x int) bool { return arr[x] > s.ended })
		s.nextAfter = never
		if k < len(arr) {
			s.nextAfter = arr[k]
		}
	}
}

func removeIdx(list []int32, i int32) []int32 {
	for k, v := range list {
		if v == i {
			list[k] = list[len(list)-1]
			return list[:len(list)-1]
		}
	}
	return list
}

// applySurveyLocked merges a survey into its contact's slot, which it
// creates when the survey comes before the contact. Per answer, the later
// answered_at wins; at the same time (or none), the higher value, so that
// the result does not depend on arrival order.
func (a *Aggregator) applySurveyLocked(sv *Survey) bool {
	i := a.slotLocked(sv.ContactID)
	s := &a.slots[i]
	at := unixNano(sv.AnsweredAt)
	hadAny := s.csat >= 0 || s.nps >= 0
	changed := false
	if sv.CSAT != nil && answerWins(at, int8(*sv.CSAT), s.csatAt, s.csat) {
		s.csat, s.csatAt = int8(*sv.CSAT), at
		changed = true
	}
	if sv.NPS != nil && answerWins(at, int8(*sv.NPS), s.npsAt, s.nps) {
		s.nps, s.npsAt = int8(*sv.NPS), at
		changed = true
	}
	if changed {
		a.stats.Applied++
		if !hadAny {
			a.stats.Surveys++
		}
	} else {
		a.stats.Duplicates++
	}
	return changed
}

func answerWins(at int64, v int8, oldAt int64, old int8) bool {
	if old < 0 {
		return true
	}
	if at != oldAt {
		return at > oldAt
	}
	return v > old
}
