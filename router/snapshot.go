package router

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/tex-cx/tex/teams"
)

// A Snapshot is the core's whole state at one instant: agents, contacts
// (live and retained, with their decision records), queues, timers,
// continuity memory and the statistics the scorer and the EWT read. A core
// restored from it (Restore) decides exactly as the original would from
// there on, so a restart replays only the journal written after it.
//
// It is plain data that encodes to JSON. Events not yet taken (Events) and
// changes not yet taken (TakeChanges) are not part of it: take them first.
type Snapshot struct {
	Version int `json:"version"`
	// Org fingerprints the org and the options the core was built with: a
	// snapshot restores as it is into the same, and migrates otherwise.
	Org      string        `json:"org"`
	Now      int64         `json:"now"`
	Seq      uint64        `json:"seq"`
	FrontSeq int64         `json:"front_seq"`
	TimerSeq uint64        `json:"timer_seq"`
	Agents   []agentSnap   `json:"agents"`
	Teams    []teamSnap    `json:"teams"`
	Contacts []contactSnap `json:"contacts"`
	AnyWait  []string      `json:"any_wait,omitempty"`
	Memory   []memorySnap  `json:"memory,omitempty"`
	Sweep    []sweepSnap   `json:"sweep,omitempty"`
	Timers   []timerSnap   `json:"timers,omitempty"`
	FIFOs    [][]timerSnap `json:"fifos"`

	// For a restore into a changed org (migrate.go): a fingerprint of the
	// options alone, the markets' layout, the org's channels, languages
	// and skills by id, and each agent's shape. Snapshots without them
	// restore into the same org only.
	Options     string     `json:"options,omitempty"`
	Layout      *teams.Org `json:"layout,omitempty"`
	Channels    []string   `json:"channels,omitempty"`
	Languages   []string   `json:"languages,omitempty"`
	Skills      []string   `json:"skills,omitempty"`
	AgentShapes []string   `json:"agent_shapes,omitempty"`
}

// snapshotIDs names a core's org and options in its snapshots.
type snapshotIDs struct {
	org     string     // fingerprint of the org and the options
	options string     // fingerprint of the options alone
	layout  *teams.Org // layoutOf the org
}

func newSnapshotIDs(org *teams.Org, opts Options) (*snapshotIDs, error) {
	fp, err := fingerprint(org, opts)
	if err != nil {
		return nil, err
	}
	ofp, err := fingerprint(&teams.Org{}, opts)
	if err != nil {
		return nil, err
	}
	return &snapshotIDs{org: fp, options: ofp, layout: layoutOf(org)}, nil
}

const snapshotVersion = 1

type agentSnap struct {
	ID            string             `json:"id"`
	Presence      presence           `json:"presence"`
	Pending       presence           `json:"pending"`
	HasPending    bool               `json:"has_pending,omitempty"`
	NotResponding bool               `json:"not_responding,omitempty"`
	Ready         bool               `json:"ready,omitempty"`
	Offers        int32              `json:"offers,omitempty"`
	Active        int32              `json:"active,omitempty"`
	Wrapping      int32              `json:"wrapping,omitempty"`
	LastFreeAt    int64              `json:"last_free_at"`
	Used          [maxChannels]uint8 `json:"used"`
	Live          []string           `json:"live,omitempty"`
	Misses        int                `json:"misses,omitempty"`
	State         string             `json:"state"`
	StateSince    int64              `json:"state_since"`
	Reason        string             `json:"reason,omitempty"`
	Load          float64            `json:"load"`
	LoadAt        int64              `json:"load_at"`
	HandledDay    int64              `json:"handled_day"`
	HandledToday  int                `json:"handled_today"`
}

type teamSnap struct {
	ID     string    `json:"id"`
	Queue  []string  `json:"queue,omitempty"`
	Ready  int       `json:"ready"`
	Load   float64   `json:"load"`
	LoadAt int64     `json:"load_at"`
	Ring   []float64 `json:"ring"`
	Next   int       `json:"next"`
	N      int       `json:"n"`
	Sum    float64   `json:"sum"`
}

// Chains a contact can follow, by name: the market's, or a callback's.
const (
	chainMarket  = "market"
	chainCbKnown = "callback_known"
	chainCbTeam  = "callback_team"
)

