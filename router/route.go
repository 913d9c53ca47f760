package router

import (
	"math"
	"sort"
	"strings"
	"time"

	"github.com/tex-cx/tex/teams"
)

// maxSkills bounds the skills one contact may require.
const maxSkills = 8

// maxIDLen bounds contact, agent and customer ids so that one bad client
// cannot make the engine hold megabytes per contact.
const maxIDLen = 256

// Route places a contact: it identifies the customer, walks the market's
// fallback chain, and offers the contact to the best eligible agent or
// queues it. A repeated request for a known contact id changes nothing and
// answers with the contact's current state.
func (c *Core) Route(now time.Time, req *RouteRequest) (RouteReply, error) {
	c.advance(now)
	if req.ContactID == "" {
		return RouteReply{}, errorf(CodeInvalidRequest, "contact_id is required")
	}
	if len(req.ContactID) > maxIDLen {
		return RouteReply{}, errorf(CodeInvalidRequest, "contact_id is longer than %d characters", maxIDLen)
	}
	if ct, ok := c.contacts[req.ContactID]; ok {
		return c.reply(ct), nil
	}
	ct, err := c.newContact(req)
	if err != nil {
		return RouteReply{}, err
	}
	c.contacts[ct.id] = ct
	// The contact is queued until dispatch finds an agent; the queued state
	// is only reported when it really waits, to keep the hot path lean.
	ct.state = ContactQueued
	c.dispatch(ct, TriggerRoute)
	return c.reply(ct), nil
}

// newContact validates a request and builds its contact, without touching state.
func (c *Core) newContact(req *RouteRequest) (*contact, error) {
	ch, ok := c.chanIdx[req.Channel]
	if !ok {
		if req.Channel == "" {
			return nil, errorf(CodeInvalidRequest, "channel is required (one of %s)", strings.Join(c.chanName, ", "))
		}
		return nil, errorf(CodeInvalidRequest, "channel %q is not served by any agent in the org (want one of %s)", req.Channel, strings.Join(c.chanName, ", "))
	}
	if req.Priority < 0 || req.Priority > 100 {
		return nil, errorf(CodeInvalidRequest, "priority must be 0-100, got %d", req.Priority)
	}
	if len(req.CustomerID) > maxIDLen {
		return nil, errorf(CodeInvalidRequest, "customer_id is longer than %d characters", maxIDLen)
	}
	langName := req.Language
	if langName == "" {
		langName = c.cfg.DefaultLanguage
	}
	lang, ok := c.langIdx[langName]
	if !ok {
		return nil, errorf(CodeInvalidRequest, "language %q is not spoken by any agent in the org", langName)
	}
	ct := c.allocContact()
	ct.id, ct.channel, ct.lang, ct.priority, ct.customerID = req.ContactID, ch, lang, req.Priority, req.CustomerID
	ct.arrivedAt, ct.stepOpen = c.now, c.now
	if len(req.Skills) > maxSkills {
		return nil, errorf(CodeInvalidRequest, "at most %d skills per contact, got %d", maxSkills, len(req.Skills))
	}
	for i, s := range req.Skills {
		id, ok := c.skillIdx[s]
		if !ok {
			return nil, errorf(CodeInvalidRequest, "skill %q is not a skill of any agent in the org", s)
		}
		ct.skills[i], ct.minProf[i] = id, uint8(c.cfg.MinimumFor(s))
	}
	ct.nSkills = uint8(len(req.Skills))
	if req.ANI != "" {
		ani, err := teams.NormalizePhone(req.ANI)
		if err != nil {
			return nil, errorf(CodeInvalidRequest, "ani: %v", err)
		}
		ct.ani = ani
	}
	if err := c.identify(ct, req); err != nil {
		return nil, err
	}
	m := c.markets[ct.market]
	if !c.teams[m.home].owned {
		return nil, errorf(CodeUnavailable, "market %s is served by team %s, which another routing group owns", m.id, c.teams[m.home].id)
	}
	ct.team = m.home
	ct.chain = m.chain
	c.seq++
	ct.seq = int64(c.seq)
	c.loadHistory(ct)
	return ct, nil
}

