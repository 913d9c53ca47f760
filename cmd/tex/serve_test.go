package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tex-cx/tex/router"
	"github.com/tex-cx/tex/server"
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
