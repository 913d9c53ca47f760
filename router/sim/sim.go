package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/tex-cx/tex/router"
	"github.com/tex-cx/tex/teams"
)

// Options tune a run beyond its scenario.
type Options struct {
	// Progress, when set, is called about every ProgressEvery of wall time
	// (default 2 s) while the run goes on. Only cmd/ prints it.
	Progress      func(Progress)
	ProgressEvery time.Duration
}

// Progress is how far a run is.
type Progress struct {
	VirtualSeconds  float64
	DurationSeconds float64
	Contacts        int64
	Wall            time.Duration
}

// epoch is virtual time zero: a Monday, so day boundaries fall where a
// reader expects.
var epoch = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

const (
	ns       = int64(time.Second)
	never    = math.MaxInt64
	noAgent  = -1
	voice    = teams.ChannelVoice
	window   = int64(RepeatWindowSeconds) * ns
	maxLoops = 64 // safety bound on assignments handled in one drain
)

// ErrStuck is returned when contacts wait while no agent is busy and the
// core has no timer pending: a starvation bug in the core.
var ErrStuck = errors.New("simulation stuck: contacts wait, no agent is busy and the core has no timer")

// Sim event kinds.
const (
	evArrival   uint8 = iota + 1
	evAccept          // the ringing agent answers
	evHandleEnd       // the conversation ends
	evWrapEnd         // the agent finishes wrap-up
	evPatience        // the caller's patience runs out
)

type event struct {
	at   int64
	seq  uint64
	kind uint8
	gen  uint32
	idx  int32 // market for arrivals, contact slot otherwise
}

// eventHeap is a binary min-heap by (at, seq): seq makes ties
// deterministic. Hand-written, since container/heap boxes every value.
type eventHeap []event

