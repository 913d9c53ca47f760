package server

import (
	"context"
	"encoding/json"
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

type outEvent struct {
	ev     router.Event
	id     eventID
	replay bool // from the journal replay: publish, but count and log nothing
}

type pending struct {
	f  jetstream.PubAckFuture
	id eventID
}

// publisher publishes the core's events to TEX_EVENTS in order, off the
// writer's path, and records how far the stream is known to hold them.
type publisher struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	kv      jetstream.KeyValue
	key     string
	prefix  string
	log     *zerolog.Logger
	metrics *metrics

	mu    sync.Mutex // guards mark, which the writer reads on a rebuild
	mark  eventID    // highest id acked in order
	saved eventID

	in       chan []pending // publishes in flight, for run to track
	inflight []pending
	killc    chan struct{}
	done     chan struct{}
	once     sync.Once
	kOnce    sync.Once
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
	p := &publisher{nc: nc, js: js, kv: kv, key: group + ".published", prefix: prefix, log: log, metrics: m,
		mark: noMark, in: make(chan []pending, 1024), killc: make(chan struct{}), done: make(chan struct{})}
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
	return p, nil
}

// send publishes a batch of events in order and hands their acks to the
// run goroutine, which moves the mark. It is called by one goroutine at a
// time (the acker, or the writer while the acker is drained), right after
// the replies: a platform waiting for an assigned event gets it without
// one more goroutine hand-off. It gives up when the server is killed.
func (p *publisher) send(b []outEvent, killed <-chan struct{}) {
	if len(b) == 0 {
		return
	}
	sent := make([]pending, 0, len(b))
	for i := range b {
		e := &b[i]
		data, err := json.Marshal(e.ev.Payload())
		if err != nil {
			p.log.Error().Err(err).Str("kind", e.ev.Kind.String()).Msg("encode event")
			continue
		}
		subj := p.prefix + ".events." + e.ev.Kind.String() + "." + e.ev.Key
		f, err := p.js.PublishAsync(subj, data, jetstream.WithMsgID(e.id.String()))
		if err != nil {
			p.log.Error().Err(err).Str(logSubject, subj).Msg("publish event")
			continue
		}
		sent = append(sent, pending{f, e.id})
		if !e.replay {
			p.observe(&e.ev)
		}
	}
	select {
	case p.in <- sent:
	case <-killed:
	case <-p.killc:
	}
}

func (p *publisher) run() {
	defer close(p.done)
	save := time.NewTicker(250 * time.Millisecond)
	defer save.Stop()
	for {
		select {
		case sent, ok := <-p.in:
			if !ok {
				p.finish()
				return
			}
			p.inflight = append(p.inflight, sent...)
			p.reap(false)
		case <-save.C:
			p.reap(false)
			p.save()
		case <-p.killc:
			return
		}
	}
}

// reap moves the mark over the acked prefix of what is in flight. With
// wait it waits for all of them.
func (p *publisher) reap(wait bool) {
	n := 0
	for _, q := range p.inflight {
		if wait {
			select {
			case <-q.f.Ok():
			case err := <-q.f.Err():
				p.log.Error().Err(err).Str("event", q.id.String()).Msg("event not stored; it is republished on restart")
				p.inflight = p.inflight[:0]
				return
			case <-time.After(5 * time.Second):
				return
			}
		} else {
			select {
			case <-q.f.Ok():
			case err := <-q.f.Err():
				// Stop the mark here, so a restart republishes from this event.
				p.log.Error().Err(err).Str("event", q.id.String()).Msg("event not stored; it is republished on restart")
				p.inflight = p.inflight[n:]
				return
			default:
				p.inflight = p.inflight[n:]
				return
			}
		}
		p.mu.Lock()
		p.mark = q.id
		p.mu.Unlock()
		n++
	}
	p.inflight = p.inflight[:0]
}

// published is the id of the last event the stream is known to hold.
func (p *publisher) published() eventID {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mark
}

func (p *publisher) save() {
	mark := p.published()
	if mark == p.saved {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := p.kv.Put(ctx, p.key, []byte(mark.String())); err != nil {
		p.log.Warn().Err(err).Msg("save event mark")
		return
	}
	p.saved = mark
}

func (p *publisher) finish() {
	p.reap(true)
	p.save()
}

// stop publishes what is queued, waits for the acks and saves the mark.
// The writer must have stopped.
func (p *publisher) stop(ctx context.Context) {
	p.once.Do(func() { close(p.in) })
	select {
	case <-p.done:
	case <-ctx.Done():
		p.kill()
	}
}

func (p *publisher) kill() { p.kOnce.Do(func() { close(p.killc) }) }

// observe counts and logs one live event.
func (p *publisher) observe(e *router.Event) {
	switch e.Kind {
	case router.KindDecision:
		d := e.Decision
		p.metrics.decisions.WithLabelValues(d.Outcome, d.Step, d.Trigger).Inc()
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
