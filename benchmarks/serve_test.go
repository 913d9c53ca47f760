package benchmarks

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/tex-cx/tex/server"
	"github.com/tex-cx/tex/teams"
)

// startServe runs `tex serve` in process on the sample org: embedded NATS
// with JetStream on a random port, file store in a temp dir, journal on.
func startServe(b *testing.B) (*server.Server, *nats.Conn) {
	b.Helper()
	org, err := teams.Load("../testdata/org")
	if err != nil {
		b.Fatal(err)
	}
	log := zerolog.Nop()
	s, err := server.Start(context.Background(), server.Config{Org: org, DataDir: b.TempDir(), NATSListen: "127.0.0.1:0", Log: &log})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	nc, err := nats.Connect(s.NATSURL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	return s, nc
}

// report adds p50, p99 and requests/s.
func report(b *testing.B, lat []time.Duration, elapsed time.Duration, unit string) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Nanoseconds()) / 1e3 }
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), unit+"/s")
}

// BenchmarkServe compares, in one run, a bare NATS request/reply echo
// served on the same in-process connection kind as tex, with tex.route
// decisions (journaled before the reply), sequential and with 16
// requesters. Every route is followed by an untimed abandon, so the queue
// stays short, as it does in a live contact center.
func BenchmarkServe(b *testing.B) {
	s, nc := startServe(b)
	echo, err := nats.Connect(s.NATSURL(), nats.InProcessServer(s.EmbeddedNATS()))
	if err != nil {
		b.Fatal(err)
	}
	defer echo.Close()
	if _, err := echo.Subscribe("bench.echo", func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
		b.Fatal(err)
	}
	if err := echo.Flush(); err != nil {
		b.Fatal(err)
	}
	// Setup check: a route is answered, and queued (nobody is logged in).
	rep, err := nc.Request("tex.route", []byte(`{"contact_id":"check","channel":"voice","market":"DET"}`), 5*time.Second)
	if err != nil || !json.Valid(rep.Data) || !contains(rep.Data, `"status":"queued"`) {
		b.Fatalf("setup: %v %s", err, rep.Data)
	}
	var seq atomic.Int64
	kinds := []struct {
		name string
		op   func(conn *nats.Conn) (time.Duration, error)
	}{
		{"echo", func(conn *nats.Conn) (time.Duration, error) {
			t0 := time.Now()
			_, err := conn.Request("bench.echo", []byte(`{"contact_id":"c-0","channel":"voice","market":"DET"}`), 5*time.Second)
			return time.Since(t0), err
		}},
		{"route", func(conn *nats.Conn) (time.Duration, error) {
			id := fmt.Sprintf("b-%d", seq.Add(1))
			t0 := time.Now()
			m, err := conn.Request("tex.route", []byte(`{"contact_id":"`+id+`","channel":"voice","market":"DET"}`), 5*time.Second)
			d := time.Since(t0)
			if err != nil {
				return d, err
			}
			if !contains(m.Data, `"status":"queued"`) {
				return d, fmt.Errorf("route: %s", m.Data)
			}
			_, err = conn.Request("tex.contact.event", []byte(`{"contact_id":"`+id+`","type":"abandoned"}`), 5*time.Second)
			return d, err
		}},
	}
	for _, par := range []int{1, 16} {
		for _, k := range kinds {
			b.Run(fmt.Sprintf("%s/requesters=%d", k.name, par), func(b *testing.B) {
				conns := make([]*nats.Conn, par)
				for i := range conns {
					c, err := nats.Connect(s.NATSURL())
					if err != nil {
						b.Fatal(err)
					}
					defer c.Close()
					conns[i] = c
				}
				var (
					mu  sync.Mutex
					all []time.Duration
				)
				per := max(b.N/par, 1)
				b.ResetTimer()
				start := time.Now()
				var wg sync.WaitGroup
				for i := range par {
					wg.Add(1)
					go func() {
						defer wg.Done()
						lat := make([]time.Duration, 0, per)
						for range per {
							d, err := k.op(conns[i])
							if err != nil {
								b.Error(err)
								return
							}
							lat = append(lat, d)
						}
						mu.Lock()
						all = append(all, lat...)
						mu.Unlock()
					}()
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				report(b, all, elapsed, "req")
			})
		}
	}
}

// BenchmarkDispatch measures the time from an agent freeing up (its
// `available` command) to the `assigned` event of the contact waiting for
// it, as a platform subscribed to tex.events.assigned.> sees it.
func BenchmarkDispatch(b *testing.B) {
	_, nc := startServe(b)
	sub, err := nc.SubscribeSync("tex.events.assigned.DET")
	if err != nil {
		b.Fatal(err)
	}
	req := func(subj, body string) []byte {
		m, err := nc.Request(subj, []byte(body), 5*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		return m.Data
	}
	var lat []time.Duration
	b.ResetTimer()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		id := fmt.Sprintf("d-%d", i)
		if rep := req("tex.route", `{"contact_id":"`+id+`","channel":"voice","market":"DET"}`); !contains(rep, `"queued"`) {
			b.Fatalf("setup: %s", rep)
		}
		b.StartTimer()
		t0 := time.Now()
		req("tex.agent.state", `{"agent_id":"det-016","state":"available"}`)
		msg, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		b.StopTimer()
		if !contains(msg.Data, id) {
			b.Fatalf("assigned %s, want %s", msg.Data, id)
		}
		// Free the agent without work: the offer is rejected, the agent
		// logs off, the contact leaves.
		req("tex.agent.state", `{"agent_id":"det-016","state":"offline"}`)
		req("tex.contact.event", `{"contact_id":"`+id+`","type":"abandoned"}`)
		b.StartTimer()
	}
	report(b, lat, time.Since(start), "dispatch")
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }
