package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tex-cx/tex/teams"
)

// metrics are the server's Prometheus metrics. Counters are fed by the
// publisher from the core's events; gauges are read from the teams store
// at scrape time, so the writer never pays for them.
type metrics struct {
	decisions     *prometheus.CounterVec
	offersExpired *prometheus.CounterVec
	latency       prometheus.Histogram
	reloads       *prometheus.CounterVec
	retained      prometheus.Gauge
	cutShort      prometheus.Counter
}

func newMetrics(reg *prometheus.Registry, store *teams.Store, now func() time.Time) *metrics {
	m := &metrics{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tex_route_decisions_total",
			Help: "Routing decisions, by outcome (assigned, queued), fallback step and trigger.",
		}, []string{"outcome", "step", "trigger"}),
		offersExpired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tex_offers_expired_total",
			Help: "Offers that expired before the agent answered, by team.",
		}, []string{"team"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tex_route_latency_seconds",
			Help:    "Time from a route request's arrival to its reply, journal write included.",
			Buckets: []float64{50e-6, 100e-6, 200e-6, 400e-6, 800e-6, 1.6e-3, 3.2e-3, 6.4e-3, 12.8e-3, 25.6e-3, 0.1, 1},
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tex_org_reloads_total",
			Help: "Org reloads while serving, by result: applied, or refused (the state does not carry over).",
		}, []string{"result"}),
		retained: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tex_contacts_retained",
			Help: "Finished contacts held for late events and retried requests (contact_retention_seconds).",
		}),
		cutShort: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tex_contacts_forgotten_early_total",
			Help: "Finished contacts forgotten before contact_retention_seconds because max_retained_contacts was reached.",
		}),
	}
	for _, r := range []string{"applied", "refused"} {
		m.reloads.WithLabelValues(r) // both series from the start, for alerts on increase
	}
	reg.MustRegister(m.decisions, m.offersExpired, m.latency, m.reloads, m.retained, m.cutShort, &storeCollector{store: store, now: now},
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

var (
	queueLenDesc = prometheus.NewDesc("tex_queue_length", "Contacts waiting in a team's queue (line and callback).",
		[]string{"team"}, nil)
	queueOldestDesc = prometheus.NewDesc("tex_queue_oldest_wait_seconds", "Wait of the longest-waiting contact of a team's queue.",
		[]string{"team"}, nil)
	agentsDesc = prometheus.NewDesc("tex_agents", "Agents by team and state.", []string{"team", "state"}, nil)
)

// agentStates are the states every team reports, zero or not, so that a
// dashboard's series do not come and go.
var agentStates = []string{"available", "away", "offline", "reserved", "busy", "wrap_up", "not_responding"}

// storeCollector reads queue and agent gauges from one store snapshot.
type storeCollector struct {
	store *teams.Store
	now   func() time.Time
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueLenDesc
	ch <- queueOldestDesc
	ch <- agentsDesc
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	snap := c.store.Snapshot()
	now := c.now()
	for _, t := range snap.Teams() {
		q := snap.Queue(t.ID)
		oldest := 0.0
		for _, ct := range q {
			oldest = max(oldest, now.Sub(ct.ArrivedAt).Seconds())
		}
		ch <- prometheus.MustNewConstMetric(queueLenDesc, prometheus.GaugeValue, float64(len(q)), t.ID)
		ch <- prometheus.MustNewConstMetric(queueOldestDesc, prometheus.GaugeValue, oldest, t.ID)
		counts := map[string]int{}
		states := map[string]string{}
		for _, r := range snap.AgentStates(t.ID) {
			states[r.AgentID] = r.State
		}
		for _, a := range snap.AgentsByTeam(t.ID) {
			st, ok := states[a.ID]
			if !ok {
				st = "offline"
			}
			counts[st]++
		}
		for _, st := range agentStates {
			ch <- prometheus.MustNewConstMetric(agentsDesc, prometheus.GaugeValue, float64(counts[st]), t.ID, st)
		}
	}
}
