package scorecard

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// snapshotFormat names the layout of a snapshot; a snapshot of another
// format is ignored and the state rebuilt from the stream.
const snapshotFormat = "tex-scorecard-snapshot/1"

// ErrBadSnapshot is returned for a snapshot that cannot be read.
var ErrBadSnapshot = errors.New("bad scorecard snapshot")

// SnapshotHeader is the first line of a snapshot. The lines after it are
// events: {"r": Resolved} or {"s": Survey}. A snapshot holds events, not
// aggregates, so that a change of scorecard config needs no rebuild.
type SnapshotHeader struct {
	Format string `json:"format"`
	// StreamSeq is the stream sequence of the last event in the snapshot;
	// the consumer resumes after it.
	StreamSeq uint64 `json:"stream_seq"`
	// StreamCreated tells a stream that was deleted and made again, whose
	// sequences start over, from the one the snapshot came from.
	StreamCreated time.Time `json:"stream_created"`
	Contacts      int       `json:"contacts"`
	Surveys       int       `json:"surveys"`
}

type snapshotLine struct {
	R *Resolved `json:"r,omitempty"`
	S *Survey   `json:"s,omitempty"`
}

// WriteSnapshot writes the state as gzip-compressed JSON lines. It copies
// the state under the read lock and encodes outside it, so ingest waits
// only for the copy.
func (a *Aggregator) WriteSnapshot(w io.Writer, streamCreated time.Time) (seq uint64, err error) {
	a.mu.RLock()
	slots := slices.Clone(a.slots)
	names := a.names[:len(a.names):len(a.names)]
	customers := a.customerIDs[:len(a.customerIDs):len(a.customerIDs)]
	seq = a.lastSeq
	a.mu.RUnlock()

	nameOf := func(sym int32) string {
		if sym == noSym {
			return ""
		}
		return names[sym]
	}
	hdr := SnapshotHeader{Format: snapshotFormat, StreamSeq: seq, StreamCreated: streamCreated.UTC()}
	for i := range slots {
		if slots[i].has {
			hdr.Contacts++
		}
		if slots[i].csat >= 0 || slots[i].nps >= 0 {
			hdr.Surveys++
		}
	}
	zw := gzip.NewWriter(w)
	bw := bufio.NewWriterSize(zw, 1<<16)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(hdr); err != nil {
		return 0, err
	}
	for i := range slots {
		s := &slots[i]
		if s.has {
			r := Resolved{ContactID: s.id, Agent: nameOf(s.agent), Team: nameOf(s.team), Market: nameOf(s.market),
				ArrivedAt: time.Unix(0, s.arrived).UTC(), EndedAt: time.Unix(0, s.ended).UTC(),
				TalkSeconds: s.talk, HoldSeconds: s.hold, WrapSeconds: s.wrap,
				Transferred: s.transferred, HomeTeam: s.home, Continuity: continuityNames[s.continuity]}
			if s.customer != noSym {
				r.CustomerID = customers[s.customer]
			}
			if s.wrapd != noTime {
				r.WrappedAt = time.Unix(0, s.wrapd).UTC()
			}
			if s.resolved >= 0 {
				b := s.resolved == 1
				r.Resolved = &b
			}
			if r.Agent == "" && r.Team == "" {
				continue // cannot happen: decode refuses such records
			}
			if err := enc.Encode(snapshotLine{R: &r}); err != nil {
				return 0, err
			}
		}
		// Each answer on its own line: the two may have different times.
		if s.csat >= 0 {
			v := int(s.csat)
			if err := enc.Encode(snapshotLine{S: &Survey{ContactID: s.id, CSAT: &v, AnsweredAt: timeOrZero(s.csatAt)}}); err != nil {
				return 0, err
			}
		}
		if s.nps >= 0 {
			v := int(s.nps)
			if err := enc.Encode(snapshotLine{S: &Survey{ContactID: s.id, NPS: &v, AnsweredAt: timeOrZero(s.npsAt)}}); err != nil {
				return 0, err
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	return seq, zw.Close()
}

func timeOrZero(ns int64) time.Time {
	if ns == noTime {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// ReadSnapshot applies a snapshot written by WriteSnapshot to a, and returns
// its header. a should be empty; applying is idempotent anyway.
func (a *Aggregator) ReadSnapshot(r io.Reader) (SnapshotHeader, error) {
	var hdr SnapshotHeader
	zr, err := gzip.NewReader(r)
	if err != nil {
		return hdr, fmt.Errorf("%w: %v", ErrBadSnapshot, err)
	}
	dec := json.NewDecoder(bufio.NewReaderSize(zr, 1<<16))
	if err := dec.Decode(&hdr); err != nil {
		return hdr, fmt.Errorf("%w: header: %v", ErrBadSnapshot, err)
	}
	if hdr.Format != snapshotFormat {
		return hdr, fmt.Errorf("%w: format %q, want %q", ErrBadSnapshot, hdr.Format, snapshotFormat)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for n := 1; ; n++ {
		var line snapshotLine
		if err := dec.Decode(&line); err == io.EOF {
			break
		} else if err != nil {
			return hdr, fmt.Errorf("%w: line %d: %v", ErrBadSnapshot, n+1, err)
		}
		switch {
		case line.R != nil:
			if err := line.R.normalize(); err != nil {
				return hdr, fmt.Errorf("%w: line %d: %v", ErrBadSnapshot, n+1, err)
			}
			a.applyResolvedLocked(line.R)
		case line.S != nil:
			if err := line.S.normalize(); err != nil {
				return hdr, fmt.Errorf("%w: line %d: %v", ErrBadSnapshot, n+1, err)
			}
			a.applySurveyLocked(line.S)
		}
	}
	if hdr.StreamSeq > a.lastSeq {
		a.lastSeq = hdr.StreamSeq
	}
	return hdr, nil
}
