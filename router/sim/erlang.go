package sim

import (
	"errors"
	"fmt"
	"math"
)

// ErlangB is the blocking probability of an M/M/n/n system offered a
// Erlangs. It uses the recursion B(0) = 1, B(k) = a·B(k-1) / (k + a·B(k-1)),
// which stays in [0,1] for any n: no factorials, no overflow, so it is exact
// for thousands of agents.
func ErlangB(a float64, n int) float64 {
	if n < 0 || !(a >= 0) {
		return math.NaN()
	}
	b := 1.0
	for k := 1; k <= n; k++ {
		b = a * b / (float64(k) + a*b)
	}
	return b
}

// ErlangC is the probability that an arrival waits in an M/M/n queue
// offered a Erlangs (traffic = arrival rate × mean handle time). It is 1
// when a >= n: the queue grows without bound.
func ErlangC(a float64, n int) float64 {
	if n <= 0 || a >= float64(n) {
		return 1
	}
	b := ErlangB(a, n)
	return float64(n) * b / (float64(n) - a*(1-b))
}

// Queue describes a call centre queue for the Erlang formulas.
type Queue struct {
	RatePerHour float64 // Poisson arrivals per hour
	AHTSeconds  float64 // mean handle time (talk + hold + wrap), exponential
	Agents      int
	// PatienceSeconds is the mean (exponential) time a caller waits before
	// hanging up. Zero means callers never abandon: Erlang C. Otherwise
	// the model is Erlang A (M/M/n+M).
	PatienceSeconds float64
	// TargetSeconds is the service-level threshold: the share of callers
	// answered within it is the service level.
	TargetSeconds float64
}

// QueueFigures are the steady-state figures of a Queue. ServiceLevel is the
// share of all arrivals answered within the target (abandoned callers count
// against it); ASASeconds is the mean wait of the callers who are answered.
type QueueFigures struct {
	Model           string  `json:"model"` // erlang_c | erlang_a
	RatePerHour     float64 `json:"rate_per_hour"`
	AHTSeconds      float64 `json:"aht_seconds"`
	PatienceSeconds float64 `json:"patience_seconds,omitempty"`
	TargetSeconds   float64 `json:"target_seconds"`
	TrafficErlangs  float64 `json:"traffic_erlangs"`
	Agents          int     `json:"agents"`
	PWait           float64 `json:"p_wait"`
	ServiceLevel    float64 `json:"service_level"`
	ASASeconds      float64 `json:"asa_seconds"`
	PAbandon        float64 `json:"p_abandon"`
	Occupancy       float64 `json:"occupancy"`
}

// Model names of QueueFigures.
const (
	ModelErlangC = "erlang_c"
	ModelErlangA = "erlang_a"
)

// ErrOverloaded is returned by Solve for an Erlang C queue with no more
// agents than Erlangs of traffic: without abandonment it has no steady state.
var ErrOverloaded = errors.New("agents must exceed the traffic in Erlangs when nobody abandons; the queue grows without bound")

// ErrBadQueue is returned for a Queue with a missing or impossible value.
var ErrBadQueue = errors.New("bad queue")

func (q *Queue) check(needAgents bool) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadQueue, fmt.Sprintf(format, args...))
	}
	switch {
	case !(q.RatePerHour > 0) || math.IsInf(q.RatePerHour, 0):
		return bad("rate per hour must be a number > 0, got %v", q.RatePerHour)
	case !(q.AHTSeconds > 0) || math.IsInf(q.AHTSeconds, 0):
		return bad("handle time must be a number > 0, got %v", q.AHTSeconds)
	case needAgents && q.Agents < 1:
		return bad("agents must be >= 1, got %d", q.Agents)
	case needAgents && q.Agents > maxAgents:
		return bad("agents must be <= %d, got %d", maxAgents, q.Agents)
	case !(q.PatienceSeconds >= 0) || math.IsInf(q.PatienceSeconds, 0):
		return bad("patience must be a number >= 0, got %v", q.PatienceSeconds)
	case !(q.TargetSeconds >= 0) || math.IsInf(q.TargetSeconds, 0):
		return bad("target must be a number >= 0, got %v", q.TargetSeconds)
	}
	return nil
}

// maxAgents bounds the queues the calculator solves, so a typo cannot make
// it run for minutes.
const maxAgents = 100000

// Solve computes the steady-state figures of q: Erlang C without patience,
// Erlang A with it.
func Solve(q Queue) (QueueFigures, error) {
	if err := q.check(true); err != nil {
		return QueueFigures{}, err
	}
	a := q.RatePerHour / 3600 * q.AHTSeconds
	f := QueueFigures{RatePerHour: q.RatePerHour, AHTSeconds: q.AHTSeconds, PatienceSeconds: q.PatienceSeconds,
		TargetSeconds: q.TargetSeconds, TrafficErlangs: a, Agents: q.Agents}
	if q.PatienceSeconds == 0 {
		f.Model = ModelErlangC
		n := float64(q.Agents)
		if a >= n {
			return f, ErrOverloaded
		}
		c := ErlangC(a, q.Agents)
		f.PWait = c
		f.ServiceLevel = 1 - c*math.Exp(-(n-a)*q.TargetSeconds/q.AHTSeconds)
		f.ASASeconds = c * q.AHTSeconds / (n - a)
		f.Occupancy = a / n
		return f, nil
	}
	f.Model = ModelErlangA
	erlangA(&f)
	return f, nil
}

