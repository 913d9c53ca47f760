package router

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/tex-cx/tex/teams"
)

// Policy is the routing policy the core runs. The baselines exist so the
// simulator can compare tex with what peer engines do, on the same core.
type Policy string

// Policies (SIMULATION.md).
const (
	// PolicyTex is the configured routing: continuity, fallback chain, callbacks.
	PolicyTex Policy = "tex"
	// PolicyLongestIdle sends each market only to its home team, to the
	// longest-idle agent: no continuity, no overflow, no callbacks.
	PolicyLongestIdle Policy = "longest_idle"
	// PolicyPooled has every agent serve every market from one queue, longest-idle first.
	PolicyPooled Policy = "pooled"
)

// Options tune a Core beyond the org's routing config.
type Options struct {
	// Policy defaults to PolicyTex.
	Policy Policy
	// Explain builds a Decision record for every decision. The live server
	// turns it on; the simulator leaves it off for speed.
	Explain bool
	// TrackChanges records which agents and contacts changed, for
	// TakeChanges. The live server turns it on to feed its read store; the
	// simulator and benchmarks leave it off.
	TrackChanges bool
	// Events is the set of event kinds the core reports (Events()). The
	// zero value reports every kind. The simulator asks for KindAssigned
	// alone: the core then skips building the records nobody reads.
	// Decision records also need Explain.
	Events EventMask
	// Teams is the routing group this core owns: its single writer. Empty
	// means the whole org. Agents of other teams are never reserved here
	// (DESIGN.md: an agent is only reserved by its own group's writer).
	Teams []string
}

// EventMask is a set of event kinds. The zero mask stands for every kind.
type EventMask uint32

// MaskOf returns the set of the given kinds.
func MaskOf(kinds ...EventKind) EventMask {
	var m EventMask
	for _, k := range kinds {
		m |= 1 << k
	}
	return m
}

// Has reports whether the set holds kind k; the zero mask holds every kind.
func (m EventMask) Has(k EventKind) bool { return m == 0 || m&(1<<k) != 0 }

// ts is a point in time as Unix nanoseconds: compact and cheap to compare.
type ts = int64

const never ts = math.MaxInt64

func toTS(t time.Time) ts { return t.UnixNano() }
func toTime(t ts) time.Time {
	return time.Unix(0, t).UTC()
}
func secs(d float64) ts            { return ts(d * 1e9) }
func toSeconds(d ts) float64       { return float64(d) / 1e9 }
func roundSeconds(d ts) float64    { return math.Round(float64(d)/1e6) / 1e3 }
func clampTS(t, lo, hi ts) ts      { return max(lo, min(t, hi)) }
func (c *Core) nowTime() time.Time { return toTime(c.now) }

// presence is what the agent set.
type presence uint8

const (
	presOffline presence = iota
	presAvailable
	presAway
)

func (p presence) String() string {
	switch p {
	case presAvailable:
		return AgentAvailable
	case presAway:
		return AgentAway
	}
	return AgentOffline
}

// Limits that let an agent's hot fields sit inline, in one or two cache
// lines, instead of behind slice headers: a decision reads forty agents.
const (
	maxChannels  = 8
	maxOrgSkills = 64
)

// agent is the core's view of one agent. Hot fields (read by every
// eligibility check) come first; agents live in one contiguous array.
type agent struct {
	takes         bool
	presence      presence
	pending       presence // requested while a contact is live; applied when it ends
	hasPending    bool
	notResponding bool
	ready         bool // counted in team.ready: could take new work right now
	offers        int32
	active        int32
	wrapping      int32
	idx           int32
	team          int32
	langs         uint64 // bit per language id
	lastFreeAt    ts     // when the agent last became free; fairness is idle time since then
	capacity      [maxChannels]uint8
	used          [maxChannels]uint8  // offered + active + wrapping, by channel id
	skills        [maxOrgSkills]uint8 // proficiency by skill id; 0 = none

	live       []*contact
	misses     int
	id         string
	name       string
	endpoint   string
	role       teams.Role
	state      string // effective state, cached
	stateSince ts
	reason     string

	load   float64 // exponentially decayed count of recent assignments
	loadAt ts

	handledDay   int64 // day number (UTC) of handledToday
	handledToday int
	dirty        bool
}

type team struct {
	idx      int32
	id       string
	agents   []int32
	queue    []*contact // waiting contacts whose home team this is, best first
	ready    int        // agents that could take new work now
	sisterOf []int32    // teams whose markets list this team as a fallback
	load     float64
	loadAt   ts
	handle   handleStats
	owned    bool     // in this core's routing group
	self     []string // {id}, for decision traces
}

