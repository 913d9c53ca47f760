package scorecard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/tex-cx/tex/teams"
)

// Log field names.
const (
	logSubject = "subject"
	logSeq     = "seq"
	logDurable = "durable"
	logBucket  = "bucket"
	logCount   = "count"
)

// Defaults of the Service options.
const (
	DefaultDurable          = "tex-scorecard"
	DefaultSnapshotBucket   = "TEX_SCORECARD"
	DefaultSnapshotInterval = time.Minute
	// DefaultExportPage is the page size of an export request that names none.
	DefaultExportPage = 500
	// MaxExportPage bounds a page; a page whose reply would still exceed
	// the server's max payload is cut further.
	MaxExportPage = 2000
	// ackEvery: the consumer acks (ack-all) every so many messages, and
	// whenever it has caught up.
	ackEvery = 512
)

// Request subjects, after the prefix.
const (
	QuerySuffix  = "scorecard.query"
	ExportSuffix = "scorecard.export"
)

type options struct {
	durable          string
	bucket           string
	snapshotInterval time.Duration
	now              func() time.Time
}

// Option configures a Service.
type Option func(*options)

// WithDurable names the durable consumer and its snapshot. Give each node
// its own name when several `tex serve` nodes each keep a scorecard.
func WithDurable(name string) Option { return func(o *options) { o.durable = name } }

// WithSnapshotBucket names the JetStream object store that keeps snapshots.
func WithSnapshotBucket(name string) Option { return func(o *options) { o.bucket = name } }

// WithSnapshotInterval sets how often the state is snapshotted when it has
// changed; 0 snapshots only on Stop.
func WithSnapshotInterval(d time.Duration) Option {
	return func(o *options) { o.snapshotInterval = d }
}

// WithClock sets the clock that gives "now" to queries (tests use a fixed one).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Service runs the scorecard in a server: a durable consumer on TEX_EVENTS
// that feeds an Aggregator, periodic snapshots to a JetStream object store,
// and the query and export request handlers on NATS (and HTTP, through
// Handler).
//
// On Start it loads the latest snapshot, then consumes from the stream
// sequence after it (from the start of the stream when there is none).
// Aggregation is idempotent by contact_id, so events applied after the
// snapshot and read again after a restart are not counted twice.
type Service struct {
	org atomic.Pointer[teams.Org]
	log *zerolog.Logger
	bad zerolog.Logger // sampled, for bad events
	o   options

	agg   atomic.Pointer[Aggregator]
	ready atomic.Bool

	prefix  string
	obs     jetstream.ObjectStore
	created time.Time // of the stream, recorded in snapshots
	cc      jetstream.ConsumeContext
	subs    []*nats.Subscription
	unacked int // touched only by the consumer callback

	snapMu  sync.Mutex // one snapshot at a time
	snapSeq uint64     // stream sequence of the last snapshot written

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// New returns a Service for org. It does nothing until Start.
func New(org *teams.Org, log *zerolog.Logger, opts ...Option) *Service {
	o := options{durable: DefaultDurable, bucket: DefaultSnapshotBucket,
		snapshotInterval: DefaultSnapshotInterval, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	l := log.With().Str("component", "scorecard").Logger()
	s := &Service{log: &l, o: o, stop: make(chan struct{}), done: make(chan struct{})}
	s.org.Store(org)
	s.bad = l.Sample(&zerolog.BurstSampler{Burst: 20, Period: time.Second})
	s.agg.Store(NewAggregator(org))
	return s
}

// SetOrg makes org the one queries and exports read from now on (an org
// reloaded while serving): rosters, names, targets and weights. Events
// already applied stay as they were.
func (s *Service) SetOrg(org *teams.Org) {
	s.org.Store(org)
	s.agg.Load().SetOrg(org)
}

// Aggregator returns the live aggregator (it is replaced once, at Start,
// when a snapshot turns out to be unusable).
func (s *Service) Aggregator() *Aggregator { return s.agg.Load() }

// Ready reports whether the consumer has caught up with the stream once
// since Start; before that, queries answer `unavailable`.
func (s *Service) Ready() bool { return s.ready.Load() }

// Start loads the snapshot, starts the durable consumer and subscribes the
// request handlers <prefix>.scorecard.query and <prefix>.scorecard.export.
// It returns once they are in place; catching up runs in the background.
func (s *Service) Start(ctx context.Context, nc *nats.Conn, prefix string) error {
	s.prefix = prefix
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("scorecard: jetstream: %w", err)
	}
	stream, err := EnsureEventStream(ctx, js, prefix)
	if err != nil {
		return fmt.Errorf("scorecard: %w", err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("scorecard: stream info: %w", err)
	}
	s.created = info.Created
	s.obs, err = js.ObjectStore(ctx, s.o.bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		s.obs, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: s.o.bucket,
			Description: "tex scorecard snapshots", Storage: jetstream.FileStorage})
	}
	if err != nil {
		return fmt.Errorf("scorecard: snapshot bucket %s: %w", s.o.bucket, err)
	}
	seq := s.loadSnapshot(ctx, info)
	s.snapSeq = seq

	cons, err := s.consumer(ctx, js, seq)
	if err != nil {
		return err
	}
	if cons.CachedInfo().NumPending == 0 {
		s.ready.Store(true)
	}
	s.cc, err = cons.Consume(s.onMsg, jetstream.PullMaxMessages(1024),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			s.log.Warn().Err(err).Msg("scorecard consumer")
		}))
	if err != nil {
		return fmt.Errorf("scorecard: consume: %w", err)
	}
	go s.snapshotLoop()
	for _, h := range []struct {
		suffix string
		fn     func([]byte, int) any
	}{{QuerySuffix, s.queryReply}, {ExportSuffix, s.exportReply}} {
		fn := h.fn
		sub, err := nc.QueueSubscribe(prefix+"."+h.suffix, "tex-scorecard", func(m *nats.Msg) {
			if m.Reply == "" {
				return
			}
			data, err := json.Marshal(fn(m.Data, int(nc.MaxPayload())))
			if err != nil {
				data, _ = json.Marshal(errorReply(CodeUnavailable, err.Error()))
			}
			if err := m.Respond(data); err != nil {
				s.log.Warn().Err(err).Str(logSubject, m.Subject).Msg("scorecard reply")
			}
		})
		if err != nil {
			s.Stop()
			return fmt.Errorf("scorecard: subscribe %s: %w", prefix+"."+h.suffix, err)
		}
		s.subs = append(s.subs, sub)
	}
	s.log.Info().Str(logDurable, s.o.durable).Uint64(logSeq, seq).Msg("scorecard started")
	return nil
}

