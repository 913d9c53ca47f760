package benchmarks

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tex-cx/tex/server"
	"github.com/tex-cx/tex/server/natstest"
)

// Sizes of the events a route and an abandon store in TEX_EVENTS: the
// decision record of a queued route, and a contact state change.
const (
	decisionEventBytes = 900
	contactEventBytes  = 150
)

// startFloor answers subject the way tex's shell does, without the
// routing core: on an in-process connection, requests that come while a
// journal write is in flight wait for the next one, each write is one
// JetStream message (file storage) acknowledged before the replies, and
// with events, the replies are followed by what a route (a decision and a
// contact state) or an abandon (a contact state) stores in an event stream
// with a duplicate window, one ack asked per batch. What it costs is what
// tex's messages cost the broker and the connections; what tex adds on
// top is its own work.
func startFloor(b *testing.B, s *server.Server, subject string, events bool) {
	nc, err := nats.Connect(s.NATSURL(), nats.InProcessServer(s.EmbeddedNATS()), nats.FlusherTimeout(0))
	if err != nil {
		b.Fatal(err)
	}
	js := natstest.JetStream(b, nc)
	name := strings.ToUpper(strings.ReplaceAll(subject, ".", "_"))
	for _, cfg := range []jetstream.StreamConfig{
		{Name: name + "_JOURNAL", Subjects: []string{subject + ".journal"}, Storage: jetstream.FileStorage},
		{Name: name + "_EVENTS", Subjects: []string{subject + ".events.>"}, Storage: jetstream.FileStorage, Duplicates: 30 * time.Second},
	} {
		if _, err := js.CreateStream(context.Background(), cfg); err != nil {
			b.Fatal(err)
		}
	}
	reqs := make(chan *nats.Msg, 1<<16)
	if _, err := nc.ChanSubscribe(subject, reqs); err != nil {
		b.Fatal(err)
	}
	acks := make(chan *nats.Msg, 1<<10)
	inbox := nats.NewInbox()
	if _, err := nc.ChanSubscribe(inbox+".*", acks); err != nil {
		b.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	b.Cleanup(func() {
		close(done)
		<-stopped
		nc.Close()
	})
	decision := strings.Repeat("d", decisionEventBytes)
	contact := strings.Repeat("c", contactEventBytes)
	go func() {
		defer close(stopped)
		var (
			batch   []*nats.Msg
			entry   []byte
			writes  int
			eventID int
		)
		for {
			select {
			case m := <-reqs:
				batch = append(batch[:0], m)
			case <-done:
				return
			}
		drain:
			for len(batch) < 256 {
				select {
				case m := <-reqs:
					batch = append(batch, m)
				default:
					break drain
				}
			}
			entry = entry[:0]
			for _, m := range batch {
				entry = append(entry, m.Data...)
			}
			writes++
			journalAck := inbox + ".j" + strconv.Itoa(writes)
			if err := nc.PublishMsg(&nats.Msg{Subject: subject + ".journal", Reply: journalAck, Data: entry}); err != nil {
				b.Error(err)
				return
			}
		wait: // the journal's ack; event acks in between are only read
			for {
				select {
				case a := <-acks:
					if a.Subject == journalAck {
						break wait
					}
				case <-done:
					return
				}
			}
			for _, m := range batch {
				_ = m.Respond(m.Data)
			}
			if !events {
				continue
			}
			for i, m := range batch {
				bodies := []string{contact}
				if strings.Contains(string(m.Data), `"channel"`) { // a route
					bodies = append(bodies, decision)
				}
				for k, body := range bodies {
					eventID++
					em := &nats.Msg{Subject: subject + ".events.x", Data: []byte(body),
						Header: nats.Header{jetstream.MsgIDHeader: []string{strconv.Itoa(eventID)}}}
					if i == len(batch)-1 && k == len(bodies)-1 {
						em.Reply = inbox + ".e"
					}
					if err := nc.PublishMsg(em); err != nil {
						b.Error(err)
						return
					}
				}
			}
		}
	}()
}
