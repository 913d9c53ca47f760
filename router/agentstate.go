package router

import (
	"time"

	"github.com/tex-cx/tex/teams"
)

// TriggerAgentLeft: an agent left, so a step that counted on them may no
// longer be viable.
const TriggerAgentLeft = "agent_left"

// SetAgentState applies an agent's own state change (PROTOCOL.md AgentState).
func (c *Core) SetAgentState(now time.Time, req *AgentStateRequest) (AgentStateReply, error) {
	c.advance(now)
	var want presence
	switch req.State {
	case AgentAvailable:
		want = presAvailable
	case AgentAway:
		want = presAway
	case AgentOffline:
		want = presOffline
	case AgentReserved, AgentBusy, AgentWrapUp, AgentNotResponding:
		return AgentStateReply{}, errorf(CodeInvalidRequest, "state %q is set by the engine; agents may set available, away or offline", req.State)
	case "":
		return AgentStateReply{}, errorf(CodeInvalidRequest, "state is required (available, away or offline)")
	default:
		return AgentStateReply{}, errorf(CodeInvalidRequest, "unknown state %q (want available, away or offline)", req.State)
	}
	if req.AgentID == "" {
		return AgentStateReply{}, errorf(CodeInvalidRequest, "agent_id is required")
	}
	ai, ok := c.agentIdx[req.AgentID]
	if !ok {
		return AgentStateReply{}, errorf(CodeUnknownAgent, "agent %q is not in the org", req.AgentID)
	}
	a := c.agents[ai]
	if !c.teams[a.team].owned {
		return AgentStateReply{}, errorf(CodeUnavailable, "agent %s is on team %s, which another routing group owns", a.id, c.teams[a.team].id)
	}
	if req.State == a.state && !a.hasPending || a.hasPending && a.pending == want {
		// Already so, or already on the way there: a retry changes nothing.
		return c.agentReply(a, false), nil
	}
	live := a.offers + a.active + a.wrapping
	if want == presAvailable {
		if a.offers+a.active > 0 {
			return AgentStateReply{}, errorf(CodeInvalidTransition, "agent %s is %s with contact %s; available comes after the contact ends", a.id, a.state, a.live[0].id)
		}
		// Available during wrap-up ends the wrap-up early.
		for a.wrapping > 0 {
			var wrapping *contact
			for _, ct := range a.live {
				if ct.state == ContactWrapUp {
					wrapping = ct
					break
				}
			}
			c.finishWrap(wrapping, nil, "", true)
		}
		if a.presence != presAvailable {
			a.lastFreeAt = c.now
		}
		a.presence, a.hasPending = presAvailable, false
		a.notResponding, a.misses = false, 0
		a.reason = req.Reason
		c.refreshAgent(a, req.Reason)
		c.pull(a)
		return c.agentReply(a, true), nil
	}
	if live > 0 {
		// Away or offline with a live contact takes effect when it ends.
		// Contacts held or called back for this agent go on at once.
		a.pending, a.hasPending = want, true
		a.reason = req.Reason
		c.refreshAgent(a, req.Reason)
		c.recheckHeld(a)
		return c.agentReply(a, true), nil
	}
	a.presence, a.hasPending = want, false
	a.notResponding, a.misses = false, 0
	a.reason = req.Reason
	c.refreshAgent(a, req.Reason)
	c.recheckHeld(a)
	return c.agentReply(a, true), nil
}

func (c *Core) agentReply(a *agent, changed bool) AgentStateReply {
	r := AgentStateReply{OK: true, AgentID: a.id, State: a.state, Changed: changed}
	if a.hasPending {
		r.Pending = a.pending.String()
	}
	return r
}

// effectiveState is the state others see: live work first, then what the agent set.
func (a *agent) effectiveState() string {
	switch {
	case a.active > 0:
		return AgentBusy
	case a.offers > 0:
		return AgentReserved
	case a.wrapping > 0:
		return AgentWrapUp
	case a.notResponding:
		return AgentNotResponding
	}
	return a.presence.String()
}

