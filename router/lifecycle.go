package router

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/tex-cx/tex/teams"
)

// setState moves a contact to a new state. Bumping the generation cancels
// every timer set for the old state.
func (c *Core) setState(ct *contact, state, reason string) {
	prev := ct.state
	ct.state = state
	ct.gen++
	c.epoch++
	c.markContact(ct)
	if !c.evMask.Has(KindContactState) {
		return
	}
	e := Event{Kind: KindContactState}
	cs := &e.ContactState
	*cs = ContactStateChange{ContactID: ct.id, Market: c.markets[ct.market].id, Team: c.teams[ct.team].id,
		State: state, Prev: prev, Reason: reason, At: c.nowTime()}
	if ct.agent >= 0 {
		cs.Agent = c.agents[ct.agent].id
		cs.Team = c.teams[c.agents[ct.agent].team].id
	}
	e.Key = cs.Market
	c.emit(e)
}

func (c *Core) markContact(ct *contact) {
	if c.track && !ct.dirty {
		ct.dirty = true
		c.dirtyC = append(c.dirtyC, ct)
	}
}

func (c *Core) markAgent(a *agent) {
	if c.track && !a.dirty {
		a.dirty = true
		c.dirtyA = append(c.dirtyA, a)
	}
}

// offer reserves agent a for the contact: an offer with a TTL.
func (c *Core) offer(ct *contact, a *agent, kind teams.StepKind) {
	c.dequeue(ct)
	ct.agent = a.idx
	ct.offeredAt = c.now
	ct.offerExpires = c.now + secs(c.cfg.OfferTTLSeconds)
	ct.matchedStep = kind
	c.setState(ct, ContactOffered, string(kind))
	c.schedule(ct, timerOffer, ct.offerExpires)
	a.used[ct.channel]++
	a.offers++
	a.live = append(a.live, ct)
	c.countWork(a)
	c.refreshAgent(a, "")
	if ct.waited && c.evMask.Has(KindAssigned) {
		how := "line"
		if ct.callback {
			how = "callback"
		}
		m := c.markets[ct.market]
		c.emit(Event{Kind: KindAssigned, Key: m.id, Assignment: &Assignment{
			ContactID: ct.id, Kind: how, Market: m.id, Team: c.teams[a.team].id, Agent: a.id,
			Endpoint: a.endpoint, OfferExpiresAt: toTime(ct.offerExpires),
			WaitedSeconds: roundSeconds(c.now - ct.arrivedAt), Number: ct.cbNumber, Step: string(kind),
		}})
	}
}

// releaseSlot frees the agent's slot that the contact held.
func (c *Core) releaseSlot(a *agent, ct *contact) {
	a.used[ct.channel]--
	for i, x := range a.live {
		if x == ct {
			a.live = append(a.live[:i], a.live[i+1:]...)
			break
		}
	}
	if a.offers+a.active+a.wrapping == 0 {
		a.lastFreeAt = c.now
		if a.hasPending {
			a.presence, a.hasPending = a.pending, false
			a.notResponding, a.misses = false, 0
		}
	}
}

// missOffer handles a rejected or expired offer: the miss counts against
// the agent, and the contact goes back to the front of its queue.
func (c *Core) missOffer(ct *contact, how string) {
	a := c.agents[ct.agent]
	a.offers--
	c.releaseSlot(a, ct)
	a.misses++
	if a.misses >= c.cfg.MaxMisses {
		a.notResponding = true
	}
	if c.evMask.Has(KindOfferMissed) {
		m := c.markets[ct.market]
		c.emit(Event{Kind: KindOfferMissed, Key: c.teams[a.team].id, OfferMissed: &OfferMissed{
			ContactID: ct.id, AgentID: a.id, Team: c.teams[a.team].id, Market: m.id, How: how,
			MissesInARow: a.misses, NotResponding: a.notResponding, At: c.nowTime(),
		}})
	}
	coolOff := c.now + secs(c.cfg.OfferTTLSeconds)
	ct.missedBy = append(ct.missedBy, missed{agent: a.idx, until: coolOff})
	ct.agent = -1
	c.frontSeq--
	ct.seq = c.frontSeq
	state := ContactQueued
	if ct.callback {
		state = ContactCallback
	}
	c.setState(ct, state, "offer_"+how)
	ct.waited = true
	c.refreshAgent(a, "")
	c.dispatch(ct, TriggerRequeue)
	if ct.waiting() {
		// When a cool-off ends, the agent who missed may take it again:
		// this one's, and those of earlier misses, whose timers the state
		// changes since cancelled.
		c.rearmRetries(ct)
	}
	c.pull(a)
	c.releaseHeld(a)
}

