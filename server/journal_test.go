package server

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tex-cx/tex/router"

	"github.com/tex-cx/tex/scorecard"
	"github.com/tex-cx/tex/server/natstest"
)

// TestEntryFormats: a journal holds batch entries, and still replays the
// one-command entries the first versions wrote.
func TestEntryFormats(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       []journaled
	}{
		{"one command, first format", `{"t":1,"k":"route","b":{"contact_id":"c-1"}}`,
			[]journaled{{K: "route", B: json.RawMessage(`{"contact_id":"c-1"}`)}}},
		{"a batch", `{"t":1,"c":[{"k":"route","b":{"contact_id":"c-1"}},{"k":"agent_state","b":{"agent_id":"a"}}]}`,
			[]journaled{{K: "route", B: json.RawMessage(`{"contact_id":"c-1"}`)}, {K: "agent_state", B: json.RawMessage(`{"agent_id":"a"}`)}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e entry
			if err := json.Unmarshal([]byte(tc.data), &e); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, e.commands()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestAppendEntry: an entry written by hand reads back as the commands
// went in, whatever whitespace and characters their bodies hold.
func TestAppendEntry(t *testing.T) {
	cmds := []journaled{
		{K: entryRoute, B: json.RawMessage(" {\n\t\"contact_id\" : \"<c&1>\u2028\", \"priority\": 5 }\r\n")},
		{K: entryAgentState, B: json.RawMessage(`{"agent_id":"det-016","state":"available"}`)},
		{K: entryContactEvent, B: json.RawMessage(`{"contact_id":"c-1","type":"abandoned","x":[null,true,1e3]}`)},
	}
	data := appendEntry([]byte("keep"), 1700000000123456789, cmds)
	if !strings.HasPrefix(string(data), "keep") {
		t.Fatalf("appendEntry overwrote its buffer: %s", data)
	}
	var got entry
	if err := json.Unmarshal(data[len("keep"):], &got); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
	if got.T != 1700000000123456789 || len(got.commands()) != len(cmds) {
		t.Fatalf("read back %+v", got)
	}
	for i, c := range got.commands() {
		var want, have any
		if err := json.Unmarshal(cmds[i].B, &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(c.B, &have); err != nil {
			t.Fatal(err)
		}
		if c.K != cmds[i].K || !cmp.Equal(want, have) {
			t.Errorf("command %d: %s %s, want %s %s", i, c.K, c.B, cmds[i].K, cmds[i].B)
		}
	}
	if data := appendEntry(nil, 1, nil); string(data) != `{"t":1,"c":[]}` {
		t.Errorf("empty entry: %s", data)
	}
}

// TestUnencodable: a payload json.Marshal would refuse (a NaN) is an
// unavailable error as a reply, and an event left out, with an error logged.
func TestUnencodable(t *testing.T) {
	nan := math.NaN()
	body := encodeReply(&router.RouteReply{Status: router.StatusQueued, EWTSeconds: &nan})
	if !strings.Contains(string(body), `"code":"unavailable"`) || !strings.Contains(string(body), "encode reply") {
		t.Errorf("reply with a NaN: %s", body)
	}
	var logs natstest.LogBuffer
	log := zerolog.New(&logs)
	ev := router.Event{Kind: router.KindDecision, Key: "DET", Decision: &router.Decision{Weights: &router.WeightsView{Skill: nan}}}
	if oe := encodeEvent("tex", ev, eventID{1, 0}, &log); oe.data != nil {
		t.Errorf("decision with a NaN encoded as %s", oe.data)
	}
	if !strings.Contains(logs.String(), "encode event") {
		t.Errorf("nothing logged: %q", logs.String())
	}
}

// TestEventIDsMatchReplay: replay names every event as it was named live,
// also events of timers that fire after an entry with no events of its own
// (a retried route), so a republish after a crash is dropped by the stream
// instead of stored twice.
func TestEventIDsMatchReplay(t *testing.T) {
	dir := t.TempDir()
	clock, advance := manualClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	s := startServerClock(t, dir, clock)
	nc := connect(t, s)
	setState(t, nc, "det-016", "available")
	if rep := route(t, nc, "c-1", ""); rep.Agent != "det-016" {
		t.Fatalf("route: %+v", rep)
	}
	route(t, nc, "c-1", "") // a retry: journaled, no events
	advance(time.Minute)    // the offer expires at the next command
	route(t, nc, "c-1", "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	js := natstest.JetStream(t, nc)
	kv, err := js.KeyValue(ctx, StateBucket)
	if err != nil {
		t.Fatal(err)
	}
	var before uint64
	natstest.Eventually(t, 5*time.Second, 10*time.Millisecond, func() error {
		before = streamMsgs(t, js, scorecard.StreamName)
		mark, err := kv.Get(ctx, DefaultGroup+".published")
		if err != nil {
			return err
		}
		if last := s.w.pub.published(); before < 5 || string(mark.Value()) != last.String() {
			return fmt.Errorf("%d events, mark %s saved, %s published", before, mark.Value(), last)
		}
		return nil
	})
	// Forget how far the stream is known to hold the events: the restart
	// republishes every one of them.
	if err := kv.Delete(ctx, DefaultGroup+".published"); err != nil {
		t.Fatal(err)
	}
	s.Kill()

	s2 := startServerClock(t, dir, clock)
	js2 := natstest.JetStream(t, connect(t, s2))
	time.Sleep(300 * time.Millisecond) // republished events reach the stream
	natstest.Eventually(t, 5*time.Second, 10*time.Millisecond, func() error {
		if after := streamMsgs(t, js2, scorecard.StreamName); after != before {
			return fmt.Errorf("TEX_EVENTS holds %d events after the restart, %d before", after, before)
		}
		return nil
	})
}

func streamMsgs(t *testing.T, js jetstream.JetStream, name string) uint64 {
	t.Helper()
	return streamState(t, js, name).Msgs
}

func streamState(t *testing.T, js jetstream.JetStream, name string) jetstream.StreamState {
	t.Helper()
	st, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State
}

// TestRefusedEventsRepublished: when TEX_EVENTS refuses events, the mark
// stops before them, so the next start publishes them again and the
// stream ends up with every event the core emitted.
func TestRefusedEventsRepublished(t *testing.T) {
	dir := t.TempDir()
	now := time.Now() // standing still: no timer fires across the restart
	clock := func() time.Time { return now }
	s := startServerClock(t, dir, clock)
	nc := connect(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	js := natstest.JetStream(t, nc)
	// Every event published, stored or not.
	live, err := nc.SubscribeSync("tex.events.>")
	if err != nil {
		t.Fatal(err)
	}
	setState(t, nc, "det-016", "available")
	stored := streamMsgs(t, js, scorecard.StreamName)
	limit(t, ctx, js, int64(stored)+3)
	for i := range 6 {
		route(t, nc, fmt.Sprintf("c-%d", i), "")
	}
	natstest.Eventually(t, 5*time.Second, 10*time.Millisecond, func() error {
		if n, _, _ := live.Pending(); n < int(stored)+10 {
			return fmt.Errorf("%d events seen", n)
		}
		return nil
	})
	time.Sleep(100 * time.Millisecond) // the acks of the refused ones arrive
	emitted, _, _ := live.Pending()
	if got := streamMsgs(t, js, scorecard.StreamName); got != stored+3 {
		t.Fatalf("the stream holds %d events, want its limit %d", got, stored+3)
	}
	// Room again: what was refused is still missing, and the mark stays
	// before it through a graceful stop.
	limit(t, ctx, js, -1)
	route(t, nc, "c-after", "")
	natstest.Eventually(t, 5*time.Second, 10*time.Millisecond, func() error {
		if n, _, _ := live.Pending(); n < emitted+2 {
			return fmt.Errorf("%d events seen", n)
		}
		return nil
	})
	emitted, _, _ = live.Pending()
	if got := streamMsgs(t, js, scorecard.StreamName); got >= uint64(emitted) {
		t.Fatalf("the stream holds %d events of %d: none was refused", got, emitted)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	s2 := startServerClock(t, dir, clock)
	js2 := natstest.JetStream(t, connect(t, s2))
	natstest.Eventually(t, 5*time.Second, 10*time.Millisecond, func() error {
		if got := streamMsgs(t, js2, scorecard.StreamName); got != uint64(emitted) {
			return fmt.Errorf("after the restart the stream holds %d events, %d were emitted", got, emitted)
		}
		return nil
	})
}

// TestLateRestartRepublishesNothing: a crash leaves the saved mark behind
// the stream (it is saved every 250 ms). A start after the stream's
// duplicate window must not republish what the stream holds: it begins
// after the stream's last event. The broker outlives both runs.
func TestLateRestartRepublishesNothing(t *testing.T) {
	ns := natstest.Run(t)
	now := time.Now() // standing still: no timer fires across the restart
	cfg := externalConfig(t, ns.ClientURL(), "tex", func() time.Time { return now })
	s := startConfig(t, cfg)
	nc := connect(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	js := natstest.JetStream(t, nc)
	st, err := js.Stream(ctx, scorecard.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	scfg := st.CachedInfo().Config
	scfg.Duplicates = 100 * time.Millisecond
	if _, err := js.UpdateStream(ctx, scfg); err != nil {
		t.Fatal(err)
	}
	live, err := nc.SubscribeSync("tex.events.>")
	if err != nil {
		t.Fatal(err)
	}
	setState(t, nc, "det-016", "available")
	for i := range 4 {
		route(t, nc, fmt.Sprintf("c-%d", i), "")
	}
	var stored uint64
	natstest.Eventually(t, 5*time.Second, 10*time.Millisecond, func() error {
		n, _, _ := live.Pending()
		if stored = streamMsgs(t, js, scorecard.StreamName); n < 10 || stored != uint64(n) {
			return fmt.Errorf("%d events emitted, %d stored", n, stored)
		}
		return nil
	})
	s.Kill() // no snapshot: the next start replays the journal
	// The mark a crash right after the first event would have left.
	kv, err := js.KeyValue(ctx, StateBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, DefaultGroup+".published", []byte("1.0")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // past the duplicate window

	s2 := startConfig(t, cfg)
	if err := s2.Shutdown(ctx); err != nil { // its publisher has sent all it would
		t.Fatal(err)
	}
	if got := streamMsgs(t, js, scorecard.StreamName); got != stored {
		t.Errorf("after the late restart the stream holds %d events, want the %d it held", got, stored)
	}
	if ent, err := kv.Get(ctx, DefaultGroup+".published"); err != nil || string(ent.Value()) == "1.0" {
		t.Errorf("the mark was not moved to the stream's last event: %v", err)
	}
}

// limit sets TEX_EVENTS's message limit, refusing new messages past it
// (-1: none).
func limit(t *testing.T, ctx context.Context, js jetstream.JetStream, n int64) {
	t.Helper()
	st, err := js.Stream(ctx, scorecard.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	cfg.MaxMsgs, cfg.Discard = n, jetstream.DiscardNew
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
}

// TestEventBurstNotDropped: a burst of events far past the stream's ingest
// queue is throttled by the acks it waits for, so none is dropped unseen.
func TestEventBurstNotDropped(t *testing.T) {
	ns := natstest.RunWith(t, func(o *natsserver.Options) { o.StreamMaxBufferedMsgs = 64 })
	nc := natstest.Connect(t, ns.ClientURL())
	js := natstest.JetStream(t, nc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := scorecard.EnsureEventStream(ctx, js, "tex"); err != nil {
		t.Fatal(err)
	}
	log := zerolog.Nop()
	p, err := newPublisher(ctx, nc, js, "tex", DefaultGroup, &log, newMetrics(prometheus.NewRegistry(), nil, time.Now))
	if err != nil {
		t.Fatal(err)
	}
	p.ackEvery, p.maxUnacked = 16, 32
	go p.run()
	defer p.kill()
	const n = 5000
	burst := make([]outEvent, n)
	for i := range burst {
		ev := router.Event{Kind: router.KindContactState, Key: "DET",
			ContactState: router.ContactStateChange{ContactID: fmt.Sprintf("c-%d", i), State: "queued"}}
		burst[i] = encodeEvent("tex", ev, eventID{1, i}, &log)
		burst[i].replay = true
	}
	p.send(burst)
	natstest.Eventually(t, 10*time.Second, 10*time.Millisecond, func() error {
		if got := p.published(); got != (eventID{1, n - 1}) || p.failed() {
			return fmt.Errorf("mark %s, failed %v", got, p.failed())
		}
		return nil
	})
	if got := streamMsgs(t, js, scorecard.StreamName); got != n {
		t.Fatalf("the stream holds %d of %d events", got, n)
	}
}

// TestReplayRefusalsCounted: commands the org no longer takes (an agent
// removed since they were journaled) are refused on replay; the first few
// are logged one by one and the rest counted, and the others still apply.
func TestReplayRefusalsCounted(t *testing.T) {
	ns := natstest.Run(t)
	cfg := externalConfig(t, ns.ClientURL(), "tex", nil)
	s := startConfig(t, cfg)
	nc := connect(t, s)
	s.Kill()
	js := natstest.JetStream(t, nc)
	var cmds []string
	for i := range 40 {
		cmds = append(cmds, fmt.Sprintf(`{"k":"agent_state","b":{"agent_id":"gone-%02d","state":"available"}}`, i))
	}
	cmds = append(cmds, `{"k":"agent_state","b":{"agent_id":"det-016","state":"available"}}`)
	entry := fmt.Sprintf(`{"t":%d,"c":[%s]}`, time.Now().UnixNano(), strings.Join(cmds, ","))
	if _, err := js.Publish(context.Background(), "tex.journal."+DefaultGroup, []byte(entry)); err != nil {
		t.Fatal(err)
	}

	var logs natstest.LogBuffer
	log := zerolog.New(&logs)
	cfg.Log = &log
	s2 := startConfig(t, cfg)
	var lines, summaries int
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"message":"journal entry refused on replay"`) {
			lines++
		}
		if strings.Contains(l, `"message":"journal entries refused on replay`) {
			summaries++
			if !strings.Contains(l, `"unknown_agent":40`) {
				t.Errorf("summary: %s", l)
			}
		}
	}
	if lines != maxRefusalLogs || summaries != 1 {
		t.Errorf("%d refusals logged one by one and %d summaries, want %d and 1:\n%s", lines, summaries, maxRefusalLogs, logs.String())
	}
	var a AgentsReply
	reqInto(t, connect(t, s2), "tex."+QueryAgents, TeamQuery{Team: "CHA-DET"}, &a)
	for _, st := range a.Agents {
		if st.AgentID == "det-016" && st.State != "available" {
			t.Errorf("det-016 after the replay: %s, want available", st.State)
		}
	}
}
