package benchmarks

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tex-cx/tex/router"
	"github.com/tex-cx/tex/router/sim"
)

// BenchmarkSimulate measures the simulator on the carrier scenario (10
// markets x 12 agents, 10 Erlangs each): simulated contacts per second of
// wall time on one goroutine, with the real routing core deciding. The
// target is 250k contacts/s (a year of one market in under 10 s).
//
// contacts/s counts the event loop only (Result.Run); building the org and
// its 1.2 million customers is reported apart (contacts/s-with-setup).
// index=false leaves the customers out of the org's customer index: the
// route request names the market and the core skips the lookup.
func BenchmarkSimulate(b *testing.B) {
	const days = 3
	for _, index := range []bool{true, false} {
		for _, policy := range []router.Policy{router.PolicyTex, router.PolicyLongestIdle, router.PolicyPooled} {
			b.Run(fmt.Sprintf("policy=%s/index=%v/days=%d", policy, index, days), func(b *testing.B) {
				s, err := sim.LoadScenario(filepath.Join("..", "testdata", "scenarios", "carrier.yaml"))
				if err != nil {
					b.Fatal(err)
				}
				s.Policy = policy
				s.Generate.CustomerIndex = index
				s.DurationSeconds = days * 86400
				s.WarmupSeconds = 3600
				// Setup check: about 2,000 calls an hour, nearly all answered.
				res, err := sim.Run(s, sim.Options{})
				if err != nil {
					b.Fatal(err)
				}
				if want := int64(days * 24 * 2000); res.Run.Contacts < want*9/10 || res.Answered < res.Offered*8/10 {
					b.Fatalf("setup: %d contacts, %d of %d answered; want about %d", res.Run.Contacts, res.Answered, res.Offered, want)
				}
				var contacts int64
				var loop time.Duration
				for b.Loop() {
					res, err := sim.Run(s, sim.Options{})
					if err != nil {
						b.Fatal(err)
					}
					contacts += res.Run.Contacts
					loop += time.Duration(float64(res.Run.Contacts) / res.Run.ContactsPerSecond * float64(time.Second))
				}
				b.ReportMetric(float64(contacts)/loop.Seconds(), "contacts/s")
				b.ReportMetric(float64(contacts)/b.Elapsed().Seconds(), "contacts/s-with-setup")
			})
		}
	}
}

// BenchmarkSimulateMarketYear is the target as the issue words it: a year
// of one market (the carrier scenario cut to one market of 12 agents and
// 120,000 customers, 1.75 million contacts) in under 10 s, setup included,
// with nobody and with 80% of callers taking the callbacks offered.
func BenchmarkSimulateMarketYear(b *testing.B) {
	for _, accept := range []float64{0, 0.8} {
		b.Run(fmt.Sprintf("callback_accept=%v", accept), func(b *testing.B) {
			s, err := sim.LoadScenario(filepath.Join("..", "testdata", "scenarios", "carrier.yaml"))
			if err != nil {
				b.Fatal(err)
			}
			s.Generate.Markets = 1
			s.DurationSeconds = 365 * 86400
			s.CallbackAcceptShare = accept
			var contacts int64
			for b.Loop() {
				res, err := sim.Run(s, sim.Options{})
				if err != nil {
					b.Fatal(err)
				}
				contacts += res.Run.Contacts
			}
			b.ReportMetric(float64(contacts)/b.Elapsed().Seconds(), "contacts/s-with-setup")
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/simulated-year")
		})
	}
}