// loadSnapshot applies the latest usable snapshot and returns its stream
// sequence, or 0 to rebuild from the start of the stream.
func (s *Service) loadSnapshot(ctx context.Context, info *jetstream.StreamInfo) uint64 {
	res, err := s.obs.Get(ctx, s.snapshotName())
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return 0
	}
	if err != nil {
		s.log.Warn().Err(err).Msg("scorecard snapshot unreadable; rebuilding from the stream")
		return 0
	}
	defer res.Close()
	agg := NewAggregator(s.org.Load())
	hdr, err := agg.ReadSnapshot(res)
	switch {
	case err != nil:
		s.log.Warn().Err(err).Msg("scorecard snapshot unreadable; rebuilding from the stream")
		return 0
	case !hdr.StreamCreated.Equal(info.Created) || hdr.StreamSeq > info.State.LastSeq:
		s.log.Warn().Uint64(logSeq, hdr.StreamSeq).Msg("scorecard snapshot is of another stream; rebuilding from the stream")
		return 0
	}
	if info.State.FirstSeq > hdr.StreamSeq+1 {
		s.log.Warn().Uint64(logSeq, hdr.StreamSeq).Uint64("first_seq", info.State.FirstSeq).
			Msg("events after the snapshot have left the stream (retention); they are lost to the scorecard")
	}
	s.agg.Store(agg)
	s.log.Info().Uint64(logSeq, hdr.StreamSeq).Int(logCount, hdr.Contacts).Msg("scorecard snapshot loaded")
	return hdr.StreamSeq
}

func (s *Service) snapshotName() string { return s.o.durable + ".snapshot" }

