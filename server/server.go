package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tex-cx/tex/router"
	"github.com/tex-cx/tex/scorecard"
	"github.com/tex-cx/tex/teams"
)

// Log field names.
const (
	logSubject = "subject"
	logContact = "contact_id"
	logAgent   = "agent_id"
	logSeq     = "seq"
	logCount   = "count"
	logAddr    = "addr"
)

// DefaultGroup is the routing group a server owns when none is named: the
// whole org (DESIGN.md).
const DefaultGroup = "org"

// Config says what a Server runs and where.
type Config struct {
	// Org is the loaded org (teams.Load).
	Org *teams.Org
	// DataDir holds the embedded server's JetStream store.
	DataDir string
	// NATSListen is HOST:PORT of the embedded server; port 0 picks one.
	NATSListen string
	// NATSURL, when set, joins an existing NATS; no embedded server runs.
	NATSURL string
	// HTTPAddr is HOST:PORT of the HTTP listener; port 0 picks one; empty
	// serves no HTTP.
	HTTPAddr string
	// Prefix of every subject (default "tex").
	Prefix string
	// Group names the routing group, in the journal subject (default "org").
	Group string
	// Log is the logger; nil logs nothing.
	Log *zerolog.Logger
	// Now is the clock (default time.Now). Tests and benchmarks keep it.
	Now func() time.Time
	// EWTRefresh is how often the read store's EWTs are recomputed
	// (default 1s).
	EWTRefresh time.Duration
	// SnapshotEvery is how often the core's state is saved to the
	// TEX_SNAPSHOTS object store, so that a start replays only the journal
	// written since (default 5m; negative: only at a graceful stop).
	SnapshotEvery time.Duration
	// JournalKeep is how much journal history is kept behind the latest
	// snapshot: a start needs only what follows the snapshot, but a
	// replay after an org change (which makes the snapshot unusable)
	// rebuilds continuity from what is kept. Default: the org's continuity
	// memory (30 days unless configured); negative: keep everything.
	JournalKeep time.Duration
	// LeaseTTL is how long the routing lease outlives its holder's last
	// renewal (default 6s): after a crash, the longest a standby on the
	// same NATS waits before it takes over. The lease bucket keeps the TTL
	// it was made with.
	LeaseTTL time.Duration
	// ScorecardOptions are passed to scorecard.New.
	ScorecardOptions []scorecard.Option
}

// Server is a running tex service.
type Server struct {
	cfg   Config
	log   *zerolog.Logger
	org   atomic.Pointer[teams.Org] // the org in force: Config.Org until a Reload
	store *teams.Store

	ns          *natsserver.Server // nil with Config.NATSURL
	brokerStart time.Time          // when ns started
	nc          *nats.Conn
	js          jetstream.JetStream
	subs        []*nats.Subscription

	httpLn  net.Listener
	httpSrv *http.Server
	handler atomic.Pointer[http.Handler] // the standby's until the engine runs
	httpErr chan error

	w       *writer
	lease   *lease
	errc    chan error // the server stopped on its own
	pub     *publisher
	metrics *metrics
	reg     *prometheus.Registry
	score   *scorecard.Service

	replayed int // journal entries Start replayed

	stopOnce sync.Once
}

// Start brings the whole service up: NATS (embedded or joined), the
// journal replay, the writer, the request handlers, the scorecard and HTTP.
// It returns once requests are being answered.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Org == nil {
		return nil, errors.New("server: no org")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "tex"
	}
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		nop := zerolog.Nop()
		cfg.Log = &nop
	}
	s := &Server{cfg: cfg, log: cfg.Log, errc: make(chan error, 1)}
	s.org.Store(cfg.Org)
	var err error
	if s.store, err = teams.NewStore(cfg.Org); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if err := s.startNATS(); err != nil {
		s.close()
		return nil, err
	}
	s.reg = prometheus.NewRegistry()
	s.metrics = newMetrics(s.reg, s.store, s.cfg.Now)
	// HTTP answers from the start, as a standby, so that a supervisor
	// sees the process alive while it waits for the lease and replays.
	standby := s.standbyHandler()
	s.handler.Store(&standby)
	if err := s.startHTTP(); err != nil {
		s.close()
		return nil, err
	}
	if err := s.startEngine(ctx); err != nil {
		s.close()
		return nil, err
	}
	full := s.Handler()
	s.handler.Store(&full)
	return s, nil
}

