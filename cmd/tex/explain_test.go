package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tex-cx/tex/router"
)

// The steps of a decision fit 80 columns with the longest step name, a
// long list of teams and four-digit counts, and every skip reason keeps
// its count: they wrap within their column instead of being cut.
func TestExplainStepsFit(t *testing.T) {
	skips := []router.SkipCount{{Reason: "role", Count: 1006}, {Reason: "channel", Count: 1019},
		{Reason: "offline", Count: 1022}, {Reason: "not_responding", Count: 7}, {Reason: "language", Count: 3}}
	d := &router.Decision{ContactID: "c-1", At: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), Trigger: "route",
		Market: "DET", MatchedBy: "market", Team: "CHA-DET", Outcome: "queued", Position: 1,
		Steps: []router.StepTrace{
			{Step: "served_before", Teams: []string{"CHA-DET"}, Open: true},
			{Step: "sister_teams", Teams: []string{"CHA-CLE", "KNX-PHL", "KNX-ATL"}, Open: true, Considered: 1234,
				Eligible: 1000, Skipped: skips},
		}}
	var out bytes.Buffer
	if err := printDecision(&out, 1, 1, d); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		if n := len([]rune(line)); n > 80 {
			t.Errorf("%d columns: %q", n, line)
		}
	}
	for _, s := range skips {
		if want := fmt.Sprintf("%s %d", s.Reason, s.Count); !strings.Contains(out.String(), want) {
			t.Errorf("no %q in\n%s", want, out.String())
		}
	}
}
