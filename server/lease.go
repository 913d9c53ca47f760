package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// LeaseBucket is the key-value bucket of the routing leases: a group's
// journal has one writer, the tex holding the group's key. Another tex on
// the same NATS waits as a standby until the key is released (a graceful
// stop) or expires (a crash: the holder stops renewing it).
const LeaseBucket = "TEX_LEASES"

// defaultLeaseTTL is how long a lease outlives its holder's last renewal:
// the longest a standby waits after a crash.
const defaultLeaseTTL = 6 * time.Second

// errNoLease refuses commands while this tex cannot show it holds the lease.
var errNoLease = errors.New("this tex does not hold the routing lease: another took it over, or NATS has not confirmed it in time")

// leaseHolder is the lease's value: who holds it, for the standby's log
// and to recognise a dead holder on the same host.
type leaseHolder struct {
	Host  string    `json:"host"`
	PID   int       `json:"pid"`
	Since time.Time `json:"since"`
}

// lease is this tex's hold on its group's key. The holder renews it every
// ttl/3 and counts it as held until ttl-ttl/6 after the last renewal it
// sent: the broker expires it ttl after storing that renewal, so the
// holder stops writing before a standby can take over.
type lease struct {
	kv  jetstream.KeyValue
	key string
	me  leaseHolder
	ttl time.Duration
	log *zerolog.Logger
	// brokerStart is when the embedded broker started; zero when joined.
	brokerStart time.Time
	rev         uint64       // the renewer's
	held        atomic.Int64 // Unix ns until which the lease is ours; 0: not held
	// now is the clock valid reads (tests move it on); nil: time.Now.
	now atomic.Pointer[func() time.Time]

	lost    chan struct{} // closed when another tex holds the key
	stopc   chan struct{}
	done    chan struct{} // closed when the renewals end
	renewed bool          // the renewals started
	once    sync.Once
}

func openLease(ctx context.Context, js jetstream.JetStream, group string, ttl time.Duration, brokerStart time.Time, log *zerolog.Logger) (*lease, error) {
	kv, err := js.KeyValue(ctx, LeaseBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: LeaseBucket, TTL: ttl, History: 1,
			Description: "tex routing leases: one journal writer per group (docs/serve.md)", Storage: jetstream.FileStorage})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, LeaseBucket)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("server: lease bucket %s: %w", LeaseBucket, err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("server: lease bucket %s: %w", LeaseBucket, err)
	}
	// The broker expires leases; the bucket's TTL is the one that holds.
	if st.TTL() != ttl && st.TTL() > 0 {
		ttl = st.TTL()
	}
	host, _ := os.Hostname()
	me := leaseHolder{Host: host, PID: os.Getpid()}
	return &lease{kv: kv, key: group, me: me, ttl: ttl, log: log, brokerStart: brokerStart,
		lost: make(chan struct{}), stopc: make(chan struct{}), done: make(chan struct{})}, nil
}

// acquire takes the lease, waiting while another live tex holds it.
func (l *lease) acquire(ctx context.Context) error {
	poll := max(l.ttl/6, 10*time.Millisecond)
	warned := false
	for {
		sent := time.Now()
		l.me.Since = sent.UTC()
		value, _ := json.Marshal(l.me)
		rev, err := l.kv.Create(ctx, l.key, value)
		if errors.Is(err, jetstream.ErrKeyExists) {
			rev, err = l.takeFromDead(ctx, value)
		}
		switch {
		case err == nil:
			l.rev = rev
			l.held.Store(sent.Add(l.ttl - l.ttl/6).UnixNano())
			l.log.Info().Str("group", l.key).Dur("ttl", l.ttl).Msg("routing lease taken")
			l.renewed = true
			go l.renew()
			return nil
		case !errors.Is(err, jetstream.ErrKeyExists):
			if ctx.Err() != nil {
				return fmt.Errorf("server: waiting for the routing lease: %w", ctx.Err())
			}
			// A standby outlives NATS hiccups; it says so and tries again.
			l.log.Warn().Err(err).Str("group", l.key).Msg("routing lease: NATS did not answer; trying again")
		case !warned:
			warned = true
			ev := l.log.Warn().Str("group", l.key)
			if h, ok := l.holder(ctx); ok {
				ev = ev.Str("holder_host", h.Host).Int("holder_pid", h.PID).Time("holder_since", h.Since)
			}
			ev.Msg("another tex holds the routing lease; waiting as its standby")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("server: waiting for the routing lease: %w", ctx.Err())
		case <-time.After(poll):
		}
	}
}