func (c *Core) accept(ct *contact, a *agent, at ts) {
	a.offers--
	a.active++
	missed := a.misses > 0
	a.misses = 0
	ct.answeredAt = clampTS(at, ct.offeredAt, c.now)
	ct.continuity = c.continuityClass(ct, a)
	if ct.customerKey != "" {
		c.contactMemory(ct).record(a.idx, c.now)
	}
	c.setState(ct, ContactActive, "accepted")
	c.schedule(ct, timerLease, c.now+secs(c.cfg.ActiveLeaseSeconds))
	c.refreshAgent(a, "")
	if missed {
		// Having answered, the agent is offered again the contacts it let
		// go (the missed-offer cool-off no longer holds them back), right
		// away when it has room left, as a chat agent may.
		c.pull(a)
	}
}

// continuityClass compares the agent with who served the customer last.
func (c *Core) continuityClass(ct *contact, a *agent) string {
	if ct.hist.n == 0 {
		return ContinuityFirstContact
	}
	last := c.agents[ct.hist.entries[0].agent]
	switch {
	case last.idx == a.idx:
		return ContinuitySameAgent
	case last.team == a.team:
		return ContinuitySameTeam
	}
	return ContinuityOtherTeam
}

// endContact ends the conversation: the agent goes to wrap-up.
func (c *Core) endContact(ct *contact, at ts, hold float64, transferred bool, to, reason string) {
	a := c.agents[ct.agent]
	a.active--
	a.wrapping++
	ct.endedAt = clampTS(at, ct.answeredAt, c.now)
	ct.holdSecs = min(max(hold, 0), toSeconds(ct.endedAt-ct.answeredAt))
	ct.transferred = ct.transferred || transferred
	if to != "" {
		ct.transferTo = to
	}
	c.setState(ct, ContactWrapUp, reason)
	if c.cfg.WrapUpSeconds == 0 {
		c.finishWrap(ct, nil, "", false)
		return
	}
	c.schedule(ct, timerWrap, c.now+secs(c.cfg.WrapUpSeconds))
	c.refreshAgent(a, "")
}

// finishWrap completes a contact: by the agent (wrapped_up, or available
// during wrap-up) or by the wrap-up timer (resolved unknown).
func (c *Core) finishWrap(ct *contact, resolved *bool, disposition string, byAgent bool) {
	a := c.agents[ct.agent]
	a.wrapping--
	ct.wrappedAt = c.now
	ct.resolved = resolved
	ct.disposition = disposition
	reason := "wrap_up_timer"
	if byAgent {
		reason = "wrapped_up"
	}
	c.setState(ct, ContactCompleted, reason)
	c.releaseSlot(a, ct)
	t := c.teams[ct.team]
	t.handle.add(toSeconds(ct.endedAt-ct.answeredAt) + toSeconds(ct.wrappedAt-ct.endedAt))
	if ct.customerKey != "" {
		c.contactMemory(ct).setResolved(a.idx, resolved)
	}
	day := c.now / secs(86400)
	if a.handledDay != day {
		a.handledDay, a.handledToday = day, 0
	}
	a.handledToday++
	c.publishResolved(ct, false)
	c.retain(ct)
	c.refreshAgent(a, "")
	c.pull(a)
	c.releaseHeld(a)
}

func (c *Core) publishResolved(ct *contact, corrected bool) {
	if !c.evMask.Has(KindResolved) {
		return
	}
	a := c.agents[ct.agent]
	m := c.markets[ct.market]
	talk := toSeconds(ct.endedAt-ct.answeredAt) - ct.holdSecs
	rc := &ResolvedContact{
		ContactID: ct.id, CustomerID: ct.customerID, Market: m.id, Team: c.teams[a.team].id, Agent: a.id,
		Channel: c.chanName[ct.channel], ArrivedAt: toTime(ct.arrivedAt), AnsweredAt: toTime(ct.answeredAt),
		EndedAt: toTime(ct.endedAt), WrappedAt: toTime(ct.wrappedAt),
		WaitSeconds: roundSeconds(ct.answeredAt - ct.arrivedAt), TalkSeconds: math.Round(max(talk, 0)*1e3) / 1e3,
		HoldSeconds: math.Round(ct.holdSecs*1e3) / 1e3, WrapSeconds: roundSeconds(ct.wrappedAt - ct.endedAt),
		Transferred: ct.transferred, TransferTo: ct.transferTo, Resolved: ct.resolved, Disposition: ct.disposition,
		HomeTeam: a.team == ct.team, Continuity: ct.continuity, Callback: ct.callback, Corrected: corrected,
		FallbackStep: string(ct.matchedStep),
	}
	c.emit(Event{Kind: KindResolved, Key: m.id, Resolved: rc})
}

