package router

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden decision records in testdata/golden")

// TestGoldenDecisions pins the explanation records of a few scenarios: a
// change to filters, scorers or the chain shows up as a readable diff.
func TestGoldenDecisions(t *testing.T) {
	tests := []struct {
		name    string
		run     func(t *testing.T, c *Core)
		contact string
	}{
		{"continuity_known_agent", func(t *testing.T, c *Core) {
			for _, a := range []string{"det-001", "det-002", "det-003"} {
				mustState(t, c, 0, a, AgentAvailable)
			}
			r := mustRoute(t, c, 100, RouteRequest{ContactID: "first", Channel: "voice", CustomerID: "acct-42"})
			serve(t, c, 101, "first", r.Agent, false)
			mustRoute(t, c, 600, RouteRequest{ContactID: "back", Channel: "voice", CustomerID: "acct-42", Skills: []string{"billing"}})
		}, "back"},
		{"known_agent_callback", func(t *testing.T, c *Core) {
			mustState(t, c, 0, "det-001", AgentAvailable)
			mustRoute(t, c, 100, RouteRequest{ContactID: "first", Channel: "voice", CustomerID: "acct-42"})
			serve(t, c, 101, "first", "det-001", false)
			mustRoute(t, c, 300, RouteRequest{ContactID: "other", Channel: "voice"})
			mustEvent(t, c, 300, ContactEvent{ContactID: "other", Type: EventAccepted})
			mustState(t, c, 305, "det-002", AgentAvailable)
			// det-001 is expected in 257 s: 50 s more of the team's one
			// 70 s contact, and 280 s more of the 300 s default that stands
			// in for the nine samples missing (priorSamples). A callback
			// reserved for them.
			mustRoute(t, c, 320, RouteRequest{ContactID: "back", Channel: "voice", CustomerID: "acct-42"})
		}, "back"},
		{"skips_by_reason", func(t *testing.T, c *Core) {
			mustState(t, c, 0, "det-001", AgentAvailable)
			mustState(t, c, 0, "det-002", AgentAway)
			mustState(t, c, 0, "det-coach", AgentAvailable)
			mustRoute(t, c, 10, RouteRequest{ContactID: "c1", Channel: "voice", Skills: []string{"tech"}, ANI: "+13135550100"})
		}, "c1"},
		{"queued_then_sister_team", func(t *testing.T, c *Core) {
			mustState(t, c, 0, "det-001", AgentAvailable)
			mustState(t, c, 0, "cle-001", AgentAvailable)
			mustRoute(t, c, 0, RouteRequest{ContactID: "busy", Channel: "voice", Market: "DET"})
			mustEvent(t, c, 1, ContactEvent{ContactID: "busy", Type: EventAccepted})
			mustRoute(t, c, 2, RouteRequest{ContactID: "c1", Channel: "voice", Market: "DET"})
			c.Tick(at(20))
		}, "c1"},
		{"agent_pull", func(t *testing.T, c *Core) {
			mustState(t, c, 0, "det-001", AgentAvailable)
			mustRoute(t, c, 0, RouteRequest{ContactID: "busy", Channel: "voice"})
			mustEvent(t, c, 1, ContactEvent{ContactID: "busy", Type: EventAccepted})
			mustRoute(t, c, 2, RouteRequest{ContactID: "c1", Channel: "voice", Priority: 10})
			mustEvent(t, c, 5, ContactEvent{ContactID: "busy", Type: EventEnded})
			mustEvent(t, c, 9, ContactEvent{ContactID: "busy", Type: EventWrappedUp})
		}, "c1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newCore(t, smallOrg(3))
			tc.run(t, c)
			d, ok := c.Decisions(tc.contact)
			if !ok || len(d) == 0 {
				t.Fatalf("no decisions for %s", tc.contact)
			}
			got, err := json.MarshalIndent(d, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "golden", tc.name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Fatalf("decision records changed (-want +got); rerun with -update if intended:\n%s", diff)
			}
		})
	}
}
