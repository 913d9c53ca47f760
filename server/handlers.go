package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tex-cx/tex/router"
)

// Command subjects, after the prefix (PROTOCOL.md).
const (
	SubjectRoute        = "route"
	SubjectAgentState   = "agent.state"
	SubjectContactEvent = "contact.event"
)

// decode turns a request body into a command, by the one decode path that
// NATS and HTTP share. pathID is the id an HTTP path names, "" on NATS:
// it wins, and a body id that disagrees is refused. The journal keeps the
// body as it came, unless the path changed the id.
func decode(op opKind, body []byte, pathID string) (*command, error) {
	c := &command{op: op, received: time.Now(), body: body}
	var err error
	switch op {
	case opRoute:
		c.route, err = router.DecodeRouteRequest(body)
	case opAgentState:
		if c.agent, err = router.DecodeAgentState(body); err != nil {
			return nil, err
		}
		if pathID != "" {
			if c.agent.AgentID, err = pathWins("agent_id", c.agent.AgentID, pathID); err == nil {
				c.body, err = json.Marshal(c.agent)
			}
		}
	case opContactEvent:
		if c.event, err = router.DecodeContactEvent(body); err != nil {
			return nil, err
		}
		if pathID != "" {
			if c.event.ContactID, err = pathWins("contact_id", c.event.ContactID, pathID); err == nil {
				c.body, err = json.Marshal(c.event)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

func pathWins(field, body, path string) (string, error) {
	switch {
	case path == "":
		return body, nil
	case body != "" && body != path:
		return "", &router.Error{Code: router.CodeInvalidRequest,
			Message: fmt.Sprintf("%s %q in the body disagrees with %q in the path; leave it out or make them match", field, body, path)}
	}
	return path, nil
}

// subscribe binds the command and read subjects. Command messages go
// straight into the writer's channel (no callback goroutine between: one
// hand-off less on every route); the writer decodes them. Reads are
// callbacks that never touch the writer, but for decisions.
func (s *Server) subscribe() error {
	p := s.cfg.Prefix + "."
	commands := []string{p + SubjectRoute, p + SubjectAgentState, p + SubjectContactEvent}
	// The writer reads ops once a message came through the channel, so
	// every op is set before the first subscription.
	for i, op := range []opKind{opRoute, opAgentState, opContactEvent} {
		s.w.ops[commands[i]] = op
	}
	for _, subj := range commands {
		sub, err := s.nc.ChanQueueSubscribe(subj, "tex-serve", s.w.natsIn)
		if err != nil {
			return fmt.Errorf("server: subscribe %s: %w", subj, err)
		}
		s.subs = append(s.subs, sub)
	}
	reads := []struct {
		subj string
		fn   nats.MsgHandler
	}{
		{p + QueryAgents, s.natsTeamRead(s.readAgents)},
		{p + QueryQueue, s.natsTeamRead(s.readQueue)},
		{p + QueryContact, s.natsContactRead(false)},
		{p + QueryDecisions, s.natsContactRead(true)},
	}
	for _, sb := range reads {
		sub, err := s.nc.QueueSubscribe(sb.subj, "tex-serve", sb.fn)
		if err != nil {
			return fmt.Errorf("server: subscribe %s: %w", sb.subj, err)
		}
		// Bursts of thousands of requests are normal; do not drop them.
		_ = sub.SetPendingLimits(-1, -1)
		s.subs = append(s.subs, sub)
	}
	return s.nc.Flush()
}

func respond(m *nats.Msg, body []byte) {
	_ = m.Respond(body)
}

// natsCommand turns a command message into a command for the writer, or
// answers it at once when it cannot be decoded. nil: nothing to do.
func natsCommand(op opKind, m *nats.Msg) *command {
	if m.Reply == "" {
		return nil // nobody to answer: a command nobody waits for is not applied
	}
	c, err := decode(op, m.Data, "")
	if err != nil {
		respond(m, encodeError(asRouterError(err)))
		return nil
	}
	c.done = func(body []byte, _ string) { respond(m, body) }
	return c
}

func (s *Server) natsTeamRead(read func(string) (any, error)) nats.MsgHandler {
	return func(m *nats.Msg) {
		if m.Reply == "" {
			return
		}
		var q TeamQuery
		if err := decodeQuery(m.Data, &q); err != nil {
			respond(m, encodeError(err))
			return
		}
		if q.Team == "" {
			respond(m, encodeError(&router.Error{Code: router.CodeInvalidRequest, Message: `"team" is required`}))
			return
		}
		respond(m, replyBody(read(q.Team)))
	}
}

// natsContactRead serves query.contact, from the store, and
// query.decisions, from the core, which alone keeps decisions.
func (s *Server) natsContactRead(decisions bool) nats.MsgHandler {
	return func(m *nats.Msg) {
		if m.Reply == "" {
			return
		}
		var q ContactQuery
		if err := decodeQuery(m.Data, &q); err != nil {
			respond(m, encodeError(err))
			return
		}
		if q.ContactID == "" {
			respond(m, encodeError(&router.Error{Code: router.CodeInvalidRequest, Message: `"contact_id" is required`}))
			return
		}
		c := decisionsCommand(q.ContactID)
		if !decisions {
			if rep, ok := s.readContact(q.ContactID); ok {
				respond(m, encodeReply(rep))
				return
			}
			c = contactCommand(q.ContactID)
		}
		c.done = func(body []byte, _ string) { respond(m, body) }
		s.w.submit(c)
	}
}

func decodeQuery(body []byte, v any) *router.Error {
	if len(body) > router.MaxBodyBytes {
		return &router.Error{Code: router.CodeInvalidRequest, Message: fmt.Sprintf("body is %d bytes; the limit is %d", len(body), router.MaxBodyBytes)}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &router.Error{Code: router.CodeInvalidRequest, Message: "malformed JSON: " + err.Error()}
	}
	return nil
}

func replyBody(v any, err error) []byte {
	if err != nil {
		return encodeError(asRouterError(err))
	}
	return encodeReply(v)
}

// Handler is the HTTP API: the commands of PROTOCOL.md, the reads, the
// scorecard, /metrics and /healthz (docs/serve.md).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/route", s.httpCommand(opRoute, ""))
	mux.HandleFunc("POST /v1/agents/{id}/state", s.httpCommand(opAgentState, "id"))
	mux.HandleFunc("POST /v1/contacts/{id}/events", s.httpCommand(opContactEvent, "id"))
	mux.HandleFunc("GET /v1/teams/{team}/agents", s.httpRead(func(r *http.Request) (any, error) { return s.readAgents(r.PathValue("team")) }))
	mux.HandleFunc("GET /v1/teams/{team}/queue", s.httpRead(func(r *http.Request) (any, error) { return s.readQueue(r.PathValue("team")) }))
	mux.HandleFunc("GET /v1/contacts/{id}", s.httpContact)
	mux.HandleFunc("GET /v1/contacts/{id}/decisions", s.httpDecisions)
	mux.HandleFunc("GET /healthz", s.httpHealth)
	mux.HandleFunc("GET /livez", httpLive)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	if s.score != nil {
		sc := s.score.Handler()
		mux.Handle("GET /v1/scorecards/{team}", sc)
		mux.Handle("GET /v1/exports", sc)
	}
	return structuredMisses(mux)
}

// structuredMisses answers a request no endpoint takes (a wrong path, or
// a wrong method on a right one) with PROTOCOL.md's error body instead of
// the mux's plain text, so that a platform's client reads every failure
// the same way. The status stays 404 or 405 (with Allow).
func structuredMisses(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		probe := &headerProbe{header: http.Header{}}
		h.ServeHTTP(probe, r)
		msg := fmt.Sprintf("no endpoint %s %s (docs/serve.md lists them)", r.Method, r.URL.Path)
		status := http.StatusNotFound
		if allow := probe.header.Get("Allow"); probe.status == http.StatusMethodNotAllowed && allow != "" {
			w.Header().Set("Allow", allow)
			msg = fmt.Sprintf("%s %s: method not allowed; use %s", r.Method, r.URL.Path, allow)
			status = http.StatusMethodNotAllowed
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(encodeError(&router.Error{Code: router.CodeInvalidRequest, Message: msg}))
		_, _ = w.Write([]byte("\n"))
	})
}

// headerProbe takes what the mux's own miss handler would answer: its
// status and its Allow header.
type headerProbe struct {
	header http.Header
	status int
}

func (p *headerProbe) Header() http.Header         { return p.header }
func (p *headerProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *headerProbe) WriteHeader(status int)      { p.status = status }

// standbyHandler is what HTTP serves until the engine runs, while this tex
// waits for the routing lease or replays its journal: it is alive
// (/livez), not ready (/healthz 503), and refuses everything else, so that
// a load balancer sends requests to the tex that holds the lease.
func (s *Server) standbyHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		body, _ := json.Marshal(Health{NATS: s.nc.Status().String(), Journal: "not open yet",
			Lease: "standby: another tex holds it, or this one is still starting"})
		writeJSON(w, body, router.CodeUnavailable)
	})
	mux.HandleFunc("GET /livez", httpLive)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, &router.Error{Code: router.CodeUnavailable,
			Message: "this tex is a standby, or still starting: the tex that holds the routing lease answers"})
	})
	return mux
}

