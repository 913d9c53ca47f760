package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/tex-cx/tex/router"
	"github.com/tex-cx/tex/scorecard"
)

// StateBucket is the key-value bucket of the shell's own bookkeeping: the
// id of the last event known to be in TEX_EVENTS, per routing group.
const StateBucket = "TEX_SERVE"

// eventID names an event by the journal entry it follows and its index
// since that entry. Replay produces the same ids, so it is the event's
// Nats-Msg-Id: a republish after a crash is dropped by the stream.
type eventID struct {
	seq uint64
	idx int
}

func (a eventID) less(b eventID) bool {
	return a.seq < b.seq || (a.seq == b.seq && a.idx < b.idx)
}

func (a eventID) String() string {
	return strconv.FormatUint(a.seq, 10) + "." + strconv.Itoa(a.idx)
}

func parseEventID(s string) (eventID, error) {
	a, b, ok := strings.Cut(s, ".")
	seq, err1 := strconv.ParseUint(a, 10, 64)
	idx, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil {
		return eventID{}, fmt.Errorf("bad event id %q", s)
	}
	return eventID{seq, idx}, nil
}

// noMark is below every event id: nothing published yet.
var noMark = eventID{0, -1}

// outEvent is one event of the core, encoded by the writer (while the
// journal write is in flight, off the reply's path).
type outEvent struct {
	ev     router.Event
	id     eventID
	subj   string
	data   []byte // nil: it could not be encoded, and is not published
	replay bool   // from the journal replay: publish, but count and log nothing
}

// ackWait is one send's wait for the ack of its last event: the stream
// stores one connection's messages in order, so that ack stands for the
// events sent before it too.
type ackWait struct {
	n      uint64  // the ack's number in the inbox
	last   eventID // the event that asked for it
	events int     // the events it stands for
	at     time.Time
}

const (
	// ackEvery is how many events of one send at most go out per ack.
	ackEvery = 256
	// maxUnacked bounds the events sent and not yet acked, well below
	// the stream's ingest queue.
	maxUnacked = 8192
)

// publisher publishes the core's events to TEX_EVENTS in order and
// records how far the stream is known to hold them. Events go out as plain
// publishes, and only the last event of each send (or of each ackEvery) asks for an ack. The
// acks wait in their channel until the next poll: an ack per event, or a
// goroutine woken per ack, costs the broker and tex CPU right when a
// route's reply is on its way: about 30 µs of a route's p50 on two cores.
type publisher struct {
	nc      *nats.Conn
	kv      jetstream.KeyValue
	key     string // of the event mark in StateBucket
	holeKey string // of the first event a run could not store, if any
	prefix  string
	log     *zerolog.Logger
	metrics *metrics
	acks    *ackInbox

	mu       sync.Mutex // guards mark, inflight and stuck
	mark     eventID    // the last event known to be stored, all before it too
	inflight []ackWait  // acks awaited, in order
	unacked  int        // the events they stand for
	stuck    bool       // an event was not stored: the mark stays before it until a restart
	stuckAt  eventID    // when stuck: the event whose ack failed; the stream may lack any from the mark to it

	// hole is the stuckAt of a run, kept in the state bucket until a later
	// run stores past it: events after the gap may be in the stream, so a
	// start must not move the mark to the stream's last event.
	hole      *eventID
	holeSaved bool

	ackEvery   int // ackEvery and maxUnacked; tests lower them
	maxUnacked int
	sent       uint64 // acks asked for; the sender's
	saved      eventID
	lastSaved  time.Time
	stopc      chan struct{}
	killc      chan struct{}
	done       chan struct{}
	once       sync.Once
	kOnce      sync.Once
}