// abandon: the customer left before an agent took the contact.
func (c *Core) abandon(ct *contact) {
	var a *agent
	if ct.state == ContactOffered {
		a = c.agents[ct.agent]
		a.offers--
		c.releaseSlot(a, ct)
	}
	c.dequeue(ct)
	c.setState(ct, ContactAbandoned, "abandoned")
	c.retain(ct)
	if a != nil {
		c.refreshAgent(a, "")
		c.pull(a)
		c.releaseHeld(a)
	}
}

// requestCallback: a queued caller leaves the line and waits as a callback,
// in the same place in the queue, until the market's callback deadline:
// reserved for the known agent when the caller was waiting for them (a
// hold or a known-agent callback), else for the home team.
func (c *Core) requestCallback(ct *contact, number string) {
	ct.callback = true
	ct.cbNumber = number
	ct.cbAt = c.now
	m := c.markets[ct.market]
	if ct.known >= 0 && (ct.knownChoice == knownHold || ct.knownChoice == knownCallback) {
		ct.chain = m.cbKnown
	} else {
		ct.chain = m.cbTeam
	}
	ct.step, ct.stepOpen = 0, c.now
	c.setState(ct, ContactCallback, "callback_requested")
	c.syncAnyWait(ct)
	c.dispatch(ct, TriggerRequeue)
	if ct.waiting() {
		c.rearmRetries(ct)
	}
}

// rearmRetries sets a timer at the end of each cool-off still running for
// a waiting contact (a state change cancels the ones set before): when
// the cool-off of an agent who let the contact go ends, the contact is
// dispatched again, and that agent may take it.
func (c *Core) rearmRetries(ct *contact) {
	for i, m := range ct.missedBy {
		if m.until <= c.now || slices.ContainsFunc(ct.missedBy[:i], func(o missed) bool { return o.until == m.until }) {
			continue
		}
		c.schedule(ct, timerRetry, m.until)
	}
}

// retain keeps a contact that just finished for contact_retention_seconds.
func (c *Core) retain(ct *contact) {
	c.schedule(ct, timerRetention, c.now+secs(c.cfg.ContactRetentionSeconds))
	c.retained++
	c.trimRetained()
}

// trimRetained forgets the oldest finished contacts early while more than
// max_retained_contacts are held: at thousands of contacts a second, an
// hour of them would not fit in memory.
func (c *Core) trimRetained() {
	limit := c.cfg.MaxRetainedContacts
	// Retention timers queue in the order contacts finished; the few in
	// the heap (after a reload shortened the retention) expire soon anyway.
	for f := &c.fifos[timerRetention]; limit > 0 && c.retained > limit && f.peek() != nil; {
		if t := f.pop(); t.valid() && c.forgetContact(t.ct) {
			c.cutShort++
		}
	}
}

// retentionText says how long finished contacts are kept, for errors.
func (c *Core) retentionText() string {
	s := "finished contacts are kept " + time.Duration(secs(c.cfg.ContactRetentionSeconds)).String()
	if n := c.cfg.MaxRetainedContacts; n > 0 {
		s += fmt.Sprintf(", the latest %d at most", n)
	}
	return s
}

// forgetContact drops a finished contact; false if it is not finished.
func (c *Core) forgetContact(ct *contact) bool {
	if !ct.terminal() {
		return false
	}
	c.retained--
	delete(c.contacts, ct.id)
	if c.track {
		c.gone = append(c.gone, ct.id)
	}
	clear(ct.decisions)
	c.free = append(c.free, ct)
	return true
}

