package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tex-cx/tex/scorecard"
)

// JournalStream is the JetStream stream of accepted commands, the
// write-ahead journal the core's state is rebuilt from.
const JournalStream = "TEX_COMMANDS"

// Journal entry kinds.
const (
	entryRoute        = "route"
	entryAgentState   = "agent_state"
	entryContactEvent = "contact_event"
)

// entry is one journal message: the commands of one batch, in the order
// the writer applied them, and the time it applied them at (Unix
// nanoseconds). One message per batch, not per command, is what lets the
// journal keep up under load: JetStream's cost is per message.
type entry struct {
	T int64       `json:"t"`
	C []journaled `json:"c,omitempty"`
	// K and B are one command alone, as the first journals wrote them.
	K string          `json:"k,omitempty"`
	B json.RawMessage `json:"b,omitempty"`
}

// journaled is one command of an entry: its kind and its request body as
// the decoder took it, so replay decodes exactly what the live core saw.
type journaled struct {
	K string          `json:"k"`
	B json.RawMessage `json:"b"`
}

func (e *entry) commands() []journaled {
	if e.C == nil {
		return []journaled{{K: e.K, B: e.B}}
	}
	return e.C
}

// appendEntry writes an entry of cmds at t as JSON. The bodies go in as
// they are: the decoder took each as one JSON value, where json.Marshal
// would scan and compact each again.
func appendEntry(b []byte, t int64, cmds []journaled) []byte {
	b = strconv.AppendInt(append(b, `{"t":`...), t, 10)
	b = append(b, `,"c":[`...)
	for i, c := range cmds {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(append(b, `{"k":"`...), c.K...)
		b = append(append(b, `","b":`...), c.B...)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// maxEntryBytes bounds one journal message well below NATS's default
// max_payload (1 MB): a batch of large commands spans several.
const maxEntryBytes = 512 << 10

// journal writes entries with plain NATS publishes whose replies (the
// stream's acks) come into a channel the acker reads itself: jetstream's
// PublishAsync hands each ack through a callback goroutine first, one
// goroutine hand-off more on every route.
type journal struct {
	js      jetstream.JetStream // stream management and replay
	nc      *nats.Conn
	subject string
	acks    *ackInbox
	last    uint64 // id of the last entry sent; the writer's
}

// send publishes one entry and returns its id, which its ack carries.
func (j *journal) send(data []byte) (uint64, error) {
	j.last++
	return j.last, j.nc.PublishMsg(&nats.Msg{Subject: j.subject, Reply: j.acks.reply(j.last), Data: data})
}

// ackInbox receives the acks of JetStream publishes made with plain NATS
// publishes: each names its publish by a number in its reply subject.
type ackInbox struct {
	stream string // for errors
	prefix string // acks arrive on prefix + id
	c      chan *nats.Msg
}

func newAckInbox(nc *nats.Conn, stream string) (*ackInbox, error) {
	a := &ackInbox{stream: stream, prefix: nc.NewInbox() + ".", c: make(chan *nats.Msg, natsBacklog)}
	if _, err := nc.ChanSubscribe(a.prefix+"*", a.c); err != nil {
		return nil, fmt.Errorf("server: %s ack inbox: %w", stream, err)
	}
	return a, nil
}

func (a *ackInbox) reply(id uint64) string { return a.prefix + strconv.FormatUint(id, 10) }

// parse reads an ack: the publish's id, and its stream sequence or why the
// stream did not take it.
func (a *ackInbox) parse(m *nats.Msg) (id, seq uint64, err error) {
	id, perr := strconv.ParseUint(strings.TrimPrefix(m.Subject, a.prefix), 10, 64)
	if perr != nil {
		return 0, 0, fmt.Errorf("%s ack on %q", a.stream, m.Subject)
	}
	if m.Header.Get("Status") == "503" {
		return id, 0, errors.New("no stream answers (" + a.stream + " is missing or down)")
	}
	var ack struct {
		Seq   uint64 `json:"seq"`
		Error *struct {
			Code        int    `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	}
	switch err := json.Unmarshal(m.Data, &ack); {
	case err != nil:
		return id, 0, fmt.Errorf("unreadable %s ack %q: %w", a.stream, m.Data, err)
	case ack.Error != nil:
		return id, 0, fmt.Errorf("stream %s refused the message: %s (%d)", a.stream, ack.Error.Description, ack.Error.Code)
	case ack.Seq == 0:
		return id, 0, fmt.Errorf("%s ack without a sequence: %q", a.stream, m.Data)
	}
	return id, ack.Seq, nil
}

// openJournal returns the journal of a routing group, creating the stream
// (file storage, kept forever: replay needs every entry) when missing.
func openJournal(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, prefix, group string) (*journal, error) {
	subjects := []string{prefix + ".journal.>"}
	st, err := js.Stream(ctx, JournalStream)
	if err == nil {
		err = scorecard.RequireSubjects(st, subjects[0])
	}
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        JournalStream,
			Description: "tex write-ahead command journal (docs/serve.md)",
			Subjects:    subjects,
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			err = nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("server: journal stream %s: %w", JournalStream, err)
	}
	acks, err := newAckInbox(nc, JournalStream)
	if err != nil {
		return nil, err
	}
	return &journal{js: js, nc: nc, subject: prefix + ".journal." + group, acks: acks}, nil
}

// lastSeq is the journal stream's last sequence.
func (j *journal) lastSeq(ctx context.Context) (uint64, error) {
	st, err := j.js.Stream(ctx, JournalStream)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.LastSeq, nil
}

// trim drops the group's journal entries up to upTo, the entry of the
// latest snapshot saved, except those stored after since. It returns the
// first sequence kept.
func (j *journal) trim(ctx context.Context, upTo uint64, since time.Time) (uint64, error) {
	cutoff := upTo + 1
	cons, pending, err := j.reader(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartTimePolicy, OptStartTime: &since})
	if err != nil {
		return 0, err
	}
	defer j.dropConsumer(cons)
	if pending > 0 {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			return 0, fmt.Errorf("journal read: %w", err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return 0, fmt.Errorf("journal entry without metadata: %w", err)
		}
		cutoff = min(cutoff, md.Sequence.Stream)
	}
	st, err := j.js.Stream(ctx, JournalStream)
	if err != nil {
		return 0, err
	}
	return cutoff, st.Purge(ctx, jetstream.WithPurgeSubject(j.subject), jetstream.WithPurgeSequence(cutoff))
}

// reader opens an ordered reader of the group's journal from where cfg
// says, and tells how many entries it has to read. dropConsumer closes it.
func (j *journal) reader(ctx context.Context, cfg jetstream.OrderedConsumerConfig) (jetstream.Consumer, int, error) {
	cfg.FilterSubjects = []string{j.subject}
	cons, err := j.js.OrderedConsumer(ctx, JournalStream, cfg)
	if err != nil {
		return nil, 0, fmt.Errorf("server: journal consumer: %w", err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		j.dropConsumer(cons)
		return nil, 0, fmt.Errorf("server: journal consumer info: %w", err)
	}
	return cons, int(info.NumPending), nil
}

// dropConsumer deletes a journal reader once done, rather than leave it
// idle on the broker for the ordered consumer's five inactive minutes.
func (j *journal) dropConsumer(cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = j.js.DeleteConsumer(ctx, JournalStream, info.Name)
}

// replay calls apply for every entry of the group's journal from stream
// sequence from (0: the first), in order, with its stream sequence. It
// reads what the stream holds when it starts.
func (j *journal) replay(ctx context.Context, from uint64, apply func(seq uint64, e *entry) error) (int, error) {
	var cfg jetstream.OrderedConsumerConfig
	if from > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from
	}
	cons, pending, err := j.reader(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer j.dropConsumer(cons)
	if pending == 0 {
		return 0, nil
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(4096))
	if err != nil {
		return 0, fmt.Errorf("server: journal read: %w", err)
	}
	defer it.Stop()
	for n := 0; n < pending; n++ {
		msg, err := it.Next()
		if err != nil {
			return n, fmt.Errorf("server: journal read after %d entries: %w", n, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return n, fmt.Errorf("server: journal entry without metadata: %w", err)
		}
		var e entry
		if err := json.Unmarshal(msg.Data(), &e); err != nil {
			return n, fmt.Errorf("server: journal entry %d is unreadable: %w", md.Sequence.Stream, err)
		}
		if err := apply(md.Sequence.Stream, &e); err != nil {
			return n, err
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
	}
	return pending, nil
}
