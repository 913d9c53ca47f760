package scorecard

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/tex-cx/tex/server/natstest"
)

var runServer = natstest.Run

func connect(t testing.TB, s *server.Server) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc := natstest.Connect(t, s.ClientURL())
	js := natstest.JetStream(t, nc)
	return nc, js
}

// publish sends events to the stream the way the engine (or a survey tool)
// would, or raw bytes to a subject.
func publish(t testing.TB, js jetstream.JetStream, events ...any) {
	t.Helper()
	ctx := context.Background()
	for _, e := range events {
		var (
			subj string
			data []byte
		)
		switch e := e.(type) {
		case Resolved:
			subj = ResolvedSubject("tex", e.Market)
			data, _ = json.Marshal(e)
		case Survey:
			subj = SurveySubject("tex", "DET")
			data, _ = json.Marshal(e)
		case [2]string:
			subj, data = e[0], []byte(e[1])
		}
		if _, err := js.Publish(ctx, subj, data); err != nil {
			t.Fatal(err)
		}
	}
}

func startService(t testing.TB, nc *nats.Conn, now time.Time, opts ...Option) *Service {
	t.Helper()
	log := zerolog.Nop()
	opts = append([]Option{WithClock(func() time.Time { return now }), WithSnapshotInterval(0)}, opts...)
	svc := New(testOrg(), &log, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := EnsureEventStreamForTest(ctx, nc); err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(ctx, nc, "tex"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)
	return svc
}

// EnsureEventStreamForTest makes the stream before anything is published,
// as `tex serve` does.
func EnsureEventStreamForTest(ctx context.Context, nc *nats.Conn) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	st, err := EnsureEventStream(ctx, js, "tex")
	if err == nil && st.CachedInfo().Config.Duplicates != DuplicateWindow {
		err = fmt.Errorf("stream made with a duplicate window of %v", st.CachedInfo().Config.Duplicates)
	}
	return err
}