// allocContact returns a blank contact, recycled from a forgotten one when
// it can: a busy server routes millions a day, and recycling keeps the
// garbage collector off the decision path. Generations keep counting up,
// so a recycled contact's stale timers stay cancelled.
func (c *Core) allocContact() *contact {
	n := len(c.free)
	if n == 0 {
		return &contact{known: -1, agent: -1, mem: -1}
	}
	ct := c.free[n-1]
	c.free[n-1] = nil
	c.free = c.free[:n-1]
	*ct = contact{known: -1, agent: -1, mem: -1, gen: ct.gen + 1, dirty: ct.dirty,
		served: ct.served[:0], missedBy: ct.missedBy[:0], decisions: ct.decisions[:0]}
	return ct
}

// identify finds the market: customer id, then ANI, then the market the
// request names, then the ANI's area code, then the org default.
func (c *Core) identify(ct *contact, req *RouteRequest) error {
	cust := c.org.Customers
	if req.CustomerID != "" {
		ct.customerKey = req.CustomerID
		if mk, ok := cust.MarketOf(req.CustomerID); ok {
			if mi, ok := c.mktIdx[mk]; ok {
				ct.market, ct.matchedBy = mi, MatchedCustomerID
				return nil
			}
		}
	}
	if ct.ani != "" {
		if id, mk, ok := cust.ByPhone(ct.ani); ok {
			if mi, ok := c.mktIdx[mk]; ok {
				ct.market, ct.matchedBy = mi, MatchedANI
				if ct.customerKey == "" {
					ct.customerKey, ct.customerID = id, id
				}
				return nil
			}
		}
		if ct.customerKey == "" {
			ct.customerKey = "ani:" + ct.ani
		}
	}
	if req.Market != "" {
		mi, ok := c.mktIdx[req.Market]
		if !ok {
			return errorf(CodeInvalidRequest, "market %q is not a market of the org", req.Market)
		}
		ct.market, ct.matchedBy = mi, MatchedMarket
		return nil
	}
	if ac, ok := teams.AreaCode(ct.ani); ok {
		if mi, ok := c.areaCode[ac]; ok {
			ct.market, ct.matchedBy = mi, MatchedAreaCode
			return nil
		}
	}
	if c.defMkt < 0 {
		return errorf(CodeInvalidRequest, "the contact matches no market (no known customer_id, ani or market) and the org has no default_market")
	}
	ct.market, ct.matchedBy = c.defMkt, MatchedDefault
	return nil
}

// loadHistory copies the customer's continuity memory into the contact and
// finds the known agent and the home-team agents who served them before.
func (c *Core) loadHistory(ct *contact) {
	if ct.customerKey == "" {
		return
	}
	i, ok := c.memory[ct.customerKey]
	if !ok {
		return
	}
	h := c.history(i)
	ct.mem, ct.memGen = i, h.gen
	h.forget(c.now, c.memoryTTL)
	if h.n == 0 {
		// Left for the sweep, which owns deletion: a customer deleted here
		// and remembered again would be listed twice.
		return
	}
	ct.hist = *h
	if c.policy != PolicyTex {
		// Baselines ignore continuity, but the history still classifies
		// the contact (same agent or not) for the simulator's figures.
		return
	}
	for i := range h.n {
		ai := h.entries[i].agent
		if c.agents[ai].team != ct.team {
			continue
		}
		if i == 0 && c.now-h.entries[0].at <= secs(c.cfg.KnownAgentWindowSeconds) && c.affinity(h, ai) >= c.cfg.KnownAgentMinAffinity {
			ct.known = ai
		} else {
			ct.served = append(ct.served, ai)
		}
	}
}