// httpLive answers liveness probes: the process runs and serves HTTP.
// Readiness is /healthz.
func httpLive(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, []byte(`{"ok":true}`), "")
}

func writeJSON(w http.ResponseWriter, body []byte, code string) {
	w.Header().Set("Content-Type", "application/json")
	if code != "" {
		w.WriteHeader(httpStatus(code))
	}
	_, _ = w.Write(body)
	_, _ = w.Write([]byte("\n"))
}

func writeErr(w http.ResponseWriter, err error) {
	re := asRouterError(err)
	writeJSON(w, encodeError(re), re.Code)
}

// readBody reads at most router.MaxBodyBytes+1 bytes, so that the decoder
// sees an oversized body as one and refuses it by the common rule.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, router.MaxBodyBytes+1))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, &router.Error{Code: router.CodeInvalidRequest,
			Message: fmt.Sprintf("body is over the limit of %d bytes", router.MaxBodyBytes)}
	}
	if err != nil {
		return nil, &router.Error{Code: router.CodeInvalidRequest, Message: "read body: " + err.Error()}
	}
	return body, nil
}

type result struct {
	body []byte
	code string
}

// await submits c and waits for the writer's answer.
func (s *Server) await(ctx context.Context, c *command) (result, bool) {
	ch := make(chan result, 1)
	c.done = func(body []byte, code string) { ch <- result{body, code} }
	s.w.submit(c)
	select {
	case res := <-ch:
		return res, true
	case <-ctx.Done():
		return result{}, false
	}
}