func request[T any](t testing.TB, nc *nats.Conn, subject string, req any) (T, ErrorReply) {
	t.Helper()
	var out T
	data, _ := json.Marshal(req)
	msg, err := nc.Request(subject, data, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var e ErrorReply
	if json.Unmarshal(msg.Data, &e); e.Error.Code != "" {
		return out, e
	}
	if err := json.Unmarshal(msg.Data, &out); err != nil {
		t.Fatalf("%s: %v", msg.Data, err)
	}
	return out, e
}

// waitSeq waits until svc has applied everything up to the stream's last
// message, which must be one of the scorecard's.
func waitSeq(t testing.TB, js jetstream.JetStream, svc *Service) {
	t.Helper()
	checkFor(t, 10*time.Second, 10*time.Millisecond, func() error {
		st, err := js.Stream(context.Background(), StreamName)
		if err != nil {
			return err
		}
		if last, got := st.CachedInfo().State.LastSeq, svc.Aggregator().LastSeq(); got < last || !svc.Ready() {
			return fmt.Errorf("applied up to %d of %d (ready %v)", got, last, svc.Ready())
		}
		return nil
	})
}

// TestServiceRestart: events before a stop, events while stopped (some of
// them duplicates), and a new Service on the same server give the answer
// of a service that saw every event once.
func TestServiceRestart(t *testing.T) {
	srv := runServer(t)
	nc, js := connect(t, srv)
	now := ts("2026-12-03T00:00:00Z")
	r := rand.New(rand.NewPCG(3, 3))
	events := randomEvents(r, 400)
	third := len(events) / 3

	ref := NewAggregator(testOrg())
	apply(t, ref, events...)
	want := reports(t, ref, now)

	svc := startService(t, nc, now)
	publish(t, js, events[:third]...)
	// Not the scorecard's (the consumer filters it out), then two bad events.
	publish(t, js, [2]string{"tex.events.assigned.DET", `{"contact_id": "x"}`},
		[2]string{"tex.events.resolved.DET", `{"contact_id": `}, [2]string{"tex.events.survey.DET", `{"csat": 5}`})
	waitSeq(t, js, svc)
	if st := svc.Aggregator().Stats(); st.Rejected != 2 {
		t.Errorf("rejected %d bad events, want 2", st.Rejected)
	}
	svc.Stop()
	snapSeq := svc.Aggregator().LastSeq()

	publish(t, js, events[third/2:2*third]...) // overlaps what the first service saw
	svc2 := startService(t, nc, now)
	cons, err := js.Consumer(context.Background(), StreamName, DefaultDurable)
	if err != nil {
		t.Fatal(err)
	}
	if got := cons.CachedInfo().Config.OptStartSeq; got != snapSeq+1 {
		t.Errorf("restarted consumer starts at %d, want %d (after the snapshot)", got, snapSeq+1)
	}
	publish(t, js, events[2*third:]...)
	publish(t, js, events[:10]...) // late duplicates
	waitSeq(t, js, svc2)
	if d := cmp.Diff(want, reports(t, svc2.Aggregator(), now), approx); d != "" {
		t.Fatalf("after restart (-want +got):\n%s", d)
	}

	// The same answer over NATS.
	got, e := request[Report](t, nc, "tex.scorecard.query", QueryRequest{Team: "CHA-DET", Period: "2026-11"})
	if e.Error.Code != "" {
		t.Fatal(e)
	}
	wantJSON, _ := json.Marshal(want["CHA-DET 2026-11"])
	gotJSON, _ := json.Marshal(got)
	if string(wantJSON) != string(gotJSON) {
		t.Errorf("NATS reply differs:\nwant %s\ngot  %s", wantJSON, gotJSON)
	}

	// A rebuild from the stream alone (no snapshot) agrees too.
	svc3 := startService(t, nc, now, WithDurable("other-node"))
	waitSeq(t, js, svc3)
	if d := cmp.Diff(want, reports(t, svc3.Aggregator(), now), approx); d != "" {
		t.Fatalf("rebuilt from the stream (-want +got):\n%s", d)
	}
}

func TestServiceRequests(t *testing.T) {
	srv := runServer(t)
	nc, js := connect(t, srv)
	now := ts("2026-12-03T00:00:00Z")
	svc := startService(t, nc, now)
	publish(t, js,
		contact("c1", "A", "det-001", "2026-11-16T10:00:00Z"), survey("c1", 5, 9),
		contact("c2", "B", "cle-001", "2026-11-17T10:00:00Z", func(r *Resolved) { r.Team, r.Market = "CHA-CLE", "CLE" }))
	waitSeq(t, js, svc)

	for _, tc := range []struct {
		req  any
		code string
	}{
		{QueryRequest{Team: "NOPE", Period: "2026-W47"}, CodeUnknownTeam},
		{QueryRequest{Period: "2026-W47"}, CodeInvalidRequest},
		{QueryRequest{Team: "CHA-DET", Period: "2026-W60"}, CodeInvalidRequest},
		{QueryRequest{Team: "CHA-DET", Period: "2026-11", From: "2026-11-01"}, CodeInvalidRequest},
		{QueryRequest{Team: "CHA-DET", From: "2026-11-01"}, CodeInvalidRequest},
		{map[string]any{"team": 7}, CodeInvalidRequest},
	} {
		if _, e := request[Report](t, nc, "tex.scorecard.query", tc.req); e.Error.Code != tc.code || e.Error.Message == "" {
			t.Errorf("%+v: error %+v, want code %s", tc.req, e, tc.code)
		}
	}
	rep, e := request[Report](t, nc, "tex.scorecard.query", map[string]any{"team": "CHA-DET", "from": "2026-11-16", "to": "2026-11-22", "future": 1})
	if e.Error.Code != "" || rep.Team.Contacts != 1 || rep.FormulaVersion != FormulaVersion {
		t.Errorf("range query: %+v %+v", rep.Team, e)
	}

	// Export pages.
	var rows []ExportRow
	req := ExportRequest{Period: "2026-W47", Limit: 3}
	for pages := 0; ; pages++ {
		page, e := request[ExportPage](t, nc, "tex.scorecard.export", req)
		if e.Error.Code != "" || pages > 5 {
			t.Fatalf("export: %+v after %d pages", e, pages)
		}
		rows = append(rows, page.Rows...)
		if page.Done {
			break
		}
		req.Offset, req.AsOf = page.NextOffset, &page.AsOf
	}
	if len(rows) != 4 || rows[0].Agent != "cle-001" || rows[0].Contacts != 1 || rows[1].CSATN != 1 {
		t.Errorf("export rows: %+v", rows)
	}

	// HTTP.
	h := svc.Handler()
	for _, tc := range []struct {
		url    string
		status int
		has    string
	}{
		{"/v1/scorecards/CHA-DET?period=2026-W47", 200, `"formula_version": "tex-scorecard/1"`},
		{"/v1/scorecards/NOPE?period=2026-W47", 404, `"unknown_team"`},
		{"/v1/scorecards/CHA-DET?period=nope", 400, `"invalid_request"`},
		{"/v1/scorecards/CHA-DET?period=2026-W47&format=csv", 200, "agent,name,team,role,contacts"},
		{"/v1/exports?period=2026-W47&format=jsonl", 200, `"employee_id":"E1"`},
		{"/v1/exports?from=2026-11-16&to=2026-11-22", 200, "det-lead"},
		{"/v1/exports?period=2026-W47&format=xml", 400, `"invalid_request"`},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.url, nil))
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.has) {
			t.Errorf("GET %s: %d %s", tc.url, rec.Code, rec.Body.String())
		}
	}
}