type contactSnap struct {
	ID          string           `json:"id"`
	Gen         uint32           `json:"gen"`
	Seq         int64            `json:"seq"`
	Market      int32            `json:"market"`
	Team        int32            `json:"team"`
	Channel     uint8            `json:"channel"`
	Lang        uint8            `json:"lang"`
	NSkills     uint8            `json:"n_skills,omitempty"`
	Skills      [maxSkills]int16 `json:"skills"`
	MinProf     [maxSkills]uint8 `json:"min_prof"`
	Priority    int              `json:"priority,omitempty"`
	CustomerKey string           `json:"customer_key,omitempty"`
	CustomerID  string           `json:"customer_id,omitempty"`
	ANI         string           `json:"ani,omitempty"`
	MatchedBy   string           `json:"matched_by"`
	Hist        historySnap      `json:"hist"`
	Known       int32            `json:"known"`
	Served      []int32          `json:"served,omitempty"`
	KnownChoice knownChoice      `json:"known_choice,omitempty"`
	State       string           `json:"state"`
	ArrivedAt   int64            `json:"arrived_at"`
	Chain       string           `json:"chain"`
	Step        int              `json:"step"`
	StepOpen    int64            `json:"step_open"`
	Callback    bool             `json:"callback,omitempty"`
	CbNumber    string           `json:"cb_number,omitempty"`
	CbAt        int64            `json:"cb_at,omitempty"`
	CbOffered   bool             `json:"cb_offered,omitempty"`
	Queued      bool             `json:"queued,omitempty"`
	InAny       bool             `json:"in_any,omitempty"`
	Waited      bool             `json:"waited,omitempty"`
	Agent       int32            `json:"agent"`
	OfferExp    int64            `json:"offer_expires,omitempty"`
	OfferedAt   int64            `json:"offered_at,omitempty"`
	MatchedStep teams.StepKind   `json:"matched_step,omitempty"`
	MissedBy    []missedSnap     `json:"missed_by,omitempty"`
	AnsweredAt  int64            `json:"answered_at,omitempty"`
	EndedAt     int64            `json:"ended_at,omitempty"`
	WrappedAt   int64            `json:"wrapped_at,omitempty"`
	HoldSecs    float64          `json:"hold_secs,omitempty"`
	Transferred bool             `json:"transferred,omitempty"`
	TransferTo  string           `json:"transfer_to,omitempty"`
	Resolved    *bool            `json:"resolved,omitempty"`
	Disposition string           `json:"disposition,omitempty"`
	Continuity  string           `json:"continuity,omitempty"`
	Decisions   []*Decision      `json:"decisions,omitempty"`
}

type missedSnap struct {
	Agent int32 `json:"agent"`
	Until int64 `json:"until"`
}

type historySnap struct {
	Entries []histEntrySnap `json:"entries,omitempty"` // newest first
}

type histEntrySnap struct {
	At       int64 `json:"at"`
	Agent    int32 `json:"agent"`
	Resolved int8  `json:"resolved"`
}

type memorySnap struct {
	Key  string      `json:"key"`
	Hist historySnap `json:"hist"`
}

type sweepSnap struct {
	Key string `json:"key"`
	At  int64  `json:"at"`
}

type timerSnap struct {
	At      int64     `json:"at"`
	Seq     uint64    `json:"seq"`
	Kind    timerKind `json:"kind"`
	Contact string    `json:"contact"`
}

func (h *history) snap() historySnap {
	s := historySnap{Entries: make([]histEntrySnap, h.n)}
	for i := range h.n {
		e := &h.entries[i]
		s.Entries[i] = histEntrySnap{At: e.at, Agent: e.agent, Resolved: e.resolved}
	}
	return s
}

func (s *historySnap) history() (history, error) {
	var h history
	if len(s.Entries) > len(h.entries) {
		return h, fmt.Errorf("router: snapshot history of %d entries, at most %d", len(s.Entries), len(h.entries))
	}
	h.n = int32(len(s.Entries))
	for i, e := range s.Entries {
		h.entries[i] = histEntry{at: e.At, agent: e.Agent, resolved: e.Resolved}
	}
	return h, nil
}

