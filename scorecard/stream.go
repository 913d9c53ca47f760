package scorecard

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// StreamName is the JetStream stream of every event the engine emits.
const StreamName = "TEX_EVENTS"

const (
	kindResolved = "resolved"
	kindSurvey   = "survey"
)

// EventSubjects returns the subjects of the event stream for prefix
// (default "tex"): <prefix>.events.>.
func EventSubjects(prefix string) []string { return []string{prefix + ".events.>"} }

// ResolvedSubject is where ResolvedContact events for market are published.
func ResolvedSubject(prefix, market string) string {
	return prefix + ".events." + kindResolved + "." + market
}

// SurveySubject is where Survey events for market are published.
func SurveySubject(prefix, market string) string {
	return prefix + ".events." + kindSurvey + "." + market
}

// DuplicateWindow is how long TEX_EVENTS remembers an event's Nats-Msg-Id
// to drop a copy. The server keeps every id of the window in memory, about
// 135 bytes each: at 15,000 events a second the default 2 minutes would
// hold 1.8 million of them (240 MB the Go collector walks). A start
// republishes from the last event the stream holds, so only a crash
// soon after an event was refused relies on the window.
const DuplicateWindow = 30 * time.Second

// EnsureEventStream returns the stream TEX_EVENTS, creating it with file
// storage when it is missing. An existing stream is left as it is (the
// operator may have tuned its limits), but it must hold the events subjects.
func EnsureEventStream(ctx context.Context, js jetstream.JetStream, prefix string) (jetstream.Stream, error) {
	st, err := js.Stream(ctx, StreamName)
	if err == nil {
		if err := RequireSubjects(st, prefix+".events.>"); err != nil {
			return nil, err
		}
		return st, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("look up stream %s: %w", StreamName, err)
	}
	st, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        StreamName,
		Description: "tex decisions and lifecycle events (PROTOCOL.md)",
		Subjects:    EventSubjects(prefix),
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  DuplicateWindow,
	})
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		// Another node made it between our look-up and create.
		return js.Stream(ctx, StreamName)
	}
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", StreamName, err)
	}
	return st, nil
}

// RequireSubjects checks that an existing stream takes subject. A stream
// made for another prefix does not: the streams' names are fixed, so one
// NATS account holds one tex deployment, and a second one (staging beside
// production, say) needs an account or a server of its own.
func RequireSubjects(st jetstream.Stream, subject string) error {
	cfg := st.CachedInfo().Config
	for _, s := range cfg.Subjects {
		if s == subject || s == ">" {
			return nil
		}
	}
	return fmt.Errorf("stream %s exists with subjects %v, which do not hold %s: it belongs to a tex with another --prefix; "+
		"one NATS account holds one tex deployment, so give this one an account or a server of its own", cfg.Name, cfg.Subjects, subject)
}