// dispatch looks for an agent for a waiting contact over its open fallback
// steps, opening further steps while the current one has a zero budget or
// nobody who could serve; it offers the contact or (re)queues it.
func (c *Core) dispatch(ct *contact, trigger string) {
	s := stepScan{seed: contactSeed(ct.id)}
	var d *Decision
	if c.explain {
		d = &Decision{ContactID: ct.id, At: c.nowTime(), Trigger: trigger, Market: c.markets[ct.market].id,
			MatchedBy: ct.matchedBy, Team: c.teams[ct.team].id, Policy: string(c.policy),
			Weights: &c.weightsView, Steps: make([]StepTrace, 0, len(ct.chain))}
	}
	matched := -1
	for i := 0; i < len(ct.chain) && i <= ct.step; i++ {
		var tr *StepTrace
		if d != nil {
			d.Steps = append(d.Steps, StepTrace{Step: string(ct.chain[i].kind), Open: true, Teams: c.stepTeams(ct, ct.chain[i].kind)})
			tr = &d.Steps[len(d.Steps)-1]
		}
		viable := c.scanStep(ct, ct.chain[i], &s, tr)
		if viable && s.best == nil && i == ct.step && ct.chain[i].kind == teams.StepKnownAgent && !c.waitForKnown(ct, d) {
			// The known agent is too far away to wait for (known.go).
			viable = false
		}
		if tr != nil {
			tr.Viable = viable
		}
		if s.best != nil {
			matched = i
			break
		}
		if i == ct.step && i+1 < len(ct.chain) {
			// The next step opens now when this one has no budget or its
			// budget has run out, and at once when nobody logged in could
			// serve the contact here.
			switch next := ct.stepOpen + ct.chain[i].budget; {
			case next <= c.now:
				ct.step, ct.stepOpen = i+1, next
				c.epoch++
			case !viable:
				ct.step, ct.stepOpen = i+1, c.now
				c.epoch++
			}
		}
	}
	if d != nil {
		for i := len(d.Steps); i < len(ct.chain); i++ {
			d.Steps = append(d.Steps, StepTrace{Step: string(ct.chain[i].kind), Teams: c.stepTeams(ct, ct.chain[i].kind)})
		}
		d.Candidates = s.top
		d.Skipped = s.skipped
	}
	if matched >= 0 {
		a := s.best
		if d != nil {
			d.Outcome, d.Agent, d.Step = StatusAssigned, a.id, string(ct.chain[matched].kind)
			for i := range d.Candidates {
				d.Candidates[i].Chosen = d.Candidates[i].Agent == a.id
			}
		}
		c.offer(ct, a, ct.chain[matched].kind)
		c.record(ct, d)
		return
	}
	// Nobody now: wait in the home team's queue until an agent frees up or
	// the next step opens. A duplicate step timer is harmless: it checks
	// the time before opening anything.
	if trigger == TriggerRoute {
		ct.state = ""
		c.setState(ct, ContactQueued, "arrived")
	}
	c.enqueue(ct)
	if ct.step+1 < len(ct.chain) {
		c.schedule(ct, timerStep, ct.stepOpen+ct.chain[ct.step].budget)
	}
	c.syncAnyWait(ct)
	if trigger != TriggerRoute && d == nil {
		return // nothing to offer a callback on, and nothing to record
	}
	// One EWT serves the callback offer and the decision record.
	ewt, known := c.ewt(ct)
	if trigger == TriggerRoute {
		ct.cbOffered = c.policy == PolicyTex && (!known || ewt > c.markets[ct.market].cbThreshold || ct.knownChoice == knownCallback)
	}
	if d != nil {
		d.Outcome, d.Position, d.Callback = StatusQueued, c.position(ct), ct.callback
		if known {
			d.EWTSeconds = tenths(ewt)
		}
	}
	c.record(ct, d)
}

