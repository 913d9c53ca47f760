package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
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

// maxEntryBytes bounds one journal message well below NATS's default
// max_payload (1 MB): a batch of large commands spans several.
const maxEntryBytes = 512 << 10

type journal struct {
	js      jetstream.JetStream
	subject string
}

// openJournal returns the journal of a routing group, creating the stream
// (file storage, kept forever: replay needs every entry) when missing.
func openJournal(ctx context.Context, js jetstream.JetStream, prefix, group string) (*journal, error) {
	subjects := []string{prefix + ".journal.>"}
	_, err := js.Stream(ctx, JournalStream)
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
	return &journal{js: js, subject: prefix + ".journal." + group}, nil
}

// replay calls apply for every entry of the group's journal, in order,
// with its stream sequence. It reads what the stream holds when it starts.
func (j *journal) replay(ctx context.Context, apply func(seq uint64, e *entry) error) (int, error) {
	cons, err := j.js.OrderedConsumer(ctx, JournalStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{j.subject},
	})
	if err != nil {
		return 0, fmt.Errorf("server: journal consumer: %w", err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("server: journal consumer info: %w", err)
	}
	pending := int(info.NumPending)
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
