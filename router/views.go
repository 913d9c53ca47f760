package router

import "time"

// reply answers for a contact in the shape of RouteReply.
func (c *Core) reply(ct *contact) RouteReply {
	m := c.markets[ct.market]
	r := RouteReply{ContactID: ct.id, State: ct.state, Market: m.id, Team: c.teams[ct.team].id, MatchedBy: ct.matchedBy}
	if ct.agent >= 0 {
		a := c.agents[ct.agent]
		r.Agent, r.Endpoint, r.Team = a.id, a.endpoint, c.teams[a.team].id
		r.Step = string(ct.matchedStep)
	}
	switch ct.state {
	case ContactOffered:
		r.Status = StatusAssigned
		r.OfferExpiresAt = toTime(ct.offerExpires)
	case ContactActive, ContactWrapUp:
		r.Status = StatusAssigned
	case ContactQueued, ContactCallback:
		r.Status = StatusQueued
		r.Position = c.position(ct)
		if ewt, ok := c.ewt(ct); ok {
			r.EWTSeconds = tenths(ewt)
		}
		r.CallbackOffered = ct.cbOffered && !ct.callback
		r.Callback = ct.callback
		r.Step = string(ct.chain[ct.step].kind)
	case ContactCompleted:
		r.Status = StatusCompleted
	case ContactAbandoned:
		r.Status = StatusAbandoned
	}
	return r
}

// ContactView is a contact as readers (CLI, HTTP, the teams store) see it.
type ContactView struct {
	ContactID  string    `json:"contact_id"`
	State      string    `json:"state"`
	Market     string    `json:"market"`
	Team       string    `json:"team"`
	Agent      string    `json:"agent,omitempty"`
	Channel    string    `json:"channel"`
	Priority   int       `json:"priority"`
	Position   int       `json:"position,omitempty"`
	ArrivedAt  time.Time `json:"arrived_at"`
	EWTSeconds *float64  `json:"ewt_seconds,omitempty"`
	Callback   bool      `json:"callback"`
	Step       string    `json:"step"`
	MatchedBy  string    `json:"matched_by"`

	// For the read store, which computes positions and EWTs when read, so
	// that a route rewrites one row, not the whole queue: a waiting
	// contact's place is by priority, then Order; position k of its queue
	// waits EWTFirst + (k-1)*EWTStep seconds, when HasEWT.
	Waiting  bool    `json:"-"`
	Order    int64   `json:"-"`
	HasEWT   bool    `json:"-"`
	EWTFirst float64 `json:"-"`
	EWTStep  float64 `json:"-"`
}

// AgentView is an agent's live state as readers see it.
type AgentView struct {
	AgentID      string    `json:"agent_id"`
	Name         string    `json:"name"`
	Team         string    `json:"team"`
	Role         string    `json:"role"`
	State        string    `json:"state"`
	Since        time.Time `json:"since"`
	Reason       string    `json:"reason,omitempty"`
	Pending      string    `json:"pending,omitempty"`
	Contacts     []string  `json:"contacts"`
	HandledToday int       `json:"handled_today"`
	Misses       int       `json:"misses_in_a_row"`
	// HandledOn is the UTC day (midnight) HandledToday counts: a reader
	// after that day shows 0, although the agent's view has not changed.
	HandledOn time.Time `json:"-"`
}

// queueInfo caches one team queue's positions and EWTs while a batch of
// views is built, so a long queue costs one pass, not one per contact.
type queueInfo struct {
	pos map[*contact]int
	ewt map[*contact]float64 // absent: nobody logged in could serve
}

// needs is what the static filters ask of an agent: contacts with equal
// needs are served by the same agents, so they share an EWT sequence.
type needs struct {
	channel, lang, nSkills uint8
	skills                 [maxSkills]int16
	minProf                [maxSkills]uint8
}

func needsOf(ct *contact) needs {
	return needs{channel: ct.channel, lang: ct.lang, nSkills: ct.nSkills, skills: ct.skills, minProf: ct.minProf}
}

func (c *Core) queueInfo(t *team, cache map[int32]*queueInfo) *queueInfo {
	if q, ok := cache[t.idx]; ok {
		return q
	}
	q := &queueInfo{pos: make(map[*contact]int, len(t.queue)), ewt: make(map[*contact]float64, len(t.queue))}
	c.walkQueue(t, func(ct *contact, pos int, line ewtLine, ahead int, ok bool) {
		q.pos[ct] = pos
		if ok {
			q.ewt[ct] = line.at(pos, ahead)
		}
	})
	cache[t.idx] = q
	return q
}

// walkQueue calls f for each contact of t's queue in order, with its
// position, the EWT line of contacts like it (ok false when nobody could
// serve them) and freeAhead: one pass, one line per kind of needs.
func (c *Core) walkQueue(t *team, f func(ct *contact, pos int, line ewtLine, ahead int, ok bool)) {
	type lineOK struct {
		line ewtLine
		ok   bool
	}
	lines := map[needs]lineOK{}
	ahead := 0
	for i, ct := range t.queue {
		k := needsOf(ct)
		l, seen := lines[k]
		if !seen {
			l.line, l.ok = c.ewtLine(ct)
			lines[k] = l
		}
		a := ahead
		if ct.callback {
			a = 0 // a callback's own wait is not shifted (freeAhead)
		}
		f(ct, i+1, l.line, a, l.ok)
		if c.takesNoSlot(ct) {
			ahead++
		}
	}
}

func (c *Core) contactView(ct *contact) ContactView { return c.contactViewCached(ct, nil) }

