package benchmarks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/tex-cx/tex/server"
	"github.com/tex-cx/tex/server/natstest"
	"github.com/tex-cx/tex/teams"
)

// startServe runs `tex serve` in process on the sample org: embedded NATS
// with JetStream on a random port, file store in a temp dir, journal on.
func startServe(b *testing.B) (*server.Server, *nats.Conn) {
	b.Helper()
	return startServeDir(b, b.TempDir())
}

// jetstreamAck is a journal write the replay benchmark waits for.
type jetstreamAck struct{ f jetstream.PubAckFuture }

func (a jetstreamAck) wait(b *testing.B) {
	select {
	case <-a.f.Ok():
	case err := <-a.f.Err():
		b.Fatal(err)
	}
}

func publishAsync(b *testing.B, nc *nats.Conn, subj, data string) jetstreamAck {
	js := natstest.JetStream(b, nc)
	f, err := js.PublishAsync(subj, []byte(data))
	if err != nil {
		b.Fatal(err)
	}
	return jetstreamAck{f}
}

func startServeDir(b *testing.B, dir string) (*server.Server, *nats.Conn) {
	b.Helper()
	_, undo := server.TuneGC() // as tex serve does
	b.Cleanup(undo)
	org, err := teams.Load("../testdata/org")
	if err != nil {
		b.Fatal(err)
	}
	log := zerolog.Nop()
	s, err := server.Start(context.Background(), server.Config{Org: org, DataDir: dir, NATSListen: "127.0.0.1:0", Log: &log})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s, natstest.Connect(b, s.NATSURL())
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

// startEchoes answers, beside tex, the bare NATS services the serve
// benchmarks compare it with: bench.echo on an in-process connection like
// tex's, bench.echo_tcp over TCP like any NATS service,
// bench.echo_journaled, the in-process echo with its journal write
// acknowledged before the reply (the floor of a write-ahead reply), and
// bench.echo_evented, that with the events of tex's commands after it
// (startFloor).
func startEchoes(b *testing.B, s *server.Server) {
	echo, err := nats.Connect(s.NATSURL(), nats.InProcessServer(s.EmbeddedNATS()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(echo.Close)
	if _, err := echo.Subscribe("bench.echo", func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
		b.Fatal(err)
	}
	echoTCP, err := nats.Connect(s.NATSURL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(echoTCP.Close)
	if _, err := echoTCP.Subscribe("bench.echo_tcp", func(m *nats.Msg) { _ = m.Respond(m.Data) }); err != nil {
		b.Fatal(err)
	}
	if err := echoTCP.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := echo.Flush(); err != nil {
		b.Fatal(err)
	}
	startFloor(b, s, "bench.echo_journaled", false)
	startFloor(b, s, "bench.echo_evented", true)
}

// BenchmarkServe compares, in one run, the bare NATS services of
// startEchoes and tex.route decisions (journaled before the reply),
// sequential and with 16 requesters. Every route is followed by an untimed abandon, so the queue
// stays short, as it does in a live contact center.
func BenchmarkServe(b *testing.B) {
	s, nc := startServe(b)
	startEchoes(b, s)
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
		{"echo", echoOp("bench.echo")},
		{"echo_tcp", echoOp("bench.echo_tcp")},
		{"echo_journaled", echoOp("bench.echo_journaled")},
		{"echo_evented", echoOp("bench.echo_evented")},
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
				per := max(b.N/par, 1)
				fanOut(b, s, par, par, func(conn *nats.Conn, _ time.Time) []time.Duration {
					lat := make([]time.Duration, 0, per)
					for range per {
						d, err := k.op(conn)
						if err != nil {
							b.Error(err)
							break
						}
						lat = append(lat, d)
					}
					return lat
				}).report(b, "req")
			})
		}
	}
}

// echoOp times one request to an echo service, with a route's body.
func echoOp(subject string) func(conn *nats.Conn) (time.Duration, error) {
	return func(conn *nats.Conn) (time.Duration, error) {
		t0 := time.Now()
		_, err := conn.Request(subject, []byte(`{"contact_id":"c-0","channel":"voice","market":"DET"}`), 5*time.Second)
		return time.Since(t0), err
	}
}

// load is what a fanOut measured: every latency, the time it took, and
// the CPU the whole process (requesters, broker, tex) spent meanwhile,
// with the collector's share by the runtime's estimate.
type load struct {
	lat              []time.Duration
	elapsed, cpu, gc time.Duration
	entries          uint64 // journal entries written meanwhile
	liveHeap         uint64 // bytes live after the latest collection, at the end
}

