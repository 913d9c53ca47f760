package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/tex-cx/tex/router"
)

// SnapshotBucket is the object store that holds each routing group's latest
// core snapshot, so that a start replays only the journal written after it.
const SnapshotBucket = "TEX_SNAPSHOTS"

// defaultSnapshotEvery is how often the writer snapshots the core.
const defaultSnapshotEvery = 5 * time.Minute

// savedSnapshot is the object stored: the core's state after journal entry
// Seq and the EvIdx events that followed it.
type savedSnapshot struct {
	Seq   uint64 `json:"seq"`
	EvIdx int    `json:"ev_idx"`
	// LastEvent is the id of the last event before the snapshot.
	LastEvent string           `json:"last_event"`
	Taken     time.Time        `json:"taken"`
	Core      *router.Snapshot `json:"core"`
}

// snapshotter saves snapshots off the writer's path. A snapshot is saved
// only once the events before it are known to be in TEX_EVENTS: a start
// from it does not publish them again.
type snapshotter struct {
	obj  jetstream.ObjectStore
	name string
	pub  *publisher
	log  *zerolog.Logger
	// journal is trimmed behind each snapshot saved, keeping keep of
	// history (negative: everything); nil: never trimmed.
	journal *journal
	keep    time.Duration
	in      chan pendingSnapshot
	stop    chan struct{} // closed when the writer stops: a pending save is dropped
	done    chan struct{}
}

type pendingSnapshot struct {
	snap  savedSnapshot
	after eventID       // the last event before it
	done  chan struct{} // when set, closed once the saver is through with it, saved or not
}

// coreOptions are the options of the serve core, live, replayed or restored.
var coreOptions = router.Options{Explain: true, TrackChanges: true}

func newSnapshotter(ctx context.Context, js jetstream.JetStream, group string, pub *publisher, log *zerolog.Logger) (*snapshotter, error) {
	obj, err := js.ObjectStore(ctx, SnapshotBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		obj, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: SnapshotBucket,
			Description: "tex serve core snapshots (docs/serve.md)", Storage: jetstream.FileStorage})
	}
	if err != nil {
		return nil, fmt.Errorf("server: snapshot bucket %s: %w", SnapshotBucket, err)
	}
	return &snapshotter{obj: obj, name: group, pub: pub, log: log, in: make(chan pendingSnapshot, 1),
		stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// load returns the group's latest snapshot, or nil when there is none or
// it cannot be read (a full replay then rebuilds the state).
func (s *snapshotter) load(ctx context.Context) *savedSnapshot {
	data, err := s.obj.GetBytes(ctx, s.name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil
	}
	if err != nil {
		s.log.Warn().Err(err).Msg("snapshot unreadable; replaying the whole journal")
		return nil
	}
	var saved savedSnapshot
	if err := json.Unmarshal(data, &saved); err != nil || saved.Core == nil {
		s.log.Warn().AnErr("error", err).Msg("snapshot undecodable; replaying the whole journal")
		return nil
	}
	return &saved
}

// offer hands a snapshot to the saver; one still waiting is replaced.
func (s *snapshotter) offer(p pendingSnapshot) {
	select {
	case <-s.in:
	default:
	}
	s.in <- p
}

func (s *snapshotter) run() {
	defer close(s.done)
	for {
		select {
		case p := <-s.in:
			if !s.waitPublished(p.after) {
				return
			}
			s.save(p.snap)
			if p.done != nil {
				close(p.done)
			}
		case <-s.stop:
			return
		}
	}
}

func (s *snapshotter) waitPublished(after eventID) bool {
	return s.waitPublishedUntil(after, nil)
}

// waitPublishedUntil waits until the events up to after are in TEX_EVENTS;
// it gives up when stopped or at the deadline.
func (s *snapshotter) waitPublishedUntil(after eventID, deadline <-chan time.Time) bool {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for s.pub.published().less(after) {
		if s.pub.failed() {
			s.log.Warn().Str("event", after.String()).Msg("events were refused; snapshot not saved until a restart republishes them")
			return false
		}
		select {
		case <-tick.C:
		case <-s.stop:
			return false
		case <-deadline:
			s.log.Warn().Str("event", after.String()).Msg("events not yet stored; snapshot not saved")
			return false
		}
	}
	return true
}

// saveNow saves p from the writer, at a graceful stop, while the publisher
// still runs.
func (s *snapshotter) saveNow(p pendingSnapshot, wait time.Duration) {
	if s.waitPublishedUntil(p.after, time.After(wait)) {
		s.save(p.snap)
	}
}

func (s *snapshotter) save(snap savedSnapshot) {
	start := time.Now()
	data, err := json.Marshal(snap)
	if err != nil {
		s.log.Error().Err(err).Msg("encode snapshot")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.obj.PutBytes(ctx, s.name, data); err != nil {
		s.log.Warn().Err(err).Msg("save snapshot")
		return
	}
	s.log.Info().Uint64(logSeq, snap.Seq).Int("bytes", len(data)).Dur("took", time.Since(start)).Msg("snapshot saved")
	if s.journal != nil && s.keep >= 0 {
		cutoff, err := s.journal.trim(ctx, snap.Seq, time.Now().Add(-s.keep))
		if err != nil {
			s.log.Warn().Err(err).Msg("trim the journal")
			return
		}
		s.log.Debug().Uint64("first_kept", cutoff).Msg("journal trimmed")
	}
}
