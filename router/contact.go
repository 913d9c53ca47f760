package router

import (
	"math"
	"sort"

	"github.com/tex-cx/tex/teams"
)

type contact struct {
	id          string
	seq         int64 // queue order within a priority: arrival, or negative when requeued to the front
	market      int32
	team        int32 // home team: whose queue holds it
	channel     uint8
	lang        uint8
	nSkills     uint8
	skills      [maxSkills]int16
	minProf     [maxSkills]uint8
	priority    int
	customerKey string // continuity memory key: customer id, else "ani:"+E.164
	customerID  string
	ani         string
	matchedBy   string
	hist        history // the customer's history when the contact arrived
	mem         int32   // slot of the customer's memory, -1 none yet (Core.contactMemory)
	memGen      uint32
	known       int32       // the known agent when on the home team, else -1
	served      []int32     // other home-team agents who served the customer before
	knownChoice knownChoice // what to do while the known agent is busy (known.go)

	state     string
	arrivedAt ts
	chain     []step
	step      int // furthest open step of chain
	stepOpen  ts  // when chain[step] opened; chain[step+1] opens a budget later
	gen       uint32
	callback  bool
	cbNumber  string
	cbAt      ts // when the callback was requested
	cbOffered bool
	queued    bool // in its team's queue
	inAny     bool // in Core.anyWait
	waited    bool // has been queued at some point

	agent        int32
	offerExpires ts
	offeredAt    ts
	matchedStep  teams.StepKind
	missedBy     []missed
	answeredAt   ts
	endedAt      ts
	wrappedAt    ts
	holdSecs     float64
	transferred  bool
	transferTo   string
	resolved     *bool
	disposition  string
	continuity   string
	decisions    []*Decision
	dirty        bool
}

func (ct *contact) terminal() bool {
	return ct.state == ContactCompleted || ct.state == ContactAbandoned
}

func (ct *contact) waiting() bool {
	return ct.state == ContactQueued || ct.state == ContactCallback
}

// missed is an agent who rejected the contact or let its offer expire; it
// is not offered the contact again until the cool-off ends.
type missed struct {
	agent int32
	until ts
}

// histEntry is one remembered contact between a customer and an agent.
type histEntry struct {
	at       ts
	agent    int32
	resolved int8 // -1 unknown, 0 no, 1 yes
}

// history is the engine's continuity memory of one customer: the most
// recent agents who served them, newest first.
type history struct {
	n       int32
	gen     uint32 // of the memory slot (Core.contactMemory)
	entries [4]histEntry
}

// histChunk is how many histories one chunk of the slab holds.
const histChunk = 4096

// memoryOf returns the continuity memory of a customer, or nil.
func (c *Core) memoryOf(key string) *history {
	if i, ok := c.memory[key]; ok {
		return c.history(i)
	}
	return nil
}

func (c *Core) history(i int32) *history { return &c.histories[i/histChunk][i%histChunk] }

// contactMemory returns the memory of a contact's customer, making it when
// there is none. The contact keeps the slot it found, so that its later
// steps skip the map; the slot's generation tells if it was forgotten and
// reused since.
func (c *Core) contactMemory(ct *contact) *history {
	if ct.mem >= 0 {
		if h := c.history(ct.mem); h.gen == ct.memGen {
			return h
		}
	}
	i := c.remember(ct.customerKey)
	ct.mem, ct.memGen = i, c.history(i).gen
	return c.history(i)
}

// remember returns the slot of the customer's memory, making an empty one
// (due for the sweep a memory TTL from now) when there is none.
func (c *Core) remember(key string) int32 {
	if i, ok := c.memory[key]; ok {
		return i
	}
	var i int32
	if n := len(c.freeHist); n > 0 {
		i = c.freeHist[n-1]
		c.freeHist = c.freeHist[:n-1]
	} else {
		i = c.nHist
		if int(i/histChunk) == len(c.histories) {
			c.histories = append(c.histories, new([histChunk]history))
		}
		c.nHist++
	}
	c.memory[key] = i
	c.memorySweep = append(c.memorySweep, memoryDue{key: key, at: c.now + c.memoryTTL})
	return i
}

// forgetMemory drops a customer's memory. Its slot's generation moves on,
// so a contact that still holds the slot sees it was forgotten.
func (c *Core) forgetMemory(key string) {
	if i, ok := c.memory[key]; ok {
		h := c.history(i)
		*h = history{gen: h.gen + 1}
		c.freeHist = append(c.freeHist, i)
		delete(c.memory, key)
	}
}

