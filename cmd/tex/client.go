package main

import (
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
)

// ClientFlags are the flags of every subcommand that talks to a running
// server over NATS. Embed it in the command struct.
type ClientFlags struct {
	NATS    string        `name:"nats" help:"NATS URL of the running tex server." env:"TEX_NATS" default:"nats://127.0.0.1:4222"`
	Prefix  string        `help:"Subject prefix the server uses." env:"TEX_PREFIX" default:"tex"`
	Timeout time.Duration `help:"How long to wait for the server's answer." default:"5s"`
}

// connect dials NATS. When it fails, the error names where the URL came
// from, so a team lead knows what to fix.
func (f *ClientFlags) connect() (*nats.Conn, error) {
	nc, err := nats.Connect(f.NATS, nats.Name("tex-cli"), nats.Timeout(f.Timeout), nats.NoReconnect())
	if err != nil {
		source := "the default of --nats"
		if v, ok := os.LookupEnv("TEX_NATS"); ok && v == f.NATS {
			source = "the TEX_NATS environment variable"
		} else if f.NATS != "nats://127.0.0.1:4222" {
			source = "the --nats flag"
		}
		return nil, fmt.Errorf("cannot connect to NATS at %s (set by %s): %w; is `tex serve` running?", f.NATS, source, err)
	}
	return nc, nil
}

// subject joins the prefix and a subject suffix.
func (f *ClientFlags) subject(suffix string) string { return f.Prefix + "." + suffix }