// fingerprint names the org and options a core was built with.
func fingerprint(org *teams.Org, opts Options) (string, error) {
	b, err := json.Marshal(struct {
		Org  *teams.Org
		Opts Options
	}{org, opts})
	if err != nil {
		return "", fmt.Errorf("router: fingerprint the org: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Snapshot returns the core's state. The core stays as it was.
func (c *Core) Snapshot() (*Snapshot, error) {
	if c.ids == nil {
		ids, err := newSnapshotIDs(c.org, c.opts)
		if err != nil {
			return nil, err
		}
		c.ids = ids
	}
	s := &Snapshot{Version: snapshotVersion, Org: c.ids.org, Now: c.now, Seq: c.seq, FrontSeq: c.frontSeq, TimerSeq: c.timerSeq,
		Options: c.ids.options, Layout: c.ids.layout, Channels: slices.Clone(c.chanName), Languages: names(c.langIdx), Skills: names(c.skillIdx)}
	for _, a := range c.agents {
		s.AgentShapes = append(s.AgentShapes, c.agentShape(a))
		as := agentSnap{ID: a.id, Presence: a.presence, Pending: a.pending, HasPending: a.hasPending,
			NotResponding: a.notResponding, Ready: a.ready, Offers: a.offers, Active: a.active, Wrapping: a.wrapping,
			LastFreeAt: a.lastFreeAt, Used: a.used, Misses: a.misses, State: a.state, StateSince: a.stateSince,
			Reason: a.reason, Load: a.load, LoadAt: a.loadAt, HandledDay: a.handledDay, HandledToday: a.handledToday}
		for _, ct := range a.live {
			as.Live = append(as.Live, ct.id)
		}
		s.Agents = append(s.Agents, as)
	}
	for _, t := range c.teams {
		ts := teamSnap{ID: t.id, Ready: t.ready, Load: t.load, LoadAt: t.loadAt,
			Ring: slices.Clone(t.handle.ring), Next: t.handle.next, N: t.handle.n, Sum: t.handle.sum}
		for _, ct := range t.queue {
			ts.Queue = append(ts.Queue, ct.id)
		}
		s.Teams = append(s.Teams, ts)
	}
	ids := make([]string, 0, len(c.contacts))
	for id := range c.contacts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		cs, err := c.snapContact(c.contacts[id])
		if err != nil {
			return nil, err
		}
		s.Contacts = append(s.Contacts, cs)
	}
	for _, ct := range c.anyWait {
		s.AnyWait = append(s.AnyWait, ct.id)
	}
	// The sweep lists every remembered customer once: its order is
	// deterministic and needs no sort of a million keys.
	s.Memory = make([]memorySnap, 0, len(c.memory))
	for _, d := range c.memorySweep[c.sweepHead:] {
		if i, ok := c.memory[d.key]; ok {
			s.Memory = append(s.Memory, memorySnap{Key: d.key, Hist: c.history(i).snap()})
		}
	}
	if len(s.Memory) != len(c.memory) {
		return nil, fmt.Errorf("router: snapshot: %d customers remembered, %d in the sweep", len(c.memory), len(s.Memory))
	}
	for _, d := range c.memorySweep[c.sweepHead:] {
		s.Sweep = append(s.Sweep, sweepSnap{Key: d.key, At: d.at})
	}
	// Cancelled timers are left out: they would fire as no-ops.
	live := func(t *timer) (timerSnap, bool) {
		if !t.valid() || c.contacts[t.ct.id] != t.ct {
			return timerSnap{}, false
		}
		return timerSnap{At: t.at, Seq: t.seq, Kind: t.kind, Contact: t.ct.id}, true
	}
	for i := range c.timers {
		if t, ok := live(&c.timers[i]); ok {
			s.Timers = append(s.Timers, t)
		}
	}
	slices.SortFunc(s.Timers, func(a, b timerSnap) int { return cmp.Or(cmp.Compare(a.At, b.At), cmp.Compare(a.Seq, b.Seq)) })
	s.FIFOs = make([][]timerSnap, len(c.fifos))
	for k := range c.fifos {
		f := &c.fifos[k]
		for i := f.head; i < len(f.q); i++ {
			if t, ok := live(&f.q[i]); ok {
				s.FIFOs[k] = append(s.FIFOs[k], t)
			}
		}
	}
	return s, nil
}

func (c *Core) snapContact(ct *contact) (contactSnap, error) {
	m := c.markets[ct.market]
	chain := ""
	switch {
	case sameChain(ct.chain, m.chain):
		chain = chainMarket
	case sameChain(ct.chain, m.cbKnown):
		chain = chainCbKnown
	case sameChain(ct.chain, m.cbTeam):
		chain = chainCbTeam
	default:
		return contactSnap{}, fmt.Errorf("router: snapshot: contact %s follows a chain its market does not have", ct.id)
	}
	cs := contactSnap{ID: ct.id, Gen: ct.gen, Seq: ct.seq, Market: ct.market, Team: ct.team, Channel: ct.channel,
		Lang: ct.lang, NSkills: ct.nSkills, Skills: ct.skills, MinProf: ct.minProf, Priority: ct.priority,
		CustomerKey: ct.customerKey, CustomerID: ct.customerID, ANI: ct.ani, MatchedBy: ct.matchedBy,
		Hist: ct.hist.snap(), Known: ct.known, Served: slices.Clone(ct.served), KnownChoice: ct.knownChoice,
		State: ct.state, ArrivedAt: ct.arrivedAt, Chain: chain, Step: ct.step, StepOpen: ct.stepOpen,
		Callback: ct.callback, CbNumber: ct.cbNumber, CbAt: ct.cbAt, CbOffered: ct.cbOffered, Queued: ct.queued,
		InAny: ct.inAny, Waited: ct.waited, Agent: ct.agent, OfferExp: ct.offerExpires, OfferedAt: ct.offeredAt,
		MatchedStep: ct.matchedStep, AnsweredAt: ct.answeredAt, EndedAt: ct.endedAt, WrappedAt: ct.wrappedAt,
		HoldSecs: ct.holdSecs, Transferred: ct.transferred, TransferTo: ct.transferTo, Disposition: ct.disposition,
		Continuity: ct.continuity, Decisions: slices.Clone(ct.decisions)}
	if ct.resolved != nil {
		r := *ct.resolved
		cs.Resolved = &r
	}
	for _, mb := range ct.missedBy {
		cs.MissedBy = append(cs.MissedBy, missedSnap{Agent: mb.agent, Until: mb.until})
	}
	return cs, nil
}

// sameChain reports whether a and b are the same chain (one slice).
func sameChain(a, b []step) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// Restore builds a core for org and opts in the state s was taken in. The
// options must be those the snapshot's core had; the org may have changed
// as migrate.go says.
func Restore(org *teams.Org, opts Options, s *Snapshot) (*Core, error) {
	if s.Version != snapshotVersion {
		return nil, fmt.Errorf("router: snapshot version %d, want %d", s.Version, snapshotVersion)
	}
	ids, err := newSnapshotIDs(org, opts)
	if err != nil {
		return nil, err
	}
	if ids.org != s.Org {
		if s.Layout != nil {
			if conflicts := layoutConflicts(s.Layout, ids.layout, s.busyMarkets()); len(conflicts) > 0 {
				return nil, fmt.Errorf("router: the org's layout changed since the snapshot: %s", strings.Join(conflicts, "; "))
			}
		}
		if s.Layout == nil || s.Options != ids.options {
			return nil, fmt.Errorf("router: the snapshot was taken with another org or other options")
		}
	}
	c, err := New(org, opts)
	if err != nil {
		return nil, err
	}
	c.ids = ids
	if ids.org != s.Org {
		if s, err = c.migrate(s); err != nil {
			return nil, fmt.Errorf("router: the snapshot does not carry over into the changed org: %w", err)
		}
	}
	if len(s.Agents) != len(c.agents) || len(s.Teams) != len(c.teams) || len(s.FIFOs) != len(c.fifos) {
		return nil, fmt.Errorf("router: snapshot does not match the org: %d agents, %d teams", len(s.Agents), len(s.Teams))
	}
	c.now, c.seq, c.frontSeq, c.timerSeq = s.Now, s.Seq, s.FrontSeq, s.TimerSeq
	for i := range s.Contacts {
		cs := &s.Contacts[i]
		ct, err := c.restoreContact(cs)
		if err != nil {
			return nil, err
		}
		c.contacts[ct.id] = ct
		if ct.terminal() {
			c.retained++
		}
		// A tracking caller's first TakeChanges gives the whole state, as
		// it does after New and a replay.
		c.markContact(ct)
	}
	byID := func(id string) (*contact, error) {
		ct, ok := c.contacts[id]
		if !ok {
			return nil, fmt.Errorf("router: snapshot names contact %q, which it does not hold", id)
		}
		return ct, nil
	}
	appendByID := func(dst []*contact, ids []string) ([]*contact, error) {
		for _, id := range ids {
			ct, err := byID(id)
			if err != nil {
				return nil, err
			}
			dst = append(dst, ct)
		}
		return dst, nil
	}
	for i, as := range s.Agents {
		a := c.agents[i]
		if a.id != as.ID {
			return nil, fmt.Errorf("router: snapshot agent %d is %q, the org's is %q", i, as.ID, a.id)
		}
		a.presence, a.pending, a.hasPending, a.notResponding, a.ready = as.Presence, as.Pending, as.HasPending, as.NotResponding, as.Ready
		a.offers, a.active, a.wrapping, a.lastFreeAt, a.used = as.Offers, as.Active, as.Wrapping, as.LastFreeAt, as.Used
		a.misses, a.state, a.stateSince, a.reason = as.Misses, as.State, as.StateSince, as.Reason
		a.load, a.loadAt, a.handledDay, a.handledToday = as.Load, as.LoadAt, as.HandledDay, as.HandledToday
		if a.stateSince != 0 {
			c.markAgent(a) // one whose state ever changed, as a replay marks it
		}
		if a.live, err = appendByID(a.live, as.Live); err != nil {
			return nil, err
		}
	}
	for i, ts := range s.Teams {
		t := c.teams[i]
		if t.id != ts.ID || len(ts.Ring) != len(t.handle.ring) ||
			ts.N < 0 || ts.N > len(ts.Ring) || ts.Next < 0 || ts.Next >= max(len(ts.Ring), 1) {
			return nil, fmt.Errorf("router: snapshot team %d (%q) does not match the org's %q", i, ts.ID, t.id)
		}
		t.ready, t.load, t.loadAt = ts.Ready, ts.Load, ts.LoadAt
		copy(t.handle.ring, ts.Ring)
		t.handle.next, t.handle.n, t.handle.sum = ts.Next, ts.N, ts.Sum
		t.handle.sorted = append(t.handle.sorted[:0], ts.Ring[:ts.N]...)
		slices.Sort(t.handle.sorted)
		t.handle.stale = true
		if t.queue, err = appendByID(t.queue, ts.Queue); err != nil {
			return nil, err
		}
	}
	if c.anyWait, err = appendByID(c.anyWait, s.AnyWait); err != nil {
		return nil, err
	}
	for _, m := range s.Memory {
		h, err := m.Hist.history()
		if err != nil {
			return nil, err
		}
		*c.history(c.remember(m.Key)) = h
	}
	// remember queued each customer for the sweep; the snapshot's order
	// replaces that.
	c.memorySweep = c.memorySweep[:0]
	for _, d := range s.Sweep {
		c.memorySweep = append(c.memorySweep, memoryDue{key: d.Key, at: d.At})
	}
	restoreTimer := func(t timerSnap) (timer, error) {
		if t.Kind < timerOffer || int(t.Kind) >= len(c.fifos) {
			return timer{}, fmt.Errorf("router: snapshot timer of unknown kind %d", t.Kind)
		}
		ct, err := byID(t.Contact)
		if err != nil {
			return timer{}, err
		}
		return timer{at: t.At, seq: t.Seq, kind: t.Kind, gen: ct.gen, ct: ct}, nil
	}
	for _, ts := range s.Timers {
		t, err := restoreTimer(ts)
		if err != nil {
			return nil, err
		}
		c.timers.push(t)
	}
	for k, q := range s.FIFOs {
		for _, ts := range q {
			t, err := restoreTimer(ts)
			if err != nil {
				return nil, err
			}
			c.fifos[k].q = append(c.fifos[k].q, t)
		}
	}
	c.trimRetained() // the org may hold fewer than the snapshot
	return c, nil
}

// chainOf is the chain a snapshot names by market and name; false when
// it names none.
func (c *Core) chainOf(market int32, name string) ([]step, bool) {
	if market < 0 || int(market) >= len(c.markets) {
		return nil, false
	}
	m := c.markets[market]
	switch name {
	case chainMarket:
		return m.chain, true
	case chainCbKnown:
		return m.cbKnown, true
	case chainCbTeam:
		return m.cbTeam, true
	}
	return nil, false
}

func (c *Core) restoreContact(cs *contactSnap) (*contact, error) {
	if cs.Market < 0 || int(cs.Market) >= len(c.markets) || cs.Team < 0 || int(cs.Team) >= len(c.teams) ||
		cs.Agent < -1 || int(cs.Agent) >= len(c.agents) || cs.Known < -1 || int(cs.Known) >= len(c.agents) {
		return nil, fmt.Errorf("router: snapshot contact %q names a market, team or agent the org does not have", cs.ID)
	}
	if int(cs.Channel) >= len(c.chanName) || int(cs.Lang) > len(c.langIdx) || int(cs.NSkills) > maxSkills {
		return nil, fmt.Errorf("router: snapshot contact %q names a channel, language or skill the org does not have", cs.ID)
	}
	for _, id := range cs.Skills[:cs.NSkills] {
		if id < 0 || int(id) >= len(c.skillIdx) {
			return nil, fmt.Errorf("router: snapshot contact %q names skill %d, which the org does not have", cs.ID, id)
		}
	}
	for _, ai := range cs.Served {
		if ai < 0 || int(ai) >= len(c.agents) {
			return nil, fmt.Errorf("router: snapshot contact %q names agent %d, which the org does not have", cs.ID, ai)
		}
	}
	for _, mb := range cs.MissedBy {
		if mb.Agent < 0 || int(mb.Agent) >= len(c.agents) {
			return nil, fmt.Errorf("router: snapshot contact %q names agent %d, which the org does not have", cs.ID, mb.Agent)
		}
	}
	chain, ok := c.chainOf(cs.Market, cs.Chain)
	if !ok {
		return nil, fmt.Errorf("router: snapshot contact %q: unknown chain %q", cs.ID, cs.Chain)
	}
	if cs.Step < 0 || cs.Step >= max(len(chain), 1) {
		return nil, fmt.Errorf("router: snapshot contact %q: step %d of a chain of %d", cs.ID, cs.Step, len(chain))
	}
	hist, err := cs.Hist.history()
	if err != nil {
		return nil, err
	}
	ct := &contact{id: cs.ID, gen: cs.Gen, seq: cs.Seq, market: cs.Market, team: cs.Team, channel: cs.Channel,
		lang: cs.Lang, nSkills: cs.NSkills, skills: cs.Skills, minProf: cs.MinProf, priority: cs.Priority,
		customerKey: cs.CustomerKey, customerID: cs.CustomerID, ani: cs.ANI, matchedBy: cs.MatchedBy,
		hist: hist, mem: -1, known: cs.Known, served: cs.Served, knownChoice: cs.KnownChoice,
		state: cs.State, arrivedAt: cs.ArrivedAt, chain: chain, step: cs.Step, stepOpen: cs.StepOpen,
		callback: cs.Callback, cbNumber: cs.CbNumber, cbAt: cs.CbAt, cbOffered: cs.CbOffered, queued: cs.Queued,
		inAny: cs.InAny, waited: cs.Waited, agent: cs.Agent, offerExpires: cs.OfferExp, offeredAt: cs.OfferedAt,
		matchedStep: cs.MatchedStep, answeredAt: cs.AnsweredAt, endedAt: cs.EndedAt, wrappedAt: cs.WrappedAt,
		holdSecs: cs.HoldSecs, transferred: cs.Transferred, transferTo: cs.TransferTo, resolved: cs.Resolved,
		disposition: cs.Disposition, continuity: cs.Continuity, decisions: cs.Decisions}
	for _, mb := range cs.MissedBy {
		ct.missedBy = append(ct.missedBy, missed{agent: mb.Agent, until: mb.Until})
	}
	return ct, nil
}
