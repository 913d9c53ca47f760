package router

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tex-cx/tex/teams"
)

// A snapshot restores into an org whose agents, teams or markets changed
// (hired, gone, edited, opened, closed) and whose routing settings were
// tuned, as long as what lays out the live contacts stays: the home and
// fallback teams and the chain of each market with contacts live
// (layoutConflicts). Those are the org changes of every week; the rest
// wait for a quiet market, or make the shell replay its journal.
//
// The snapshot names the org's agents, teams, markets, channels,
// languages and skills by index; migrate rewrites those indexes for the
// new org, by id. It refuses, so that the journal is replayed instead,
// when the state would not carry over as it stands:
//   - an agent gone from the org who is logged in, holds work, or served
//     a contact still retained (a late wrap-up must name them);
//   - an agent logged in or holding work whose team, role or channel
//     capacities changed (their readiness and their team's count would
//     change under them);
//   - a team, market, channel, language or skill a live or retained
//     contact names that the new org lacks.
//
// Continuity memory forgets the agents who are gone. New agents start
// logged out and new teams empty, as in a new core.

// layoutOf is what of org lays out the live contacts of a snapshot: each
// market's id, home and fallback teams and chain, and the org's chain.
// layoutConflicts compares it, market by market, with the org a snapshot
// restores into; migrate maps markets by it. Everything else may change:
//   - agents, teams and markets, mapped by id (migrate);
//   - what the core never reads: the scorecard's settings, and the names
//     and sites of markets and teams (reports show them);
//   - the settings routing reads only when it decides or schedules:
//     weights, offer, wrap-up and lease times, continuity, load, fairness
//     and callback settings, skill minimums, the default language, market
//     and handle time, retention, and the markets' area codes and callback
//     overrides. A restored core applies the new values from then on;
//     timers already set keep their deadlines (a timer that now comes out
//     of order goes to the heap, see schedule);
//   - the contact roles, since an agent logged in whose role changed
//     sides refuses the snapshot (agentShape), and the EWT sample size,
//     since migrate refits each team's handle-time window.
//
// The core's options must stay (Snapshot.Options).
func layoutOf(org *teams.Org) *teams.Org {
	l := &teams.Org{Routing: teams.RoutingConfig{Chain: org.Routing.Chain}, Markets: make([]teams.Market, len(org.Markets))}
	for i, m := range org.Markets {
		l.Markets[i] = teams.Market{ID: m.ID, HomeTeam: m.HomeTeam, FallbackTeams: m.FallbackTeams}
		if m.Routing != nil && len(m.Routing.Chain) > 0 {
			l.Markets[i].Routing = &teams.MarketRouting{Chain: m.Routing.Chain}
		}
	}
	return l
}

// layoutConflicts says, in an operator's words, what of now's layout
// keeps a snapshot of was from carrying over: a market with contacts live
// in the snapshot (busy) whose home team, fallback teams or chain (its
// own, or the org's it follows) changed. Teams and markets added, removed
// or listed in another order are not conflicts: migrate maps them by id,
// and refuses when a contact names one that is gone.
func layoutConflicts(was, now *teams.Org, busy map[string]bool) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	chainOf := func(o *teams.Org, m *teams.Market) []teams.ChainStep {
		if m.Routing != nil && len(m.Routing.Chain) > 0 {
			return m.Routing.Chain
		}
		return o.Routing.Chain
	}
	for i := range now.Markets {
		m := &now.Markets[i]
		j := slices.IndexFunc(was.Markets, func(o teams.Market) bool { return o.ID == m.ID })
		if j < 0 || !busy[m.ID] {
			continue
		}
		o := &was.Markets[j]
		if o.HomeTeam != m.HomeTeam {
			add("market %s, with contacts live: home team %s, was %s", m.ID, m.HomeTeam, o.HomeTeam)
		}
		if !slices.Equal(o.FallbackTeams, m.FallbackTeams) {
			add("market %s, with contacts live: fallback teams %v, were %v", m.ID, m.FallbackTeams, o.FallbackTeams)
		}
		if !slices.Equal(chainOf(was, o), chainOf(now, m)) {
			add("market %s, with contacts live: its fallback chain", m.ID)
		}
	}
	return out
}

// busyMarkets are the markets of the snapshot's live contacts (not
// completed or abandoned), by id.
func (s *Snapshot) busyMarkets() map[string]bool {
	busy := map[string]bool{}
	if s.Layout == nil {
		return busy
	}
	for i := range s.Contacts {
		cs := &s.Contacts[i]
		if cs.State != ContactCompleted && cs.State != ContactAbandoned && cs.Market >= 0 && int(cs.Market) < len(s.Layout.Markets) {
			busy[s.Layout.Markets[cs.Market].ID] = true
		}
	}
	return busy
}

// SameOrg says whether the snapshot was taken with org and opts exactly;
// when not, Restore migrates it or refuses it.
func (s *Snapshot) SameOrg(org *teams.Org, opts Options) bool {
	fp, err := fingerprint(org, opts)
	return err == nil && fp == s.Org
}