func newPublisher(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, prefix, group string, log *zerolog.Logger, m *metrics) (*publisher, error) {
	kv, err := js.KeyValue(ctx, StateBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: StateBucket,
			Description: "tex serve bookkeeping (docs/serve.md)", Storage: jetstream.FileStorage})
	}
	if err != nil {
		return nil, fmt.Errorf("server: state bucket %s: %w", StateBucket, err)
	}
	acks, err := newAckInbox(nc, scorecard.StreamName)
	if err != nil {
		return nil, err
	}
	p := &publisher{nc: nc, kv: kv, key: group + ".published", holeKey: group + ".hole", prefix: prefix, log: log, metrics: m, acks: acks,
		ackEvery: ackEvery, maxUnacked: maxUnacked,
		mark: noMark, stopc: make(chan struct{}), killc: make(chan struct{}), done: make(chan struct{})}
	ent, err := kv.Get(ctx, p.key)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case err != nil:
		return nil, fmt.Errorf("server: read %s/%s: %w", StateBucket, p.key, err)
	default:
		if p.mark, err = parseEventID(string(ent.Value())); err != nil {
			// Republishing everything is safe: the stream and the
			// scorecard both drop what they already hold.
			log.Warn().Err(err).Msg("event mark unreadable; republishing from the start")
			p.mark = noMark
		}
	}
	p.saved = p.mark
	if p.hole, err = readHole(ctx, kv, p.holeKey); err != nil {
		return nil, err
	}
	if p.hole == nil {
		// The saved mark lags the stream by up to markSave after a crash.
		// The stream drops a republished copy only within its duplicate
		// window (scorecard.DuplicateWindow), so a start later than that must
		// begin after the last event the stream holds.
		last, err := lastStored(ctx, js, prefix)
		if err != nil {
			return nil, err
		}
		if p.mark.less(last) {
			log.Info().Str("saved", p.mark.String()).Str("stored", last.String()).
				Msg("event mark moved to the last event the stream holds")
			p.mark = last
		}
	}
	return p, nil
}

// lastStored is the id of the last event of this tex that the stream
// holds: the highest over the subjects of its event kinds (survey events
// come from elsewhere and carry no such id).
func lastStored(ctx context.Context, js jetstream.JetStream, prefix string) (eventID, error) {
	st, err := js.Stream(ctx, scorecard.StreamName)
	if err != nil {
		return noMark, fmt.Errorf("server: stream %s: %w", scorecard.StreamName, err)
	}
	last := noMark
	for k := router.KindDecision; k <= router.KindContactState; k++ {
		m, err := st.GetLastMsgForSubject(ctx, prefix+".events."+k.String()+".*")
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return noMark, fmt.Errorf("server: last %s event in %s: %w", k, scorecard.StreamName, err)
		}
		if id, err := parseEventID(m.Header.Get(jetstream.MsgIDHeader)); err == nil && last.less(id) {
			last = id
		}
	}
	return last, nil
}

// readHole reads the hole a previous run recorded, if any.
func readHole(ctx context.Context, kv jetstream.KeyValue, key string) (*eventID, error) {
	ent, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("server: read %s/%s: %w", StateBucket, key, err)
	}
	id, err := parseEventID(string(ent.Value()))
	if err != nil {
		// Unreadable: a hole all the same, the safe side.
		hole := noMark
		return &hole, nil
	}
	return &id, nil
}

// encodeEvent makes e ready to publish.
func encodeEvent(prefix string, e router.Event, id eventID, log *zerolog.Logger) outEvent {
	data, err := encodeJSON(e.Payload())
	if err != nil {
		log.Error().Err(err).Str("kind", e.Kind.String()).Msg("encode event")
		data = nil
	}
	return outEvent{ev: e, id: id, subj: prefix + ".events." + e.Kind.String() + "." + e.Key, data: data}
}