// record notes that agent served the customer at t, keeping each agent once.
func (h *history) record(agent int32, at ts) {
	pos := int(h.n)
	for i := range h.n {
		if h.entries[i].agent == agent {
			pos = int(i)
			break
		}
	}
	if pos == len(h.entries) {
		pos = len(h.entries) - 1
	} else if pos == int(h.n) {
		h.n++
	}
	copy(h.entries[1:pos+1], h.entries[:pos])
	h.entries[0] = histEntry{agent: agent, at: at, resolved: -1}
}

func (h *history) setResolved(agent int32, resolved *bool) {
	for i := range h.n {
		if h.entries[i].agent == agent {
			switch {
			case resolved == nil:
				h.entries[i].resolved = -1
			case *resolved:
				h.entries[i].resolved = 1
			default:
				h.entries[i].resolved = 0
			}
			return
		}
	}
}

// forget drops entries older than ttl.
func (h *history) forget(now, ttl ts) {
	for h.n > 0 && now-h.entries[h.n-1].at > ttl {
		h.n--
	}
}

// affinity is the continuity component for agent: decayed with the age of
// their last contact, full when that contact was not resolved.
func (c *Core) affinity(h *history, agent int32) float64 {
	for i := range h.n {
		e := &h.entries[i]
		if e.agent != agent {
			continue
		}
		age := toSeconds(c.now - e.at)
		if age < 0 {
			age = 0
		}
		a := math.Exp(-age / c.contTau)
		if e.resolved == 1 {
			a *= c.cfg.ResolvedAffinity
		}
		return a
	}
	return 0
}

// handleStats keeps a team's recent handle times (talk + hold + wrap) for
// the EWT, with the mean residual life they imply. The window is kept in
// arrival order (ring) and, beside it, sorted: one insertion and one
// removal per sample instead of a sort, and the suffix sums the residual
// needs are rebuilt in one pass, on the first residual after a change.
type handleStats struct {
	ring   []float64
	next   int
	n      int
	sum    float64
	sorted []float64
	suffix []float64 // suffix[i] = sum of sorted[i:]
	stale  bool
}

func (h *handleStats) init(size int) {
	h.ring = make([]float64, size)
	h.sorted = make([]float64, 0, size)
	h.suffix = make([]float64, 0, size+1)
}

func (h *handleStats) add(v float64) {
	if h.n == len(h.ring) {
		old := h.ring[h.next]
		h.sum -= old
		i := sort.SearchFloat64s(h.sorted, old)
		h.sorted = append(h.sorted[:i], h.sorted[i+1:]...)
	} else {
		h.n++
	}
	h.ring[h.next] = v
	h.sum += v
	h.next = (h.next + 1) % len(h.ring)
	i := sort.SearchFloat64s(h.sorted, v)
	h.sorted = append(h.sorted, 0)
	copy(h.sorted[i+1:], h.sorted[i:])
	h.sorted[i] = v
	h.stale = true
}

// priorSamples is how many samples a team's handle times count as at
// least: until it has that many, def fills in for the missing ones. One
// quick first contact of the day (a wrong number, a test call) would
// otherwise set the EWT of everyone behind it to a few seconds.
const priorSamples = 10

// prior is how many samples of def stand in for missing ones.
func (h *handleStats) prior() int {
	return max(min(priorSamples, len(h.ring))-h.n, 0)
}

func (h *handleStats) mean(def float64) float64 {
	if h.n == 0 {
		return def
	}
	m := float64(h.prior())
	return (h.sum + m*def) / (float64(h.n) + m)
}

// residual is the expected remaining handle time of a contact that has
// lasted elapsed seconds, from the recent samples: mean of (s - elapsed)
// over samples longer than elapsed, def standing in for missing samples
// (prior). With no history it assumes def, and when the contact outlasts
// every sample it assumes a tenth of the mean.
func (h *handleStats) residual(elapsed, def float64) float64 {
	if h.n == 0 {
		return max(def-elapsed, def*0.1)
	}
	if h.stale {
		h.suffix = h.suffix[:len(h.sorted)+1]
		h.suffix[len(h.sorted)] = 0
		for i := len(h.sorted) - 1; i >= 0; i-- {
			h.suffix[i] = h.suffix[i+1] + h.sorted[i]
		}
		h.stale = false
	}
	// The first sample longer than elapsed.
	lo, hi := 0, len(h.sorted)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if h.sorted[m] <= elapsed {
			lo = m + 1
		} else {
			hi = m
		}
	}
	cnt := float64(len(h.sorted) - lo)
	left := h.suffix[lo] - cnt*elapsed
	if m := float64(h.prior()); m > 0 && def > elapsed {
		cnt += m
		left += m * (def - elapsed)
	}
	if cnt == 0 {
		return h.mean(def) * 0.1
	}
	return left / cnt
}