// agentShape is what of an agent must not change while they are logged in
// or hold work: their team, whether their role takes contacts, and their
// capacity per channel (by name: channel ids move when the org's
// channels do).
func (c *Core) agentShape(a *agent) string {
	var b strings.Builder
	b.WriteString(c.teams[a.team].id)
	b.WriteString("|" + strconv.FormatBool(a.takes))
	for _, name := range slices.Sorted(slices.Values(c.chanName)) {
		if n := a.capacity[c.chanIdx[name]]; n > 0 {
			fmt.Fprintf(&b, "|%s=%d", name, n)
		}
	}
	return b.String()
}

// resizeRing fits a team's handle-time window to size samples (the EWT
// sample size changed), keeping the newest.
func (ts *teamSnap) resizeRing(size int) error {
	l := len(ts.Ring)
	if l == size {
		return nil
	}
	if ts.N < 0 || ts.N > l || ts.Next < 0 || ts.Next >= max(l, 1) || size < 1 {
		return fmt.Errorf("team %s: handle-time window of %d samples out of shape", ts.ID, l)
	}
	var samples []float64
	for k := range ts.N {
		samples = append(samples, ts.Ring[(ts.Next-ts.N+k+l)%l])
	}
	samples = samples[max(len(samples)-size, 0):]
	ts.Ring = make([]float64, size)
	copy(ts.Ring, samples)
	ts.N, ts.Next, ts.Sum = len(samples), len(samples)%size, 0
	for _, v := range samples {
		ts.Sum += v
	}
	return nil
}

// names returns the names of a name-to-id table, by id.
func names[ID ~uint8 | ~int16](idx map[string]ID) []string {
	out := make([]string, len(idx))
	for name, id := range idx {
		out[id] = name
	}
	return out
}

// indexMap maps the ids of a snapshot's table to the core's, -1 for a
// name the core lacks.
func indexMap[ID ~uint8 | ~int16](old []string, idx map[string]ID) []int {
	m := make([]int, len(old))
	for i, name := range old {
		m[i] = -1
		if id, ok := idx[name]; ok {
			m[i] = int(id)
		}
	}
	return m
}

// mapByID matches the rows of a snapshot table to the core's by id: for
// each old row its new index (-1 when the org no longer has it), and for
// each of the n new indexes its old row (nil when new).
func mapByID[T any](old []T, id func(*T) string, idx map[string]int32, n int, kind string) ([]int32, []*T, error) {
	toNew := make([]int32, len(old))
	atNew := make([]*T, n)
	for i := range old {
		ni, ok := idx[id(&old[i])]
		toNew[i] = -1
		if !ok {
			continue
		}
		if atNew[ni] != nil {
			return nil, nil, fmt.Errorf("%s %s is in the snapshot twice", kind, id(&old[i]))
		}
		toNew[i], atNew[ni] = ni, &old[i]
	}
	return toNew, atNew, nil
}

// remapAgents rewrites the agent each of xs names with agent, and drops
// those whose agent left the org.
func remapAgents[T any](xs []T, agentOf func(*T) *int32, agent func(int32) (int32, bool)) []T {
	kept := xs[:0]
	for _, x := range xs {
		p := agentOf(&x)
		if ni, ok := agent(*p); ok && ni >= 0 {
			*p = ni
			kept = append(kept, x)
		}
	}
	return kept
}