// report adds p50, p99 and requests/s, and the CPU per request: what
// decides how close to saturation a rate runs, and steadier across runs
// than the latencies. The collector's share includes the marking it does
// on otherwise idle cores.
func (l load) report(b *testing.B, unit string) {
	report(b, l.lat, l.elapsed, unit)
	if n := float64(len(l.lat)); n > 0 {
		b.ReportMetric(float64(l.cpu.Microseconds())/n, "cpu-µs/op")
		b.ReportMetric(float64(l.gc.Microseconds())/n, "gc-cpu-µs/op")
		if l.entries > 0 {
			b.ReportMetric(n/float64(l.entries), "ops/entry")
		}
		b.ReportMetric(float64(l.liveHeap)/(1<<20), "live-heap-MB")
	}
}

// journalEntries is how many entries the journal stream holds.
func journalEntries(b *testing.B, s *server.Server) uint64 {
	nc := natstest.Connect(b, s.NATSURL())
	defer nc.Close()
	st, err := natstest.JetStream(b, nc).Stream(context.Background(), server.JournalStream)
	if err != nil {
		b.Fatal(err)
	}
	return st.CachedInfo().State.Msgs
}

// fanOut runs each n times at once, from start, on nConns connections
// dealt round, and gathers what they measured. The benchmark timer runs
// only while they do.
func fanOut(b *testing.B, s *server.Server, n, nConns int, each func(conn *nats.Conn, start time.Time) []time.Duration) load {
	conns := make([]*nats.Conn, n)
	for i := range conns {
		if i >= nConns {
			conns[i] = conns[i%nConns]
			continue
		}
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
		wg  sync.WaitGroup
	)
	entries0 := journalEntries(b, s)
	b.ResetTimer()
	cpu0, gc0 := cpuTime(b), gcTime()
	start := time.Now()
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := each(c, start)
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	cpu, gc := cpuTime(b)-cpu0, gcTime()-gc0
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(live)
	return load{lat: all, elapsed: elapsed, cpu: cpu, gc: gc, entries: journalEntries(b, s) - entries0,
		liveHeap: live[0].Value.Uint64()}
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

// BenchmarkServeRate offers commands at a fixed rate: 32 requesters, each
// on its own connection, send a route and then its abandon on a schedule.
// Latency counts from the send (Go's timers wake up to a millisecond
// late, which would swamp the figure); a requester whose replies lag
// falls behind its schedule, which shows as commands/s below the rate.
// b.N is the number of commands. A warm-up of 20,000 commands comes
// first: a fresh process spends about twice the CPU per command while its
// heap and the stream's files grow, which is not the server at work.
func BenchmarkServeRate(b *testing.B) {
	s, _ := startServe(b)
	var contacts atomic.Int64
	startEchoes(b, s)
	openLoop(b, s, 5000, 20000, requesters, texCommands, &contacts)
	for _, rate := range []int{5000, 10000} {
		b.Run(fmt.Sprintf("commands=%d", rate), func(b *testing.B) {
			openLoop(b, s, rate, b.N, requesters, texCommands, &contacts).report(b, "commands")
		})
	}
	// The same load on the bare services, for what the machine allows at
	// that rate without tex.
	for _, echo := range []string{"bench.echo_tcp", "bench.echo_journaled", "bench.echo_evented"} {
		b.Run(fmt.Sprintf("commands=10000/%s", strings.TrimPrefix(echo, "bench.")), func(b *testing.B) {
			openLoop(b, s, 10000, b.N, requesters, [2]string{echo, echo}, &contacts).report(b, "commands")
		})
	}
	// The same requesters as 4 platform nodes, each with one connection
	// that its calls share, as nats.go is meant to be used.
	b.Run("commands=10000/conns=4", func(b *testing.B) {
		openLoop(b, s, 10000, b.N, 4, texCommands, &contacts).report(b, "commands")
	})
}

// requesters is how many requesters the open loop runs.
const requesters = 32

// texCommands are the subjects of a contact's route and its abandon.
var texCommands = [2]string{"tex.route", "tex.contact.event"}

// openLoop sends about commands commands at rate a second, routes and
// their abandons to subjects, from requesters sharing conns connections,
// numbering the contacts from contacts.
func openLoop(b *testing.B, s *server.Server, rate, commands, conns int, subjects [2]string, contacts *atomic.Int64) load {
	interval := time.Duration(float64(time.Second) * requesters / float64(rate))
	per := max(commands/requesters/2, 1)
	var requester atomic.Int64
	return fanOut(b, s, requesters, conns, func(conn *nats.Conn, start time.Time) []time.Duration {
		lat := make([]time.Duration, 0, 2*per)
		// Requesters start spread over one interval.
		next := start.Add(interval * time.Duration(requester.Add(1)) / requesters)
		do := func(subj, body string) bool {
			time.Sleep(time.Until(next))
			t0 := time.Now()
			if _, err := conn.Request(subj, []byte(body), 5*time.Second); err != nil {
				b.Error(err)
				return false
			}
			lat = append(lat, time.Since(t0))
			next = next.Add(interval)
			return true
		}
		for range per {
			id := fmt.Sprintf("r-%d", contacts.Add(1))
			if !do(subjects[0], `{"contact_id":"`+id+`","channel":"voice","market":"DET"}`) ||
				!do(subjects[1], `{"contact_id":"`+id+`","type":"abandoned"}`) {
				break
			}
		}
		return lat
	})
}

// gcTime is the CPU time the Go collector has used, by the runtime's
// estimate: its workers and the assists it asked of allocating goroutines.
func gcTime() time.Duration {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	return time.Duration(s[0].Value.Float64() * float64(time.Second))
}

// cpuTime is the CPU time, user and system, the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRouteLongQueue routes into a team whose queue already holds
// 5,000 contacts: a route must not cost in proportion to the queue.
func BenchmarkRouteLongQueue(b *testing.B) {
	_, nc := startServe(b)
	for i := range 5000 {
		m, err := nc.Request("tex.route", []byte(fmt.Sprintf(`{"contact_id":"w-%d","channel":"voice","market":"DET"}`, i)), 5*time.Second)
		if err != nil || !contains(m.Data, `"position":`+fmt.Sprint(i+1)) {
			b.Fatalf("setup %d: %v %s", i, err, m.Data)
		}
	}
	var lat []time.Duration
	b.ResetTimer()
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("q-%d", i)
		t0 := time.Now()
		m, err := nc.Request("tex.route", []byte(`{"contact_id":"`+id+`","channel":"voice","market":"DET"}`), 5*time.Second)
		if err != nil || !contains(m.Data, `"position":5001`) {
			b.Fatalf("%v %s", err, m.Data)
		}
		lat = append(lat, time.Since(t0))
		b.StopTimer()
		if _, err := nc.Request("tex.contact.event", []byte(`{"contact_id":"`+id+`","type":"abandoned"}`), 5*time.Second); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	report(b, lat, time.Since(start), "req")
}

// BenchmarkReplay times a start on a journal of 200,000 commands (100,000
// contacts, each routed and abandoned, 100 commands an entry, a second
// apart in batches): the restart time of a server without a snapshot.
func BenchmarkReplay(b *testing.B) {
	dir := b.TempDir()
	s, nc := startServeDir(b, dir)
	const contacts = 100_000
	t0 := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	var futures []jetstreamAck
	for i := 0; i < contacts; i += 50 {
		var cmds []string
		for j := i; j < i+50; j++ {
			id := fmt.Sprintf("j-%d", j)
			cmds = append(cmds, `{"k":"route","b":{"contact_id":"`+id+`","channel":"voice","market":"DET"}}`,
				`{"k":"contact_event","b":{"contact_id":"`+id+`","type":"abandoned"}}`)
		}
		at := t0.Add(time.Duration(i/50) * time.Second).UnixNano()
		data := fmt.Sprintf(`{"t":%d,"c":[%s]}`, at, strings.Join(cmds, ","))
		futures = append(futures, publishAsync(b, nc, "tex.journal.org", data))
	}
	for _, f := range futures {
		f.wait(b)
	}
	stop := func(s *server.Server) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			b.Fatal(err)
		}
	}
	stop(s)
	// The first start publishes the entries' events, which no server has
	// yet: a restart publishes only what it had not. Its graceful stop
	// saves a snapshot; deleting it and crashing leaves a start nothing but
	// the journal to replay.
	s, _ = startServeDir(b, dir)
	stop(s)
	s, nc = startServeDir(b, dir)
	js := natstest.JetStream(b, nc)
	obj, err := js.ObjectStore(context.Background(), server.SnapshotBucket)
	if err != nil {
		b.Fatal(err)
	}
	if err := obj.Delete(context.Background(), server.DefaultGroup); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		b.Fatal(err)
	}
	s.Kill()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		s2, _ := startServeDir(b, dir)
		took := time.Since(start)
		b.StopTimer()
		if n := s2.Replayed(); n != contacts/50 {
			b.Fatalf("replayed %d entries, want %d", n, contacts/50)
		}
		s2.Kill()
		b.StartTimer()
		b.ReportMetric(float64(2*contacts)/took.Seconds(), "commands/s")
	}
}
