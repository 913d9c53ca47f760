package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tex-cx/tex/server"
	"github.com/tex-cx/tex/teams"
)

// ServeCmd runs the service: the routing core behind NATS and HTTP, with an
// embedded nats-server unless --nats names one.
type ServeCmd struct {
	Org         string        `help:"Org directory (org.yaml, customers.csv)." env:"TEX_ORG" default:"testdata/org"`
	Data        string        `help:"Data directory of the embedded NATS server's JetStream store." env:"TEX_DATA" default:"./data"`
	NATSListen  string        `name:"nats-listen" help:"HOST:PORT of the embedded NATS server; port 0 picks a free one." env:"TEX_NATS_LISTEN" default:"127.0.0.1:4222"`
	HTTP        string        `name:"http" help:"HOST:PORT of the HTTP API; port 0 picks a free one." env:"TEX_HTTP" default:"127.0.0.1:8080"`
	NATS        string        `name:"nats" help:"Join this NATS deployment instead of starting the embedded server." env:"TEX_SERVE_NATS"`
	Prefix      string        `help:"Subject prefix." env:"TEX_PREFIX" default:"tex"`
	Drain       time.Duration `help:"How long a graceful shutdown waits for requests in flight." env:"TEX_DRAIN" default:"15s"`
	Snapshot    time.Duration `name:"snapshot-every" help:"How often the routing state is snapshotted, so a start replays only the journal since; negative: only at a graceful stop." env:"TEX_SNAPSHOT_EVERY" default:"5m"`
	JournalKeep time.Duration `name:"journal-keep" help:"Journal history kept behind the latest snapshot; 0: the org's continuity memory; negative: all of it." env:"TEX_JOURNAL_KEEP" default:"0s"`
	LeaseTTL    time.Duration `name:"lease-ttl" help:"How long the routing lease outlives a crashed holder: the longest a standby tex on the same NATS waits to take over." env:"TEX_LEASE_TTL" default:"6s"`
}

// Run starts the server and blocks until SIGINT or SIGTERM. SIGHUP
// reloads the org directory.
func (c *ServeCmd) Run(env *Env) error {
	org, err := teams.Load(c.Org)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// Before the start, which may wait long as a standby: SIGHUP's default
	// is to kill the process. One that comes meanwhile reloads once it serves.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	gogc, _ := server.TuneGC()
	env.Log.Debug().Str("gogc", gogc).Msg("collector tuned")
	srv, err := server.Start(ctx, server.Config{Org: org, DataDir: c.Data, NATSListen: c.NATSListen,
		NATSURL: c.NATS, HTTPAddr: c.HTTP, Prefix: c.Prefix, Log: env.Log, SnapshotEvery: c.Snapshot, JournalKeep: c.JournalKeep, LeaseTTL: c.LeaseTTL})
	if err != nil {
		if ctx.Err() != nil {
			env.Log.Info().Msg("stopped before serving")
			return nil
		}
		return err
	}
	fmt.Fprintf(env.Stdout, "tex serving %d agents of %d teams\n", len(org.Agents), len(org.Teams))
	fmt.Fprintf(env.Stdout, "nats: %s (prefix %s)\n", srv.NATSURL(), c.Prefix)
	if a := srv.HTTPAddr(); a != "" {
		fmt.Fprintf(env.Stdout, "http: http://%s\n", a)
	}
	if err := c.serve(ctx, env, srv, hup); err != nil {
		return err
	}
	stop() // a second signal kills the process at once
	env.Log.Info().Msg("shutting down: draining requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), c.Drain)
	defer cancel()
	return srv.Shutdown(sctx)
}

// serve waits for the end (ctx, or the routing lease lost), reloading the
// org directory on each signal of reload.
func (c *ServeCmd) serve(ctx context.Context, env *Env, srv *server.Server, reload <-chan os.Signal) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-srv.Err():
			return err // lost the routing lease: exit, and let the supervisor start a standby
		case <-reload:
			c.reload(ctx, env, srv)
		}
	}
}

// reload loads the org directory again and puts it in force, or logs why
// not; either way the server goes on.
func (c *ServeCmd) reload(ctx context.Context, env *Env, srv *server.Server) {
	org, err := teams.Load(c.Org)
	if err != nil {
		env.Log.Error().Err(err).Str("org", c.Org).Msg("org not reloaded: fix the files and send SIGHUP again; still serving the org in force")
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := srv.Reload(rctx, org); err != nil {
		env.Log.Warn().Err(err).Str("org", c.Org).Msg("org not reloaded: send SIGHUP again once no contact is live where the error says, or restart, which replays the kept journal")
		return
	}
	env.Log.Info().Str("org", c.Org).Int("agents", len(org.Agents)).Int("teams", len(org.Teams)).
		Dur("took", time.Since(start)).Msg("org reloaded")
}