type step struct {
	kind   teams.StepKind
	budget ts
}

type market struct {
	idx         int32
	id          string
	home        int32
	fallback    []int32
	chain       []step
	cbThreshold float64 // seconds
	cbDeadline  ts
	// callback chains: the known agent (or the home team) until the
	// deadline, then the rest of the chain.
	cbKnown   []step
	cbTeam    []step
	sisterIDs []string // fallback team ids, for decision traces
}

// Core is the deterministic routing state machine. It is not safe for
// concurrent use: a routing group has a single writer.
type Core struct {
	cfg     teams.RoutingConfig
	policy  Policy
	explain bool
	track   bool
	evMask  EventMask
	org     *teams.Org
	opts    Options // as given to New, for the snapshot's fingerprint
	// ids is what every snapshot names the org and options by, made by
	// the first Snapshot (or Restore): marshalling a large org is not
	// worth repeating in the writer's pause.
	ids *snapshotIDs

	agents   []*agent
	teams    []*team
	markets  []*market
	agentIdx map[string]int32
	teamIdx  map[string]int32
	mktIdx   map[string]int32
	areaCode map[string]int32
	defMkt   int32 // -1 when the org has no default market

	skillIdx map[string]int16
	langIdx  map[string]uint8
	chanIdx  map[string]uint8
	chanName []string
	voice    int // channel id of voice, or -1

	contacts map[string]*contact
	free     []*contact // forgotten contacts, for reuse
	retained int        // finished contacts still held
	cutShort uint64     // finished contacts forgotten early, at max_retained_contacts
	anyWait  []*contact // contacts whose any_team step is open
	seq      uint64     // arrival order
	frontSeq int64      // requeued contacts go in front: negative sequence numbers
	// memory is the continuity memory: customer key to a history in
	// histories, a slab of fixed chunks without pointers, so that a
	// million remembered customers cost the garbage collector nothing but
	// the map, and growing it copies nothing.
	memory    map[string]int32
	histories []*[histChunk]history
	nHist     int32
	freeHist  []int32
	// memorySweep lists each remembered customer once, in about the order
	// their memory may run out, so that customers who never call again are
	// forgotten too.
	memorySweep []memoryDue
	sweepHead   int
	timers      timerHeap                 // step timers
	fifos       [timerRetry + 1]timerFIFO // fixed-duration timers, by kind
	timerSeq    uint64
	now         ts
	epoch       uint64 // moves on with every change of state (see ewtMemo)
	events      []Event
	dirtyA      []*agent
	dirtyC      []*contact
	gone        []string
	scratch     scratch
	weights     teams.Weights
	// weightsView is shared by every decision record: weights never change.
	weightsView WeightsView
	loadTau     float64
	contTau     float64
	memoryTTL   ts
}

