package router

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tex-cx/tex/teams"
)

var (
	propSteps = flag.Int("prop.steps", 100_000, "steps of the random command property test")
	propSeed  = flag.Uint64("prop.seed", 0, "replay one seed of the property test (0: the default seeds)")
)

// checkInvariants checks the invariants of DESIGN.md against the core's
// internals. It runs after every command of the property test.
func checkInvariants(t testing.TB, c *Core) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("invariant broken at %s: %s", toTime(c.now).Format(time.RFC3339Nano), fmt.Sprintf(format, args...))
	}
	readyPerTeam := make([]int, len(c.teams))
	for _, a := range c.agents {
		used := make([]int, len(c.chanName))
		var offers, active, wrapping int32
		for _, ct := range a.live {
			if ct.agent != a.idx {
				fail("agent %s holds contact %s of agent %d", a.id, ct.id, ct.agent)
			}
			used[ct.channel]++
			switch ct.state {
			case ContactOffered:
				offers++
			case ContactActive:
				active++
			case ContactWrapUp:
				wrapping++
			default:
				fail("agent %s holds contact %s in state %s", a.id, ct.id, ct.state)
			}
		}
		for ch := range used {
			// Offered plus active (plus wrapping) never exceeds capacity.
			if used[ch] != int(a.used[ch]) || used[ch] > int(a.capacity[ch]) {
				fail("agent %s channel %s: %d live, counter %d, capacity %d", a.id, c.chanName[ch], used[ch], a.used[ch], a.capacity[ch])
			}
		}
		if c.voice >= 0 && used[c.voice] > 0 && len(a.live) > 1 {
			fail("agent %s has a call and %d other contacts", a.id, len(a.live)-1)
		}
		if offers != a.offers || active != a.active || wrapping != a.wrapping {
			fail("agent %s counters %d/%d/%d, live %d/%d/%d", a.id, a.offers, a.active, a.wrapping, offers, active, wrapping)
		}
		if a.state != a.effectiveState() {
			fail("agent %s cached state %s, effective %s", a.id, a.state, a.effectiveState())
		}
		if a.ready {
			readyPerTeam[a.team]++
		}
	}
	for i, tm := range c.teams {
		if tm.ready != readyPerTeam[i] {
			fail("team %s ready %d, counted %d", tm.id, tm.ready, readyPerTeam[i])
		}
		for j, ct := range tm.queue {
			if !ct.queued || !ct.waiting() || ct.team != tm.idx {
				fail("queue of %s holds %s (state %s)", tm.id, ct.id, ct.state)
			}
			if j > 0 && queueLess(ct, tm.queue[j-1]) {
				fail("queue of %s out of order at %d", tm.id, j)
			}
		}
	}
	inAny := map[*contact]bool{}
	for _, ct := range c.anyWait {
		if inAny[ct] || !ct.inAny || !ct.waiting() {
			fail("anyWait holds %s (state %s)", ct.id, ct.state)
		}
		inAny[ct] = true
	}
	finished := 0
	for id, ct := range c.contacts {
		if id != ct.id {
			fail("contact map key %s holds %s", id, ct.id)
		}
		switch ct.state {
		case ContactQueued, ContactCallback:
			if !ct.queued || ct.agent != -1 {
				fail("waiting contact %s: queued=%v agent=%d", ct.id, ct.queued, ct.agent)
			}
			if ct.inAny != inAny[ct] {
				fail("contact %s inAny flag %v", ct.id, ct.inAny)
			}
			// No starvation: no agent who may take it now is left idle.
			for _, a := range c.agents {
				if _, ok := c.inOpenStep(ct, a); ok && c.teams[a.team].owned && c.eligible(ct, a) == "" {
					fail("contact %s waits (step %s) while agent %s is eligible", ct.id, ct.chain[ct.step].kind, a.id)
				}
			}
		case ContactOffered, ContactActive, ContactWrapUp:
			if ct.queued || ct.agent < 0 {
				fail("contact %s in %s: queued=%v agent=%d", ct.id, ct.state, ct.queued, ct.agent)
			}
			n := 0
			for _, x := range c.agents[ct.agent].live {
				if x == ct {
					n++
				}
			}
			if n != 1 {
				fail("contact %s is %d times in its agent's live list", ct.id, n)
			}
		case ContactCompleted, ContactAbandoned:
			if ct.queued || ct.inAny {
				fail("finished contact %s still queued", ct.id)
			}
			finished++
		default:
			fail("contact %s in unknown state %q", ct.id, ct.state)
		}
	}
	if finished != c.retained {
		fail("%d finished contacts held, counted %d", finished, c.retained)
	}
	// Memory stays bounded, also after a restore into a lower bound.
	if limit := c.cfg.MaxRetainedContacts; limit > 0 && c.retained > limit {
		fail("%d finished contacts held, max_retained_contacts %d", c.retained, limit)
	}
}