// HandleContactEvent applies a platform's report about a contact.
func (c *Core) HandleContactEvent(now time.Time, ev *ContactEvent) (ContactEventReply, error) {
	c.advance(now)
	switch ev.Type {
	case EventAccepted, EventRejected, EventEnded, EventWrappedUp, EventAbandoned, EventCallbackRequested, EventTransferred:
	case "":
		return ContactEventReply{}, errorf(CodeInvalidRequest, "type is required (accepted, rejected, ended, wrapped_up, abandoned, callback_requested or transferred)")
	default:
		return ContactEventReply{}, errorf(CodeInvalidRequest, "unknown type %q (want accepted, rejected, ended, wrapped_up, abandoned, callback_requested or transferred)", ev.Type)
	}
	if ev.ContactID == "" {
		return ContactEventReply{}, errorf(CodeInvalidRequest, "contact_id is required")
	}
	ct, ok := c.contacts[ev.ContactID]
	if !ok {
		return ContactEventReply{}, errorf(CodeUnknownContact, "contact %q is not known (never routed, or finished and forgotten: %s)", ev.ContactID, c.retentionText())
	}
	at := c.now
	if ev.At != nil {
		at = clampTS(toTS(*ev.At), ct.arrivedAt, c.now)
	}
	if ev.AgentID != "" {
		if _, ok := c.agentIdx[ev.AgentID]; !ok {
			return ContactEventReply{}, errorf(CodeUnknownAgent, "agent %q is not in the org", ev.AgentID)
		}
	}
	if err := c.applyContactEvent(ct, ev, at); err != nil {
		return ContactEventReply{}, err
	}
	return ContactEventReply{OK: true, ContactID: ct.id, State: ct.state}, nil
}

func (c *Core) wrongState(ct *contact, ev string, want string) error {
	return errorf(CodeInvalidTransition, "%s: contact %s is %s; %s", ev, ct.id, ct.state, want)
}

// applyContactEvent checks the event against the contact's state and
// applies it. Every check comes before the first change.
func (c *Core) applyContactEvent(ct *contact, ev *ContactEvent, at ts) error {
	switch ev.Type {
	case EventAccepted, EventRejected:
		if ct.state != ContactOffered {
			return c.wrongState(ct, ev.Type, "only an offered contact can be accepted or rejected")
		}
		a := c.agents[ct.agent]
		if ev.AgentID != "" && ev.AgentID != a.id {
			return errorf(CodeInvalidTransition, "%s: contact %s is offered to agent %s, not %s", ev.Type, ct.id, a.id, ev.AgentID)
		}
		if ev.Type == EventAccepted {
			c.accept(ct, a, at)
		} else {
			c.missOffer(ct, "rejected")
		}
	case EventEnded, EventTransferred:
		if ct.state != ContactActive {
			return c.wrongState(ct, ev.Type, "only an accepted contact can end or be transferred")
		}
		if err := c.checkAgent(ct, ev); err != nil {
			return err
		}
		if ev.HoldSeconds < 0 || math.IsNaN(ev.HoldSeconds) || math.IsInf(ev.HoldSeconds, 0) {
			return errorf(CodeInvalidRequest, "hold_seconds must be a number >= 0, got %v", ev.HoldSeconds)
		}
		c.endContact(ct, at, ev.HoldSeconds, ev.Type == EventTransferred, ev.To, ev.Type)
	case EventWrappedUp:
		if err := c.checkAgent(ct, ev); err != nil {
			return err
		}
		switch ct.state {
		case ContactWrapUp:
			c.finishWrap(ct, ev.Resolved, ev.Disposition, true)
		case ContactCompleted:
			// A late wrap-up after the timer, or a correction: the last record wins.
			ct.resolved = ev.Resolved
			if ev.Disposition != "" {
				ct.disposition = ev.Disposition
			}
			if h := c.memoryOf(ct.customerKey); h != nil {
				h.setResolved(ct.agent, ev.Resolved)
			}
			c.markContact(ct)
			c.publishResolved(ct, true)
		default:
			return c.wrongState(ct, ev.Type, "wrap-up starts when the contact has ended")
		}
	case EventAbandoned:
		switch ct.state {
		case ContactQueued, ContactCallback, ContactOffered:
			c.abandon(ct)
		default:
			return c.wrongState(ct, ev.Type, "only a waiting or offered contact can be abandoned; a contact in progress ends with `ended`")
		}
	case EventCallbackRequested:
		if ct.state != ContactQueued {
			return c.wrongState(ct, ev.Type, "only a caller waiting on the line can take a callback")
		}
		number := ct.ani
		if ev.Number != "" {
			n, err := teams.NormalizePhone(ev.Number)
			if err != nil {
				return errorf(CodeInvalidRequest, "number: %v", err)
			}
			number = n
		}
		if number == "" {
			return errorf(CodeInvalidRequest, "callback_requested needs a number: the contact came with no ani")
		}
		c.requestCallback(ct, number)
	}
	return nil
}

// checkAgent refuses an event that names another agent than the contact's.
func (c *Core) checkAgent(ct *contact, ev *ContactEvent) error {
	if ev.AgentID != "" && ct.agent >= 0 && c.agents[ct.agent].id != ev.AgentID {
		return errorf(CodeInvalidTransition, "%s: contact %s is with agent %s, not %s", ev.Type, ct.id, c.agents[ct.agent].id, ev.AgentID)
	}
	return nil
}
