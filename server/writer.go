package server

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/tex-cx/tex/router"
	"github.com/tex-cx/tex/teams"
)

type opKind uint8

const (
	opRoute opKind = iota + 1
	opAgentState
	opContactEvent
	opRead // reads the core (decisions); never journaled
)

// command is one request for the writer. done is called by the writer,
// once, with the encoded reply and the error code ("" on success); it must
// not block.
type command struct {
	op       opKind
	route    *router.RouteRequest
	agent    *router.AgentStateRequest
	event    *router.ContactEvent
	read     func(*router.Core) (any, error)
	body     []byte // the journal body: the decoded request, re-encoded
	received time.Time
	done     func(body []byte, code string)

	// Set by the writer while it runs a batch.
	reply []byte
	code  string
	entry int // index of the batch's journal entry holding it, or -1
}

// maxBatch bounds the commands of one batch, so one burst cannot hold
// every reply behind a huge journal write.
const maxBatch = 1024

// flight is one batch between the writer and the acker: the journal
// writes in flight, the replies to send once they are all acked, then the
// events to publish and the store rows to write. A tick is a flight with
// events and rows only; a barrier flight only closes barrier when reached.
type flight struct {
	batch    []*command
	entries  []uint64 // journal entry ids, whose acks to wait for
	jerr     error    // PublishAsync failed: the flight is refused
	events   []outEvent
	epochs   []int
	agents   []*teams.AgentStateRow
	contacts []*teams.ContactRow
	gone     []string
	barrier  chan struct{}
}

// natsBacklog is how many command messages may wait for the writer. Past
// it NATS drops them as a slow consumer's and the requester times out.
const natsBacklog = 1 << 16

// maxFlights bounds the batches whose journal acks are awaited at once.
const maxFlights = 64

// writer is the single goroutine that owns the core. Lock order: none; it
// shares nothing but channels, and the store (which is safe for readers).
//
// The writer does not wait for the journal: it applies a batch, publishes
// its journal entries and hands the batch to the acker goroutine,
// which waits for the acks in batch order and only then replies (the
// write-ahead rule), publishes the events and writes the read store. The
// writer meanwhile applies the next batch on top. When a journal write
// fails, the acker refuses that batch and every later one until the writer
// has drained it (a barrier flight) and rebuilt the core from the journal.
type writer struct {
	core    *router.Core
	org     *teams.Org
	journal *journal
	lease   *lease // nil: no lease (tests of the writer alone)
	pub     *publisher
	store   *teams.Store
	metrics *metrics
	log     *zerolog.Logger
	clock   func() time.Time

	ewtRefresh time.Duration

	in      chan *command
	natsIn  chan *nats.Msg    // command messages, straight from the subscriptions
	reloads chan reload       // org changes, applied between batches
	ops     map[string]opKind // by subject; filled before the subscriptions start
	quit    chan struct{}     // closed by stop: finish queued commands, then exit
	killed  chan struct{}     // closed by kill: exit now
	done    chan struct{}     // closed when run returns
	once    sync.Once
	kOnce   sync.Once
	mu      sync.RWMutex // see submit
	closed  bool         // guarded by mu

	last    time.Time // last time stamped: stamps never go backwards
	lastSeq uint64    // journal sequence of the last entry applied
	evIdx   int       // events emitted since that entry
	lastEv  eventID   // the last event named, with lastSeq and evIdx
	broken  error     // the core may be ahead of the journal; rebuild before serving
	// lastSeq, evIdx and lastEv belong to the acker while it runs, and to
	// the writer once the acker is drained (after a barrier).

	retention retentionNote

	snaps     *snapshotter
	snapEvery time.Duration
	snapSeq   uint64 // lastSeq of the latest snapshot taken or restored
	replayed  int    // journal entries the last recover replayed

	flights   chan *flight
	ackerDone chan struct{}
	rows      chan rows // from the acker (and the writer's rebuilds) to the storer
	storerEnd chan struct{}
	storing   bool                  // the storer runs; only the writer goroutine reads it
	failed    atomic.Pointer[error] // set by the acker when a journal write failed
	early     map[uint64]journalAck // the acker's

	// Reused per batch.
	batch   []*command
	jcmds   []journaled // the journal entry being built
	jsize   int
	entries []uint64
	events  []outEvent
	epochs  []int
}