// Timers.

type timerKind uint8

const (
	timerOffer     timerKind = iota + 1 // an offer's TTL ran out
	timerStep                           // the next fallback step opens
	timerWrap                           // wrap-up ends by its timer
	timerLease                          // an accepted contact outlived its lease
	timerRetention                      // a finished contact can be forgotten
	timerRetry                          // a missed-offer cool-off ended
)

type timer struct {
	at   ts
	seq  uint64
	kind timerKind
	gen  uint32
	ct   *contact
}

// valid reports whether the timer still matters: every state change of a
// contact bumps its generation, which cancels its pending timers.
func (t *timer) valid() bool { return t.ct.gen == t.gen }

// timerHeap is a min-heap by (at, seq), typed so pushes do not box.
type timerHeap []timer

func (h timerHeap) less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}

func (h *timerHeap) push(t timer) {
	*h = append(*h, t)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *timerHeap) pop() timer {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s[last] = timer{}
	s = s[:last]
	for i := 0; ; {
		l := 2*i + 1
		if l >= len(s) {
			break
		}
		m := l
		if r := l + 1; r < len(s) && s.less(r, l) {
			m = r
		}
		if !s.less(m, i) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// timerFIFO holds timers of one fixed duration. Since the clock never goes
// back, they are scheduled in deadline order, so a queue does the work of a
// heap in O(1): offers, wrap-ups, leases, cool-offs and retention all use one.
type timerFIFO struct {
	q    []timer
	head int
}

func (f *timerFIFO) peek() *timer {
	if f.head < len(f.q) {
		return &f.q[f.head]
	}
	return nil
}

func (f *timerFIFO) pop() timer {
	t := f.q[f.head]
	f.q[f.head] = timer{}
	f.head++
	if f.head >= 1024 && f.head*2 >= len(f.q) {
		n := copy(f.q, f.q[f.head:])
		clear(f.q[n:])
		f.q, f.head = f.q[:n], 0
	}
	return t
}

func (c *Core) schedule(ct *contact, kind timerKind, at ts) {
	c.timerSeq++
	t := timer{at: at, seq: c.timerSeq, kind: kind, gen: ct.gen, ct: ct}
	// Fixed-duration timers come in deadline order and queue in their
	// FIFO. Step budgets vary by step and market, and a cool-off set again
	// ends before the ones queued after it: these need the heap.
	if kind != timerStep {
		if f := &c.fifos[kind]; len(f.q) == 0 || at >= f.q[len(f.q)-1].at {
			f.q = append(f.q, t)
			return
		}
	}
	c.timers.push(t)
}

// nextTimer finds the earliest live timer, dropping cancelled ones on the
// way. src is -1 for the heap, else the FIFO's kind.
func (c *Core) nextTimer() (src int, next *timer) {
	for len(c.timers) > 0 && !c.timers[0].valid() {
		c.timers.pop()
	}
	if len(c.timers) > 0 {
		src, next = -1, &c.timers[0]
	}
	for k := range c.fifos {
		f := &c.fifos[k]
		h := f.peek()
		for h != nil && !h.valid() {
			f.pop()
			h = f.peek()
		}
		if h != nil && (next == nil || h.at < next.at || (h.at == next.at && h.seq < next.seq)) {
			src, next = k, h
		}
	}
	return src, next
}

// runTimers fires due timers in deadline order, each at its own time, so the
// outcome does not depend on when the shell ticks.
func (c *Core) runTimers(until ts) {
	for {
		src, next := c.nextTimer()
		if next == nil || next.at > until {
			return
		}
		var t timer
		if src < 0 {
			t = c.timers.pop()
		} else {
			t = c.fifos[src].pop()
		}
		if t.at > c.now {
			c.now = t.at
			c.epoch++
		}
		switch t.kind {
		case timerOffer:
			c.missOffer(t.ct, "expired")
		case timerStep:
			c.openNextSteps(t.ct)
		case timerRetry:
			if t.ct.waiting() {
				c.dispatch(t.ct, TriggerRequeue)
			}
		case timerWrap:
			c.finishWrap(t.ct, nil, "", false)
		case timerLease:
			c.endContact(t.ct, c.now, 0, false, "", "lease_expired")
		case timerRetention:
			c.forgetContact(t.ct)
		}
	}
}