// consumer (re)creates the durable consumer so that it starts right after
// the snapshot. The snapshot, not the consumer's ack floor, says what has
// been counted: the aggregates live in memory, so a restart must replay
// everything after the snapshot.
func (s *Service) consumer(ctx context.Context, js jetstream.JetStream, seq uint64) (jetstream.Consumer, error) {
	err := js.DeleteConsumer(ctx, StreamName, s.o.durable)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("scorecard: reset consumer %s: %w", s.o.durable, err)
	}
	cfg := jetstream.ConsumerConfig{
		Durable:        s.o.durable,
		Description:    "tex scorecard aggregates",
		FilterSubjects: []string{s.prefix + ".events." + kindResolved + ".>", s.prefix + ".events." + kindSurvey + ".>"},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckAllPolicy,
		AckWait:        time.Minute,
		MaxAckPending:  8 * ackEvery,
	}
	if seq > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = seq + 1
	}
	cons, err := js.CreateConsumer(ctx, StreamName, cfg)
	if err != nil {
		return nil, fmt.Errorf("scorecard: create consumer %s: %w", s.o.durable, err)
	}
	return cons, nil
}

// eventKind is "resolved" or "survey" for <prefix>.events.<kind>.<market>.
func eventKind(prefix, subject string) string {
	rest, ok := strings.CutPrefix(subject, prefix+".events.")
	if !ok {
		return ""
	}
	kind, _, _ := strings.Cut(rest, ".")
	if kind == kindResolved || kind == kindSurvey {
		return kind
	}
	return ""
}

func (s *Service) onMsg(msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		s.bad.Warn().Err(err).Str(logSubject, msg.Subject()).Msg("scorecard: message without JetStream metadata")
		_ = msg.Term()
		return
	}
	agg := s.agg.Load()
	if kind := eventKind(s.prefix, msg.Subject()); kind != "" {
		if err := agg.applyEvent(md.Sequence.Stream, kind, msg.Data()); err != nil {
			// Bad events are logged and passed over (the ack-all below
			// acknowledges them): retrying cannot fix them.
			s.bad.Warn().Err(err).Str(logSubject, msg.Subject()).Uint64(logSeq, md.Sequence.Stream).
				Msg("scorecard: event skipped")
		}
	} else {
		agg.markSeq(md.Sequence.Stream)
	}
	s.unacked++
	if s.unacked >= ackEvery || md.NumPending == 0 {
		if err := msg.Ack(); err != nil {
			s.log.Debug().Err(err).Msg("scorecard ack")
		}
		s.unacked = 0
	}
	if md.NumPending == 0 && !s.ready.Load() {
		s.ready.Store(true)
		s.log.Info().Uint64(logSeq, md.Sequence.Stream).Msg("scorecard caught up with the event stream")
	}
}

func (s *Service) snapshotLoop() {
	defer close(s.done)
	if s.o.snapshotInterval <= 0 {
		<-s.stop
		return
	}
	t := time.NewTicker(s.o.snapshotInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			if err := s.Snapshot(ctx); err != nil {
				s.log.Warn().Err(err).Msg("scorecard snapshot")
			}
			cancel()
		}
	}
}

// Snapshot writes the state to the object store, unless nothing changed
// since the last snapshot.
func (s *Service) Snapshot(ctx context.Context) error {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	agg := s.agg.Load()
	if s.obs == nil || agg.LastSeq() == s.snapSeq {
		return nil
	}
	pr, pw := io.Pipe()
	var seq uint64
	go func() {
		var err error
		seq, err = agg.WriteSnapshot(pw, s.created)
		pw.CloseWithError(err)
	}()
	_, err := s.obs.Put(ctx, jetstream.ObjectMeta{Name: s.snapshotName(),
		Description: "scorecard state, " + snapshotFormat}, pr)
	pr.CloseWithError(err) // unblocks the writer when Put fails early
	if err != nil {
		return fmt.Errorf("put snapshot: %w", err)
	}
	s.snapSeq = seq
	s.log.Debug().Uint64(logSeq, seq).Msg("scorecard snapshot written")
	return nil
}

// Stop stops consuming and answering, and writes a last snapshot. It is
// safe to call more than once.
func (s *Service) Stop() {
	s.stopOnce.Do(func() {
		for _, sub := range s.subs {
			_ = sub.Unsubscribe()
		}
		if s.cc != nil {
			s.cc.Stop()
			<-s.cc.Closed()
		}
		close(s.stop)
		if s.cc != nil {
			<-s.done // the snapshot loop runs once the consumer does
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Snapshot(ctx); err != nil {
			s.log.Warn().Err(err).Msg("scorecard final snapshot")
		}
		s.log.Info().Uint64(logSeq, s.agg.Load().LastSeq()).Msg("scorecard stopped")
	})
}