func newWriter(org *teams.Org, j *journal, pub *publisher, store *teams.Store, m *metrics, log *zerolog.Logger, clock func() time.Time) *writer {
	return &writer{org: org, journal: j, pub: pub, store: store, metrics: m, log: log, clock: clock,
		in: make(chan *command, 4096), reloads: make(chan reload), natsIn: make(chan *nats.Msg, natsBacklog), ops: map[string]opKind{}, early: map[uint64]journalAck{}, quit: make(chan struct{}), killed: make(chan struct{}), done: make(chan struct{}),
		flights: make(chan *flight, maxFlights), ackerDone: make(chan struct{}),
		rows: make(chan rows, maxFlights), storerEnd: make(chan struct{})}
}

func newCore(org *teams.Org) (*router.Core, error) {
	c, err := router.New(org, coreOptions)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	return c, nil
}

// maxRefusalLogs is how many replay refusals of one code are logged one
// by one.
const maxRefusalLogs = 5

// recover rebuilds the core from the journal, hands the events not yet
// published to the publisher, ticks to now and fills the read store.
func (w *writer) recover(ctx context.Context) error {
	start := time.Now()
	from := w.restore(ctx)
	if from == 0 {
		core, err := newCore(w.org)
		if err != nil {
			return err
		}
		w.core, w.lastSeq, w.evIdx, w.lastEv, w.snapSeq = core, 0, 0, noMark, 0
	}
	mark := w.pub.published()
	var out []outEvent
	keep := func() {
		for _, e := range w.core.Events() {
			id := eventID{w.lastSeq, w.evIdx}
			w.evIdx++
			w.lastEv = id
			if mark.less(id) {
				oe := encodeEvent(w.pub.prefix, e, id, w.log)
				oe.replay = true
				out = append(out, oe)
			}
		}
	}
	// The live core accepted every journaled command. Refusing one now
	// means replay diverged: a bug when the org is the one the journal was
	// written with, expected after an org change (an agent removed, say).
	// The first few are logged, then a count: a removed agent's month of
	// commands is not a month of log lines.
	refused := map[string]int{}
	n, err := w.journal.replay(ctx, from, func(seq uint64, e *entry) error {
		t := time.Unix(0, e.T).UTC()
		// Timers due before the entry fire first, as they did live.
		w.core.Tick(t)
		keep()
		w.lastSeq, w.evIdx = seq, 0
		for _, cmd := range e.commands() {
			if err := applyEntry(w.core, t, cmd); err != nil {
				code := asRouterError(err).Code
				if refused[code]++; refused[code] <= maxRefusalLogs {
					w.log.Error().Err(err).Uint64(logSeq, seq).Msg("journal entry refused on replay")
				}
			}
			keep()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(refused) > 0 {
		ev := w.log.Error()
		for code, count := range refused {
			ev = ev.Int(code, count)
		}
		ev.Msg("journal entries refused on replay, by error code; after an org change, commands of agents or teams it removed")
	}
	now := w.stamp()
	w.core.Tick(now)
	keep()
	w.pub.send(out)
	w.syncStore(nil)
	_, cut := w.core.Retention()
	w.retention.track(w.core, cut)
	w.replayed = n
	w.log.Info().Int(logCount, n).Uint64("from", from).Uint64(logSeq, w.lastSeq).Int("republished", len(out)).
		Dur("took", time.Since(start)).Msg("journal replayed")
	w.broken = nil
	return nil
}

// restore loads the latest snapshot into w.core and returns the journal
// sequence to replay from, or 0 (replay all) when there is no usable one.
func (w *writer) restore(ctx context.Context) uint64 {
	if w.snaps == nil {
		return 0
	}
	saved := w.snaps.load(ctx)
	if saved == nil {
		return 0
	}
	last, err := w.journal.lastSeq(ctx)
	if err != nil || saved.Seq > last {
		w.log.Warn().AnErr("error", err).Uint64(logSeq, saved.Seq).Uint64("journal_last", last).
			Msg("snapshot is ahead of the journal; replaying the whole journal")
		return 0
	}
	lastEv, err := parseEventID(saved.LastEvent)
	if err != nil {
		w.log.Warn().Err(err).Msg("snapshot undecodable; replaying the whole journal")
		return 0
	}
	core, err := router.Restore(w.org, coreOptions, saved.Core)
	if err != nil {
		// The org's layout changed since (markets, teams, chains), or the
		// snapshot is of another version.
		w.log.Warn().Err(err).Msg("snapshot not usable; replaying the whole journal")
		return 0
	}
	if !saved.Core.SameOrg(w.org, coreOptions) {
		w.log.Info().Uint64(logSeq, saved.Seq).Msg("snapshot carried over into the changed org (agents or settings)")
	}
	w.core, w.lastSeq, w.evIdx, w.lastEv, w.snapSeq = core, saved.Seq, saved.EvIdx, lastEv, saved.Seq
	return saved.Seq + 1
}

// snapshot hands the core's state to the snapshotter. The acker is drained
// first, so the state is that of the journal up to lastSeq.
func (w *writer) snapshot() {
	if p, ok := w.takeSnapshot(); ok {
		w.snaps.offer(p)
	}
}

func (w *writer) takeSnapshot() (pendingSnapshot, bool) {
	if w.snaps == nil || !w.healthy() {
		return pendingSnapshot{}, false
	}
	w.drain()
	if w.failed.Load() != nil || w.lastSeq == w.snapSeq {
		return pendingSnapshot{}, false // a rebuild comes first; or nothing new
	}
	start := time.Now()
	snap, err := w.core.Snapshot()
	if err != nil {
		w.log.Error().Err(err).Msg("snapshot the core")
		return pendingSnapshot{}, false
	}
	w.snapSeq = w.lastSeq
	w.log.Debug().Uint64(logSeq, w.lastSeq).Dur("took", time.Since(start)).Msg("snapshot taken")
	return pendingSnapshot{after: w.lastEv, snap: savedSnapshot{Seq: w.lastSeq, EvIdx: w.evIdx,
		LastEvent: w.lastEv.String(), Taken: w.core.Now(), Core: snap}}, true
}

func applyEntry(core *router.Core, t time.Time, e journaled) error {
	switch e.K {
	case entryRoute:
		req, err := router.DecodeRouteRequest(e.B)
		if err != nil {
			return err
		}
		_, err = core.Route(t, req)
		return err
	case entryAgentState:
		req, err := router.DecodeAgentState(e.B)
		if err != nil {
			return err
		}
		_, err = core.SetAgentState(t, req)
		return err
	case entryContactEvent:
		req, err := router.DecodeContactEvent(e.B)
		if err != nil {
			return err
		}
		_, err = core.HandleContactEvent(t, req)
		return err
	}
	return fmt.Errorf("unknown journal entry kind %q", e.K)
}

// stamp is the time the next batch is applied at: the clock, but never
// before the last stamp or the core's own clock.
func (w *writer) stamp() time.Time {
	now := w.clock().UTC()
	if now.Before(w.last) {
		now = w.last
	}
	if w.core != nil && now.Before(w.core.Now()) {
		now = w.core.Now()
	}
	w.last = now
	return now
}

// submit hands c to the writer, or answers unavailable when it has
// stopped. Senders hold mu's read lock, so that once the writer has set
// closed under the write lock, nothing more enters the channel.
func (w *writer) submit(c *command) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		refuseStopped(c)
		return
	}
	select {
	case w.in <- c:
	case <-w.done:
		refuseStopped(c)
	}
}

func refuseStopped(c *command) {
	c.done(encodeError(&router.Error{Code: router.CodeUnavailable,
		Message: "the server is shutting down; retry on another node or later"}), router.CodeUnavailable)
}

// exit answers every command still queued once the writer has stopped.
func (w *writer) exit() {
	close(w.done) // unblocks senders waiting on a full channel
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	for {
		select {
		case c := <-w.in:
			refuseStopped(c)
		case m := <-w.natsIn:
			refuseMsg(w.ops[m.Subject], m)
		default:
			// Subscriptions may outlive the writer (Shutdown drains them
			// first, but not every caller does): answer what still comes
			// until the server is gone.
			go func() {
				for {
					select {
					case m := <-w.natsIn:
						refuseMsg(w.ops[m.Subject], m)
					case <-w.killed:
						return
					}
				}
			}()
			return
		}
	}
}

func refuseMsg(op opKind, m *nats.Msg) {
	if c := natsCommand(op, m); c != nil {
		refuseStopped(c)
	}
}

func (w *writer) run() {
	w.storing = true
	go w.storeLoop()
	go w.ack()
	defer w.exit()
	defer func() {
		// The acker answers every flight sent (or gives up when killed)
		// before the writer counts as done, and before the publisher stops.
		close(w.flights)
		<-w.ackerDone
		close(w.rows)
		<-w.storerEnd
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	refresh := time.NewTicker(w.ewtRefresh)
	defer refresh.Stop()
	var snapC <-chan time.Time
	if w.snaps != nil {
		go w.snaps.run()
		defer func() { close(w.snaps.stop); <-w.snaps.done }()
		if w.snapEvery > 0 {
			snapTick := time.NewTicker(w.snapEvery)
			defer snapTick.Stop()
			snapC = snapTick.C
		}
	}
	for {
		w.armTimer(timer)
		select {
		case c := <-w.in:
			w.batch = append(w.batch[:0], c)
			w.fill()
			w.apply(w.batch)
		case m := <-w.natsIn:
			w.batch = w.batch[:0]
			w.addNATS(m)
			w.fill()
			if len(w.batch) > 0 {
				w.apply(w.batch)
			}
		case <-timer.C:
			w.tick()
		case <-refresh.C:
			w.refreshEWT()
		case r := <-w.reloads:
			r.done <- w.reload(r.org)
		case <-snapC:
			w.snapshot()
		case <-w.quit:
			for {
				w.batch = w.batch[:0]
				w.fill()
				if len(w.batch) == 0 {
					break
				}
				w.apply(w.batch)
			}
			// The next start restores this and replays nothing.
			if p, ok := w.takeSnapshot(); ok {
				w.snaps.saveNow(p, 10*time.Second)
			}
			return
		case <-w.killed:
			return
		}
	}
}

// fill adds every command already waiting, up to maxBatch.
func (w *writer) fill() {
	for len(w.batch) < maxBatch {
		select {
		case c := <-w.in:
			w.batch = append(w.batch, c)
		case m := <-w.natsIn:
			w.addNATS(m)
		default:
			return
		}
	}
}

func (w *writer) addNATS(m *nats.Msg) {
	if c := natsCommand(w.ops[m.Subject], m); c != nil {
		w.batch = append(w.batch, c)
	}
}

// armTimer sets the timer to the core's next deadline, so offers expire,
// wrap-ups end and fallback steps open on time.
func (w *writer) armTimer(t *time.Timer) {
	next, ok := w.core.NextDeadline()
	d := time.Hour
	switch {
	case w.broken != nil || w.failed.Load() != nil:
		d = time.Second // retry the rebuild; do not spin on a past deadline
	case !w.lease.valid():
		d = w.lease.ttl / 6 // the timers wait for a renewal; do not spin
	case ok:
		d = max(next.Sub(w.clock()), 0)
	}
	t.Reset(d)
}

func (w *writer) tick() {
	// Timers fire late, once the lease is confirmed again.
	if !w.lease.valid() || !w.healthy() {
		return
	}
	now := w.stamp()
	w.core.Tick(now)
	w.events, w.epochs = w.events[:0], w.epochs[:0]
	w.collect(-1)
	w.encodeEvents()
	f := &flight{}
	w.finishFlight(f)
	w.retention.note(w.core, w.metrics, w.log, now)
}

// retentionNote turns the core's retention counts into metrics, and warns
// (once a minute at most) when finished contacts are forgotten early.
type retentionNote struct {
	core   *router.Core // whose count cut was read: a new core counts from 0
	cut    uint64
	warned time.Time
}

// track counts core's cuts from base on: its own count after a replay,
// which re-did cuts the process before counted; 0 after a reload, whose
// new bound may have cut contacts early just now.
func (r *retentionNote) track(core *router.Core, base uint64) {
	r.core, r.cut = core, base
}

func (r *retentionNote) note(core *router.Core, m *metrics, log *zerolog.Logger, now time.Time) {
	held, cut := core.Retention()
	m.retained.Set(float64(held))
	if core != r.core { // not tracked: count from here
		r.track(core, cut)
		return
	}
	if cut == r.cut {
		return
	}
	m.cutShort.Add(float64(cut - r.cut))
	r.cut = cut
	if now.Sub(r.warned) >= time.Minute {
		r.warned = now
		log.Warn().Int("held", held).Uint64("forgotten_early", cut).
			Msg("finished contacts forgotten before contact_retention_seconds: max_retained_contacts reached")
	}
}

// healthy rebuilds the core when a journal write failed, after the acker
// has refused everything sent before. It reports whether the core is usable.
func (w *writer) healthy() bool {
	if errp := w.failed.Load(); errp != nil && w.broken == nil {
		w.broken = *errp
	}
	if w.broken == nil {
		return true
	}
	w.drain()
	w.failed.Store(nil)
	if err := w.recover(context.Background()); err != nil {
		w.log.Error().Err(err).Msg("rebuild from the journal failed")
		return false
	}
	return true
}

// drain waits until the acker has handled every flight sent so far.
func (w *writer) drain() {
	f := &flight{barrier: make(chan struct{})}
	if !w.send(f) {
		return
	}
	select {
	case <-f.barrier:
	case <-w.killed:
	}
}

func (w *writer) send(f *flight) bool {
	select {
	case w.flights <- f:
		return true
	case <-w.killed:
		return false
	}
}

// finishFlight adds the batch's events and store changes to f and hands it
// to the acker.
func (w *writer) finishFlight(f *flight) {
	if len(w.events) > 0 {
		f.events = make([]outEvent, len(w.events))
		copy(f.events, w.events)
		f.epochs = make([]int, len(w.epochs))
		copy(f.epochs, w.epochs)
	}
	ch := w.core.TakeChanges()
	if len(ch.Agents) > 0 {
		f.agents = make([]*teams.AgentStateRow, len(ch.Agents))
		for i := range ch.Agents {
			f.agents[i] = agentRow(&ch.Agents[i])
		}
	}
	if len(ch.Contacts) > 0 || len(ch.Gone) > 0 {
		var done []string
		f.contacts, done = contactRows(ch.Contacts, w.core.Now())
		f.gone = append(done, ch.Gone...)
	}
	w.send(f)
}

// contactRows turns change views into store rows, and the ids of
// finished contacts, which leave the store.
func contactRows(views []router.ContactView, at time.Time) (rows []*teams.ContactRow, done []string) {
	rows = make([]*teams.ContactRow, 0, len(views))
	for i := range views {
		if finished(&views[i]) {
			done = append(done, views[i].ContactID)
			continue
		}
		rows = append(rows, contactRow(&views[i], at))
	}
	return rows, done
}

// defaultEWTRefresh is how often the read store's EWT lines are
// recomputed: they drift as agents work and time passes, but a route must
// not rewrite a whole queue.
const defaultEWTRefresh = time.Second

// refreshEWT hands the current EWT line of every waiting contact to the
// acker for the read store.
func (w *writer) refreshEWT() {
	if !w.healthy() {
		return
	}
	views := w.core.WaitingViews()
	if len(views) == 0 {
		return
	}
	rows, _ := contactRows(views, w.core.Now()) // waiting: none finished
	w.send(&flight{contacts: rows})
}

// collect takes the core's events, tagged with the batch entry they
// follow. encodeEvents encodes them later, once the journal write is on
// its way.
func (w *writer) collect(epoch int) {
	for _, e := range w.core.Events() {
		w.events = append(w.events, outEvent{ev: e})
		w.epochs = append(w.epochs, epoch)
	}
}

// encodeEvents encodes the events collected.
func (w *writer) encodeEvents() {
	for i := range w.events {
		w.events[i] = encodeEvent(w.pub.prefix, w.events[i].ev, eventID{}, w.log)
	}
}

// apply runs one batch: apply to the core in order, publish a journal
// entry per accepted command, and hand the batch to the acker, which waits
// for every ack, then replies, publishes events and feeds the store.
func (w *writer) apply(batch []*command) {
	if !w.lease.valid() {
		w.refuse(batch, errNoLease)
		return
	}
	if !w.healthy() {
		w.refuse(batch, w.broken)
		return
	}
	now := w.stamp()
	w.events, w.epochs, w.entries = w.events[:0], w.epochs[:0], w.entries[:0]
	w.core.Tick(now)
	w.collect(-1)
	w.jcmds, w.jsize = w.jcmds[:0], 0
	epoch := -1
	var jerr error
	for _, c := range batch {
		c.entry = -1
		reply, kind, err := w.exec(c, now)
		if err != nil {
			re := asRouterError(err)
			c.reply, c.code = encodeError(re), re.Code
			w.collect(epoch)
			continue
		}
		c.reply, c.code = encodeReply(reply), ""
		if kind != "" {
			if w.jsize > 0 && w.jsize+len(c.body) > maxEntryBytes {
				jerr = cmp.Or(jerr, w.publishEntry(now))
			}
			w.jcmds = append(w.jcmds, journaled{K: kind, B: c.body})
			w.jsize += len(c.body) + 32
			epoch = len(w.entries) // the entry being built
			c.entry = epoch
		}
		w.collect(epoch)
	}
	if len(w.jcmds) > 0 {
		jerr = cmp.Or(jerr, w.publishEntry(now))
	}
	w.encodeEvents() // while the journal write is on its way
	f := &flight{batch: make([]*command, len(batch)), jerr: jerr}
	copy(f.batch, batch)
	if len(w.entries) > 0 {
		f.entries = make([]uint64, len(w.entries))
		copy(f.entries, w.entries)
	}
	if jerr != nil {
		// The core applied commands the journal does not hold: rebuild
		// from the journal before the next batch.
		w.broken = jerr
	}
	w.finishFlight(f)
	w.retention.note(w.core, w.metrics, w.log, now)
}

// publishEntry writes the journal entry being built. After a failure it
// still adds the entry's id, so entry indexes stay aligned; the flight is
// refused anyway.
func (w *writer) publishEntry(now time.Time) error {
	id, err := w.journal.send(appendEntry(make([]byte, 0, w.jsize+64), now.UnixNano(), w.jcmds))
	w.entries = append(w.entries, id)
	w.jcmds, w.jsize = w.jcmds[:0], 0
	return err
}

// ack is the acker goroutine: it takes the flights in order, waits for
// their journal acks, and only then replies, publishes the events and
// writes the read store.
func (w *writer) ack() {
	defer close(w.ackerDone)
	for f := range w.flights {
		if f.barrier != nil {
			close(f.barrier)
			continue
		}
		if w.failed.Load() != nil {
			// A batch before this one failed: this one was applied on top
			// of it, so it is refused as well.
			w.refuse(f.batch, *w.failed.Load())
			continue
		}
		seqs, err := w.waitAcks(f)
		if err != nil {
			if errors.Is(err, errKilled) {
				return
			}
			w.failed.Store(&err)
			w.log.Error().Err(err).Msg("journal write failed; rebuilding from the journal")
			w.refuse(f.batch, err)
			continue
		}
		for _, c := range f.batch {
			if c.op == opRoute {
				w.metrics.latency.Observe(time.Since(c.received).Seconds())
			}
			c.done(c.reply, c.code)
		}
		// Ids as replay gives them: every entry, with events or without,
		// moves lastSeq on and starts its count again.
		passed := 0
		for i := range f.events {
			for ; passed <= f.epochs[i]; passed++ {
				w.lastSeq, w.evIdx = seqs[passed], 0
			}
			f.events[i].id = eventID{w.lastSeq, w.evIdx}
			w.lastEv = f.events[i].id
			w.evIdx++
		}
		for ; passed < len(seqs); passed++ {
			w.lastSeq, w.evIdx = seqs[passed], 0
		}
		if len(f.events) > 0 {
			w.pub.send(f.events)
		}
		if len(f.agents) > 0 || len(f.contacts) > 0 || len(f.gone) > 0 {
			select {
			case w.rows <- rows{agents: f.agents, contacts: f.contacts, gone: f.gone}:
			case <-w.killed:
				return
			}
		}
	}
}

func (w *writer) refuse(batch []*command, err error) {
	body := encodeError(&router.Error{Code: router.CodeUnavailable,
		Message: "the command journal cannot be written (" + err.Error() + "); nothing was changed, retry"})
	for _, c := range batch {
		// Refusals and reads already answered keep their answer; a batch
		// refused before it ran has none.
		if c.code != "" || (c.op == opRead && c.reply != nil) {
			c.done(c.reply, c.code)
			continue
		}
		c.done(body, router.CodeUnavailable)
	}
}

var errKilled = errors.New("killed")

// journalAckWait bounds the wait for the journal; past it the batch is refused.
const journalAckWait = 10 * time.Second

func (w *writer) waitAcks(fl *flight) ([]uint64, error) {
	if fl.jerr != nil {
		return nil, fl.jerr
	}
	if len(fl.entries) == 0 {
		return nil, nil
	}
	seqs := make([]uint64, len(fl.entries))
	var timeout <-chan time.Time
	for i, id := range fl.entries {
		for {
			if a, ok := w.early[id]; ok {
				delete(w.early, id)
				if a.err != nil {
					return nil, a.err
				}
				seqs[i] = a.seq
				break
			}
			var m *nats.Msg
			// Most acks are already in: take them without arming a timer.
			select {
			case m = <-w.journal.acks.c:
			default:
				if timeout == nil {
					t := time.NewTimer(journalAckWait)
					defer t.Stop()
					timeout = t.C
				}
				select {
				case m = <-w.journal.acks.c:
				case <-timeout:
					return nil, errors.New("no journal ack within " + journalAckWait.String())
				case <-w.killed:
					return nil, errKilled
				}
			}
			got, seq, err := w.journal.acks.parse(m)
			if got < id {
				continue // the ack of an entry already given up on
			}
			w.early[got] = journalAck{seq, err}
		}
	}
	return seqs, nil
}

// journalAck is a journal entry's ack, kept while the acker waits for an earlier
// one (JetStream acks in order, but nothing here depends on it).
type journalAck struct {
	seq uint64
	err error
}

// exec runs one command on the core. kind is the journal kind of an
// accepted command that may have changed state, "" otherwise.
func (w *writer) exec(c *command, now time.Time) (reply any, kind string, err error) {
	switch c.op {
	case opRoute:
		r, err := w.core.Route(now, c.route)
		return &r, entryRoute, err
	case opAgentState:
		r, err := w.core.SetAgentState(now, c.agent)
		return &r, entryAgentState, err
	case opContactEvent:
		r, err := w.core.HandleContactEvent(now, c.event)
		return &r, entryContactEvent, err
	case opRead:
		r, err := c.read(w.core)
		return r, "", err
	}
	return nil, "", fmt.Errorf("unknown command %d", c.op)
}

// reload is an org change for the writer to apply between two batches.
type reload struct {
	org  *teams.Org
	done chan error
}

// reload carries the core's state over into org, as a start restores a
// snapshot into a changed org (router.Restore), and leaves the core as it
// was when the state does not carry over.
func (w *writer) reload(org *teams.Org) error {
	if !w.healthy() {
		return fmt.Errorf("server: the journal is failing (%w); reload once it recovers", w.broken)
	}
	w.drain() // every batch applied so far is answered and its rows queued
	if err := w.failed.Load(); err != nil {
		return fmt.Errorf("server: the journal is failing (%w); reload once it recovers", *err)
	}
	snap, err := w.core.Snapshot()
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	core, err := router.Restore(org, coreOptions, snap)
	if err != nil {
		return fmt.Errorf("server: the state does not carry over into the new org (%w); still serving the old one", err)
	}
	w.core, w.org = core, org
	w.retention.track(core, 0)
	w.syncStore(org)
	// Commands wait for the snapshot to be saved (a few hundred ms for a
	// month of state): a start after a crash then replays under the new
	// org only what the new org decided.
	w.snapSeq = 0 // the state is the same, the org is not: snapshot it anyway
	if p, ok := w.takeSnapshot(); ok {
		p.done = make(chan struct{})
		w.snaps.offer(p)
		select {
		case <-p.done:
		case <-time.After(reloadSaveWait):
			w.log.Warn().Msg("the snapshot after the org reload is not saved yet; serving on")
		case <-w.killed:
		}
	}
	return nil
}

// reloadSaveWait bounds the pause of a reload for its snapshot.
const reloadSaveWait = 10 * time.Second

// syncStore replaces the read store's live rows with the core's, after a
// rebuild from the journal (with the acker drained: rows of commands the
// journal refused must not outlive it) or a reload, whose org, when set,
// replaces the store's directory. The replacement goes through the
// storer, behind the rows it still holds.
func (w *writer) syncStore(org *teams.Org) {
	ch := w.core.TakeChanges()
	r := rows{replace: true, org: org, agents: make([]*teams.AgentStateRow, len(ch.Agents))}
	r.contacts, _ = contactRows(ch.Contacts, w.core.Now()) // finished ones are not in a fresh store
	for i := range ch.Agents {
		r.agents[i] = agentRow(&ch.Agents[i])
	}
	if !w.storing {
		w.write(r)
		return
	}
	r.done = make(chan struct{})
	select {
	case w.rows <- r:
	case <-w.killed:
		return
	}
	select {
	case <-r.done:
	case <-w.killed:
	}
}

// rows is a batch of read-store changes. A replace batch stands for the
// whole live state.
type rows struct {
	agents   []*teams.AgentStateRow
	contacts []*teams.ContactRow
	gone     []string
	replace  bool
	org      *teams.Org    // with replace: the org whose directory the store takes
	done     chan struct{} // closed once written, when set
}

// storeEvery is the least time between two read-store writes. Rows that
// come sooner wait for the rest of it and share one transaction: go-memdb
// allocates a path of tree nodes per row and index, which under load was
// the largest source of garbage in the process, and a contact routed and
// abandoned within the window costs one row instead of two. Reads lag the
// replies by at most this much; an idle store writes at once.
const storeEvery = 2 * time.Millisecond

// storeLoop is the storer goroutine, off the acker's path.
func (w *writer) storeLoop() {
	defer close(w.storerEnd)
	wait := time.NewTimer(time.Hour)
	wait.Stop()
	var last time.Time
	var pending []rows
	for first := range w.rows {
		pending = append(pending[:0], first)
		if d := time.Until(last.Add(storeEvery)); d > 0 {
			wait.Reset(d)
			pending = w.gatherRows(pending, wait.C)
			wait.Stop()
		}
		pending = w.gatherRows(pending, nil)
		// The last replacement supersedes every batch before it, but for
		// the latest directory one of them brings.
		start := 0
		var org *teams.Org
		for i, r := range pending {
			if r.replace {
				start = i
				org = cmp.Or(r.org, org)
			}
		}
		if pending[start].replace {
			pending[start].org = org
		}
		for _, r := range pending[:start] {
			if r.done != nil {
				close(r.done)
			}
		}
		if pending[start].replace {
			w.write(pending[start])
			start++
		}
		if start < len(pending) {
			w.write(mergeRows(pending[start:]))
		}
		last = time.Now()
		clear(pending) // let the written rows go
	}
}

// gatherRows adds the rows that come before until fires or, with until
// nil, those already waiting (at most maxFlights). It stops when the
// channel closes.
func (w *writer) gatherRows(pending []rows, until <-chan time.Time) []rows {
	for n := 0; until != nil || n < maxFlights; n++ {
		var r rows
		var ok bool
		if until != nil {
			select {
			case r, ok = <-w.rows:
			case <-until:
				return pending
			}
		} else {
			select {
			case r, ok = <-w.rows:
			default:
				return pending
			}
		}
		if !ok {
			return pending
		}
		pending = append(pending, r)
	}
	return pending
}

// mergeRows folds batches into one, the later row of an id winning.
func mergeRows(batches []rows) rows {
	if len(batches) == 1 {
		return batches[0]
	}
	agents := map[string]*teams.AgentStateRow{}
	contacts := map[string]*teams.ContactRow{} // nil: gone
	for _, r := range batches {
		for _, a := range r.agents {
			agents[a.AgentID] = a
		}
		for _, c := range r.contacts {
			contacts[c.ContactID] = c
		}
		for _, id := range r.gone {
			contacts[id] = nil
		}
	}
	var out rows
	for _, a := range agents {
		out.agents = append(out.agents, a)
	}
	for id, c := range contacts {
		if c == nil {
			out.gone = append(out.gone, id)
		} else {
			out.contacts = append(out.contacts, c)
		}
	}
	return out
}

// write applies one batch of rows to the read store.
func (w *writer) write(r rows) {
	if r.done != nil {
		defer close(r.done)
	}
	if r.replace {
		if r.org != nil {
			if err := w.store.ReplaceDirectory(r.org); err != nil {
				w.log.Error().Err(err).Msg("read store: replace the directory")
			}
		}
		if err := w.store.ReplaceLive(r.agents, r.contacts); err != nil {
			w.log.Error().Err(err).Msg("read store: replace live rows")
		}
		return
	}
	if len(r.agents) > 0 || len(r.contacts) > 0 || len(r.gone) > 0 {
		if err := w.store.Apply(r.agents, r.contacts, r.gone); err != nil {
			w.log.Error().Err(err).Msg("read store: agent states and contacts")
		}
	}
}

// stop lets the writer finish every queued command, then waits for it.
func (w *writer) stop(ctx context.Context) {
	w.once.Do(func() { close(w.quit) })
	select {
	case <-w.done:
	case <-ctx.Done():
		w.kill()
	}
}

func (w *writer) kill() { w.kOnce.Do(func() { close(w.killed) }) }

// jsonAppender is a reply or payload that writes its own JSON, the bytes
// json.Marshal would write, without reflection (router/encode.go).
type jsonAppender interface {
	AppendJSON([]byte) ([]byte, error)
}

// scratch holds buffers to encode into: what was written is then copied
// out at its size, one allocation per payload, as json.Marshal does.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// encodeJSON encodes v by its AppendJSON when it has one, else by
// json.Marshal: the same bytes either way.
func encodeJSON(v any) ([]byte, error) {
	a, ok := v.(jsonAppender)
	if !ok {
		return json.Marshal(v)
	}
	buf := scratch.Get().(*[]byte)
	b, err := a.AppendJSON((*buf)[:0])
	var out []byte
	if err == nil {
		out = bytes.Clone(b)
	}
	if cap(b) <= 64<<10 { // a rare huge payload is not kept
		*buf = b[:0]
		scratch.Put(buf)
	}
	return out, err
}

func encodeReply(v any) []byte {
	data, err := encodeJSON(v)
	if err != nil {
		return encodeError(&router.Error{Code: router.CodeUnavailable, Message: "encode reply: " + err.Error()})
	}
	return data
}

func encodeError(e *router.Error) []byte {
	data, _ := json.Marshal(errorBody{Error: e})
	return data
}
