package room

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/talkrelay/talkrelay/signal/wire"
)

// LiveRecord is what remains of a live after it ends.
type LiveRecord struct {
	Room        string    `json:"room"`
	ID          string    `json:"id"`
	Host        string    `json:"host"`
	HostName    string    `json:"host_name"`
	StartedAt   time.Time `json:"started_at"`
	EndedAt     time.Time `json:"ended_at"`
	DurationMS  int64     `json:"duration_ms"`
	PeakViewers int       `json:"peak_viewers"`
	EndReason   string    `json:"end_reason"`
}

// LiveStore keeps live records beyond the broadcast. The chat store will implement
// it durably; MemoryLiveStore serves until then and in tests.
type LiveStore interface {
	SaveLive(ctx context.Context, rec LiveRecord) error
	// Lives returns a room's records, newest first.
	Lives(ctx context.Context, room string) ([]LiveRecord, error)
}

// MemoryLiveStore is a LiveStore in memory, keeping the newest MaxPerRoom records per room.
type MemoryLiveStore struct {
	MaxPerRoom int
	mu         sync.Mutex
	byRoom     map[string][]LiveRecord
}

// NewMemoryLiveStore returns an empty store keeping 1000 records per room.
func NewMemoryLiveStore() *MemoryLiveStore {
	return &MemoryLiveStore{MaxPerRoom: 1000, byRoom: map[string][]LiveRecord{}}
}

// SaveLive implements LiveStore.
func (s *MemoryLiveStore) SaveLive(_ context.Context, rec LiveRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs := append(s.byRoom[rec.Room], rec)
	if len(recs) > s.MaxPerRoom {
		recs = recs[len(recs)-s.MaxPerRoom:]
	}
	s.byRoom[rec.Room] = recs
	return nil
}

// Lives implements LiveStore.
func (s *MemoryLiveStore) Lives(_ context.Context, room string) ([]LiveRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]LiveRecord, len(s.byRoom[room]))
	copy(out, s.byRoom[room])
	slices.Reverse(out)
	return out, nil
}

// live is a running broadcast.
type live struct {
	id       string
	host     string
	hostName string
	started  time.Time
	peak     int
	chatters map[string]struct{} // viewers who chatted, at most maxTrackedChatters
	// interrupted says why the host's media stopped while the live waits for
	// the host ("" while it runs); see interrupt.go.
	interrupted string
}

func (l *live) wire() *wire.Live {
	state := wire.LiveOn
	if l.interrupted != "" {
		state = wire.LiveInterrupted
	}
	return &wire.Live{
		ID: l.id, State: state, Host: l.host, HostName: l.hostName,
		StartedAt: l.started.UnixMilli(), PeakViewers: l.peak,
	}
}

func (l *live) record(room, reason string, end time.Time) LiveRecord {
	return LiveRecord{
		Room: room, ID: l.id, Host: l.host, HostName: l.hostName,
		StartedAt: l.started, EndedAt: end, DurationMS: end.Sub(l.started).Milliseconds(),
		PeakViewers: l.peak, EndReason: reason,
	}
}

func (r LiveRecord) wire() *wire.Live {
	return &wire.Live{
		ID: r.ID, State: wire.LiveEnded, Host: r.Host, HostName: r.HostName,
		StartedAt: r.StartedAt.UnixMilli(), EndedAt: r.EndedAt.UnixMilli(),
		DurationMS: r.DurationMS, PeakViewers: r.PeakViewers, EndReason: r.EndReason,
	}
}