// baseView is what every view of a contact holds, without its place in
// the queue.
func (c *Core) baseView(ct *contact) ContactView {
	v := ContactView{
		ContactID: ct.id, State: ct.state, Market: c.markets[ct.market].id, Team: c.teams[ct.team].id,
		Channel: c.chanName[ct.channel], Priority: ct.priority, ArrivedAt: toTime(ct.arrivedAt),
		Callback: ct.callback, MatchedBy: ct.matchedBy, Step: string(ct.matchedStep),
	}
	if ct.agent >= 0 {
		v.Agent = c.agents[ct.agent].id
	}
	if ct.waiting() {
		v.Step = string(ct.chain[ct.step].kind)
	}
	return v
}

func (c *Core) contactViewCached(ct *contact, cache map[int32]*queueInfo) ContactView {
	v := c.baseView(ct)
	switch {
	case ct.waiting() && cache != nil:
		q := c.queueInfo(c.teams[ct.team], cache)
		v.Position = q.pos[ct]
		if ewt, ok := q.ewt[ct]; ok {
			v.EWTSeconds = tenths(ewt)
		}
	case ct.waiting():
		v.Position = c.position(ct)
		if ewt, ok := c.ewt(ct); ok {
			v.EWTSeconds = tenths(ewt)
		}
	}
	return v
}

func (c *Core) agentView(a *agent) AgentView {
	v := AgentView{
		AgentID: a.id, Name: a.name, Team: c.teams[a.team].id, Role: string(a.role), State: a.state,
		Since: toTime(a.stateSince), Reason: a.reason, Misses: a.misses, Contacts: []string{},
	}
	if a.hasPending {
		v.Pending = a.pending.String()
	}
	for _, ct := range a.live {
		v.Contacts = append(v.Contacts, ct.id)
	}
	day := c.now / secs(86400)
	v.HandledOn = toTime(day * secs(86400))
	if a.handledDay == day {
		v.HandledToday = a.handledToday
	}
	return v
}

// Contact returns a contact's current view.
func (c *Core) Contact(id string) (ContactView, bool) {
	ct, ok := c.contacts[id]
	if !ok {
		return ContactView{}, false
	}
	return c.contactView(ct), true
}

// Agent returns an agent's current view.
func (c *Core) Agent(id string) (AgentView, bool) {
	ai, ok := c.agentIdx[id]
	if !ok {
		return AgentView{}, false
	}
	return c.agentView(c.agents[ai]), true
}

// Agents returns every agent of the routing group, in org order.
func (c *Core) Agents() []AgentView {
	var out []AgentView
	for _, t := range c.teams {
		for _, ai := range t.agents {
			out = append(out, c.agentView(c.agents[ai]))
		}
	}
	return out
}

// Queue returns a team's waiting contacts in queue order.
func (c *Core) Queue(team string) ([]ContactView, bool) {
	ti, ok := c.teamIdx[team]
	if !ok {
		return nil, false
	}
	var out []ContactView
	cache := map[int32]*queueInfo{}
	for _, ct := range c.teams[ti].queue {
		out = append(out, c.contactViewCached(ct, cache))
	}
	return out, true
}

// Decisions returns the decisions kept for a contact, oldest first.
func (c *Core) Decisions(contactID string) ([]*Decision, bool) {
	ct, ok := c.contacts[contactID]
	if !ok {
		return nil, false
	}
	return append([]*Decision(nil), ct.decisions...), true
}

// Changes is what changed since the last TakeChanges: the shell copies it
// into the teams store in one write, outside the decision path.
type Changes struct {
	Agents   []AgentView
	Contacts []ContactView
	Gone     []string // contacts forgotten after retention
}

// TakeChanges returns the views of every agent and contact that changed
// since the last call, as changeView builds them. It needs
// Options.TrackChanges. A contact whose place in its queue moved only
// because others came or left is not a change: readers derive positions.
func (c *Core) TakeChanges() Changes {
	var ch Changes
	for _, a := range c.dirtyA {
		a.dirty = false
		ch.Agents = append(ch.Agents, c.agentView(a))
	}
	for _, ct := range c.dirtyC {
		ct.dirty = false
		if _, live := c.contacts[ct.id]; live {
			ch.Contacts = append(ch.Contacts, c.changeView(ct))
		}
	}
	for _, id := range c.gone {
		// Forgotten, then routed anew under the same id since: the new
		// contact's row stands, and no deletion may follow it.
		if _, live := c.contacts[id]; !live {
			ch.Gone = append(ch.Gone, id)
		}
	}
	c.dirtyA, c.dirtyC, c.gone = c.dirtyA[:0], c.dirtyC[:0], c.gone[:0]
	return ch
}

// changeView is a contact's view for the read store: no position, but the
// queue order and the EWT line it is read from.
func (c *Core) changeView(ct *contact) ContactView {
	if !ct.waiting() {
		return c.lineView(ct, ewtLine{}, 0, false)
	}
	line, ok := c.ewtLine(ct)
	return c.lineView(ct, line, c.freeAhead(ct), ok)
}

// lineView is changeView with the contact's EWT line and freeAhead given.
func (c *Core) lineView(ct *contact, line ewtLine, ahead int, hasLine bool) ContactView {
	v := c.baseView(ct)
	if ct.waiting() {
		v.Waiting, v.Order = true, ct.seq
		if hasLine {
			first := line.at(1, ahead)
			v.HasEWT, v.EWTFirst, v.EWTStep = true, first, line.at(2, ahead)-first
		}
	}
	return v
}

// WaitingViews returns the change views of every waiting contact, team by
// team in queue order. EWTs drift as agents work and time passes, so the
// shell refreshes the read store's EWT lines with it now and then.
func (c *Core) WaitingViews() []ContactView {
	var out []ContactView
	for _, t := range c.teams {
		c.walkQueue(t, func(ct *contact, _ int, line ewtLine, ahead int, ok bool) {
			out = append(out, c.lineView(ct, line, ahead, ok))
		})
	}
	return out
}
