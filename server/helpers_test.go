package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/tex-cx/tex/server/natstest"
	"github.com/tex-cx/tex/teams"
)

var (
	orgOnce sync.Once
	testOrg *teams.Org
	orgErr  error
)

// sampleOrg is testdata/org, loaded once for the package.
func sampleOrg(t testing.TB) *teams.Org {
	t.Helper()
	orgOnce.Do(func() { testOrg, orgErr = teams.Load("../testdata/org") })
	if orgErr != nil {
		t.Fatal(orgErr)
	}
	return testOrg
}

// startServer runs a server with an embedded NATS on random ports, its
// store in dir (a fresh temp dir when empty). It is stopped in Cleanup.
func startServer(t testing.TB, dir string) *Server {
	t.Helper()
	return startServerClock(t, dir, nil)
}

// testConfig is a server on random ports with dir as its store.
func testConfig(t testing.TB, dir string, clock func() time.Time) Config {
	log := zerolog.Nop()
	return Config{Org: sampleOrg(t), DataDir: dir, NATSListen: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0",
		Log: &log, Now: clock, EWTRefresh: 20 * time.Millisecond, LeaseTTL: 2 * time.Second}
}

func startServerClock(t testing.TB, dir string, clock func() time.Time) *Server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	return startConfig(t, testConfig(t, dir, clock))
}

// startConfig runs a server with cfg; it is stopped in Cleanup.
func startConfig(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s
}

func connect(t testing.TB, s *Server) *nats.Conn {
	t.Helper()
	return natstest.Connect(t, s.NATSURL())
}

// req sends a request and returns the reply body.
func req(t testing.TB, nc *nats.Conn, subj string, body any) []byte {
	t.Helper()
	data, ok := body.([]byte)
	if !ok {
		var err error
		if data, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	msg, err := nc.Request(subj, data, 5*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", subj, err)
	}
	return msg.Data
}

// reqInto sends a request and decodes the reply, failing on an error reply.
func reqInto(t testing.TB, nc *nats.Conn, subj string, body, out any) {
	t.Helper()
	rep := req(t, nc, subj, body)
	if bytes.Contains(rep, []byte(`"error":{`)) {
		t.Fatalf("%s %v: %s", subj, body, rep)
	}
	if err := json.Unmarshal(rep, out); err != nil {
		t.Fatalf("%s: %v: %s", subj, err, rep)
	}
}

func httpDo(t testing.TB, s *Server, method, path string, body []byte) (int, []byte) {
	t.Helper()
	r, err := http.NewRequest(method, "http://"+s.HTTPAddr()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, bytes.TrimSpace(out)
}

var checkFor = natstest.Eventually

func setState(t testing.TB, nc *nats.Conn, agent, state string) {
	t.Helper()
	var rep map[string]any
	reqInto(t, nc, "tex.agent.state", map[string]string{"agent_id": agent, "state": state}, &rep)
}

func event(t testing.TB, nc *nats.Conn, ev map[string]any) {
	t.Helper()
	var rep map[string]any
	reqInto(t, nc, "tex.contact.event", ev, &rep)
}

// manualClock is a clock that stands at start and moves only when told.
func manualClock(start time.Time) (clock func() time.Time, advance func(time.Duration)) {
	var mu sync.Mutex
	now := start
	return func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
}

// startWithQueue starts a server on dir with its clock standing still,
// logs det-016 in and routes n contacts named prefix-0..: the first is
// offered to det-016, the others wait. It returns the clock, the ids and
// the settled state too.
func startWithQueue(t *testing.T, dir, prefix string, n int) (*Server, *nats.Conn, func() time.Time, []string, map[string]any) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	clock := func() time.Time { return now }
	s := startServerClock(t, dir, clock)
	nc := connect(t, s)
	setState(t, nc, "det-016", "available")
	var ids []string
	for i := range n {
		ids = append(ids, fmt.Sprintf("%s-%d", prefix, i))
		route(t, nc, ids[i], "")
	}
	return s, nc, clock, ids, settledState(t, s, nc, ids)
}

// hiredOrg is the sample org with det-hire, a new expert on CHA-DET,
// listed first so that every agent index moves.
func hiredOrg(t testing.TB) *teams.Org {
	org := *sampleOrg(t)
	org.Agents = append([]teams.Agent{{ID: "det-hire", Name: "New Hire", Team: "CHA-DET", Role: teams.RoleExpert,
		Skills: map[string]int{"billing": 3}, Languages: []string{"en"}, Channels: map[string]int{"voice": 1}}}, org.Agents...)
	return &org
}
