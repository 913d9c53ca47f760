package server

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

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

// TestEventIDsMatchReplay: replay names every event as it was named live,
// also events of timers that fire after an entry with no events of its own
// (a retried route), so a republish after a crash is dropped by the stream
// instead of stored twice.
func TestEventIDsMatchReplay(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := startServerClock(t, dir, clock)
	nc := connect(t, s)
	setState(t, nc, "det-016", "available")
	if rep := route(t, nc, "c-1", ""); rep.Agent != "det-016" {
		t.Fatalf("route: %+v", rep)
	}
	route(t, nc, "c-1", "") // a retry: journaled, no events
	mu.Lock()
	now = now.Add(time.Minute) // the offer expires at the next command
	mu.Unlock()
	route(t, nc, "c-1", "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
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
	js2, err := jetstream.New(connect(t, s2))
	if err != nil {
		t.Fatal(err)
	}
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
	st, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}
