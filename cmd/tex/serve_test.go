package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tex-cx/tex/router"
	"github.com/tex-cx/tex/server"
	"github.com/tex-cx/tex/server/natstest"
	"github.com/tex-cx/tex/teams"
)

// TestClientCommands drives route, agent state, agents, queue and explain
// against a real server, in both formats, and keeps tables in 80 columns.
func TestClientCommands(t *testing.T) {
	org, err := teams.Load("../../testdata/org")
	if err != nil {
		t.Fatal(err)
	}
	log := zerolog.Nop()
	srv, err := server.Start(context.Background(), server.Config{Org: org, DataDir: t.TempDir(), NATSListen: "127.0.0.1:0", Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	nats := []string{"--nats", srv.NATSURL()}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"agent state", []string{"agent", "state", "det-016", "available"}, "det-016 is available"},
		{"route", []string{"route", "--contact-id", "c-1", "--customer-id", "acct-100001"}, "det-016"},
		{"route json", []string{"route", "--json", `{"contact_id":"c-2","channel":"voice","market":"DET"}`, "--format", "json"}, `"status": "queued"`},
		{"agents", []string{"agents", "--team", "CHA-DET"}, "reserved"},
		{"agents json", []string{"agents", "--team", "CHA-DET", "--format", "json"}, `"agent_id": "det-016"`},
		{"queue", []string{"queue", "--team", "CHA-DET"}, "c-2"},
		{"queue json", []string{"queue", "--team", "CHA-DET", "--format", "json"}, `"position": 1`},
		{"explain", []string{"explain", "c-1"}, "assigned to det-016"},
		{"explain json", []string{"explain", "c-1", "--format", "json"}, `"candidates"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(append(tc.args, nats...), &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s%s", code, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out.String())
			}
			for _, line := range strings.Split(out.String(), "\n") {
				if !strings.Contains(tc.name, "json") && len([]rune(line)) > 80 {
					t.Errorf("line over 80 columns: %q", line)
				}
			}
		})
	}
	t.Run("errors", func(t *testing.T) {
		var out, errb bytes.Buffer
		if code := run(append([]string{"agent", "state", "nobody", "away"}, nats...), &out, &errb); code != 1 ||
			!strings.Contains(errb.String(), "unknown_agent") {
			t.Errorf("exit %d: %s", code, errb.String())
		}
	})
}

// TestExplainKnownAgent: the known-agent choice reads as a sentence.
func TestExplainKnownAgent(t *testing.T) {
	wait := 95.0
	for _, tc := range []struct {
		trace router.KnownAgentTrace
		want  string
	}{
		{router.KnownAgentTrace{Agent: "det-001", ExpectedWaitSeconds: &wait, Choice: router.KnownCallback},
			"known agent det-001, expected free in 1m35s: callback reserved for them"},
		{router.KnownAgentTrace{Agent: "det-001", Choice: router.KnownTeam},
			"known agent det-001, not coming back to work: to the team"},
	} {
		var out bytes.Buffer
		d := &router.Decision{ContactID: "c-9", Outcome: router.StatusQueued, Position: 1, KnownAgent: &tc.trace}
		if err := printDecision(&out, 1, 1, d); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("output lacks %q:\n%s", tc.want, out.String())
		}
	}
}

// TestServeReloadsOnSignal: each reload signal loads the org directory
// again; a broken file and a change that does not carry over (the
// fallback team of a market with a contact waiting dropped) are logged and
// change nothing, an agent hired joins at once.
func TestServeReloadsOnSignal(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"org.yaml", "customers.csv"} {
		b, err := os.ReadFile(filepath.Join("../../testdata/org", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	orgYAML, _ := os.ReadFile(filepath.Join(dir, "org.yaml"))
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(dir, "org.yaml"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	org, err := teams.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var logs natstest.LogBuffer
	log := zerolog.New(&logs)
	srv, err := server.Start(context.Background(), server.Config{Org: org, DataDir: t.TempDir(), NATSListen: "127.0.0.1:0", Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Kill() })
	ctx, cancel := context.WithCancel(context.Background())
	reload := make(chan os.Signal)
	served := make(chan error, 1)
	c := &ServeCmd{Org: dir}
	go func() { served <- c.serve(ctx, &Env{Stdout: io.Discard, Stderr: io.Discard, Log: &log}, srv, reload) }()
	hasAgent := func(id string) bool {
		return slices.ContainsFunc(srv.Store().AgentsByTeam("CHA-DET"), func(a *teams.AgentRow) bool { return a.ID == id })
	}
	step := func(yaml, wantLog string) {
		t.Helper()
		write(yaml)
		reload <- syscall.SIGHUP
		natstest.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
			if !strings.Contains(logs.String(), wantLog) {
				return fmt.Errorf("no %q in the log:\n%s", wantLog, logs.String())
			}
			return nil
		})
	}
	step(string(orgYAML)+"\nteams: [broken\n", "fix the files and send SIGHUP again")
	hired := strings.Replace(string(orgYAML), "agents:\n", "agents:\n  - {id: det-hire, name: Nia Hires, team: CHA-DET, role: expert, channels: {voice: 1}}\n", 1)
	// A contact waits in DET: its fallback teams must stay.
	if _, err := natstest.Connect(t, srv.NATSURL()).Request("tex.route",
		[]byte(`{"contact_id":"q-1","channel":"voice","market":"DET"}`), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	step(strings.Replace(hired, "fallback_teams: [CHA-CLE]", "fallback_teams: []", 1), "market DET, with contacts live: fallback teams")
	if hasAgent("det-hire") {
		t.Fatal("a refused reload brought in its agent")
	}
	step(hired, "org reloaded")
	natstest.Eventually(t, 5*time.Second, 5*time.Millisecond, func() error {
		if !hasAgent("det-hire") {
			return errors.New("det-hire is not in the read store")
		}
		return nil
	})
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
}