// propOrg is small enough that contacts often wait and every path runs:
// two markets, three agents each with mixed channels, languages and skills.
func propOrg() *teams.Org {
	org := smallOrg(3)
	org.Agents[1].Languages = []string{"en", "es"}
	org.Agents[2].Channels = map[string]int{"messaging": 2}
	org.Agents[4].Skills = map[string]int{"billing": 1, "tech": 5}
	org.Routing.SkillMinimums = map[string]int{"tech": 3}
	org.Routing.WrapUpSeconds = 20
	org.Routing.MaxMisses = 2
	org.Routing.ContactRetentionSeconds = 600
	org.Routing.MaxRetainedContacts = 8
	org.Routing.Chain = []teams.ChainStep{
		{Step: teams.StepKnownAgent, BudgetSeconds: 10},
		{Step: teams.StepServedBefore, BudgetSeconds: 0},
		{Step: teams.StepHomeTeam, BudgetSeconds: 15},
		{Step: teams.StepSisterTeams, BudgetSeconds: 20},
		{Step: teams.StepAnyTeam},
	}
	org.Routing.CallbackDeadlineSeconds = 120
	return org
}

// driveRandom runs n random commands and returns a digest of every reply
// and event, for the determinism check. Before each step in restoreAt the
// core is snapshotted, through JSON, and replaced by its restoration.
func driveRandom(t *testing.T, seed uint64, n int, check bool, restoreAt ...int) []byte {
	restores := map[int]*teams.Org{}
	for _, i := range restoreAt {
		restores[i] = propOrg()
	}
	return bytes.Join(driveRandomOrgs(t, seed, n, check, propOrg(), restores, nil), nil)
}

// driveRandomOrgs is driveRandom on org, restoring before step i into
// restores[i] (the same org, or one whose agents changed), with the
// digest of each step apart. Before step i it also calls inspect, if set,
// with the core.
func driveRandomOrgs(t *testing.T, seed uint64, n int, check bool, org *teams.Org, restores map[int]*teams.Org, inspect func(i int, c *Core)) [][]byte {
	opts := Options{Explain: true, TrackChanges: true}
	c, err := New(org, opts)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	agents := []string{"det-001", "det-002", "det-003", "cle-001", "cle-002", "cle-003", "det-coach", "ghost"}
	customers := []string{"acct-42", "acct-77", "acct-1", "acct-2", "acct-3", ""}
	states := []string{AgentAvailable, AgentAvailable, AgentAvailable, AgentAway, AgentOffline, AgentBusy}
	types := []string{EventAccepted, EventAccepted, EventAccepted, EventRejected, EventEnded, EventEnded, EventWrappedUp,
		EventAbandoned, EventCallbackRequested, EventTransferred, "bogus"}
	var ids []string
	terminal := map[string]string{}
	steps := make([][]byte, n)
	var out []byte
	write := func(v any) {
		b, _ := json.Marshal(v)
		out = append(out, b...)
		out = append(out, '\n')
	}
	now := 0.0
	for i := 0; i < n; i++ {
		out = nil
		if to, ok := restores[i]; ok {
			c = snapshotRoundTrip(t, c, to, opts)
		}
		if inspect != nil {
			inspect(i, c)
		}
		now += rng.Float64() * 8
		var err error
		var reply any
		switch op := rng.IntN(10); {
		case op < 3:
			id := fmt.Sprintf("c%d", len(ids))
			if len(ids) > 0 && rng.IntN(10) == 0 {
				id = ids[rng.IntN(len(ids))] // a retry
			} else {
				ids = append(ids, id)
			}
			req := RouteRequest{ContactID: id, Channel: []string{"voice", "voice", "messaging"}[rng.IntN(3)],
				CustomerID: customers[rng.IntN(len(customers))], Priority: rng.IntN(3) * 10}
			if rng.IntN(4) == 0 {
				req.Language = "es"
			}
			if rng.IntN(5) == 0 {
				req.Skills = []string{"tech"}
			}
			if rng.IntN(3) == 0 {
				req.Market = "CLE"
			}
			if rng.IntN(2) == 0 {
				req.ANI = "+13135550100"
			}
			reply, err = c.Route(at(now), &req)
		case op < 5:
			reply, err = c.SetAgentState(at(now), &AgentStateRequest{AgentID: agents[rng.IntN(len(agents))], State: states[rng.IntN(len(states))]})
		case op < 9:
			if len(ids) == 0 {
				continue
			}
			ev := ContactEvent{ContactID: ids[len(ids)-1-rng.IntN(min(len(ids), 12))], Type: types[rng.IntN(len(types))]}
			if rng.IntN(6) == 0 {
				ev.AgentID = agents[rng.IntN(len(agents))]
			}
			if rng.IntN(2) == 0 {
				r := rng.IntN(2) == 0
				ev.Resolved = &r
			}
			ev.HoldSeconds = float64(rng.IntN(3) * 10)
			reply, err = c.HandleContactEvent(at(now), &ev)
		default:
			now += rng.Float64() * 60
			c.Tick(at(now))
			// Callers have patience: the ones waiting over five minutes
			// hang up, which keeps queues at a realistic length.
			var impatient []string
			for _, ct := range c.contacts {
				if ct.waiting() && c.now-ct.arrivedAt > secs(300) {
					impatient = append(impatient, ct.id)
				}
			}
			sort.Strings(impatient)
			for _, id := range impatient {
				if _, err := c.HandleContactEvent(at(now), &ContactEvent{ContactID: id, Type: EventAbandoned}); err != nil {
					t.Fatalf("abandon %s: %v", id, err)
				}
			}
		}
		if err != nil {
			write(err)
		} else if reply != nil {
			write(reply)
		}
		events := c.Events()
		for _, e := range events {
			// Routed anew: the id was forgotten after retention, perhaps
			// within this step (a retry of a retained id is not routed).
			if e.Kind == KindDecision && e.Decision.Trigger == TriggerRoute {
				delete(terminal, e.Decision.ContactID)
			}
		}
		for _, e := range events {
			write(e.Payload())
			if e.Kind == KindContactState {
				cs := e.ContactState
				if prev, ok := terminal[cs.ContactID]; ok && cs.State != prev {
					t.Fatalf("seed %d step %d: contact %s left terminal state %s for %s", seed, i, cs.ContactID, prev, cs.State)
				}
				if cs.State == ContactCompleted || cs.State == ContactAbandoned {
					terminal[cs.ContactID] = cs.State
				}
			}
		}
		// Forgotten after retention: the id may be routed anew.
		for _, id := range c.TakeChanges().Gone {
			delete(terminal, id)
		}
		if check {
			checkInvariants(&seedT{T: t, seed: seed, step: i}, c)
		}
		steps[i] = out
	}
	return steps
}