// send publishes a batch of events in order. It is called by one
// goroutine at a time (the acker, or the writer while the acker is
// drained), right after the replies: a platform waiting for an assigned
// event gets it without one more goroutine hand-off.
func (p *publisher) send(b []outEvent) {
	last := len(b) - 1
	for last >= 0 && b[last].data == nil {
		last--
	}
	count := 0 // events of the chunk being sent
	for i := range b[:last+1] {
		e := &b[i]
		if e.data == nil {
			continue
		}
		if count == 0 {
			p.throttle()
		}
		count++
		m := &nats.Msg{Subject: e.subj, Data: e.data, Header: nats.Header{jetstream.MsgIDHeader: []string{e.id.String()}}}
		if i == last || count == p.ackEvery {
			// Tracked before the ack can come.
			p.sent++
			p.track(ackWait{n: p.sent, last: e.id, events: count, at: time.Now()})
			m.Reply = p.acks.reply(p.sent)
			count = 0
		}
		if err := p.nc.PublishMsg(m); err != nil {
			p.mu.Lock()
			p.fail(e.id, err)
			p.mu.Unlock()
			return
		}
		if !e.replay {
			p.observe(&e.ev)
		}
	}
}

func (p *publisher) track(w ackWait) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stuck {
		p.inflight = append(p.inflight, w)
		p.unacked += w.events
	}
}

// throttle waits while maxUnacked events wait for their acks. The stream
// drops what comes in past its ingest queue (100,000 messages), and
// a dropped event that asked for no ack would go unnoticed: a restart
// replaying a long journal republishes that many at once.
func (p *publisher) throttle() {
	for {
		p.mu.Lock()
		p.expire(time.Now())
		over := !p.stuck && p.unacked >= p.maxUnacked
		p.mu.Unlock()
		if !over {
			return
		}
		select {
		case m := <-p.acks.c:
			p.acked(m)
		case <-time.After(5 * time.Millisecond): // the poll took it
		case <-p.killc:
			return
		}
	}
}

const (
	// ackPoll is how often the acks that came in move the mark.
	ackPoll = 50 * time.Millisecond
	// markSave is how often the mark is saved, when it moved.
	markSave = 250 * time.Millisecond
	// ackTimeout is how long an event's ack may take before the mark
	// stops there (and a restart republishes from it).
	ackTimeout = 10 * time.Second
)

func (p *publisher) run() {
	defer close(p.done)
	tick := time.NewTicker(ackPoll)
	defer tick.Stop()
	for {
		select {
		case now := <-tick.C:
			p.poll(now)
			// A hole is saved at once: a start that missed it would move
			// the mark past an event the stream lacks.
			if now.Sub(p.lastSaved) >= markSave || (!p.holeSaved && p.failed()) {
				p.save()
				p.lastSaved = now
			}
		case <-p.stopc:
			p.finish()
			return
		case <-p.killc:
			return
		}
	}
}

// poll takes the acks that came in, and gives up on one that is overdue.
func (p *publisher) poll(now time.Time) {
	for {
		select {
		case m := <-p.acks.c:
			p.acked(m)
		default:
			p.mu.Lock()
			p.expire(now)
			p.mu.Unlock()
			return
		}
	}
}

// expire gives up on the oldest ack awaited once it is overdue. p.mu is
// held.
func (p *publisher) expire(now time.Time) {
	if len(p.inflight) > 0 && now.Sub(p.inflight[0].at) > ackTimeout {
		p.fail(p.inflight[0].last, errors.New("no ack from "+scorecard.StreamName+" within "+ackTimeout.String()))
	}
}

// acked moves the mark over every send up to the acked one: the stream
// stored them in order.
func (p *publisher) acked(m *nats.Msg) {
	n, _, err := p.acks.parse(m)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stuck {
		return
	}
	for i, w := range p.inflight {
		if w.n != n {
			continue
		}
		if err != nil {
			p.fail(w.last, err)
			return
		}
		p.mark = w.last
		for _, done := range p.inflight[:i+1] {
			p.unacked -= done.events
		}
		p.inflight = p.inflight[i+1:]
		return
	}
	if n == 0 {
		p.log.Error().Err(err).Msg("event ack unreadable")
	}
}

