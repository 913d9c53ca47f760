package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tex-cx/tex/router"
	"github.com/tex-cx/tex/server/natstest"
)

// TestExternalNATS: with --nats, tex joins an existing NATS with JetStream
// and starts no broker of its own. Its journal, events and snapshots live
// in that deployment, so a tex killed and started again on it has the
// same state. A second tex under another prefix on the same account is
// refused at start with a reason: the streams' names are fixed.
func TestExternalNATS(t *testing.T) {
	ns := natstest.Run(t)
	now := time.Now()
	config := func(prefix string) Config {
		return externalConfig(t, ns.ClientURL(), prefix, func() time.Time { return now })
	}
	s := startConfig(t, config("tex"))
	if s.EmbeddedNATS() != nil || s.NATSURL() != ns.ClientURL() {
		t.Fatalf("serving on %s with embedded %v, want %s and none", s.NATSURL(), s.EmbeddedNATS(), ns.ClientURL())
	}
	nc := connect(t, s)
	setState(t, nc, "det-016", "available")
	var ids []string
	for i := range 3 {
		id := fmt.Sprintf("x-%d", i)
		ids = append(ids, id)
		rep := route(t, nc, id, "")
		if want := map[bool]string{true: router.StatusAssigned, false: router.StatusQueued}[i == 0]; rep.Status != want {
			t.Fatalf("route %s: %s, want %s", id, rep.Status, want)
		}
	}
	want := settledState(t, s, nc, ids)

	s.Kill()
	if !ns.Running() {
		t.Fatal("killing tex stopped the NATS it had joined")
	}
	// Another --lease-ttl: the broker expires leases, so the TTL the
	// lease bucket was made with holds.
	again := config("tex")
	again.LeaseTTL = 10 * time.Second
	s2 := startConfig(t, again)
	if s2.lease.ttl != 2*time.Second {
		t.Errorf("lease TTL %v, want the bucket's 2s", s2.lease.ttl)
	}
	if n := s2.Replayed(); n == 0 {
		t.Errorf("the restart replayed nothing from the external journal")
	}
	if diff := cmp.Diff(want, snapshotState(t, connect(t, s2), ids)); diff != "" {
		t.Errorf("state after restart on the external NATS (-before +after):\n%s", diff)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	other, err := Start(ctx, config("texstg"))
	if err == nil {
		_ = other.Shutdown(ctx)
		t.Fatal("a second tex under prefix texstg started on the same account")
	}
	if !strings.Contains(err.Error(), "texstg.") || !strings.Contains(err.Error(), "account") {
		t.Errorf("refusal does not say which subjects and what to do: %v", err)
	}
}

// externalConfig is a server that joins the NATS at url under prefix.
func externalConfig(t *testing.T, url, prefix string, clock func() time.Time) Config {
	cfg := testConfig(t, "", clock)
	cfg.DataDir, cfg.NATSListen, cfg.NATSURL, cfg.Prefix = "", "", url, prefix
	return cfg
}

// startAsync starts a server in the background; the channel gets it (or
// fails the test) once Start returns.
func startAsync(t *testing.T, cfg Config) <-chan *Server {
	ch := make(chan *Server, 1)
	go func() {
		s, err := Start(context.Background(), cfg)
		if err != nil {
			t.Error(err)
			close(ch)
			return
		}
		t.Cleanup(func() { s.Kill() })
		ch <- s
	}()
	return ch
}

// TestStandby: a second tex on the same NATS and prefix waits as a
// standby while the first holds the routing lease, instead of writing the
// same journal. It takes over at once when the first stops gracefully
// (which releases the lease), within the lease's TTL when it crashes,
// and in both cases serves the state its predecessor left. A holder that
// finds its lease taken stops and says so.
func TestStandby(t *testing.T) {
	ns := natstest.Run(t)
	now := time.Now()
	config := func() Config { return externalConfig(t, ns.ClientURL(), "tex", func() time.Time { return now }) }
	first := startConfig(t, config())
	nc := connect(t, first)
	setState(t, nc, "det-016", "available")
	ids := []string{"s-1", "s-2"}
	for _, id := range ids {
		route(t, nc, id, "")
	}
	want := settledState(t, first, nc, ids)

	// The standby answers HTTP meanwhile: alive, not ready, refusing.
	cfg := config()
	cfg.HTTPAddr = freeAddr(t)
	standby := startAsync(t, cfg)
	select {
	case <-standby:
		t.Fatal("a second tex started while the first holds the lease")
	case <-time.After(700 * time.Millisecond):
	}
	for _, c := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/livez", 200, `"ok":true`},
		{"GET", "/healthz", 503, `"lease":"standby`},
		{"POST", "/v1/route", 503, `"code":"unavailable"`},
		{"GET", "/v1/teams/CHA-DET/queue", 503, `"code":"unavailable"`},
	} {
		res, err := http.DefaultClient.Do(mustRequest(t, c.method, "http://"+cfg.HTTPAddr+c.path))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != c.status || !strings.Contains(string(body), c.body) {
			t.Errorf("standby %s %s: %d %s, want %d with %s", c.method, c.path, res.StatusCode, body, c.status, c.body)
		}
	}
	// Graceful stop: the lease is released and taken at once.
	stopped := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := first.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	second := <-standby
	if second == nil {
		t.FailNow()
	}
	// Unreleased, the key would outlive the stop by 1.3 s at least (TTL 2 s,
	// renewed every 0.67 s).
	if took := time.Since(stopped); took > 1200*time.Millisecond {
		t.Errorf("the standby took over %v after a graceful stop; the lease was not released", took)
	}
	if status, body := httpDo(t, second, "GET", "/healthz", nil); status != 200 || !strings.Contains(string(body), `"lease":"held"`) {
		t.Errorf("healthz of the new holder: %d %s", status, body)
	}
	if diff := cmp.Diff(want, snapshotState(t, connect(t, second), ids)); diff != "" {
		t.Errorf("state after a graceful takeover (-before +after):\n%s", diff)
	}

	// Crash: the lease expires after its TTL (2s here).
	standby = startAsync(t, config())
	time.Sleep(300 * time.Millisecond)
	crashed := time.Now()
	second.Kill()
	third := <-standby
	if third == nil {
		t.FailNow()
	}
	if took := time.Since(crashed); took > 5*time.Second {
		t.Errorf("the standby took over %v after a crash, with a 2s lease", took)
	}
	nc3 := connect(t, third)
	if diff := cmp.Diff(want, snapshotState(t, nc3, ids)); diff != "" {
		t.Errorf("state after a takeover from a crash (-before +after):\n%s", diff)
	}

	// Someone else takes the key: the holder stops within a renewal.
	js := natstest.JetStream(t, nc3)
	kv, err := js.KeyValue(ctx, LeaseBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, DefaultGroup, []byte(`{"host":"elsewhere"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-third.Err():
		if !errors.Is(err, errLeaseLost) {
			t.Errorf("stopped with %v, want the lease lost", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the holder kept serving after its lease was taken")
	}
}

// TestLeaseNotConfirmed: a holder that cannot show a renewal within its
// lease refuses commands (nothing is journaled or changed), reports it in
// /healthz and /metrics, and serves again once it can.
func TestLeaseNotConfirmed(t *testing.T) {
	s := startServer(t, "")
	nc := connect(t, s)
	late := func() time.Time { return time.Now().Add(time.Hour) }
	s.lease.now.Store(&late)
	rep := req(t, nc, "tex.route", map[string]string{"contact_id": "c-fenced", "channel": "voice", "market": "DET"})
	if !strings.Contains(string(rep), `"code":"unavailable"`) || !strings.Contains(string(rep), "lease") {
		t.Errorf("route without a confirmed lease: %s", rep)
	}
	status, body := httpDo(t, s, "GET", "/healthz", nil)
	if status != 503 || !strings.Contains(string(body), `"lease":"not confirmed`) {
		t.Errorf("healthz without a confirmed lease: %d %s", status, body)
	}
	if _, body := httpDo(t, s, "GET", "/metrics", nil); !strings.Contains(string(body), "tex_routing_lease_held 0") {
		t.Error("metrics do not show the lease unconfirmed")
	}
	s.lease.now.Store(nil)
	// The refused route changed nothing: routed now, it is new.
	if r := route(t, nc, "c-fenced", ""); r.Status != router.StatusQueued || r.Position != 1 {
		t.Errorf("route once the lease is confirmed: %+v", r)
	}
}

// freeAddr is a loopback address with a port free a moment ago, for a
// server whose address is needed before its Start returns.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	r, err := http.NewRequest(method, url, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}