// seedT prefixes failures with the seed and step, so a failure can be replayed
// with -prop.seed.
type seedT struct {
	*testing.T
	seed uint64
	step int
}

func (s *seedT) Fatalf(format string, args ...any) {
	s.T.Helper()
	s.T.Fatalf("seed %d (replay: go test ./router -run TestProperty -prop.seed %d) step %d: %s", s.seed, s.seed, s.step, fmt.Sprintf(format, args...))
}

// TestPropertyRandomCommands runs the steps over many seeds rather than a
// few long runs: forty runs of 2,500 steps found starvation bugs (an
// answered offer lifting a cool-off, a callback cancelling its retry)
// that four runs of 25,000 had not.
func TestPropertyRandomCommands(t *testing.T) {
	var seeds []uint64
	for s := range uint64(40) {
		seeds = append(seeds, s+1)
	}
	if *propSeed != 0 {
		seeds = []uint64{*propSeed}
	}
	per := *propSteps / len(seeds)
	if testing.Short() {
		per = 2000
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			driveRandom(t, seed, per, true)
		})
	}
}

// snapshotRoundTrip snapshots c, encodes and decodes the snapshot as JSON,
// and restores it into a new core, checking that the new core snapshots
// the same.
func snapshotRoundTrip(t testing.TB, c *Core, org *teams.Org, opts Options) *Core {
	t.Helper()
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	var back Snapshot
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	r, err := Restore(org, opts, &back)
	if err != nil {
		t.Fatal(err)
	}
	again, err := r.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Into another org's agents, the snapshot differs by design.
	if b2, _ := json.Marshal(again); again.Org == snap.Org && string(b2) != string(b) {
		t.Fatalf("a restored core snapshots differently:\n%s\n%s", b, b2)
	}
	return r
}

// TestSnapshotRestore: a core restored from a snapshot, taken anywhere in
// a random run, goes on exactly as the original: the same replies, events
// and decision records.
func TestSnapshotRestore(t *testing.T) {
	for _, seed := range []uint64{5, 6, 7} {
		want := driveRandom(t, seed, 3000, false)
		got := driveRandom(t, seed, 3000, true, 1, 17, 400, 1111, 2500)
		if string(got) != string(want) {
			i := 0
			for i < len(got) && i < len(want) && got[i] == want[i] {
				i++
			}
			t.Fatalf("seed %d: restored run differs at byte %d:\nwant %.300s\ngot  %.300s", seed, i, want[i:], got[i:])
		}
	}
}

func TestDeterminism(t *testing.T) {
	a := driveRandom(t, 99, 5000, false)
	b := driveRandom(t, 99, 5000, false)
	if string(a) != string(b) {
		t.Fatal("the same commands at the same times gave different replies or events")
	}
	if len(a) < 10000 {
		t.Fatalf("digest suspiciously short: %d bytes", len(a))
	}
}

// FuzzRestore feeds arbitrary snapshots to Restore: it refuses what does
// not fit the org instead of panicking, and what it takes snapshots again.
// Run it with -fuzzminimizetime 0: minimizing inputs of this size stalls
// the fuzzer for minutes at a time (README.md, Longer checks).
func FuzzRestore(f *testing.F) {
	org := propOrg()
	opts := Options{Explain: true, TrackChanges: true}
	c, err := New(org, opts)
	if err != nil {
		f.Fatal(err)
	}
	mustState(f, c, 0, "det-001", AgentAvailable)
	mustRoute(f, c, 1, RouteRequest{ContactID: "a", Channel: "voice", CustomerID: "acct-42"})
	mustRoute(f, c, 2, RouteRequest{ContactID: "b", Channel: "voice", CustomerID: "acct-77", ANI: "+13135550100"})
	mustEvent(f, c, 3, ContactEvent{ContactID: "b", Type: EventCallbackRequested})
	c.Events()
	snap, err := c.Snapshot()
	if err != nil {
		f.Fatal(err)
	}
	seed, _ := json.Marshal(snap)
	f.Add(seed)
	f.Add([]byte(`{"version":1}`))
	// The same org with one agent more: a restore into it migrates.
	grown := propOrg()
	grown.Agents = append([]teams.Agent{{ID: "det-new", Team: "CHA-DET", Role: teams.RoleExpert,
		Languages: []string{"fr"}, Channels: map[string]int{"video": 1}, Skills: map[string]int{"french": 2}}}, grown.Agents...)
	// ... and with its settings tuned: one that carries over as well.
	grown.Routing.OfferTTLSeconds, grown.Routing.WrapUpSeconds = 2, 300
	tuned := tunedOrg(rand.New(rand.NewPCG(1, 2)))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, into := range []*teams.Org{org, grown, tuned} {
			var s Snapshot
			if json.Unmarshal(data, &s) != nil {
				return
			}
			// Past the fingerprints, to the checks behind them.
			s.Org, s.Options = snap.Org, snap.Options
			r, err := Restore(into, opts, &s)
			if err != nil {
				continue
			}
			if _, err := r.Snapshot(); err != nil {
				t.Logf("restored, but not snapshotted again: %v", err)
			}
		}
	})
}