// New builds a core for the org. The org must be valid (teams.Load checks it).
func New(org *teams.Org, opts Options) (*Core, error) {
	cfg := org.Routing
	c := &Core{
		cfg:      cfg,
		policy:   opts.Policy,
		explain:  opts.Explain,
		track:    opts.TrackChanges,
		evMask:   opts.Events,
		org:      org,
		opts:     opts,
		agentIdx: map[string]int32{},
		teamIdx:  map[string]int32{},
		mktIdx:   map[string]int32{},
		areaCode: map[string]int32{},
		defMkt:   -1,
		skillIdx: map[string]int16{},
		langIdx:  map[string]uint8{},
		chanIdx:  map[string]uint8{},
		voice:    -1,
		contacts: map[string]*contact{},
		memory:   map[string]int32{},
		weights:  cfg.Weights,
	}
	if c.policy == "" {
		c.policy = PolicyTex
	}
	switch c.policy {
	case PolicyTex:
	case PolicyLongestIdle, PolicyPooled:
		// Baselines choose by idle time alone.
		c.weights = teams.Weights{Fairness: 1}
	default:
		return nil, fmt.Errorf("router: unknown policy %q (want tex, longest_idle or pooled)", c.policy)
	}
	if probs := cfg.Validate("routing"); len(probs) > 0 {
		return nil, fmt.Errorf("router: invalid routing config: %v", probs)
	}
	c.weightsView = WeightsView{c.weights.Continuity, c.weights.Skill, c.weights.Fairness}
	c.loadTau = cfg.LoadHalfLifeSeconds / math.Ln2
	c.contTau = cfg.ContinuityHalfLifeSeconds / math.Ln2
	c.memoryTTL = secs(cfg.ContinuityMemorySeconds)

	owned := map[string]bool{}
	for _, id := range opts.Teams {
		if _, ok := org.Team(id); !ok {
			return nil, fmt.Errorf("router: routing group names unknown team %q", id)
		}
		owned[id] = true
	}
	for i := range org.Teams {
		t := &org.Teams[i]
		c.teamIdx[t.ID] = int32(i)
		c.teams = append(c.teams, &team{idx: int32(i), id: t.ID, owned: len(owned) == 0 || owned[t.ID], self: []string{t.ID}})
	}
	// Ids in sorted order, so that they do not depend on map iteration.
	for i := range org.Agents {
		for _, ch := range slices.Sorted(maps.Keys(org.Agents[i].Channels)) {
			c.channelID(ch)
		}
	}
	if len(c.chanName) > maxChannels {
		return nil, fmt.Errorf("router: the org has %d channels; at most %d are supported", len(c.chanName), maxChannels)
	}
	backing := make([]agent, len(org.Agents))
	for i := range org.Agents {
		oa := &org.Agents[i]
		ti, ok := c.teamIdx[oa.Team]
		if !ok {
			return nil, fmt.Errorf("router: agent %s is on unknown team %q", oa.ID, oa.Team)
		}
		if _, dup := c.agentIdx[oa.ID]; dup {
			return nil, fmt.Errorf("router: duplicate agent id %q", oa.ID)
		}
		a := &backing[i]
		*a = agent{
			idx: int32(len(c.agents)), team: ti, id: oa.ID, name: oa.Name, endpoint: oa.Endpoint,
			role: oa.Role, takes: cfg.TakesContacts(oa.Role), state: AgentOffline,
		}
		for ch, n := range oa.Channels {
			a.capacity[c.chanIdx[ch]] = uint8(min(max(n, 0), 255))
		}
		for _, l := range oa.Languages {
			bit, err := c.languageID(l)
			if err != nil {
				return nil, err
			}
			a.langs |= 1 << bit
		}
		if len(oa.Languages) == 0 {
			bit, err := c.languageID(cfg.DefaultLanguage)
			if err != nil {
				return nil, err
			}
			a.langs |= 1 << bit
		}
		for _, s := range slices.Sorted(maps.Keys(oa.Skills)) {
			p := oa.Skills[s]
			id := c.skillID(s)
			if int(id) >= maxOrgSkills {
				return nil, fmt.Errorf("router: the org has more than %d skills", maxOrgSkills)
			}
			a.skills[id] = uint8(min(max(p, 0), 5))
		}
		c.agentIdx[oa.ID] = a.idx
		c.agents = append(c.agents, a)
		if c.teams[ti].owned {
			c.teams[ti].agents = append(c.teams[ti].agents, a.idx)
		}
	}
	for i := range org.Markets {
		om := &org.Markets[i]
		home, ok := c.teamIdx[om.HomeTeam]
		if !ok {
			return nil, fmt.Errorf("router: market %s has unknown home team %q", om.ID, om.HomeTeam)
		}
		m := &market{idx: int32(i), id: om.ID, home: home}
		for _, f := range om.FallbackTeams {
			fi, ok := c.teamIdx[f]
			if !ok {
				return nil, fmt.Errorf("router: market %s has unknown fallback team %q", om.ID, f)
			}
			m.fallback = append(m.fallback, fi)
			m.sisterIDs = append(m.sisterIDs, f)
			if !containsI32(c.teams[fi].sisterOf, home) {
				c.teams[fi].sisterOf = append(c.teams[fi].sisterOf, home)
			}
		}
		chain, threshold, deadline := cfg.ForMarket(om)
		m.cbThreshold = threshold
		m.cbDeadline = secs(deadline)
		m.chain = c.policyChain(chain)
		m.cbKnown, m.cbTeam = callbackChains(m.chain, m.cbDeadline)
		c.mktIdx[om.ID] = m.idx
		for _, ac := range om.AreaCodes {
			c.areaCode[ac] = m.idx
		}
		c.markets = append(c.markets, m)
	}
	if org.DefaultMarket != "" {
		mi, ok := c.mktIdx[org.DefaultMarket]
		if !ok {
			return nil, fmt.Errorf("router: default market %q is not a market", org.DefaultMarket)
		}
		c.defMkt = mi
	}
	for _, t := range c.teams {
		t.handle.init(cfg.EWTSampleSize)
	}
	return c, nil
}