// migrate returns s rewritten for c's org, or why it cannot be. s is not
// changed.
func (c *Core) migrate(s *Snapshot) (*Snapshot, error) {
	var m Snapshot
	// A deep copy through JSON: the snapshot is plain data, and migrating
	// is rare.
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if len(m.AgentShapes) != len(m.Agents) {
		return nil, fmt.Errorf("the snapshot does not describe its agents")
	}
	chans := indexMap(m.Channels, c.chanIdx)
	langs := indexMap(m.Languages, c.langIdx)
	skills := indexMap(m.Skills, c.skillIdx)
	agents, byNew, err := mapByID(m.Agents, func(a *agentSnap) string { return a.ID }, c.agentIdx, len(c.agents), "agent")
	if err != nil {
		return nil, err
	}
	for i := range m.Agents {
		as := &m.Agents[i]
		engaged := as.Presence != presOffline || as.HasPending || as.Ready || as.NotResponding ||
			as.Offers != 0 || as.Active != 0 || as.Wrapping != 0 || len(as.Live) > 0
		switch {
		case agents[i] < 0 && engaged:
			return nil, fmt.Errorf("agent %s left the org while logged in or holding work", as.ID)
		case agents[i] < 0:
			continue
		case engaged && m.AgentShapes[i] != c.agentShape(c.agents[agents[i]]):
			return nil, fmt.Errorf("agent %s changed team, role or capacity while logged in or holding work", as.ID)
		}
		var used [maxChannels]uint8
		for ch, n := range as.Used {
			if n == 0 {
				continue
			}
			if ch >= len(chans) || chans[ch] < 0 {
				return nil, fmt.Errorf("agent %s holds work on a channel the org no longer has", as.ID)
			}
			used[chans[ch]] = n
		}
		as.Used = used
	}
	m.Agents = make([]agentSnap, len(c.agents))
	for i, a := range c.agents {
		if byNew[i] != nil {
			m.Agents[i] = *byNew[i]
		} else {
			m.Agents[i] = agentSnap{ID: a.id, State: AgentOffline}
		}
	}
	m.AgentShapes = nil
	agent := func(old int32) (int32, bool) {
		if old < 0 {
			return old, true
		}
		if int(old) >= len(agents) || agents[old] < 0 {
			return -1, false
		}
		return agents[old], true
	}
	hist := func(h *historySnap) {
		h.Entries = remapAgents(h.Entries, func(e *histEntrySnap) *int32 { return &e.Agent }, agent)
	}
	teamMap, byNewTeam, err := mapByID(m.Teams, func(t *teamSnap) string { return t.ID }, c.teamIdx, len(c.teams), "team")
	if err != nil {
		return nil, err
	}
	m.Teams = make([]teamSnap, len(c.teams))
	for i, t := range c.teams {
		if byNewTeam[i] != nil {
			m.Teams[i] = *byNewTeam[i]
			if err := m.Teams[i].resizeRing(len(t.handle.ring)); err != nil {
				return nil, err
			}
		} else {
			m.Teams[i] = teamSnap{ID: t.id, Ring: make([]float64, len(t.handle.ring))}
		}
	}
	if m.Layout == nil || len(m.Layout.Markets) == 0 && len(m.Contacts) > 0 {
		return nil, fmt.Errorf("the snapshot does not describe its markets")
	}
	marketMap := make([]int32, len(m.Layout.Markets))
	for i, om := range m.Layout.Markets {
		marketMap[i] = -1
		if ni, ok := c.mktIdx[om.ID]; ok {
			marketMap[i] = ni
		}
	}
	for i := range m.Contacts {
		cs := &m.Contacts[i]
		if cs.Team < 0 || int(cs.Team) >= len(teamMap) || teamMap[cs.Team] < 0 {
			return nil, fmt.Errorf("contact %s is of a team the org no longer has", cs.ID)
		}
		if cs.Market < 0 || int(cs.Market) >= len(marketMap) || marketMap[cs.Market] < 0 {
			return nil, fmt.Errorf("contact %s is of a market the org no longer has", cs.ID)
		}
		cs.Team, cs.Market = teamMap[cs.Team], marketMap[cs.Market]
		// A finished contact of a market whose chain changed keeps its
		// place, within the new chain: it never moves again.
		if chain, ok := c.chainOf(cs.Market, cs.Chain); ok && cs.Step >= max(len(chain), 1) {
			n := len(chain)
			if cs.State != ContactCompleted && cs.State != ContactAbandoned {
				return nil, fmt.Errorf("contact %s waits at step %d of a chain now %d steps long", cs.ID, cs.Step, n)
			}
			cs.Step = max(n-1, 0)
		}
	}
	for i := range m.Contacts {
		cs := &m.Contacts[i]
		var ok bool
		if cs.Agent, ok = agent(cs.Agent); !ok {
			return nil, fmt.Errorf("contact %s was served by an agent who left the org", cs.ID)
		}
		live := cs.State != ContactCompleted && cs.State != ContactAbandoned
		if cs.Known, ok = agent(cs.Known); !ok {
			if live {
				return nil, fmt.Errorf("contact %s waits for an agent who left the org", cs.ID)
			}
			cs.Known = -1
		}
		cs.Served = remapAgents(cs.Served, func(a *int32) *int32 { return a }, agent)
		cs.MissedBy = remapAgents(cs.MissedBy, func(mb *missedSnap) *int32 { return &mb.Agent }, agent)
		hist(&cs.Hist)
		if int(cs.Channel) >= len(chans) || chans[cs.Channel] < 0 {
			return nil, fmt.Errorf("contact %s is on a channel the org no longer has", cs.ID)
		}
		cs.Channel = uint8(chans[cs.Channel])
		if int(cs.Lang) >= len(langs) || langs[cs.Lang] < 0 {
			return nil, fmt.Errorf("contact %s speaks a language no agent of the org speaks now", cs.ID)
		}
		cs.Lang = uint8(langs[cs.Lang])
		for k := range cs.Skills[:min(int(cs.NSkills), maxSkills)] {
			if id := cs.Skills[k]; id < 0 || int(id) >= len(skills) || skills[id] < 0 {
				return nil, fmt.Errorf("contact %s needs a skill no agent of the org has now", cs.ID)
			}
			cs.Skills[k] = int16(skills[cs.Skills[k]])
		}
	}
	// A customer whose whole memory was of agents who left is forgotten.
	forgotten := map[string]bool{}
	kept := m.Memory[:0]
	for _, mem := range m.Memory {
		if hist(&mem.Hist); len(mem.Hist.Entries) == 0 {
			forgotten[mem.Key] = true
			continue
		}
		kept = append(kept, mem)
	}
	m.Memory = kept
	m.Sweep = slices.DeleteFunc(m.Sweep, func(d sweepSnap) bool { return forgotten[d.Key] })
	m.Channels, m.Languages, m.Skills = slices.Clone(c.chanName), names(c.langIdx), names(c.skillIdx)
	return &m, nil
}
