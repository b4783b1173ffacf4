package store

import (
	"context"
	"fmt"

	"github.com/talkrelay/talkrelay/room"
)

// maxLivesPerRoom is how many live records a room keeps, as the in-memory
// store does.
const maxLivesPerRoom = 1000

// SaveLive stores the record of an ended live (room.LiveStore). Saving the same
// record ID again within two minutes, as a retry does, stores it once.
func (s *Store) SaveLive(ctx context.Context, rec room.LiveRecord) error {
	if err := s.appendJSON(ctx, livePrefix, rec.Room, rec.ID, rec); err != nil {
		return fmt.Errorf("store: save live %q of room %q: %w", rec.ID, rec.Room, err)
	}
	return nil
}

// Lives returns the room's live records, newest first (room.LiveStore).
func (s *Store) Lives(ctx context.Context, roomName string) ([]room.LiveRecord, error) {
	out, err := readJournal[room.LiveRecord](ctx, s, liveStream, livePrefix, roomName)
	if err != nil {
		return nil, fmt.Errorf("store: lives of room %q: %w", roomName, err)
	}
	return out, nil
}