// AgentsFor finds the fewest agents whose service level reaches target (a
// share in (0,1)); q.Agents is ignored.
func AgentsFor(q Queue, target float64) (QueueFigures, error) {
	if err := q.check(false); err != nil {
		return QueueFigures{}, err
	}
	if !(target > 0 && target < 1) {
		return QueueFigures{}, fmt.Errorf("%w: target service level must be in (0,1), got %v", ErrBadQueue, target)
	}
	a := q.RatePerHour / 3600 * q.AHTSeconds
	n := 1
	if q.PatienceSeconds == 0 {
		n = int(math.Floor(a)) + 1
	}
	// The service level grows with n; step up, then check the neighbours
	// below for the Erlang A case, which may start under the traffic.
	for ; n <= maxAgents; n++ {
		q.Agents = n
		f, err := Solve(q)
		if err != nil {
			return QueueFigures{}, err
		}
		if f.ServiceLevel >= target {
			return f, nil
		}
	}
	return QueueFigures{}, fmt.Errorf("%w: no staffing up to %d agents reaches a service level of %v", ErrBadQueue, maxAgents, target)
}

// erlangA solves Palm's M/M/n+M queue exactly (the model Garnett,
// Mandelbaum and Reiman approximate): a birth-death chain with birth rate λ
// and death rate min(k,n)·μ + max(k-n,0)·θ. The stationary weights are kept
// in logs so that hundreds of agents and heavy overload stay finite.
func erlangA(f *QueueFigures) {
	n := f.Agents
	lam := f.RatePerHour / 3600
	mu := 1 / f.AHTSeconds
	th := 1 / f.PatienceSeconds
	a := lam / mu
	nmu := float64(n) * mu

	lw := make([]float64, 0, n+64)
	lw = append(lw, 0)
	la := math.Log(a)
	for k := 1; k <= n; k++ {
		lw = append(lw, lw[k-1]+la-math.Log(float64(k)))
	}
	peak := lw[n]
	for k := 1; k <= n; k++ {
		peak = max(peak, lw[k])
	}
	// Above n the weights fall once nμ + jθ exceeds λ; stop when they are
	// negligible against the largest.
	for j := 1; ; j++ {
		v := lw[n+j-1] + math.Log(lam) - math.Log(nmu+float64(j)*th)
		lw = append(lw, v)
		peak = max(peak, v)
		if (nmu+float64(j)*th > lam && v < peak-45) || j > 10*maxAgents {
			break
		}
	}
	sum := 0.0
	for _, v := range lw {
		sum += math.Exp(v - peak)
	}
	pi := make([]float64, len(lw))
	for k, v := range lw {
		pi[k] = math.Exp(v-peak) / sum
	}
	Q := len(pi) - 1 - n // the longest queue kept

	// A caller who finds q others waiting is served after q+1 removals ahead
	// of them, each at rate nμ + iθ with i ahead, unless their own patience
	// (rate θ) runs out first.
	// p[q]: P(served | q ahead); m[q]: E[wait · 1{served} | q ahead].
	served, waitSum, pWait := 0.0, 0.0, 0.0
	for k := 0; k < n; k++ {
		served += pi[k]
	}
	p, m := 1.0, 0.0
	for q := 0; q <= Q; q++ {
		down := nmu + float64(q)*th
		r := down + th
		p *= down / r
		m = p/r + down/r*m
		w := pi[n+q]
		pWait += w
		served += w * p
		waitSum += w * m
	}
	f.PWait = pWait
	f.PAbandon = max(0, 1-served)
	if served > 0 {
		f.ASASeconds = waitSum / served
	}
	f.Occupancy = lam * served * f.AHTSeconds / float64(n)
	f.ServiceLevel = (1 - pWait) + servedWithin(pi[n:], nmu, th, f.TargetSeconds)
}

// servedWithin is Σ_q piq[q]·P(served within t | q ahead), by
// uniformisation of the tagged caller's pure-death chain: states "q ahead"
// fall to q-1 at rate nμ + qθ (0 ahead: served) and leave at rate θ.
func servedWithin(piq []float64, nmu, th, t float64) float64 {
	if t <= 0 {
		return 0
	}
	Q := len(piq) - 1
	rate := nmu + float64(Q)*th + th
	x := rate * t
	kmax := int(x+12*math.Sqrt(x)) + 30
	u := make([]float64, Q+1) // P(served within k uniformised steps | q ahead)
	next := make([]float64, Q+1)
	acc := make([]float64, Q+1)
	lx := math.Log(x)
	for k := 0; k <= kmax; k++ {
		lg, _ := math.Lgamma(float64(k + 1))
		w := math.Exp(-x + float64(k)*lx - lg)
		for q := range u {
			acc[q] += w * u[q]
		}
		for q := range u {
			down := nmu + float64(q)*th
			prev := 1.0
			if q > 0 {
				prev = u[q-1]
			}
			next[q] = down/rate*prev + (1-(down+th)/rate)*u[q]
		}
		u, next = next, u
	}
	s := 0.0
	for q, w := range piq {
		s += w * acc[q]
	}
	return s
}
