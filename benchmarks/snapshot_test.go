package benchmarks

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/tex-cx/tex/router"
)

// BenchmarkSnapshot measures the serve core's snapshot of a carrier month:
// 10 teams of 12, the continuity memory of 100,000 customers served, 2,000
// finished contacts still retained with their decision records. take is
// the writer's pause (Core.Snapshot); encode and restore are the saver's
// and a start's share.
func BenchmarkSnapshot(b *testing.B) {
	org := carrierOrg(10, 12)
	opts := router.Options{Explain: true, TrackChanges: true}
	c := availableCore(b, org, opts)
	now := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	const customers = 100_000
	for i := range customers {
		now = now.Add(20 * time.Second) // a month of contacts, about
		id := fmt.Sprintf("c-%d", i)
		rep, err := c.Route(now, &router.RouteRequest{ContactID: id, Channel: "voice", CustomerID: fmt.Sprintf("acct-%d", i),
			Market: org.Markets[i%len(org.Markets)].ID})
		if err != nil || rep.Status != router.StatusAssigned {
			b.Fatalf("route %d: %v %+v", i, err, rep)
		}
		for _, ev := range []router.ContactEvent{{Type: router.EventAccepted, AgentID: rep.Agent}, {Type: router.EventEnded}, {Type: router.EventWrappedUp}} {
			ev.ContactID = id
			if _, err := c.HandleContactEvent(now, &ev); err != nil {
				b.Fatal(err)
			}
		}
		c.Events()
		c.TakeChanges()
	}
	var (
		snap *router.Snapshot
		err  error
	)
	var data []byte
	var take, encode, restore time.Duration
	for b.Loop() {
		t0 := time.Now()
		if snap, err = c.Snapshot(); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if data, err = json.Marshal(snap); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		var back router.Snapshot
		if err := json.Unmarshal(data, &back); err != nil {
			b.Fatal(err)
		}
		if _, err := router.Restore(org, opts, &back); err != nil {
			b.Fatal(err)
		}
		take, encode, restore = take+t1.Sub(t0), encode+t2.Sub(t1), restore+time.Since(t2)
	}
	n := float64(b.N)
	b.ReportMetric(take.Seconds()*1e3/n, "take-ms")
	b.ReportMetric(encode.Seconds()*1e3/n, "encode-ms")
	b.ReportMetric(restore.Seconds()*1e3/n, "decode+restore-ms")
	b.ReportMetric(float64(len(data))/1e6, "MB")
	b.ReportMetric(float64(len(snap.Contacts)), "contacts")
}