func (h *eventHeap) push(e event) {
	*h = append(*h, e)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !s[i].less(&s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *eventHeap) pop() event {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && s[r].less(&s[l]) {
			m = r
		}
		if !s[m].less(&s[i]) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

func (e *event) less(o *event) bool {
	if e.at != o.at {
		return e.at < o.at
	}
	return e.seq < o.seq
}

// Contact phases as the simulator sees them.
const (
	phFree     uint8 = iota
	phLine           // waiting on the line
	phCallback       // waiting for a callback
	phOffered        // an agent's phone rings
	phActive
	phWrap
)

type simContact struct {
	id        string
	gen       uint32
	phase     uint8
	market    int32
	cust      int32
	agent     int32
	prevAgent int32 // who served the customer last, within the repeat window; -1 none
	counted   bool
	queued    bool // waited in the queue at arrival (route answered queued)
	takesCB   bool
	callback  bool
	resolved  bool
	arrived   int64
	answered  int64
	cbAt      int64
	handle    int64
	wrap      int64
	ewt       float64 // EWT at arrival, -1 unknown
}

type customerState struct {
	lastCall   int64 // when the customer last called; far in the past if never
	lastServed int64
	lastAgent  int32
	live       bool
}

type recent struct {
	cust int32
	at   int64
}

type marketState struct {
	w         *worldMarket
	home      int32 // home team index
	rate      float64
	repeat    float64
	rng       *rand.Rand // arrivals and everything drawn per contact
	crng      *rand.Rand // customer picks
	customers []customerState
	recent    []recent
	head      int
	acc       acc
}

// acc accumulates one market's figures.
type acc struct {
	offered, lineAnswered, cbAnswered, abandoned int64
	waited, withinSL, home                       int64
	repeats, sameAgent, callbacks                int64
	waitSum, ewtErrSum, ewtBiasSum               float64
	ewtN                                         int64
	cbWaits                                      []float64
}

type runner struct {
	s      *Scenario
	w      *world
	core   *router.Core
	opts   Options
	events eventHeap
	seq    uint64

	contacts []simContact
	free     []int32
	live     int
	waiting  map[string]int32 // queued contacts by id, for assignments

	markets   []marketState
	agentIdx  map[string]int32
	agentTeam []int32
	teamBusy  []float64 // seconds busy within the counted window, by team
	teamStaff []int     // agents logged in, by team

	warmup, end int64
	sl          int64
	ring        int64
	wrapCap     float64
	handleCap   float64
	arrivals    int64
	idBuf       []byte

	req   router.RouteRequest
	cev   router.ContactEvent
	asg   []assigned
	clock time.Time
}

type assigned struct {
	slot  int32
	agent int32
}

var (
	yes = true
	no  = false
)

// Run simulates the scenario on the real routing core and returns its figures.
func Run(s *Scenario, opts Options) (*Result, error) {
	begin := time.Now()
	if !(s.DurationSeconds > 0 && s.WarmupSeconds >= 0 && s.WarmupSeconds < s.DurationSeconds) {
		return nil, fmt.Errorf("scenario %s: the warm-up (%v s) must be shorter than the duration (%v s)", s.File, s.WarmupSeconds, s.DurationSeconds)
	}
	w, err := s.buildWorld()
	if err != nil {
		return nil, err
	}
	r := &runner{s: s, w: w, opts: opts, waiting: map[string]int32{}, agentIdx: map[string]int32{}}
	if err := r.setup(); err != nil {
		return nil, err
	}
	start := time.Now()
	if err := r.loop(start); err != nil {
		return nil, err
	}
	res := r.result()
	loop := time.Since(start)
	res.Run = RunStats{WallSeconds: round(time.Since(begin).Seconds(), 3), SetupSeconds: round(start.Sub(begin).Seconds(), 3), Contacts: r.arrivals}
	if loop > 0 {
		res.Run.ContactsPerSecond = math.Round(float64(r.arrivals) / loop.Seconds())
	}
	return res, nil
}

// wrapCapFor is the longest wrap time the simulator samples. The core's
// wrap-up timer is set just above it, so the simulator's wrapped_up always
// comes first, and for fixed wraps the core's EWT knows the exact wrap.
func wrapCapFor(d Dist) float64 {
	switch d.Kind {
	case DistFixed:
		return d.Value
	case DistExponential:
		return 20 * d.Mean
	case DistLognormal:
		mu, sigma := lognormalParams(d)
		return math.Exp(mu + 6*sigma)
	}
	return 0
}

func lognormalParams(d Dist) (mu, sigma float64) {
	s2 := math.Log(1 + d.SD*d.SD/(d.Mean*d.Mean))
	return math.Log(d.Mean) - s2/2, math.Sqrt(s2)
}

func sample(d *Dist, rng *rand.Rand) float64 {
	switch d.Kind {
	case DistExponential:
		return rng.ExpFloat64() * d.Mean
	case DistLognormal:
		mu, sigma := lognormalParams(*d)
		return math.Exp(mu + sigma*rng.NormFloat64())
	}
	return d.Value
}

func (r *runner) setup() error {
	s, org := r.s, r.w.org
	r.wrapCap = wrapCapFor(s.Wrap)
	// The simulator plays wrap-up itself (ended, then wrapped_up after the
	// sampled wrap time); the core's timer is only a backstop above it.
	org.Routing.WrapUpSeconds = r.wrapCap + 1
	// Nobody asks about a finished contact again: forget it at once.
	org.Routing.ContactRetentionSeconds = 0
	// Handle times stay under the active-contact lease, or the core would
	// end the call itself.
	r.handleCap = org.Routing.ActiveLeaseSeconds - 1
	// Assignments are the only events the simulator reads.
	core, err := router.New(org, router.Options{Policy: s.Policy, Events: router.MaskOf(router.KindAssigned)})
	if err != nil {
		return fmt.Errorf("scenario %s: %w", s.File, err)
	}
	r.core = core
	r.warmup = int64(s.WarmupSeconds * float64(ns))
	r.end = int64(s.DurationSeconds * float64(ns))
	r.sl = int64(s.SLThresholdSeconds * float64(ns))
	r.ring = int64(s.RingSeconds * float64(ns))
	r.req.Channel = voice

	teamIdx := map[string]int32{}
	for i, t := range org.Teams {
		teamIdx[t.ID] = int32(i)
	}
	r.teamBusy = make([]float64, len(org.Teams))
	r.teamStaff = make([]int, len(org.Teams))
	for i := range org.Agents {
		a := &org.Agents[i]
		r.agentIdx[a.ID] = int32(i)
		r.agentTeam = append(r.agentTeam, teamIdx[a.Team])
		if !org.Routing.TakesContacts(a.Role) || a.Channels[voice] < 1 {
			continue
		}
		if _, err := core.SetAgentState(epoch, &router.AgentStateRequest{AgentID: a.ID, State: router.AgentAvailable}); err != nil {
			return fmt.Errorf("scenario %s: agent %s: %w", s.File, a.ID, err)
		}
		r.teamStaff[teamIdx[a.Team]]++
	}
	core.Events()

	rates := map[string]Arrival{}
	for _, a := range s.Arrivals {
		rates[a.Market] = a
	}
	for i := range org.Markets {
		m := &org.Markets[i]
		a, ok := rates[m.ID]
		if !ok {
			a, ok = rates["*"]
		}
		ms := marketState{w: &r.w.markets[i], home: teamIdx[m.HomeTeam]}
		if ok {
			ms.rate, ms.repeat = a.PerHour/3600, a.RepeatShare
			// Streams per market and purpose: arrivals do not depend on
			// routing, so every policy sees the same callers (common
			// random numbers), which sharpens comparisons.
			ms.rng = rand.New(rand.NewPCG(s.Seed, uint64(i)*2+1))
			ms.crng = rand.New(rand.NewPCG(s.Seed^0x9E3779B97F4A7C15, uint64(i)*2+2))
			ms.customers = make([]customerState, ms.w.customers+1)
			for c := range ms.customers {
				ms.customers[c].lastAgent = noAgent
				ms.customers[c].lastCall = math.MinInt64 / 2
			}
		}
		r.markets = append(r.markets, ms)
	}
	for i := range r.markets {
		if r.markets[i].rate > 0 {
			r.scheduleArrival(int32(i), 0)
		}
	}
	return nil
}

func (r *runner) push(at int64, kind uint8, idx int32, gen uint32) {
	r.seq++
	r.events.push(event{at: at, seq: r.seq, kind: kind, idx: idx, gen: gen})
}

func (r *runner) scheduleArrival(m int32, now int64) {
	ms := &r.markets[m]
	at := now + int64(ms.rng.ExpFloat64()/ms.rate*float64(ns))
	if at < r.end {
		r.push(at, evArrival, m, 0)
	}
}

func (r *runner) at(t int64) time.Time { return epoch.Add(time.Duration(t)) }

// loop runs sim events and core timers in time order until every contact
// has finished.
func (r *runner) loop(start time.Time) error {
	every := r.opts.ProgressEvery
	if every <= 0 {
		every = 2 * time.Second
	}
	last := start
	var steps uint64
	for {
		next := int64(never)
		if len(r.events) > 0 {
			next = r.events[0].at
		}
		// Core timers due first fire first, at their own time, so an offer
		// made by a timer is answered then and not at the next sim event.
		if d, ok := r.core.NextDeadline(); ok {
			if dn := d.UnixNano() - epoch.UnixNano(); dn <= next && (len(r.events) > 0 || r.live > 0) {
				r.core.Tick(d)
				if err := r.drain(dn); err != nil {
					return err
				}
				continue
			}
		}
		if len(r.events) == 0 {
			if r.live > 0 {
				return fmt.Errorf("%w (%d contacts)", ErrStuck, r.live)
			}
			return nil
		}
		e := r.events.pop()
		if err := r.handle(e); err != nil {
			return err
		}
		steps++
		if r.opts.Progress != nil && steps&0x3fff == 0 {
			if now := time.Now(); now.Sub(last) >= every {
				last = now
				r.opts.Progress(Progress{VirtualSeconds: float64(e.at) / float64(ns),
					DurationSeconds: r.s.DurationSeconds, Contacts: r.arrivals, Wall: now.Sub(start)})
			}
		}
	}
}

func (r *runner) handle(e event) error {
	switch e.kind {
	case evArrival:
		return r.arrive(e.idx, e.at)
	}
	ct := &r.contacts[e.idx]
	if ct.gen != e.gen {
		return nil // the contact moved on: a stale event
	}
	switch e.kind {
	case evAccept:
		if ct.phase == phOffered {
			return r.accept(e.idx, e.at)
		}
	case evHandleEnd:
		return r.endCall(e.idx, e.at)
	case evWrapEnd:
		return r.wrapUp(e.idx, e.at)
	case evPatience:
		if ct.phase == phLine || ct.phase == phOffered {
			return r.abandon(e.idx, e.at)
		}
	}
	return nil
}

func (r *runner) newSlot() int32 {
	if n := len(r.free); n > 0 {
		i := r.free[n-1]
		r.free = r.free[:n-1]
		return i
	}
	r.contacts = append(r.contacts, simContact{})
	return int32(len(r.contacts) - 1)
}

func (r *runner) release(i int32) {
	ct := &r.contacts[i]
	ms := &r.markets[ct.market]
	ms.customers[ct.cust].live = false
	ct.phase = phFree
	ct.gen++
	ct.id = ""
	r.live--
	r.free = append(r.free, i)
}

// pickCustomer draws the caller: with the market's repeat share, someone
// who called in the last 7 days; otherwise someone of the customer base who
// did not, so that repeat_share is the share of repeat callers (drawing
// from the whole base would add the base's own recent callers, about 12
// points more on the carrier scenario). A customer already on a call, or a
// recent one drawn as new, is redrawn a few times; a base too small to
// have enough customers who did not call lately gives more repeats.
func (ms *marketState) pickCustomer(now int64) int32 {
	for ms.head < len(ms.recent) && now-ms.recent[ms.head].at > window {
		ms.head++
	}
	if ms.head > 4096 && ms.head*2 > len(ms.recent) {
		ms.recent = append(ms.recent[:0], ms.recent[ms.head:]...)
		ms.head = 0
	}
	repeat := ms.crng.Float64() < ms.repeat
	var c int32
	for try := 0; try < 8; try++ {
		if n := len(ms.recent) - ms.head; repeat && n > 0 {
			c = ms.recent[ms.head+ms.crng.IntN(n)].cust
			if !ms.customers[c].live {
				break
			}
			continue
		}
		c = int32(1 + ms.crng.IntN(ms.w.customers))
		if cs := &ms.customers[c]; !cs.live && now-cs.lastCall > window {
			break
		}
	}
	ms.customers[c].lastCall = now
	ms.recent = append(ms.recent, recent{cust: c, at: now})
	return c
}

func (r *runner) arrive(m int32, now int64) error {
	r.scheduleArrival(m, now)
	ms := &r.markets[m]
	s := r.s
	i := r.newSlot()
	ct := &r.contacts[i]
	r.live++
	r.arrivals++
	cust := ms.pickCustomer(now)
	cs := &ms.customers[cust]
	cs.live = true
	*ct = simContact{gen: ct.gen, phase: phLine, market: m, cust: cust, agent: noAgent, prevAgent: noAgent,
		arrived: now, counted: now >= r.warmup, ewt: -1}
	if cs.lastAgent != noAgent && now-cs.lastServed <= window {
		ct.prevAgent = cs.lastAgent
	}
	// Everything random about the contact is drawn now, from the market's
	// stream, so it does not depend on how the contact is routed.
	ct.handle = int64(min(sample(&s.Handle, ms.rng), r.handleCap) * float64(ns))
	ct.wrap = int64(min(sample(&s.Wrap, ms.rng), r.wrapCap) * float64(ns))
	patience := int64(never)
	if s.Patience != nil {
		patience = now + int64(sample(s.Patience, ms.rng)*float64(ns))
	}
	ct.takesCB = ms.rng.Float64() < s.CallbackAcceptShare
	ct.resolved = ms.rng.Float64() < s.ResolvedShare
	if ct.counted {
		ms.acc.offered++
	}

	r.idBuf = strconv.AppendUint(append(r.idBuf[:0], 'c'), uint64(r.arrivals), 10)
	ct.id = string(r.idBuf)
	r.req.ContactID = ct.id
	r.req.CustomerID = ms.w.customerID(int(cust), &r.idBuf)
	r.req.Market = ms.w.id
	r.clock = r.at(now)
	reply, err := r.core.Route(r.clock, &r.req)
	if err != nil {
		return fmt.Errorf("route %s: %w", ct.id, err)
	}
	if err := r.drain(now); err != nil {
		return err
	}
	ct = &r.contacts[i]
	switch reply.Status {
	case router.StatusAssigned:
		ai, ok := r.agentIdx[reply.Agent]
		if !ok {
			return fmt.Errorf("route %s: assigned to unknown agent %q", ct.id, reply.Agent)
		}
		r.offered(i, ai, now)
		if r.ring == 0 {
			return r.accept(i, now)
		}
	case router.StatusQueued:
		ct.queued = true
		if reply.EWTSeconds != nil {
			ct.ewt = *reply.EWTSeconds
		}
		r.waiting[ct.id] = i
		if reply.CallbackOffered && ct.takesCB {
			r.cev = router.ContactEvent{ContactID: ct.id, Type: router.EventCallbackRequested, Number: ms.w.phone(int(cust), &r.idBuf)}
			if _, err := r.core.HandleContactEvent(r.clock, &r.cev); err != nil {
				return fmt.Errorf("callback_requested %s: %w", ct.id, err)
			}
			ct = &r.contacts[i]
			if ct.phase == phLine {
				ct.phase, ct.callback, ct.cbAt = phCallback, true, now
				if ct.counted {
					ms.acc.callbacks++
				}
			}
			if err := r.drain(now); err != nil {
				return err
			}
		} else if patience != never {
			r.push(patience, evPatience, i, ct.gen)
		}
	default:
		return fmt.Errorf("route %s: unexpected status %q", ct.id, reply.Status)
	}
	return nil
}

// drain reads the core's events: an Assignment is an agent offered a
// contact that waited, which the simulator answers.
func (r *runner) drain(now int64) error {
	for loops := 0; ; loops++ {
		r.asg = r.asg[:0]
		for _, ev := range r.core.Events() {
			if ev.Kind != router.KindAssigned {
				continue
			}
			slot, ok := r.waiting[ev.Assignment.ContactID]
			if !ok {
				return fmt.Errorf("assignment of unknown contact %s at %v: %+v", ev.Assignment.ContactID, now, *ev.Assignment)
			}
			ai, ok := r.agentIdx[ev.Assignment.Agent]
			if !ok {
				return fmt.Errorf("assignment of %s to unknown agent %q", ev.Assignment.ContactID, ev.Assignment.Agent)
			}
			r.asg = append(r.asg, assigned{slot: slot, agent: ai})
		}
		if len(r.asg) == 0 {
			return nil
		}
		if loops > maxLoops {
			return fmt.Errorf("more than %d rounds of assignments at one instant", maxLoops)
		}
		// Copied out: the core reuses its event slice on the next command.
		pending := append([]assigned(nil), r.asg...)
		for _, a := range pending {
			r.offered(a.slot, a.agent, now)
			if r.ring == 0 {
				if err := r.acceptNow(a.slot, now); err != nil {
					return err
				}
			}
		}
	}
}

// offered: agent ai's phone rings for the contact.
func (r *runner) offered(i, ai int32, now int64) {
	ct := &r.contacts[i]
	if ct.phase == phLine || ct.phase == phCallback {
		delete(r.waiting, ct.id)
	}
	ct.phase = phOffered
	ct.agent = ai
	if r.ring > 0 {
		r.push(now+r.ring, evAccept, i, ct.gen)
	}
}

func (r *runner) accept(i int32, now int64) error {
	if err := r.acceptNow(i, now); err != nil {
		return err
	}
	return r.drain(now)
}

// acceptNow answers an offer and books the answer's figures. It does not
// drain: the caller does.
func (r *runner) acceptNow(i int32, now int64) error {
	ct := &r.contacts[i]
	r.cev = router.ContactEvent{ContactID: ct.id, Type: router.EventAccepted}
	if _, err := r.core.HandleContactEvent(r.at(now), &r.cev); err != nil {
		return fmt.Errorf("accept %s: %w", ct.id, err)
	}
	ct = &r.contacts[i]
	ct.phase = phActive
	ct.answered = now
	ms := &r.markets[ct.market]
	cs := &ms.customers[ct.cust]
	cs.lastAgent, cs.lastServed = ct.agent, now
	if ct.counted {
		a := &ms.acc
		if ct.callback {
			a.cbAnswered++
			a.cbWaits = append(a.cbWaits, float64(now-ct.cbAt)/float64(ns))
		} else {
			a.lineAnswered++
			wait := now - ct.arrived
			a.waitSum += float64(wait) / float64(ns)
			if ct.queued {
				a.waited++
				if ct.ewt >= 0 {
					d := ct.ewt - float64(wait)/float64(ns)
					a.ewtErrSum += math.Abs(d)
					a.ewtBiasSum += d
					a.ewtN++
				}
			}
			if wait <= r.sl {
				a.withinSL++
			}
		}
		if r.agentTeam[ct.agent] == ms.home {
			a.home++
		}
		if ct.prevAgent != noAgent {
			a.repeats++
			if ct.prevAgent == ct.agent {
				a.sameAgent++
			}
		}
	}
	r.push(now+ct.handle, evHandleEnd, i, ct.gen)
	return nil
}

func (r *runner) endCall(i int32, now int64) error {
	ct := &r.contacts[i]
	r.cev = router.ContactEvent{ContactID: ct.id, Type: router.EventEnded}
	if _, err := r.core.HandleContactEvent(r.at(now), &r.cev); err != nil {
		return fmt.Errorf("ended %s: %w", ct.id, err)
	}
	if err := r.drain(now); err != nil {
		return err
	}
	ct = &r.contacts[i]
	ct.phase = phWrap
	if ct.wrap == 0 {
		return r.wrapUp(i, now)
	}
	r.push(now+ct.wrap, evWrapEnd, i, ct.gen)
	return nil
}

func (r *runner) wrapUp(i int32, now int64) error {
	ct := &r.contacts[i]
	r.cev = router.ContactEvent{ContactID: ct.id, Type: router.EventWrappedUp, Resolved: &no}
	if ct.resolved {
		r.cev.Resolved = &yes
	}
	if _, err := r.core.HandleContactEvent(r.at(now), &r.cev); err != nil {
		return fmt.Errorf("wrapped_up %s: %w", ct.id, err)
	}
	// Busy time: from the answer to the end of wrap-up, inside the
	// counted window.
	if lo, hi := max(ct.answered, r.warmup), min(now, r.end); hi > lo {
		r.teamBusy[r.agentTeam[ct.agent]] += float64(hi-lo) / float64(ns)
	}
	r.release(i)
	return r.drain(now)
}

func (r *runner) abandon(i int32, now int64) error {
	ct := &r.contacts[i]
	r.cev = router.ContactEvent{ContactID: ct.id, Type: router.EventAbandoned}
	if _, err := r.core.HandleContactEvent(r.at(now), &r.cev); err != nil {
		return fmt.Errorf("abandoned %s: %w", ct.id, err)
	}
	ct = &r.contacts[i]
	delete(r.waiting, ct.id)
	if ct.counted {
		r.markets[ct.market].acc.abandoned++
	}
	r.release(i)
	return r.drain(now)
}