// TestRestoreRefusesBadSnapshots: a snapshot that does not fit the org is
// refused with an error, not a panic.
func TestRestoreRefusesBadSnapshots(t *testing.T) {
	org := propOrg()
	opts := Options{Explain: true} // as newCore's
	c := newCore(t, org)
	mustState(t, c, 0, "det-001", AgentAvailable)
	mustRoute(t, c, 1, RouteRequest{ContactID: "a", Channel: "voice", CustomerID: "acct-42"})
	mustRoute(t, c, 2, RouteRequest{ContactID: "b", Channel: "voice", CustomerID: "acct-77"})
	c.Events()
	if _, err := c.Snapshot(); err != nil {
		t.Fatal(err)
	}
	for name, spoil := range map[string]func(s *Snapshot){
		"negative sample count":  func(s *Snapshot) { s.Teams[0].N = -1 },
		"negative ring index":    func(s *Snapshot) { s.Teams[0].Next = -1 },
		"unknown queued id":      func(s *Snapshot) { s.Teams[0].Queue = append(s.Teams[0].Queue, "nobody") },
		"unknown live id":        func(s *Snapshot) { s.Agents[0].Live = []string{"nobody"} },
		"timer of no kind":       func(s *Snapshot) { s.Timers = append(s.Timers, timerSnap{Contact: "a"}) },
		"agent out of range":     func(s *Snapshot) { s.Contacts[0].Agent = 99 },
		"another org":            func(s *Snapshot) { s.Org, s.Options = "0", "0" },
		"another org, no tables": func(s *Snapshot) { s.Org, s.Options = "0", "" },
	} {
		snap, err := c.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		spoil(snap)
		if _, err := Restore(org, opts, snap); err == nil {
			t.Errorf("%s: restored", name)
		}
	}
}

// migrationOrgs are two orgs that differ in their agents only: from has
// det-spare, whom no command names; to has det-new instead, placed first
// and bringing a channel, a language and a skill the other lacks, so that
// every index moves.
func migrationOrgs() (from, to *teams.Org) {
	from, to = propOrg(), propOrg()
	from.Agents = append(from.Agents, teams.Agent{ID: "det-spare", Name: "Spare", Team: "CHA-DET", Role: teams.RoleExpert,
		Skills: map[string]int{"billing": 2}, Languages: []string{"en"}, Channels: map[string]int{"voice": 1}})
	to.Agents = slices.Insert(to.Agents, 0, teams.Agent{ID: "det-new", Name: "New", Team: "CHA-DET", Role: teams.RoleExpert,
		Skills: map[string]int{"french": 4, "spanish": 1}, Languages: []string{"fr", "en"}, Channels: map[string]int{"video": 1, "voice": 1}})
	return from, to
}

// TestLayoutChangesNamed: a snapshot refused for a change of the org's
// layout says what changed, so that an operator knows why the start
// replays its journal; the same change to a market with no contact live
// carries over.
func TestLayoutChangesNamed(t *testing.T) {
	opts := Options{Explain: true}
	c := newCore(t, propOrg())
	mustRoute(t, c, 1, RouteRequest{ContactID: "a", Channel: "voice", Market: "CLE"}) // waits: nobody is in
	c.Events()
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		want   string // "": carries over
		change func(o *teams.Org)
	}{
		{"contact a is of a market the org no longer has", func(o *teams.Org) {
			o.Markets = slices.DeleteFunc(slices.Clone(o.Markets), func(m teams.Market) bool { return m.ID == "CLE" })
		}},
		{"market CLE, with contacts live: home team CHA-DET, was CHA-CLE", func(o *teams.Org) {
			o.Markets = slices.Clone(o.Markets)
			o.Markets[1].HomeTeam, o.Markets[1].FallbackTeams = "CHA-DET", []string{"CHA-CLE"}
		}},
		{"market CLE, with contacts live: fallback teams [], were [CHA-DET]", func(o *teams.Org) {
			o.Markets = slices.Clone(o.Markets)
			o.Markets[1].FallbackTeams = nil
		}},
		{"market CLE, with contacts live: its fallback chain", func(o *teams.Org) {
			o.Routing.Chain = slices.Clone(o.Routing.Chain)
			o.Routing.Chain[0].BudgetSeconds = 99
		}},
		{"", func(o *teams.Org) { // DET has nobody live
			o.Markets = slices.Clone(o.Markets)
			o.Markets[0].FallbackTeams = nil
			o.Markets[0].Routing = &teams.MarketRouting{Chain: []teams.ChainStep{{Step: teams.StepHomeTeam}}}
		}},
		{"", func(o *teams.Org) { o.Routing.EWTSampleSize = 7 }},
		{"", func(o *teams.Org) { o.Routing.ContactRoles = append(o.Routing.ContactRoles, teams.RoleCoach) }},
	} {
		org := propOrg()
		tc.change(org)
		r, err := Restore(org, opts, snap)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("refused: %v", err)
		case tc.want == "":
			checkInvariants(t, r)
		case err == nil || !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: error %v", tc.want, err)
		}
	}
}