func (s *Server) httpCommand(op opKind, pathParam string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := readBody(w, r)
		if err != nil {
			writeErr(w, err)
			return
		}
		var id string
		if pathParam != "" {
			id = r.PathValue(pathParam)
		}
		c, err := decode(op, body, id)
		if err != nil {
			writeErr(w, err)
			return
		}
		if res, ok := s.await(r.Context(), c); ok {
			writeJSON(w, res.body, res.code)
		}
	}
}

func (s *Server) httpRead(read func(*http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := read(r)
		if err != nil {
			writeErr(w, err)
			return
		}
		writeJSON(w, encodeReply(v), "")
	}
}

func (s *Server) httpContact(w http.ResponseWriter, r *http.Request) {
	if rep, ok := s.readContact(r.PathValue("id")); ok {
		writeJSON(w, encodeReply(rep), "")
		return
	}
	if res, ok := s.await(r.Context(), contactCommand(r.PathValue("id"))); ok {
		writeJSON(w, res.body, res.code)
	}
}

func (s *Server) httpDecisions(w http.ResponseWriter, r *http.Request) {
	if res, ok := s.await(r.Context(), decisionsCommand(r.PathValue("id"))); ok {
		writeJSON(w, res.body, res.code)
	}
}

// Health is the body of GET /healthz.
type Health struct {
	OK      bool   `json:"ok"`
	NATS    string `json:"nats"`
	Journal string `json:"journal"`
	// Lease is "held", or why commands are refused (docs/serve.md, Standby).
	Lease string `json:"lease"`
}

func (s *Server) httpHealth(w http.ResponseWriter, r *http.Request) {
	h := Health{OK: true, NATS: s.nc.Status().String(), Journal: "ok", Lease: "held"}
	if !s.nc.IsConnected() {
		h.OK = false
	}
	leased := s.lease.valid()
	if !leased {
		h.OK, h.Lease = false, "not confirmed by NATS in time: commands are refused until it is"
	}
	// Ask the writer: it answers only when it is alive and not blocked.
	c := &command{op: opRead, read: func(*router.Core) (any, error) {
		if err := s.w.broken; err != nil {
			return nil, err
		}
		return nil, nil
	}}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	res, ok := s.await(ctx, c)
	switch {
	case !ok:
		h.OK, h.Journal = false, "writer does not answer"
	case res.code != "" && leased:
		h.OK, h.Journal = false, "rebuilding from the journal"
	}
	body, _ := json.Marshal(h)
	code := ""
	if !h.OK {
		code = router.CodeUnavailable
	}
	writeJSON(w, body, code)
}
