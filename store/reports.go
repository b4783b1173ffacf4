package store

import (
	"context"
	"fmt"
	"time"
)

// maxReportsPerRoom is how many reports a room keeps; older ones fall off, so a
// flood of reports cannot grow the store without bound.
const maxReportsPerRoom = 1000

// Report is a participant's report of a chat message, kept for moderators.
type Report struct {
	Room     string    `json:"room"`
	Seq      uint64    `json:"seq"`      // the reported message's sequence
	Reporter string    `json:"reporter"` // identity of who reported it
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"` // set by AddReport if zero
}

// AddReport stores r. Each room keeps its newest 1000 reports.
func (s *Store) AddReport(ctx context.Context, r Report) error {
	if r.At.IsZero() {
		r.At = time.Now().UTC()
	}
	if err := s.appendJSON(ctx, reportPrefix, r.Room, "", r); err != nil {
		return fmt.Errorf("store: add report to room %q: %w", r.Room, err)
	}
	return nil
}

// Reports returns the room's reports, newest first.
func (s *Store) Reports(ctx context.Context, room string) ([]Report, error) {
	out, err := readJournal[Report](ctx, s, reportStream, reportPrefix, room)
	if err != nil {
		return nil, fmt.Errorf("store: reports of room %q: %w", room, err)
	}
	return out, nil
}
