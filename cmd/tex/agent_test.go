package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tex-cx/tex/server"
)

// The agents table fits 80 columns in the worst case each column allows,
// and names the long roles the way the floor says them.
func TestAgentsTableFits(t *testing.T) {
	secs, days := 3725.0, 250*86400.0
	r := &server.AgentsReply{Team: "CHA-DET", Agents: []server.AgentStatus{
		{AgentID: "det-000123456", Name: "Bartholomew Featherstonehaugh", Role: "tech_specialist", State: "away",
			Reason: "training-session", SecondsInState: &secs, ContactsToday: 12345,
			ActiveContacts: []string{"c-000000001", "c-000000002"}},
		{AgentID: "det-002", Name: "Mei Ruiz", Role: "resource_manager", State: "not_responding", ContactsToday: 3,
			SecondsInState: &days},
		{AgentID: "det-003", Name: "Omar Vargas", Role: "resolution", State: "available"},
	}}
	var out bytes.Buffer
	if err := printAgents(&out, r); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		if n := len([]rune(line)); n > 80 {
			t.Errorf("%d columns: %q", n, line)
		}
	}
	for _, want := range []string{"tech spec", "res. mgr", "resolution", "1h02m", "250d "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in\n%s", want, out.String())
		}
	}
}