// openNextSteps is the step timer: the current step's budget ran out.
func (c *Core) openNextSteps(ct *contact) {
	if !ct.waiting() || ct.step+1 >= len(ct.chain) || c.now < ct.stepOpen+ct.chain[ct.step].budget {
		return
	}
	c.dispatch(ct, TriggerStepOpened)
}

// record keeps a decision for explain and publishes it.
func (c *Core) record(ct *contact, d *Decision) {
	if d == nil {
		return
	}
	if len(ct.decisions) == maxDecisions {
		copy(ct.decisions, ct.decisions[1:])
		ct.decisions = ct.decisions[:maxDecisions-1]
	}
	ct.decisions = append(ct.decisions, d)
	if c.evMask.Has(KindDecision) {
		c.emit(Event{Kind: KindDecision, Key: d.Market, Decision: d})
	}
}

// syncAnyWait keeps Core.anyWait equal to the waiting contacts whose
// any_team step is open, so an agent of any team can find them.
func (c *Core) syncAnyWait(ct *contact) {
	want := ct.waiting() && ct.chain[min(ct.step, len(ct.chain)-1)].kind == teams.StepAnyTeam
	if want == ct.inAny {
		return
	}
	ct.inAny = want
	if want {
		c.anyWait = append(c.anyWait, ct)
		return
	}
	for i, x := range c.anyWait {
		if x == ct {
			c.anyWait = append(c.anyWait[:i], c.anyWait[i+1:]...)
			return
		}
	}
}

// queueLess orders a team queue: priority first, then queue order (arrival,
// with requeued contacts in front).
func queueLess(x, y *contact) bool {
	if x.priority != y.priority {
		return x.priority > y.priority
	}
	return x.seq < y.seq
}

func (c *Core) enqueue(ct *contact) {
	if ct.queued {
		return
	}
	t := c.teams[ct.team]
	i := sort.Search(len(t.queue), func(i int) bool { return queueLess(ct, t.queue[i]) })
	t.queue = append(t.queue, nil)
	copy(t.queue[i+1:], t.queue[i:])
	t.queue[i] = ct
	ct.queued = true
	ct.waited = true
}

func (c *Core) dequeue(ct *contact) {
	if ct.queued {
		t := c.teams[ct.team]
		for i, x := range t.queue {
			if x == ct {
				t.queue = append(t.queue[:i], t.queue[i+1:]...)
				break
			}
		}
		ct.queued = false
	}
	if ct.inAny {
		for i, x := range c.anyWait {
			if x == ct {
				c.anyWait = append(c.anyWait[:i], c.anyWait[i+1:]...)
				break
			}
		}
		ct.inAny = false
	}
}

func (c *Core) position(ct *contact) int {
	if !ct.queued {
		return 0
	}
	for i, x := range c.teams[ct.team].queue {
		if x == ct {
			return i + 1
		}
	}
	return 0
}

// ewt estimates how long a queued contact will wait, from the home team's
// slots that could serve it. Each busy slot frees after its contact's
// expected remaining handle time r (the mean residual life of the team's
// recent handle times), so slots free at a combined rate R = sum(1/r): the
// first frees after about 1/R. After that, slots cycle at c/AHT. Position k
// thus waits 1/R + (k-1)*AHT/c. For exponential handle times this is the
// exact M/M/c answer, k*AHT/c; for regular ones it follows the agents who
// are about to free up.
func (c *Core) ewt(ct *contact) (float64, bool) {
	pos := max(c.position(ct), 1)
	seq := c.ewtSeq(ct, pos)
	if seq == nil {
		return 0, false
	}
	return seq[pos-1], true
}

// tenths is an EWT as replies and records show it: to a tenth of a
// second, like the reads. The estimate is not finer than that, and a
// platform that speaks it to a caller reads no noise digits.
func tenths(ewt float64) *float64 {
	v := math.Round(ewt*10) / 10
	return &v
}