// refreshAgent recomputes the agent's state and readiness after a change,
// and reports a state change.
func (c *Core) refreshAgent(a *agent, reason string) {
	c.epoch++
	c.markAgent(a)
	ready := a.presence == presAvailable && !a.notResponding && !a.hasPending &&
		!(a.wrapping > 0 && a.active == 0 && a.offers == 0) && c.hasAnyRoom(a)
	if ready != a.ready {
		a.ready = ready
		if ready {
			c.teams[a.team].ready++
		} else {
			c.teams[a.team].ready--
		}
	}
	st := a.effectiveState()
	if st == a.state {
		return
	}
	prev := a.state
	a.state, a.stateSince = st, c.now
	if !c.evMask.Has(KindAgentState) {
		return
	}
	if a.notResponding && st == AgentNotResponding && reason == "" {
		reason = "missed offers"
	}
	c.emit(Event{Kind: KindAgentState, Key: c.teams[a.team].id, AgentState: AgentStateChange{
		AgentID: a.id, Team: c.teams[a.team].id, State: st, Prev: prev, Reason: reason, At: c.nowTime(),
	}})
}

func (c *Core) hasAnyRoom(a *agent) bool {
	for ch := range c.chanName {
		if a.capacity[ch] > 0 && c.hasRoom(a, uint8(ch)) {
			return true
		}
	}
	return false
}

// pull lets a free agent take the best waiting contact it may serve, and
// repeats while it has room (a chat agent can take several).
func (c *Core) pull(a *agent) {
	for a.ready {
		ct, kind, considered := c.bestWaiting(a)
		if ct == nil {
			return
		}
		var d *Decision
		if c.explain {
			k := c.score(ct, a)
			d = &Decision{ContactID: ct.id, At: c.nowTime(), Trigger: TriggerAgentFree, Market: c.markets[ct.market].id,
				MatchedBy: ct.matchedBy, Team: c.teams[ct.team].id, Outcome: StatusAssigned, Agent: a.id,
				Step: string(kind), Considered: considered, Callback: ct.callback, Policy: string(c.policy),
				Weights: &c.weightsView}
			s := stepScan{}
			c.keepTop(&s, a, &k)
			s.top[0].Chosen = true
			d.Candidates = s.top
		}
		c.offer(ct, a, kind)
		c.record(ct, d)
	}
}

// bestWaiting finds the waiting contact agent a should take: priority first,
// then the customer's affinity to this agent, then the longest wait. Only
// contacts whose open fallback steps include the agent count.
func (c *Core) bestWaiting(a *agent) (best *contact, kind teams.StepKind, considered int) {
	var bestAff float64
	var bestYields bool
	yieldUntil := c.now - secs(c.cfg.CallbackYieldSeconds)
	consider := func(ct *contact) bool {
		considered++
		if best != nil && ct.priority < best.priority {
			return false // queues are sorted: nothing better follows
		}
		k, ok := c.inOpenStep(ct, a)
		if !ok || c.eligible(ct, a) != "" {
			return true
		}
		aff := c.affinity(&ct.hist, a.idx)
		if c.policy != PolicyTex {
			aff = 0
		}
		// A recent callback gives way to callers on the line.
		yields := ct.callback && ct.cbAt > yieldUntil
		if best == nil || ct.priority > best.priority ||
			(ct.priority == best.priority && (bestYields && !yields ||
				bestYields == yields && (aff > bestAff || (aff == bestAff && ct.seq < best.seq)))) {
			best, bestAff, bestYields, kind = ct, aff, yields, k
		}
		return true
	}
	scanQueue := func(q []*contact) {
		for _, ct := range q {
			if !consider(ct) {
				return
			}
		}
	}
	t := c.teams[a.team]
	scanQueue(t.queue)
	for _, h := range t.sisterOf {
		scanQueue(c.teams[h].queue)
	}
	for _, ct := range c.anyWait {
		if ct.team != a.team {
			consider(ct)
		}
	}
	return best, kind, considered
}

// releaseHeld lets contacts held or called back for agent a go on down
// their chains when the agent stops taking work: a missed offer too many,
// or an away or offline that waited for the last contact to end.
func (c *Core) releaseHeld(a *agent) {
	if a.presence != presAvailable || a.notResponding {
		c.recheckHeld(a)
	}
}

// recheckHeld re-dispatches contacts held at a step that counted on agent
// a, now gone: a step with nobody who could serve is skipped at once.
func (c *Core) recheckHeld(a *agent) {
	check := func(q []*contact) {
		for i := 0; i < len(q); i++ {
			ct := q[i]
			if ct.step+1 >= len(ct.chain) {
				continue
			}
			if _, ok := c.inOpenStep(ct, a); ok {
				before := len(q)
				c.dispatch(ct, TriggerAgentLeft)
				if len(c.teams[ct.team].queue) != before {
					return // the queue changed under us; the rest waits for their timers
				}
			}
		}
	}
	t := c.teams[a.team]
	check(t.queue)
	for _, h := range t.sisterOf {
		check(c.teams[h].queue)
	}
}