func (s *Server) startNATS() error {
	var opts []nats.Option
	url := s.cfg.NATSURL
	if url == "" {
		host, port, err := splitHostPort(s.cfg.NATSListen, "127.0.0.1", 4222)
		if err != nil {
			return fmt.Errorf("server: --nats-listen %q: %w", s.cfg.NATSListen, err)
		}
		if port == 0 {
			port = natsserver.RANDOM_PORT
		}
		ns, err := natsserver.NewServer(&natsserver.Options{
			ServerName: "tex", Host: host, Port: port, JetStream: true, StoreDir: s.cfg.DataDir,
			NoSigs: true, NoLog: true,
		})
		if err != nil {
			return fmt.Errorf("server: embedded nats-server: %w", err)
		}
		s.brokerStart = time.Now()
		go ns.Start()
		if !ns.ReadyForConnections(10 * time.Second) {
			ns.Shutdown()
			return fmt.Errorf("server: embedded nats-server did not start on %s:%d", host, port)
		}
		s.ns = ns
		url = ns.ClientURL()
		// In process: no TCP between the shell and its own broker. A
		// write deadline on an in-process pipe costs a timer per flush,
		// and the pipe fails at once when the broker shuts down.
		opts = append(opts, nats.InProcessServer(ns), nats.FlusherTimeout(0))
	}
	opts = append(opts, nats.Name("tex-serve"), nats.MaxReconnects(-1),
		// The writer publishes in bursts; a large buffer keeps them off the wire's back.
		nats.ReconnectBufSize(64<<20))
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("server: connect to NATS at %s: %w", url, err)
	}
	s.nc = nc
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(16384))
	if err != nil {
		return fmt.Errorf("server: jetstream: %w", err)
	}
	s.js = js
	return nil
}

func (s *Server) startEngine(ctx context.Context) error {
	if _, err := scorecard.EnsureEventStream(ctx, s.js, s.cfg.Prefix); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	journal, err := openJournal(ctx, s.nc, s.js, s.cfg.Prefix, s.cfg.Group)
	if err != nil {
		return err
	}
	// Everything below reads the state the last holder left: take the
	// lease first.
	if s.lease, err = openLease(ctx, s.js, s.cfg.Group, cmp.Or(s.cfg.LeaseTTL, defaultLeaseTTL), s.brokerStart, s.log); err != nil {
		return err
	}
	if err := s.lease.acquire(ctx); err != nil {
		return err
	}
	s.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tex_routing_lease_held",
		Help: "1 while this tex holds its group's routing lease (and may write the journal), 0 once it cannot show it."},
		func() float64 {
			if s.lease.valid() {
				return 1
			}
			return 0
		}))
	go s.watchLease()
	s.pub, err = newPublisher(ctx, s.nc, s.js, s.cfg.Prefix, s.cfg.Group, s.log, s.metrics)
	if err != nil {
		return err
	}
	s.w = newWriter(s.cfg.Org, journal, s.pub, s.store, s.metrics, s.log, s.cfg.Now)
	s.w.lease = s.lease
	s.w.ewtRefresh = cmp.Or(s.cfg.EWTRefresh, defaultEWTRefresh)
	if s.w.snaps, err = newSnapshotter(ctx, s.js, s.cfg.Group, s.pub, s.log); err != nil {
		return err
	}
	s.w.snaps.journal = journal
	s.w.snaps.keep = s.cfg.JournalKeep
	if s.w.snaps.keep == 0 {
		s.w.snaps.keep = time.Duration(s.cfg.Org.Routing.ContinuityMemorySeconds * float64(time.Second))
	}
	s.w.snapEvery = cmp.Or(s.cfg.SnapshotEvery, defaultSnapshotEvery)
	if err := s.w.recover(ctx); err != nil {
		return err
	}
	s.replayed = s.w.replayed
	go s.pub.run()
	go s.w.run()

	s.score = scorecard.New(s.cfg.Org, s.log, s.cfg.ScorecardOptions...)
	if err := s.score.Start(ctx, s.nc, s.cfg.Prefix); err != nil {
		s.score = nil
		return fmt.Errorf("server: %w", err)
	}
	return s.subscribe()
}

