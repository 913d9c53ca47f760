package sim

import (
	"errors"
	"math"
	"testing"
)

// Published Erlang C values for 10 Erlangs (200 calls an hour, 180 s
// handle time) and a 20 s service-level target.
func TestErlangCPublished(t *testing.T) {
	tests := []struct {
		agents         int
		pWait, sl, asa float64
	}{
		{11, 0.6821, 0.3896, 122.8},
		{12, 0.4494, 0.6402, 40.4},
		{13, 0.2853, 0.7956, 17.1},
		{14, 0.1741, 0.8884, 7.8},
	}
	for _, tc := range tests {
		f, err := Solve(Queue{RatePerHour: 200, AHTSeconds: 180, Agents: tc.agents, TargetSeconds: 20})
		if err != nil {
			t.Fatalf("%d agents: %v", tc.agents, err)
		}
		if c := ErlangC(10, tc.agents); math.Abs(c-f.PWait) > 1e-12 {
			t.Errorf("%d agents: ErlangC %v, Solve %v", tc.agents, c, f.PWait)
		}
		check := func(name string, got, want, tol float64) {
			if math.Abs(got-want) > tol {
				t.Errorf("%d agents: %s = %.5f, want %.4f", tc.agents, name, got, want)
			}
		}
		check("p_wait", f.PWait, tc.pWait, 5e-5)
		check("service_level", f.ServiceLevel, tc.sl, 5e-5)
		check("asa", f.ASASeconds, tc.asa, 0.05)
		check("occupancy", f.Occupancy, 10/float64(tc.agents), 1e-12)
	}
}

func TestErlangBLargeSystems(t *testing.T) {
	// Hundreds of agents: the recursion must stay finite and in [0,1], and
	// ErlangC must agree with its definition from ErlangB.
	for _, tc := range []struct {
		a float64
		n int
	}{{450, 500}, {950, 1000}, {4900, 5000}, {0.5, 1}} {
		b, c := ErlangB(tc.a, tc.n), ErlangC(tc.a, tc.n)
		if !(b >= 0 && b <= 1 && c >= b && c <= 1) {
			t.Errorf("a=%v n=%d: B=%v C=%v", tc.a, tc.n, b, c)
		}
	}
	// One agent: C = a, B = a/(1+a).
	if b := ErlangB(0.5, 1); math.Abs(b-1.0/3) > 1e-15 {
		t.Errorf("ErlangB(0.5,1) = %v", b)
	}
	if c := ErlangC(0.5, 1); math.Abs(c-0.5) > 1e-15 {
		t.Errorf("ErlangC(0.5,1) = %v", c)
	}
}

func TestErlangAAgreesWithErlangC(t *testing.T) {
	// Callers who almost never give up: Erlang A tends to Erlang C.
	for n := 11; n <= 14; n++ {
		c, _ := Solve(Queue{RatePerHour: 200, AHTSeconds: 180, Agents: n, TargetSeconds: 20})
		a, err := Solve(Queue{RatePerHour: 200, AHTSeconds: 180, Agents: n, TargetSeconds: 20, PatienceSeconds: 1e7})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(a.PWait-c.PWait) > 2e-3 || math.Abs(a.ServiceLevel-c.ServiceLevel) > 2e-3 ||
			math.Abs(a.ASASeconds-c.ASASeconds) > 0.02*c.ASASeconds {
			t.Errorf("%d agents: Erlang A %+v, Erlang C %+v", n, a, c)
		}
	}
}

func TestErlangAConsistent(t *testing.T) {
	// Little's law on the queue: abandonment rate = θ·E[queue], checked
	// against P(abandon) from the tagged-caller recursion; and an
	// overloaded queue (10 agents, 12 Erlangs) still has a steady state.
	for _, q := range []Queue{
		{RatePerHour: 200, AHTSeconds: 180, Agents: 10, PatienceSeconds: 120, TargetSeconds: 20},
		{RatePerHour: 240, AHTSeconds: 180, Agents: 10, PatienceSeconds: 60, TargetSeconds: 20},
		{RatePerHour: 9000, AHTSeconds: 180, Agents: 480, PatienceSeconds: 300, TargetSeconds: 30},
	} {
		f, err := Solve(q)
		if err != nil {
			t.Fatal(err)
		}
		if !(f.PAbandon > 0 && f.PAbandon < 1 && f.ServiceLevel > 0 && f.ServiceLevel < 1-f.PAbandon+1e-9) {
			t.Fatalf("%+v: implausible %+v", q, f)
		}
		// Served load = λ(1-Pab)·aht = occupancy·n.
		served := q.RatePerHour / 3600 * (1 - f.PAbandon) * q.AHTSeconds
		if math.Abs(served-f.Occupancy*float64(q.Agents)) > 1e-9 {
			t.Errorf("%+v: occupancy %v does not match served load %v", q, f.Occupancy, served)
		}
	}
}

func TestAgentsFor(t *testing.T) {
	f, err := AgentsFor(Queue{RatePerHour: 200, AHTSeconds: 180, TargetSeconds: 20}, 0.8)
	if err != nil || f.Agents != 14 {
		t.Fatalf("80/20 at 10 Erlangs: %d agents (%v), want 14", f.Agents, err)
	}
	f, err = AgentsFor(Queue{RatePerHour: 200, AHTSeconds: 180, TargetSeconds: 20}, 0.6)
	if err != nil || f.Agents != 12 {
		t.Fatalf("60/20 at 10 Erlangs: %d agents (%v), want 12", f.Agents, err)
	}
	if _, err := Solve(Queue{RatePerHour: 200, AHTSeconds: 180, Agents: 10}); !errors.Is(err, ErrOverloaded) {
		t.Fatalf("10 agents for 10 Erlangs: %v, want ErrOverloaded", err)
	}
	if _, err := Solve(Queue{RatePerHour: -1, AHTSeconds: 180, Agents: 10}); !errors.Is(err, ErrBadQueue) {
		t.Fatalf("negative rate: %v", err)
	}
}