// fail stops the mark where it is for good: a restart republishes from
// there, and the stream's de-duplication drops what it already holds.
// p.mu is held.
func (p *publisher) fail(at eventID, err error) {
	if !p.stuck {
		p.log.Error().Err(err).Str("event", at.String()).Msg("events not stored; they are republished on restart")
		p.stuckAt = at
	}
	p.stuck = true
	p.inflight, p.unacked = nil, 0
}

// published is the id of the last event the stream is known to hold.
func (p *publisher) published() eventID {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mark
}

// failed reports whether the mark has stopped until a restart.
func (p *publisher) failed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stuck
}

func (p *publisher) save() {
	p.mu.Lock()
	mark, stuck, stuckAt := p.mark, p.stuck, p.stuckAt
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	switch {
	case stuck && !p.holeSaved:
		if _, err := p.kv.Put(ctx, p.holeKey, []byte(stuckAt.String())); err != nil {
			p.log.Warn().Err(err).Msg("save event hole")
		} else {
			p.holeSaved = true
		}
	case !stuck && p.hole != nil && !mark.less(*p.hole):
		if err := p.kv.Delete(ctx, p.holeKey); err != nil {
			p.log.Warn().Err(err).Msg("clear event hole")
		} else {
			p.hole = nil
		}
	}
	if mark == p.saved {
		return
	}
	if _, err := p.kv.Put(ctx, p.key, []byte(mark.String())); err != nil {
		p.log.Warn().Err(err).Msg("save event mark")
		return
	}
	p.saved = mark
}

// finish waits for the acks of every send, then saves the mark.
func (p *publisher) finish() {
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for !p.settled() {
		select {
		case m := <-p.acks.c:
			p.acked(m)
		case <-deadline.C:
			p.mu.Lock()
			if len(p.inflight) > 0 {
				p.fail(p.inflight[0].last, errors.New("no ack from "+scorecard.StreamName+" before the stop"))
			}
			p.mu.Unlock()
		case <-p.killc:
			return
		}
	}
	p.save()
}

func (p *publisher) settled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.inflight) == 0
}

// stop waits for the acks of what was sent and saves the mark. The writer
// must have stopped.
func (p *publisher) stop(ctx context.Context) {
	p.once.Do(func() { close(p.stopc) })
	select {
	case <-p.done:
	case <-ctx.Done():
		p.kill()
	}
}

func (p *publisher) kill() { p.kOnce.Do(func() { close(p.killc) }) }

// decisionStep is the fallback step of a decision for the metrics: the one
// that assigned the contact, or for one left waiting the furthest step
// open, as its route reply says.
func decisionStep(d *router.Decision) string {
	if d.Step != "" {
		return d.Step
	}
	for i := len(d.Steps) - 1; i >= 0; i-- {
		if d.Steps[i].Open {
			return d.Steps[i].Step
		}
	}
	return ""
}

// observe counts and logs one live event.
func (p *publisher) observe(e *router.Event) {
	switch e.Kind {
	case router.KindDecision:
		d := e.Decision
		p.metrics.decisions.WithLabelValues(d.Outcome, decisionStep(d), d.Trigger).Inc()
		if p.log.GetLevel() <= zerolog.DebugLevel {
			p.log.Debug().Str(logContact, d.ContactID).Str("trigger", d.Trigger).Str("outcome", d.Outcome).
				Str("team", d.Team).Str(logAgent, d.Agent).Str("step", d.Step).Msg("decision")
		}
	case router.KindOfferMissed:
		m := e.OfferMissed
		if m.How == "expired" {
			p.metrics.offersExpired.WithLabelValues(m.Team).Inc()
			p.log.Warn().Str(logContact, m.ContactID).Str(logAgent, m.AgentID).Int("misses_in_a_row", m.MissesInARow).
				Msg("offer expired")
		}
	case router.KindAgentState:
		if e.AgentState.State == router.AgentNotResponding {
			p.log.Warn().Str(logAgent, e.AgentState.AgentID).Str("team", e.AgentState.Team).Msg("agent not responding")
		}
	}
}