// ewtSeq returns the EWT of positions 1..upto for contacts like ct, or nil
// when nobody who could serve ct is logged in. The slice is scratch space.
func (c *Core) ewtSeq(ct *contact, upto int) []float64 {
	// A route computes its contact's EWT for the callback offer, then again
	// for the reply: the second time it comes from here, unless anything
	// changed in between.
	m := &c.scratch.memo
	if m.ct == ct && m.upto == upto && m.epoch == c.epoch {
		if !m.ok {
			return nil
		}
		return c.scratch.seq
	}
	var seq []float64
	line, ok := c.ewtLine(ct)
	if ok {
		seq = c.scratch.seq[:0]
		ahead := c.freeAhead(ct)
		for k := 1; k <= upto; k++ {
			seq = append(seq, line.at(k, ahead))
		}
		c.scratch.seq = seq
	}
	*m = ewtMemo{ct: ct, upto: upto, epoch: c.epoch, ok: ok}
	return seq
}

// ewtLine is the EWT of a team's line for contacts with the same needs:
// position k waits first + (k-1)*step, less one step per callback ahead
// that does not take the team's next free slot (freeAhead).
type ewtLine struct{ first, step float64 }

// at is the EWT of position k behind ahead such callbacks. The steps are
// taken off one by one, as the first versions did, so figures do not move
// in their last digits.
func (l ewtLine) at(k, ahead int) float64 {
	first := l.first
	for range ahead {
		first -= l.step
	}
	return first + float64(k-1)*l.step
}

// ewtLine works out the line of ct's team for contacts like ct; false when
// nobody logged in could serve them.
func (c *Core) ewtLine(ct *contact) (ewtLine, bool) {
	t := c.teams[ct.team]
	aht := t.handle.mean(c.cfg.DefaultHandleSeconds)
	slots, idle := 0, 0
	rate := 0.0
	for _, ai := range t.agents {
		a := c.agents[ai]
		if a.presence != presAvailable || a.notResponding || a.hasPending || !c.couldServe(ct, a) {
			continue
		}
		n := int(a.capacity[ct.channel])
		if c.voice >= 0 && int(ct.channel) == c.voice {
			n = 1
		}
		slots += n
		busy := 0
		for _, lc := range a.live {
			if busy == n {
				break
			}
			busy++
			var r float64
			if lc.state == ContactWrapUp {
				r = c.cfg.WrapUpSeconds - toSeconds(c.now-lc.endedAt)
			} else {
				r = t.handle.residual(toSeconds(c.now-lc.offeredAt), c.cfg.DefaultHandleSeconds)
			}
			rate += 1 / max(r, 1)
		}
		idle += n - busy
	}
	if slots == 0 {
		return ewtLine{}, false
	}
	line := ewtLine{step: aht / float64(slots)}
	if idle == 0 {
		line.first = 1 / rate
	}
	return line, true
}

// freeAhead counts the callbacks ahead of a caller on the line that do not
// take the team's next free slots: reserved for their known agent, or
// giving way to the line (callback_yield_seconds).
func (c *Core) freeAhead(ct *contact) int {
	if !ct.queued || ct.callback {
		return 0
	}
	n := 0
	for _, x := range c.teams[ct.team].queue {
		if x == ct {
			break
		}
		if c.takesNoSlot(x) {
			n++
		}
	}
	return n
}

// takesNoSlot reports whether waiting contact x is a callback that leaves
// the team's next free slot to the line.
func (c *Core) takesNoSlot(x *contact) bool {
	return x.callback && (x.chain[x.step].kind == teams.StepKnownAgent || x.cbAt > c.now-secs(c.cfg.CallbackYieldSeconds))
}

type scratch struct {
	seq  []float64
	memo ewtMemo
}

// ewtMemo says for which contact and length scratch.seq holds the EWTs.
// Core.epoch moves on with every change of state, which voids it.
type ewtMemo struct {
	ct    *contact
	upto  int
	epoch uint64
	ok    bool
}