// policyChain is the chain a market runs under the core's policy.
func (c *Core) policyChain(chain []teams.ChainStep) []step {
	switch c.policy {
	case PolicyLongestIdle:
		return []step{{kind: teams.StepHomeTeam}}
	case PolicyPooled:
		return []step{{kind: teams.StepAnyTeam}}
	}
	out := make([]step, len(chain))
	for i, s := range chain {
		out[i] = step{kind: s.Step, budget: secs(s.BudgetSeconds)}
	}
	return out
}

// callbackChains derives a market's callback chains: reserved for the known
// agent, or for the home team, until the deadline; after it, every step of
// the line chain beyond the home team opens at once, since the customer has
// already waited the deadline out.
func callbackChains(chain []step, deadline ts) (known, team []step) {
	var rest []step
	for _, s := range chain {
		switch s.kind {
		case teams.StepKnownAgent, teams.StepServedBefore, teams.StepHomeTeam:
		default:
			rest = append(rest, step{kind: s.kind})
		}
	}
	known = append([]step{{kind: teams.StepKnownAgent, budget: deadline}, {kind: teams.StepHomeTeam}}, rest...)
	team = append([]step{{kind: teams.StepHomeTeam, budget: deadline}}, rest...)
	return known, team
}

func (c *Core) channelID(name string) uint8 {
	if id, ok := c.chanIdx[name]; ok {
		return id
	}
	id := uint8(len(c.chanName))
	c.chanIdx[name] = id
	c.chanName = append(c.chanName, name)
	if name == teams.ChannelVoice {
		c.voice = int(id)
	}
	return id
}

func (c *Core) languageID(name string) (uint8, error) {
	if id, ok := c.langIdx[name]; ok {
		return id, nil
	}
	if len(c.langIdx) == 64 {
		return 0, fmt.Errorf("router: more than 64 languages in the org")
	}
	id := uint8(len(c.langIdx))
	c.langIdx[name] = id
	return id, nil
}

func (c *Core) skillID(name string) int16 {
	if id, ok := c.skillIdx[name]; ok {
		return id
	}
	id := int16(len(c.skillIdx))
	c.skillIdx[name] = id
	return id
}

func containsI32(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// advance moves the core's clock to now, first firing every timer due by
// then at its own deadline. Time never goes backwards: an earlier now (a
// skewed caller) is treated as the current time.
func (c *Core) advance(now time.Time) {
	c.epoch++
	t := toTS(now)
	c.runTimers(t)
	if t > c.now {
		c.now = t
		c.epoch++
	}
	c.sweepMemory()
}

type memoryDue struct {
	key string
	at  ts
}

// sweepMemory forgets customers whose every remembered contact is older
// than the memory TTL. One still remembered goes back in the list, due when
// its newest entry runs out.
func (c *Core) sweepMemory() {
	for c.sweepHead < len(c.memorySweep) && c.memorySweep[c.sweepHead].at <= c.now {
		d := c.memorySweep[c.sweepHead]
		c.memorySweep[c.sweepHead] = memoryDue{}
		c.sweepHead++
		if h := c.memoryOf(d.key); h != nil {
			h.forget(c.now, c.memoryTTL)
			if h.n == 0 {
				c.forgetMemory(d.key)
			} else {
				c.memorySweep = append(c.memorySweep, memoryDue{key: d.key, at: h.entries[0].at + c.memoryTTL})
			}
		}
	}
	if c.sweepHead >= 1024 && c.sweepHead*2 >= len(c.memorySweep) {
		n := copy(c.memorySweep, c.memorySweep[c.sweepHead:])
		clear(c.memorySweep[n:])
		c.memorySweep, c.sweepHead = c.memorySweep[:n], 0
	}
}

// Tick fires every timer due by now: offer expiry, wrap-up ends, fallback
// steps opening, callback deadlines, active-contact leases and retention.
func (c *Core) Tick(now time.Time) { c.advance(now) }

// NextDeadline is when the next timer is due, so the shell knows when to Tick.
func (c *Core) NextDeadline() (time.Time, bool) {
	if _, next := c.nextTimer(); next != nil {
		return toTime(next.at), true
	}
	return time.Time{}, false
}

// Now is the core's clock: the latest time it has been given.
func (c *Core) Now() time.Time { return toTime(c.now) }

// Retention reports the finished contacts held for late events and
// retried requests, and how many were forgotten before
// contact_retention_seconds because max_retained_contacts was reached
// (counted since this core was made).
func (c *Core) Retention() (held int, cutShort uint64) { return c.retained, c.cutShort }

// Events returns the events produced since the last call and forgets them.
// The slice is reused: it is valid until the next command.
func (c *Core) Events() []Event {
	ev := c.events
	c.events = c.events[:0]
	return ev
}

func (c *Core) emit(e Event) { c.events = append(c.events, e) }