// tunedOrg is the property org with its decide-time settings moved by
// rng (routingFingerprint): what an operator tunes between two starts.
func tunedOrg(rng *rand.Rand) *teams.Org {
	org := propOrg()
	r := &org.Routing
	scale := func(v *float64) { *v *= 0.25 + rng.Float64()*2 }
	r.Weights = teams.Weights{Continuity: rng.Float64(), Skill: rng.Float64(), Fairness: rng.Float64()}
	for _, v := range []*float64{&r.OfferTTLSeconds, &r.WrapUpSeconds, &r.ActiveLeaseSeconds, &r.ContinuityHalfLifeSeconds,
		&r.ContinuityMemorySeconds, &r.KnownAgentWindowSeconds, &r.LoadHalfLifeSeconds, &r.FairnessFullIdleSeconds,
		&r.CallbackThresholdSeconds, &r.CallbackDeadlineSeconds, &r.KnownAgentHoldSeconds, &r.KnownAgentCallbackSeconds,
		&r.CallbackYieldSeconds, &r.DefaultHandleSeconds, &r.ContactRetentionSeconds} {
		scale(v)
	}
	r.ResolvedAffinity, r.KnownAgentMinAffinity, r.ContinuityLoadCap = rng.Float64(), rng.Float64()/2, rng.Float64()
	r.CallbackForKnownAgent = rng.IntN(2) == 0
	r.MaxMisses = 1 + rng.IntN(4)
	r.MaxRetainedContacts = rng.IntN(12) // 0: no bound
	r.EWTSampleSize = 1 + rng.IntN(80)
	r.MinProficiency = 1 + rng.IntN(3)
	r.SkillMinimums = map[string]int{"tech": 1 + rng.IntN(5)}
	org.Markets = slices.Clone(org.Markets)
	for i := range org.Markets {
		org.Markets[i].AreaCodes = append(slices.Clone(org.Markets[i].AreaCodes), fmt.Sprint(900+i))
		th := rng.Float64() * 120
		org.Markets[i].Routing = &teams.MarketRouting{CallbackThresholdSeconds: &th}
	}
	if probs := r.Validate("routing"); len(probs) > 0 {
		panic(fmt.Sprint(probs))
	}
	return org
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHandlePrior: until a team has priorSamples handle times, the
// default stands in for the missing ones, in the mean and in the residual
// life; from then on only the samples count.
func TestHandlePrior(t *testing.T) {
	const def = 300.0
	h := handleStats{}
	h.init(50)
	if got := h.mean(def); got != def {
		t.Errorf("no samples: mean %v, want the default", got)
	}
	if got := h.residual(100, def); got != 200 {
		t.Errorf("no samples, 100 s in: residual %v, want 200", got)
	}
	h.add(5) // a quick first contact
	if got, want := h.mean(def), (5+9*def)/10; got != want {
		t.Errorf("one 5 s sample: mean %v, want %v", got, want)
	}
	if got, want := h.residual(2, def), (3+9*(def-2))/10; got != want {
		t.Errorf("one 5 s sample, 2 s in: residual %v, want %v", got, want)
	}
	if got, want := h.residual(10, def), def-10; got != want {
		t.Errorf("one 5 s sample, 10 s in: residual %v, want %v (the defaults alone)", got, want)
	}
	for range priorSamples - 1 {
		h.add(5)
	}
	if got := h.mean(def); got != 5 {
		t.Errorf("%d samples of 5 s: mean %v, want 5", priorSamples, got)
	}
	if got := h.residual(2, def); got != 3 {
		t.Errorf("%d samples of 5 s, 2 s in: residual %v, want 3", priorSamples, got)
	}
	if got := h.residual(10, def); got != 0.5 {
		t.Errorf("%d samples of 5 s, 10 s in: residual %v, want a tenth of the mean", priorSamples, got)
	}
	// A window shorter than priorSamples needs only its own size.
	short := handleStats{}
	short.init(3)
	for range 3 {
		short.add(5)
	}
	if got := short.mean(def); got != 5 {
		t.Errorf("full window of 3: mean %v, want 5", got)
	}
}

// TestResizeRing: a team's handle-time window refitted to another EWT
// sample size keeps the newest samples in order.
func TestResizeRing(t *testing.T) {
	// Five samples 1..5 in a ring of 4 that wrapped: 5 at index 0, the
	// oldest kept (2) at index 1.
	base := teamSnap{ID: "T", Ring: []float64{5, 2, 3, 4}, Next: 1, N: 4, Sum: 14}
	for size, want := range map[int][]float64{2: {4, 5}, 3: {3, 4, 5}, 6: {2, 3, 4, 5, 0, 0}} {
		ts := base
		ts.Ring = slices.Clone(base.Ring)
		if err := ts.resizeRing(size); err != nil {
			t.Fatal(err)
		}
		n := min(size, 4)
		if !slices.Equal(ts.Ring, want) || ts.N != n || ts.Next != n%size || ts.Sum != sum(want) {
			t.Errorf("size %d: %+v, want ring %v", size, ts, want)
		}
		// The core takes it, and the mean is the kept samples' (with a
		// default equal to it for the samples a short window lacks).
		h := handleStats{}
		h.init(size)
		for _, v := range want[:n] {
			h.add(v)
		}
		if m := ts.Sum / float64(ts.N); h.mean(m) != m {
			t.Errorf("size %d: mean %v, the window's %v", size, h.mean(m), m)
		}
	}
	bad := teamSnap{ID: "T", Ring: []float64{1, 2}, Next: 5, N: 1}
	if err := bad.resizeRing(3); err == nil {
		t.Error("a window out of shape was refitted")
	}
}

func sum(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s
}

// TestSnapshotCarriesOverQuietMarketChanges: a market's fallback teams
// and chain may change while none of its contacts is live. Restores into
// such an org at many points of random runs are refused exactly when a
// contact of the market is live; an accepted one keeps the invariants,
// through its timers and a new contact of that market on the new chain.
func TestSnapshotCarriesOverQuietMarketChanges(t *testing.T) {
	opts := Options{Explain: true, TrackChanges: true}
	changed := propOrg()
	changed.Markets = slices.Clone(changed.Markets)
	changed.Markets[0].FallbackTeams = nil // DET
	changed.Markets[0].Routing = &teams.MarketRouting{Chain: []teams.ChainStep{
		{Step: teams.StepHomeTeam, BudgetSeconds: 5}, {Step: teams.StepAnyTeam}}}
	accepted, refused := 0, 0
	for _, seed := range []uint64{31, 32, 33} {
		driveRandomOrgs(t, seed, 2000, false, propOrg(), nil, func(i int, c *Core) {
			if i%23 != 0 {
				return
			}
			busy := false
			for _, ct := range c.contacts {
				if c.markets[ct.market].id == "DET" && ct.state != ContactCompleted && ct.state != ContactAbandoned {
					busy = true
				}
			}
			snap, err := c.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			r, err := Restore(changed, opts, snap)
			if busy != (err != nil) {
				t.Fatalf("seed %d step %d: DET has contacts live: %v; restore error: %v", seed, i, busy, err)
			}
			if err != nil {
				refused++
				return
			}
			accepted++
			checkInvariants(t, r)
			r.Tick(time.Unix(0, int64(r.now)).Add(10 * time.Minute))
			checkInvariants(t, r)
			if _, err := r.Route(time.Unix(0, int64(r.now)).Add(time.Second),
				&RouteRequest{ContactID: fmt.Sprintf("new-%d", i), Channel: "voice", Market: "DET"}); err != nil {
				t.Fatalf("seed %d step %d: route on the restored core: %v", seed, i, err)
			}
			checkInvariants(t, r)
		})
	}
	if accepted == 0 || refused == 0 {
		t.Fatalf("%d restores accepted, %d refused: the runs did not cover both", accepted, refused)
	}
}

// TestSnapshotCarriesOverTunedSettings: a snapshot restored into an org
// whose decide-time settings changed holds the state it was taken with,
// and the core goes on under the new settings with every invariant
// holding, through further restores into settings tuned again.
func TestSnapshotCarriesOverTunedSettings(t *testing.T) {
	opts := Options{Explain: true, TrackChanges: true}
	for _, seed := range []uint64{21, 22, 23} {
		rng := rand.New(rand.NewPCG(seed, 7))
		restores := map[int]*teams.Org{}
		for _, i := range []int{40, 300, 777, 1200, 1700} {
			restores[i] = tunedOrg(rng)
		}
		driveRandomOrgs(t, seed, 2000, true, propOrg(), restores, func(i int, c *Core) {
			if i%191 != 0 {
				return
			}
			snap, err := c.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			to := tunedOrg(rng)
			// A lower bound forgets finished contacts (TestRetentionBound).
			to.Routing.MaxRetainedContacts = 0
			r, err := Restore(to, opts, snap)
			if err != nil {
				t.Fatalf("seed %d step %d: %v", seed, i, err)
			}
			again, err := r.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			snap.Org, snap.Options, again.Org, again.Options = "", "", "", ""
			// The handle-time windows are refitted to the new EWT sample
			// size (TestResizeRing); the rest stays as it was.
			for _, sn := range []*Snapshot{snap, again} {
				for k := range sn.Teams {
					sn.Teams[k].Ring, sn.Teams[k].Next, sn.Teams[k].N, sn.Teams[k].Sum = nil, 0, 0, 0
				}
				sn.Layout = nil
			}
			// JSON first (empty and nil lists encode alike), go-cmp for the
			// message: it is slow on this much state.
			if a, b := mustJSON(t, snap), mustJSON(t, again); !bytes.Equal(a, b) {
				t.Fatalf("seed %d step %d: the state changed across the restore (-before +after):\n%s",
					seed, i, cmp.Diff(snap, again, cmpopts.EquateEmpty()))
			}
		})
	}
}

// TestSnapshotMigratesAgentChanges: a snapshot restored into an org whose
// agents changed goes on exactly as a core that had the new org from the
// start, given the same commands (none naming the agents who differ):
// the same replies, events and decision records from the restore on, and
// the invariants hold throughout.
func TestSnapshotMigratesAgentChanges(t *testing.T) {
	checkMigration(t, []uint64{11, 12, 13}, migrationOrgs)
}

// growthOrgs are two orgs where to has a team and a market more, listed
// first so that every team and market index moves, with an agent who
// never logs in; its market falls back to CHA-DET, which thus becomes a
// sister team of it.
func growthOrgs() (from, to *teams.Org) {
	from, to = propOrg(), propOrg()
	to.Teams = append([]teams.Team{{ID: "CHA-NEW", Site: "Chattanooga"}}, to.Teams...)
	to.Markets = append([]teams.Market{{ID: "NEW", Name: "New", HomeTeam: "CHA-NEW", FallbackTeams: []string{"CHA-DET"},
		AreaCodes: []string{"999"}}}, to.Markets...)
	to.Agents = append([]teams.Agent{{ID: "new-001", Name: "New", Team: "CHA-NEW", Role: teams.RoleExpert,
		Languages: []string{"en"}, Channels: map[string]int{"voice": 1}}}, to.Agents...)
	return from, to
}

// TestSnapshotMigratesGrowth: a team and a market opened (the carrier
// grows) carry a snapshot over as agent changes do: the migrated core goes
// on exactly as one that had the new org from the start.
func TestSnapshotMigratesGrowth(t *testing.T) {
	checkMigration(t, []uint64{14, 15}, growthOrgs)
}

// checkMigration restores random runs on from into to at several points,
// and compares the state at the restore and every reply, event and
// decision record after it with a core that had to from the start (given
// commands that name nothing the orgs differ in).
func checkMigration(t *testing.T, seeds []uint64, orgs func() (from, to *teams.Org)) {
	from, to := orgs()
	for _, seed := range seeds {
		const n = 3000
		points := []int{1, 150, 333, 700, 1000, 1500, 1777, 2222, 2600, 2900}
		// The state a core on the new org all along has at each point,
		// but for the decision records, whose traces count the agents
		// each org had.
		wantState := map[int]string{}
		state := func(i int, c *Core) string {
			snap, err := c.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			for k := range snap.Contacts {
				snap.Contacts[k].Decisions = nil
			}
			b, _ := json.Marshal(snap)
			return string(b)
		}
		want := driveRandomOrgs(t, seed, n, false, to, nil, func(i int, c *Core) {
			if slices.Contains(points, i) {
				wantState[i] = state(i, c)
			}
		})
		for _, at := range points {
			got := driveRandomOrgs(t, seed, n, true, from, map[int]*teams.Org{at: to}, func(i int, c *Core) {
				if i == at && state(i, c) != wantState[i] {
					t.Errorf("seed %d: migrated before step %d, the state differs from the new org's all along:\nwant %s\ngot  %s", seed, at, wantState[i], state(i, c))
				}
			})
			w, g := bytes.Join(want[at:], nil), bytes.Join(got[at:], nil)
			if len(w) < 1000 {
				t.Fatalf("seed %d: digest after step %d suspiciously short", seed, at)
			}
			if !bytes.Equal(w, g) {
				i := 0
				for i < len(g) && i < len(w) && g[i] == w[i] {
					i++
				}
				t.Fatalf("seed %d, migrated before step %d: differs at byte %d:\nwant %.300s\ngot  %.300s", seed, at, i, w[i:], g[i:])
			}
		}
	}
}

// TestMigrationRefusals: what does not carry over is refused, so that the
// shell replays its journal instead.
func TestMigrationRefusals(t *testing.T) {
	opts := Options{Explain: true}
	from, _ := migrationOrgs()
	c := newCore(t, from)
	mustState(t, c, 0, "det-001", AgentAvailable)
	mustRoute(t, c, 1, RouteRequest{ContactID: "a", Channel: "voice", CustomerID: "acct-42"})
	c.Events()
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	without := func(id string) func(o *teams.Org) {
		return func(o *teams.Org) {
			o.Agents = slices.DeleteFunc(o.Agents, func(a teams.Agent) bool { return a.ID == id })
		}
	}
	for name, tc := range map[string]struct {
		change func(o *teams.Org)
		ok     bool
	}{
		"an idle agent gone": {without("det-spare"), true},
		"an agent added": {func(o *teams.Org) {
			o.Agents = append(o.Agents, teams.Agent{ID: "x", Team: "CHA-CLE", Role: teams.RoleExpert})
		}, true},
		"an idle agent's skills changed":  {func(o *teams.Org) { o.Agents[2].Skills = map[string]int{"tech": 5} }, true},
		"a logged-in agent's skills":      {func(o *teams.Org) { o.Agents[0].Skills = map[string]int{"tech": 5, "billing": 1} }, true},
		"a busy agent gone":               {without("det-001"), false},
		"a busy agent's capacity changed": {func(o *teams.Org) { o.Agents[0].Channels = map[string]int{"voice": 2} }, false},
		"a busy agent moved":              {func(o *teams.Org) { o.Agents[0].Team = "CHA-CLE" }, false},
		"the wrap-up time":                {func(o *teams.Org) { o.Routing.WrapUpSeconds++ }, true},
		"the weights and the offer time": {func(o *teams.Org) {
			o.Routing.Weights.Fairness, o.Routing.OfferTTLSeconds = 0.9, 3
		}, true},
		"a chain's budget": {func(o *teams.Org) {
			o.Routing.Chain = slices.Clone(o.Routing.Chain)
			o.Routing.Chain[2].BudgetSeconds++
		}, false},
		"the EWT sample size": {func(o *teams.Org) { o.Routing.EWTSampleSize++ }, true},
		"coaches take contacts, none logged in": {func(o *teams.Org) {
			o.Routing.ContactRoles = append(slices.Clone(o.Routing.ContactRoles), teams.RoleCoach)
		}, true},
		"experts take none, one logged in": {func(o *teams.Org) {
			o.Routing.ContactRoles = []teams.Role{teams.RoleTechSpecialist}
		}, false},
		"a sister team": {func(o *teams.Org) {
			o.Markets = slices.Clone(o.Markets)
			o.Markets[0].FallbackTeams = nil
		}, false},
		"the scorecard's settings": {func(o *teams.Org) { o.Scorecard.TeamWeight += 0.1; o.Scorecard.FCRWindowDays++ }, true},
		"names and a site": {func(o *teams.Org) {
			o.Markets = slices.Clone(o.Markets)
			o.Markets[0].Name += " (renamed)"
			o.Teams = slices.Clone(o.Teams)
			o.Teams[0].Name, o.Teams[0].Site = "Renamed", "Elsewhere"
		}, true},
		"a market's area codes": {func(o *teams.Org) {
			o.Markets = slices.Clone(o.Markets)
			o.Markets[0].AreaCodes = append(slices.Clone(o.Markets[0].AreaCodes), "999")
		}, true},
		"a team added": {func(o *teams.Org) { o.Teams = append(o.Teams, teams.Team{ID: "CHA-X"}) }, true},
		"teams and markets listed in another order": {func(o *teams.Org) {
			o.Teams, o.Markets = slices.Clone(o.Teams), slices.Clone(o.Markets)
			slices.Reverse(o.Teams)
			slices.Reverse(o.Markets)
		}, true},
	} {
		org, _ := migrationOrgs()
		org.Agents = slices.Clone(from.Agents)
		tc.change(org)
		r, err := Restore(org, opts, snap)
		if (err == nil) != tc.ok {
			t.Errorf("%s: restored %v, error %v", name, err == nil, err)
			continue
		}
		if err == nil {
			checkInvariants(t, r)
		}
	}
	// What routing does not read carries the state over as it was.
	org, _ := migrationOrgs()
	org.Agents = slices.Clone(from.Agents)
	org.Scorecard.TeamWeight += 0.1
	org.Teams = slices.Clone(org.Teams)
	org.Teams[1].Site = "Elsewhere"
	r, err := Restore(org, opts, snap)
	if err != nil {
		t.Fatal(err)
	}
	again, err := r.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if snap.SameOrg(org, opts) {
		t.Error("SameOrg holds across a change of the scorecard's settings")
	}
	again.Org = snap.Org
	if diff := cmp.Diff(snap, again); diff != "" {
		t.Errorf("state changed across a display-only org change (-before +after):\n%s", diff)
	}
}

// TestPropertyOrgVariants runs the random commands on variants of the
// property org, so the invariants hold beyond one configuration: the
// routing defaults, short offers and no wrap-up, a flat chain, every agent on
// both channels and languages, and long step budgets.
func TestPropertyOrgVariants(t *testing.T) {
	variants := []struct {
		name   string
		change func(o *teams.Org)
	}{
		{"default routing", func(o *teams.Org) { o.Routing = teams.DefaultRouting() }},
		{"fast offers", func(o *teams.Org) {
			o.Routing.OfferTTLSeconds, o.Routing.MaxMisses, o.Routing.WrapUpSeconds = 5, 5, 0
		}},
		{"flat chain", func(o *teams.Org) {
			o.Routing.Chain = []teams.ChainStep{{Step: teams.StepHomeTeam}, {Step: teams.StepAnyTeam}}
		}},
		{"every agent on every channel", func(o *teams.Org) {
			for i := range o.Agents {
				o.Agents[i].Channels = map[string]int{"voice": 1, "messaging": 3}
				o.Agents[i].Languages = []string{"en", "es"}
			}
		}},
		{"long step budgets", func(o *teams.Org) {
			o.Routing.Chain = []teams.ChainStep{{Step: teams.StepKnownAgent, BudgetSeconds: 120},
				{Step: teams.StepServedBefore, BudgetSeconds: 60}, {Step: teams.StepHomeTeam, BudgetSeconds: 90},
				{Step: teams.StepSisterTeams, BudgetSeconds: 200}, {Step: teams.StepAnyTeam}}
		}},
	}
	steps := 1500
	if testing.Short() {
		steps = 300
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			for seed := range uint64(8) {
				org := propOrg()
				v.change(org)
				driveRandomOrgs(t, seed+1, steps, true, org, nil, nil)
			}
		})
	}
}