func (s *Server) startHTTP() error {
	if s.cfg.HTTPAddr == "" {
		return nil
	}
	host, port, err := splitHostPort(s.cfg.HTTPAddr, "127.0.0.1", 8080)
	if err != nil {
		return fmt.Errorf("server: --http %q: %w", s.cfg.HTTPAddr, err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("server: HTTP listen: %w", err)
	}
	s.httpLn = ln
	serve := func(w http.ResponseWriter, r *http.Request) { (*s.handler.Load()).ServeHTTP(w, r) }
	s.httpSrv = &http.Server{Handler: http.HandlerFunc(serve), ReadHeaderTimeout: 10 * time.Second}
	s.httpErr = make(chan error, 1)
	go func() { s.httpErr <- s.httpSrv.Serve(ln) }()
	return nil
}

// NATSURL is the URL clients use to reach the server's NATS.
func (s *Server) NATSURL() string {
	if s.ns != nil {
		return s.ns.ClientURL()
	}
	return s.cfg.NATSURL
}

// HTTPAddr is the address HTTP listens on, or "" without HTTP.
func (s *Server) HTTPAddr() string {
	if s.httpLn == nil {
		return ""
	}
	return s.httpLn.Addr().String()
}

// Replayed is how many journal entries Start replayed (after the
// snapshot it restored, if any).
func (s *Server) Replayed() int { return s.replayed }

// Store is the read store the server keeps up to date.
func (s *Server) Store() *teams.Store { return s.store }

// Shutdown stops taking requests, answers the ones in flight (their
// journal writes included), publishes the pending events and stops
// everything. ctx bounds the wait.
// Reload puts org in force without a restart: the routing state carries
// over as a snapshot does into a changed org (router.Restore), so agents
// hired, gone or edited and settings routing reads as it decides apply at
// once, with nothing replayed. A change of the org's layout (markets,
// teams, chains) does not carry over: Reload says what changed and the
// server goes on with the org it had; a restart applies it, replaying the
// kept journal. The scorecard takes the new org for its queries and
// exports (rosters, names, targets and weights).
func (s *Server) Reload(ctx context.Context, org *teams.Org) error {
	r := reload{org: org, done: make(chan error, 1)}
	select {
	case s.w.reloads <- r:
	case <-s.w.done:
		return errors.New("server: stopped")
	case <-ctx.Done():
		return ctx.Err()
	}
	var err error
	select {
	case err = <-r.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err != nil {
		s.metrics.reloads.WithLabelValues("refused").Inc()
		return err
	}
	s.org.Store(org)
	if s.score != nil {
		s.score.SetOrg(org)
	}
	s.metrics.reloads.WithLabelValues("applied").Inc()
	return nil
}

func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.stopOnce.Do(func() {
		if s.httpSrv != nil {
			if e := s.httpSrv.Shutdown(ctx); e != nil {
				err = fmt.Errorf("server: HTTP shutdown: %w", e)
			}
		}
		s.drainSubs(ctx)
		if s.score != nil {
			s.score.Stop()
		}
		if s.w != nil {
			s.w.stop(ctx)
		}
		if s.pub != nil {
			s.pub.stop(ctx)
		}
		if s.lease != nil {
			s.lease.stop(true) // a standby takes over at once
		}
		s.closeConns()
		if s.w != nil {
			s.w.kill() // ends what outlives the writer
		}
		s.log.Info().Msg("tex stopped")
	})
	return err
}

// Err reports an error when the server stops on its own: it lost its
// routing lease to another tex.
func (s *Server) Err() <-chan error { return s.errc }

// errLeaseLost stops a server whose lease another tex may hold.
var errLeaseLost = errors.New("server: routing lease lost to another tex; stopped without draining")

// watchLease stops the server, as a crash would, when the lease is lost:
// another tex may be writing the journal, and this one's state is stale.
func (s *Server) watchLease() {
	<-s.lease.done // the renewals end; when lost, lost was closed first
	select {
	case <-s.lease.lost:
	default:
		return
	}
	s.Kill()
	s.errc <- errLeaseLost
}

// Kill stops the server abruptly, as a crash would: the broker goes first,
// nothing is drained or flushed. Tests use it to prove restart loses nothing.
func (s *Server) Kill() {
	s.stopOnce.Do(func() {
		if s.httpSrv != nil {
			_ = s.httpSrv.Close()
		}
		if s.ns != nil {
			s.ns.Shutdown()
		} else if s.nc != nil {
			s.nc.Close()
		}
		s.close()
	})
}

// close stops whatever was started, without draining. The connection goes
// first, so that nothing below waits on a broker that is gone.
func (s *Server) close() {
	if s.httpSrv != nil {
		_ = s.httpSrv.Close()
	}
	if s.nc != nil {
		s.nc.Close()
	}
	if s.score != nil {
		s.score.Stop()
	}
	if s.w != nil {
		s.w.kill()
	}
	if s.pub != nil {
		s.pub.kill()
	}
	if s.lease != nil {
		s.lease.stop(false)
	}
	s.closeConns()
}

func (s *Server) closeConns() {
	if s.nc != nil {
		s.nc.Close()
	}
	if s.ns != nil {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
	}
}

// splitHostPort parses HOST:PORT, filling in defaults for missing parts.
func splitHostPort(addr, defHost string, defPort int) (string, int, error) {
	if addr == "" {
		return defHost, defPort, nil
	}
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	if host == "" {
		host = defHost
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number from 0 to 65535", ps)
	}
	return host, port, nil
}

// errorBody is the PROTOCOL.md failure shape.
type errorBody struct {
	Error *router.Error `json:"error"`
}

// asRouterError turns any error into a PROTOCOL.md error.
func asRouterError(err error) *router.Error {
	var re *router.Error
	if errors.As(err, &re) {
		return re
	}
	return &router.Error{Code: router.CodeUnavailable, Message: err.Error()}
}

// httpStatus maps an error code to its HTTP status (PROTOCOL.md).
func httpStatus(code string) int {
	switch code {
	case router.CodeInvalidRequest:
		return http.StatusBadRequest
	case router.CodeUnknownAgent, router.CodeUnknownContact, codeUnknownTeam:
		return http.StatusNotFound
	case router.CodeInvalidTransition:
		return http.StatusConflict
	}
	return http.StatusServiceUnavailable
}

// codeUnknownTeam answers reads that name a team the org lacks; the
// scorecard uses the same code.
const codeUnknownTeam = scorecard.CodeUnknownTeam

// drainSubs stops taking NATS requests and lets the ones already received
// reach the writer.
func (s *Server) drainSubs(ctx context.Context) {
	var waits []<-chan nats.SubStatus
	for _, sub := range s.subs {
		ch := sub.StatusChanged(nats.SubscriptionClosed)
		if err := sub.Drain(); err != nil {
			continue
		}
		waits = append(waits, ch)
	}
	for _, ch := range waits {
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}

// EmbeddedNATS is the in-process nats-server, or nil when the server
// joined an existing NATS. Benchmarks use it to measure the bare broker.
func (s *Server) EmbeddedNATS() *natsserver.Server { return s.ns }
