package sim

import (
	"math"
	"sort"
)

// Figures are the measured outcomes of a run, or of one market in it
// (SIMULATION.md, "Output"). Every figure counts contacts that arrived
// after the warm-up; each of them is followed to its end.
type Figures struct {
	// Offered = Answered + Abandoned: every counted contact ends one way.
	Offered   int64 `json:"offered"`
	Answered  int64 `json:"answered"` // on the line or by callback
	Abandoned int64 `json:"abandoned"`
	// AbandonRate is Abandoned / Offered.
	AbandonRate float64 `json:"abandon_rate"`
	// PWait is the share of contacts answered on the line that waited in
	// the queue at all.
	PWait float64 `json:"p_wait"`
	// ServiceLevel is over line contacts (SIMULATION.md): the share of
	// offered contacts that stayed on the line (did not take a callback)
	// answered within the threshold. Abandoned callers count against it;
	// callbacks are reported on their own and never count as answered in time.
	ServiceLevel float64 `json:"service_level"`
	// ASASeconds is the mean wait of the contacts answered on the line.
	ASASeconds float64 `json:"asa_seconds"`
	// Occupancy is busy time (handle + wrap) over logged-in time of the
	// agents (of the market's home team, per market).
	Occupancy float64 `json:"occupancy"`
	// HomeTeamShare is the share of answered contacts the market's own team served.
	HomeTeamShare float64 `json:"home_team_share"`
	// RepeatContacts are answered contacts of customers served in the
	// 7 days before they called.
	RepeatContacts int64 `json:"repeat_contacts"`
	// AgentContinuity is the share of repeat contacts answered by the agent
	// who served the customer last (on the line or by callback).
	AgentContinuity float64 `json:"agent_continuity"`
	// Callbacks is the number of callers who took a callback.
	Callbacks int64 `json:"callbacks"`
	// CallbackShare is Callbacks / Offered.
	CallbackShare float64 `json:"callback_share"`
	// CallbackWaitSeconds is the time from the request to the callback.
	CallbackWaitSeconds WaitStats `json:"callback_wait_seconds"`
	// EWTErrorSeconds is the mean |EWT at arrival - wait| over queued
	// contacts answered on the line.
	EWTErrorSeconds float64 `json:"ewt_error_seconds"`
	// EWTBiasSeconds is the mean of EWT - wait over the same contacts:
	// positive when the EWT promises longer waits than callers get.
	EWTBiasSeconds float64 `json:"ewt_bias_seconds"`
}

// WaitStats summarise waits.
type WaitStats struct {
	Mean float64 `json:"mean"`
	P90  float64 `json:"p90"`
}

// RunStats are about the run itself, not the contact centre: they vary
// from run to run.
type RunStats struct {
	WallSeconds float64 `json:"wall_seconds"`
	// SetupSeconds is the part of WallSeconds spent building the org and
	// its customer index.
	SetupSeconds float64 `json:"setup_seconds"`
	Contacts     int64   `json:"contacts"` // simulated, warm-up included
	// ContactsPerSecond is Contacts over the wall time of the event loop.
	ContactsPerSecond float64 `json:"contacts_per_second"`
}

// Result is the output of a run (`tex simulate --format json`).
type Result struct {
	Scenario           string  `json:"scenario"`
	Policy             string  `json:"policy"`
	Seed               uint64  `json:"seed"`
	DurationSeconds    float64 `json:"duration_seconds"`
	WarmupSeconds      float64 `json:"warmup_seconds"`
	SLThresholdSeconds float64 `json:"sl_threshold_seconds"`
	Figures
	PerMarket map[string]*Figures `json:"per_market"`
	Run       RunStats            `json:"run"`
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return round(float64(a)/float64(b), 6)
}

// figures turns accumulators into figures. busy and staffed are seconds.
func figures(a *acc, busy, staffed float64) *Figures {
	answered := a.lineAnswered + a.cbAnswered
	f := &Figures{
		Offered: a.offered, Answered: answered, Abandoned: a.abandoned,
		AbandonRate:     ratio(a.abandoned, a.offered),
		PWait:           ratio(a.waited, a.lineAnswered),
		ServiceLevel:    ratio(a.withinSL, a.offered-a.callbacks),
		HomeTeamShare:   ratio(a.home, answered),
		RepeatContacts:  a.repeats,
		AgentContinuity: ratio(a.sameAgent, a.repeats),
		Callbacks:       a.callbacks,
		CallbackShare:   ratio(a.callbacks, a.offered),
	}
	if a.lineAnswered > 0 {
		f.ASASeconds = round(a.waitSum/float64(a.lineAnswered), 3)
	}
	if staffed > 0 {
		f.Occupancy = round(busy/staffed, 6)
	}
	if a.ewtN > 0 {
		f.EWTErrorSeconds = round(a.ewtErrSum/float64(a.ewtN), 3)
		f.EWTBiasSeconds = round(a.ewtBiasSum/float64(a.ewtN), 3)
	}
	if n := len(a.cbWaits); n > 0 {
		sort.Float64s(a.cbWaits)
		sum := 0.0
		for _, w := range a.cbWaits {
			sum += w
		}
		f.CallbackWaitSeconds = WaitStats{Mean: round(sum/float64(n), 3), P90: round(quantile(a.cbWaits, 0.9), 3)}
	}
	return f
}

// quantile of sorted values, by the nearest-rank method: deterministic and
// always one of the values.
func quantile(sorted []float64, q float64) float64 {
	k := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(k, 0), len(sorted)-1)]
}

func (r *runner) result() *Result {
	s := r.s
	res := &Result{Scenario: s.File, Policy: string(s.Policy), Seed: s.Seed, DurationSeconds: s.DurationSeconds,
		WarmupSeconds: s.WarmupSeconds, SLThresholdSeconds: s.SLThresholdSeconds, PerMarket: map[string]*Figures{}}
	window := float64(r.end-r.warmup) / float64(ns)
	var all acc
	var busy, staffed float64
	for i := range r.teamBusy {
		busy += r.teamBusy[i]
		staffed += float64(r.teamStaff[i]) * window
	}
	for i := range r.markets {
		ms := &r.markets[i]
		if ms.rate == 0 {
			continue
		}
		a := &ms.acc
		all.offered += a.offered
		all.lineAnswered += a.lineAnswered
		all.cbAnswered += a.cbAnswered
		all.abandoned += a.abandoned
		all.waited += a.waited
		all.withinSL += a.withinSL
		all.home += a.home
		all.repeats += a.repeats
		all.sameAgent += a.sameAgent
		all.callbacks += a.callbacks
		all.waitSum += a.waitSum
		all.ewtErrSum += a.ewtErrSum
		all.ewtBiasSum += a.ewtBiasSum
		all.ewtN += a.ewtN
		all.cbWaits = append(all.cbWaits, a.cbWaits...)
		res.PerMarket[ms.w.id] = figures(a, r.teamBusy[ms.home], float64(r.teamStaff[ms.home])*window)
	}
	res.Figures = *figures(&all, busy, staffed)
	return res
}