func (l *lease) holder(ctx context.Context) (leaseHolder, bool) {
	var h leaseHolder
	e, err := l.kv.Get(ctx, l.key)
	if err != nil || json.Unmarshal(e.Value(), &h) != nil {
		return leaseHolder{}, false
	}
	return h, true
}

// takeFromDead takes the lease over from a holder that cannot be alive,
// instead of waiting out the TTL: one that last renewed it before the
// broker started (an embedded broker starts with its tex, so that holder
// was a tex before a crash), or one on this host whose process is gone.
// The swap is conditional on the dead holder's revision.
func (l *lease) takeFromDead(ctx context.Context, value []byte) (uint64, error) {
	e, err := l.kv.Get(ctx, l.key)
	if err != nil {
		return 0, jetstream.ErrKeyExists // expired or released meanwhile: the next Create tells
	}
	var h leaseHolder
	_ = json.Unmarshal(e.Value(), &h)
	beforeBroker := !l.brokerStart.IsZero() && e.Created().Before(l.brokerStart)
	goneHere := h.Host != "" && h.Host == l.me.Host && h.PID != l.me.PID && !processAlive(h.PID)
	if !beforeBroker && !goneHere {
		return 0, jetstream.ErrKeyExists
	}
	rev, err := l.kv.Update(ctx, l.key, value, e.Revision())
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return 0, jetstream.ErrKeyExists
	}
	if err == nil {
		l.log.Info().Str("dead_host", h.Host).Int("dead_pid", h.PID).Msg("routing lease taken over from a tex that is gone")
	}
	return rev, err
}

// processAlive says whether a process with pid runs on this host. A PID
// used again by another process reads as alive: the standby then waits
// out the TTL, which is safe.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// valid says whether this tex may write the journal now.
func (l *lease) valid() bool {
	if l == nil {
		return true
	}
	now := time.Now
	if f := l.now.Load(); f != nil {
		now = *f
	}
	return now().UnixNano() < l.held.Load()
}

// renew keeps the lease until stopped or lost.
func (l *lease) renew() {
	defer close(l.done)
	tick := time.NewTicker(l.ttl / 3)
	defer tick.Stop()
	value, _ := json.Marshal(l.me)
	for {
		select {
		case <-l.stopc:
			return
		case <-tick.C:
		}
		sent := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), l.ttl/3)
		rev, err := l.kv.Update(ctx, l.key, value, l.rev)
		cancel()
		switch {
		case err == nil:
			l.rev = rev
			l.held.Store(sent.Add(l.ttl - l.ttl/6).UnixNano())
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch):
			// Expired while NATS was out of reach, and maybe taken.
			l.held.Store(0)
			l.log.Error().Str("group", l.key).Msg("routing lease lost: another tex may be writing the journal; stopping")
			close(l.lost)
			return
		default:
			l.log.Warn().Err(err).Str("group", l.key).Msg("routing lease not renewed; commands are refused once it runs out")
		}
	}
}

// stop ends the renewals; with release, the key is deleted so that a
// standby takes over at once.
func (l *lease) stop(release bool) {
	l.once.Do(func() {
		if !l.renewed {
			return
		}
		close(l.stopc)
		<-l.done
		if !release || l.held.Load() == 0 {
			return
		}
		l.held.Store(0)
		ctx, cancel := context.WithTimeout(context.Background(), l.ttl/3)
		defer cancel()
		if err := l.kv.Delete(ctx, l.key, jetstream.LastRevision(l.rev)); err != nil {
			l.log.Warn().Err(err).Msg("release the routing lease; a standby waits for it to expire")
		}
	})
}
